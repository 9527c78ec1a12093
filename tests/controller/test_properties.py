"""Property tests of the controller (invariants 3, 4 and 6) over random agent behaviour and interleavings.

Three scripted agents claim a boolean about each case, each attempt doing what the example says: answer (with
a value, a confidence and a source), fail, time out, report a conflict, or return nothing, after yielding to the
event loop a random number of times so that their completion order varies. A judge summarizes the claims.

Nothing here waits on the clock but a hang: an attempt scripted to time out waits forever, and the runner's
timeout ends it. Only an agent whose script has a hang gets a timeout at all, so a loaded machine that is slow to
schedule an answering agent can never turn its answer into a timeout.
"""

from collections import Counter, defaultdict
from typing import Any

import anyio
import anyio.lowlevel
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import AgentRun, Blackboard, Citation, Controller, Decision, Finding, agent, rules
from slateboard.errors import ConflictError
from tests.controller.kinds import Case

TIMEOUT = 0.25  # thousands of times what an answering attempt takes (a few checkpoints); only hangs wait for it


class Claim(Finding):
    kind_name = "tests.properties.Claim"
    value: bool


class Summary(Finding):
    kind_name = "tests.properties.Summary"
    count: int


SCRIPT: dict[str, list[tuple[Any, ...]]] = {}
CALLS: Counter[tuple[str, str]] = Counter()


async def behave(name: str, subject: str) -> Claim | None:
    CALLS[(name, subject)] += 1
    plan = SCRIPT.get(name) or [("ok", True, 0.9, "s1", 0.0)]
    action, value, confidence, source, spin = plan[min(CALLS[(name, subject)], len(plan)) - 1]
    for _ in range(spin):
        await anyio.lowlevel.checkpoint()
    if action == "timeout":
        await anyio.sleep_forever()  # a hang: the runner's timeout is what ends it
    if action == "error":
        raise RuntimeError("transient fault")
    if action == "conflict":
        raise ConflictError("a policy exception applies")
    if action == "none":
        return None
    return Claim(subject=subject, value=value, confidence=confidence, citations=(Citation(source=source),))


async def claim_1(case: Case) -> Claim | None:
    return await behave("a1", case.subject)


async def claim_2(case: Case) -> Claim | None:
    return await behave("a2", case.subject)


def claim_3(case: Case) -> Claim | None:  # a sync agent: it runs in a worker thread
    return anyio.from_thread.run(behave, "a3", case.subject)


@agent(name="judge")
async def judge(case: Case, claims: list[Claim]) -> Summary:
    await anyio.lowlevel.checkpoint()
    return Summary(subject=case.subject, count=len(claims), confidence=1.0)


RULES = [
    rules.disagreement(Claim, field="value"),
    rules.escalate_below(Claim, confidence=0.2),
    rules.sufficient(Claim, min_confidence=0.8, min_sources=2),
    rules.sufficient(Summary),
]


def controller_for(script: dict[str, list[tuple[Any, ...]]]) -> Controller:
    """The three claimants and the judge; a claimant gets a timeout only when its script hangs."""

    def timeout(name: str) -> float | None:
        return TIMEOUT if any(step[0] == "timeout" for step in script.get(name, ())) else None

    return Controller(
        [
            agent(name="a1", timeout=timeout("a1"))(claim_1),
            agent(name="a2", timeout=timeout("a2"), rating=5)(claim_2),
            agent(name="a3", timeout=timeout("a3"))(claim_3),
            judge,
        ],
        RULES,
    )


KNOWN_CAUSES = {r.id for r in RULES} | {"budget", "stall", "agent-failure", "agent-conflict"}

step = st.tuples(
    st.sampled_from(["ok", "ok", "ok", "error", "timeout", "conflict", "none"]),
    st.booleans(),
    st.sampled_from([0.1, 0.5, 0.85, 0.95]),
    st.sampled_from(["s1", "s2", "s3"]),
    st.sampled_from([0, 1, 10]),  # times the attempt yields to the event loop before it acts
)
scripts = st.fixed_dictionaries({name: st.lists(step, min_size=1, max_size=2) for name in ("a1", "a2", "a3")})


def run_script(script: dict[str, list[tuple[Any, ...]]], subjects: list[str]) -> tuple[Any, tuple[Any, ...], Any]:
    SCRIPT.clear()
    SCRIPT.update(script)
    CALLS.clear()

    controller = controller_for(script)

    async def main() -> tuple[Any, tuple[Any, ...], Any]:
        with Blackboard.open("memory://") as bb:
            board = bb.board("b")
            outcome = await controller.run(board, *(Case(subject=s, confidence=1.0) for s in subjects))
            return outcome, await board.history(), await controller.replay(board)

    return anyio.run(main)


def attempts_by_task(history: tuple[Any, ...]) -> dict[tuple[Any, ...], list[AgentRun]]:
    tasks: dict[tuple[Any, ...], list[AgentRun]] = defaultdict(list)
    for entry in history:
        if isinstance(entry.payload, AgentRun):
            run = entry.payload
            tasks[(run.agent, run.subject, run.inputs)].append(run)
    return tasks


@settings(max_examples=40, deadline=None)
@given(script=scripts, subjects=st.sampled_from([["c1"], ["c1", "c2"]]))
def test_invariants_hold_for_random_agents_and_interleavings(
    script: dict[str, list[tuple[Any, ...]]], subjects: list[str]
) -> None:
    outcome, history, replay = run_script(script, subjects)

    # Invariant 3: decisions are a pure function of the log.
    assert replay.identical, replay
    assert replay.same_controller
    assert replay.decisions == sum(isinstance(e.payload, Decision) for e in history)

    # Invariant 6: every outcome but success names its cause, with a rule we know.
    assert outcome.reasons
    for reason in outcome.decision.reasons:
        assert reason.rule in KNOWN_CAUSES | {"quiescent"}, reason
    if outcome.status == "escalated":
        assert all(r.agents for r in outcome.decision.reasons)

    # Conflicts are never resolved silently: a disagreement left on the board means a person decides.
    newest: dict[tuple[str, str], bool] = {}
    for entry in history:
        if isinstance(entry.payload, Claim):
            newest[(entry.payload.subject, entry.author)] = entry.payload.value
    for subject in subjects:
        values = {v for (s, _), v in newest.items() if s == subject}
        if len(values) > 1:
            assert outcome.status == "escalated", outcome

    # No agent runs twice on the same inputs; retries follow the rule: once after a recoverable failure only.
    for task, attempts in attempts_by_task(history).items():
        assert [a.attempt for a in attempts] == list(range(1, len(attempts) + 1)), task
        assert len(attempts) <= 2
        for earlier in attempts[:-1]:
            assert earlier.status in ("timeout", "error"), task
        if attempts[0].status in ("conflict", "denied", "invalid", "ok"):
            assert len(attempts) == 1, task
        if attempts[0].status in ("timeout", "error"):
            assert len(attempts) == 2, task


@settings(max_examples=15, deadline=None)
@given(script=scripts)
def test_the_same_script_decides_the_same_whatever_the_timing(script: dict[str, list[tuple[Any, ...]]]) -> None:
    first, history, _ = run_script(script, ["c1"])
    slower = {name: [(*s[:4], 10 - s[4]) for s in steps] for name, steps in script.items()}  # another order
    second, other_history, _ = run_script(slower, ["c1"])
    assert first.decision == second.decision
    assert [e.payload for e in history if isinstance(e.payload, Decision)] == [
        e.payload for e in other_history if isinstance(e.payload, Decision)
    ]
