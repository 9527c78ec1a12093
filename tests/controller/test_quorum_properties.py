"""Property tests of the quorum and of failed agents in outcomes, over random agent behaviour.

Three scripted agents claim a boolean about each case; each attempt answers, fails, times out, reports a
conflict or returns nothing, as the example says. The rules: a quorum of `min_answers` of the three (drawn),
a plain `sufficient`, a disagreement and a confidence gate, so the strategies reach every decision a run can end
with (sufficient, escalated, insufficient, failed: `test_the_scripts_reach_every_outcome` runs one script each).

Properties: sufficiency is never decided while fewer than `min_answers` of the named agents have answered on a
run's subject; every agent that failed for good is named in the outcome (its field and its reasons); replay
re-derives every decision.
"""

from collections import Counter
from typing import Any

import anyio
import anyio.lowlevel
from hypothesis import event, given, settings
from hypothesis import strategies as st

from slateboard import AgentRun, Blackboard, Citation, Controller, Decision, Finding, agent, rules
from slateboard.errors import ConflictError
from tests.controller.kinds import Case

TIMEOUT = 0.2  # only an agent whose script hangs gets a timeout, so a slow machine never turns an answer into one
NAMES = ("q1", "q2", "q3")


class Claim(Finding):
    kind_name = "tests.quorum_properties.Claim"
    value: bool


SCRIPT: dict[str, list[tuple[Any, ...]]] = {}
CALLS: Counter[tuple[str, str]] = Counter()


async def behave(name: str, subject: str) -> Claim | None:
    CALLS[(name, subject)] += 1
    plan = SCRIPT.get(name) or [("ok", True, 0.9, 0)]
    action, value, confidence, spin = plan[min(CALLS[(name, subject)], len(plan)) - 1]
    for _ in range(spin):
        await anyio.lowlevel.checkpoint()
    if action == "timeout":
        await anyio.sleep_forever()  # a hang: the runner's timeout ends it
    if action == "error":
        raise RuntimeError("transient fault")
    if action == "conflict":
        raise ConflictError("a policy exception applies")
    if action == "none":
        return None
    return Claim(subject=subject, value=value, confidence=confidence, citations=(Citation(source=f"src-{name}"),))


async def claim_q1(case: Case) -> Claim | None:
    return await behave("q1", case.subject)


async def claim_q2(case: Case) -> Claim | None:
    return await behave("q2", case.subject)


async def claim_q3(case: Case) -> Claim | None:
    return await behave("q3", case.subject)


def controller_for(script: dict[str, list[tuple[Any, ...]]], min_answers: int) -> Controller:
    def timeout(name: str) -> float | None:
        return TIMEOUT if any(step[0] == "timeout" for step in script.get(name, ())) else None

    functions = {"q1": claim_q1, "q2": claim_q2, "q3": claim_q3}
    agents = [agent(name=n, timeout=timeout(n))(functions[n]) for n in NAMES]
    return Controller(
        agents,
        [
            rules.quorum(Claim, agents=NAMES, min_answers=min_answers),
            rules.sufficient(Claim, min_confidence=0.5),
            rules.disagreement(Claim, field="value"),
            rules.escalate_below(Claim, confidence=0.2),
        ],
    )


step = st.tuples(
    st.sampled_from(["ok", "ok", "error", "timeout", "conflict", "none"]),
    st.booleans(),
    st.sampled_from([0.1, 0.6, 0.9]),
    st.sampled_from([0, 1, 10]),  # times the attempt yields to the event loop before it acts
)
scripts = st.fixed_dictionaries({name: st.lists(step, min_size=1, max_size=2) for name in NAMES})


def run_script(script: dict[str, list[tuple[Any, ...]]], min_answers: int, subjects: list[str]) -> Any:
    SCRIPT.clear()
    SCRIPT.update(script)
    CALLS.clear()
    controller = controller_for(script, min_answers)

    async def main() -> Any:
        with Blackboard.open("memory://") as bb:
            board = bb.board("b")
            outcome = await controller.run(board, *(Case(subject=s, confidence=1.0) for s in subjects))
            return outcome, await board.history(), await controller.replay(board)

    return anyio.run(main)


def check(outcome: Any, history: Any, replay: Any, min_answers: int, subjects: list[str]) -> None:
    assert replay.identical, replay

    # Sufficiency is never decided while fewer than min_answers named agents have answered on a subject.
    answered: dict[str, set[str]] = {s: set() for s in subjects}
    for entry in history:
        record = entry.payload
        if isinstance(record, Claim) and entry.author in NAMES:
            answered[record.subject].add(entry.author)
        if isinstance(record, Decision) and record.status == "sufficient":
            for subject in subjects:
                assert len(answered[subject]) >= min_answers, (subject, answered, record)

    # Every agent that failed for good (its last attempt on a subject not ok, and no conflict) is named.
    last: dict[tuple[str, str], AgentRun] = {}
    for entry in history:
        if isinstance(entry.payload, AgentRun):
            last[(entry.payload.agent, entry.payload.subject)] = entry.payload
    failed = {key for key, run in last.items() if run.status not in ("ok", "conflict")}
    assert {(f.agent, f.subject) for f in outcome.agent_failures} == failed
    for agent_name, subject in failed:
        assert any(f"agent {agent_name} " in r and repr(subject) in r for r in outcome.failure_reasons)
        assert any(r.startswith(f"failed-agent: agent {agent_name} ") for r in outcome.reasons)
    # Invariant 6 still holds, and the reasons are the decision's, the failures', then the keys'.
    assert outcome.reasons
    assert outcome.reasons == (*outcome.decision_reasons, *outcome.failure_reasons, *outcome.key_reasons)


@settings(max_examples=30, deadline=None)
@given(
    script=scripts, min_answers=st.integers(min_value=1, max_value=3), subjects=st.sampled_from([["c1"], ["c1", "c2"]])
)
def test_a_quorum_is_never_skipped_and_every_failed_agent_is_named(
    script: dict[str, list[tuple[Any, ...]]], min_answers: int, subjects: list[str]
) -> None:
    outcome, history, replay = run_script(script, min_answers, subjects)
    event(outcome.status)
    check(outcome, history, replay, min_answers, subjects)


OK = ("ok", True, 0.9, 0)
REACH = {
    "sufficient": ({"q1": [OK], "q2": [OK], "q3": [OK]}, 3),
    "escalated": ({"q1": [OK], "q2": [("ok", False, 0.9, 0)], "q3": [OK]}, 2),
    "insufficient": ({"q1": [OK], "q2": [("none", True, 0.9, 0)], "q3": [OK]}, 3),
    "failed": ({"q1": [OK], "q2": [OK], "q3": [("timeout", True, 0.9, 0)]}, 3),
}


def test_the_scripts_reach_every_outcome() -> None:
    """One script per outcome, each one the strategies can draw: the property test's domain covers them all."""
    for status, (script, min_answers) in REACH.items():
        outcome, history, replay = run_script(script, min_answers, ["c1"])
        assert outcome.status == status, (status, outcome.reasons)
        check(outcome, history, replay, min_answers, ["c1"])
    failed, *_ = run_script(REACH["failed"][0], 3, ["c1"])
    assert any("missing: q3 (timed out on every attempt (2))" in r for r in failed.reasons), failed.reasons
