"""Scripted agents on a real controller (memory:// and a SQLite file): every failure mode, staged without an LLM."""

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import AgentContext, AgentRun, Blackboard, Controller, Decision, Entry, Record, rules
from slateboard.agents.runner import collect_outputs
from slateboard.blackboard.stores.base import open_store
from slateboard.errors import AgentTimeoutError, ConflictError, InvalidFindingError, WorkflowError
from slateboard.scenarios import scripted
from slateboard.testing.faults import Faults
from tests.scenarios.scripted_kinds import (
    Case,
    Entitlement,
    Note,
    PolicyCheck,
    Response,
    case,
    cite,
    knowledge,
    responder,
)

pytestmark = pytest.mark.anyio
TIMEOUT = 0.05
ENTITLED = {"entitled": True, "confidence": 0.9}


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'scripted.db'}"


@pytest.fixture
def bb(url: str) -> Iterator[Blackboard]:
    with Blackboard.open(url) as store:
        yield store


def runs(history: tuple[Entry, ...]) -> list[tuple[str, int, str]]:
    return [(e.payload.agent, e.payload.attempt, e.payload.status) for e in history if isinstance(e.payload, AgentRun)]


def written(history: tuple[Entry, ...], kind: type[Record]) -> list[Entry]:
    return [e for e in history if isinstance(e.payload, kind)]


async def run(bb: Blackboard, agents: list[Any], rule_list: list[Any], board: str = "b") -> tuple[Any, Any]:
    """Run, check that replay re-derives every decision, and return the outcome and the history."""
    controller = Controller(agents, rule_list)
    with anyio.fail_after(20):
        outcome = await controller.run(bb.board(board), case())
    report = await controller.replay(bb.board(board))
    assert report.identical, report.differences
    return outcome, await bb.board(board).history()


# --- what it writes ----------------------------------------------------------------------------------------


async def test_static_emit_writes_the_given_fields_on_the_tasks_subject(bb: Blackboard) -> None:
    ent = scripted.agent("ent", reads=[Case], writes=Entitlement, emit={**ENTITLED, "citations": cite("crm")})
    both = scripted.agent(
        "both",
        reads=[Case],
        writes=[Entitlement, PolicyCheck],
        emit=[{"entitled": False}, {"kind": PolicyCheck, "excluded": True}, {"kind": "Entitlement", "entitled": True}],
    )
    outcome, history = await run(bb, [ent, both], [rules.sufficient(Entitlement, min_confidence=0.8)])
    assert outcome.status == "sufficient"
    assert runs(history) == [("ent", 1, "ok"), ("both", 1, "ok")]
    (first, *others) = written(history, Entitlement)
    assert (first.author, first.payload) == ("ent", Entitlement(subject="case-42", citations=cite("crm"), **ENTITLED))
    # A list of dicts writes several findings, each of the kind its `kind` key names (the first kind without one),
    # with the task's subject and confidence 1.0 by default.
    assert [(e.author, e.payload.entitled, e.payload.confidence) for e in others] == [
        ("both", False, 1.0),
        ("both", True, 1.0),
    ]
    (check,) = written(history, PolicyCheck)
    assert check.payload == PolicyCheck(subject="case-42", excluded=True, confidence=1.0)
    assert both.many
    assert not ent.many


async def test_dynamic_emit_reads_its_inputs_and_may_return_findings_dicts_or_nothing(bb: Blackboard) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def entitlement(subject: str, inputs: dict[str, Any]) -> Entitlement:
        seen.append((subject, inputs))
        return Entitlement(subject=subject, entitled="warranty" in inputs["case"].description, confidence=0.9)

    async def policy(subject: str, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        (ent,) = inputs["entitlement"]  # read as list[Entitlement]: all of them
        return [{"excluded": not ent.entitled, "article": inputs["case"].description.split()[0]}]

    agents = [
        scripted.agent("ent", reads=[Case], writes=Entitlement, emit=entitlement),
        scripted.agent("policy", reads=[Case, list[Entitlement]], writes=PolicyCheck, emit=policy),
        scripted.agent("silent", reads=[PolicyCheck], writes=Response, emit=lambda subject, inputs: None),
    ]
    outcome, history = await run(bb, agents, [])  # no sufficiency rule: done once no agent has work left
    assert outcome.status == "sufficient"
    assert [(subject, sorted(inputs)) for subject, inputs in seen] == [("case-42", ["case"])]
    assert seen[0][1]["case"] == case()
    assert written(history, Entitlement)[0].payload.entitled is True
    (check,) = written(history, PolicyCheck)
    assert (check.author, check.payload.excluded, check.payload.article) == ("policy", False, "distributor")
    assert runs(history)[-1] == ("silent", 1, "ok")
    assert not written(history, Response)


async def test_emit_none_writes_nothing_and_the_run_says_what_is_missing(bb: Blackboard) -> None:
    quiet = scripted.agent("quiet", reads=[Case], writes=Entitlement, emit=None)
    assert quiet.optional
    outcome, history = await run(bb, [quiet], [rules.sufficient(Entitlement)])
    assert runs(history) == [("quiet", 1, "ok")]
    assert not written(history, Entitlement)
    assert outcome.status == "insufficient"
    assert "no finding of this kind" in outcome.reasons[0]


# --- the retry rule (seed 000: one retry for a timed-out retrieval, none for a policy conflict) ------------------


async def test_one_failure_is_retried_once_and_the_second_attempt_answers(bb: Blackboard) -> None:
    flaky = scripted.agent("flaky", reads=[Case], writes=Entitlement, emit=ENTITLED, fail_times=1, retries=1)
    outcome, history = await run(bb, [flaky], [rules.sufficient(Entitlement)])
    assert runs(history) == [("flaky", 1, "error"), ("flaky", 2, "ok")]
    first = written(history, AgentRun)[0].payload
    assert first.error == "ConnectionError: scripted failure 1 of 1 (agent flaky)"
    assert outcome.status == "sufficient"
    assert len(written(history, Entitlement)) == 1


async def test_two_failures_use_up_one_retry_and_fail_the_run_naming_the_agent(bb: Blackboard) -> None:
    down = scripted.agent("crm_down", reads=[Case], writes=Entitlement, emit=ENTITLED, fail_times=2, retries=1)
    outcome, history = await run(bb, [down], [rules.sufficient(Entitlement)])
    assert runs(history) == [("crm_down", 1, "error"), ("crm_down", 2, "error")]
    assert outcome.status == "failed"
    reason = outcome.decision.reasons[0]  # the failure first; then the unmet rule and the stall
    assert (reason.rule, reason.agents) == ("agent-failure", ("crm_down",))
    assert "agent crm_down failed on 'case-42' after 2 attempt(s)" in reason.message
    assert "scripted failure 2 of 2" in reason.message


async def test_a_timed_out_retrieval_is_retried_once_then_answers(bb: Blackboard) -> None:
    retrieval = scripted.agent(
        "retrieval", reads=[Case], writes=PolicyCheck, emit={"excluded": False}, timeout_times=1, timeout=TIMEOUT
    )
    outcome, history = await run(bb, [retrieval], [rules.sufficient(PolicyCheck)])
    assert runs(history) == [("retrieval", 1, "timeout"), ("retrieval", 2, "ok")]
    assert written(history, AgentRun)[0].payload.error == f"no answer within {TIMEOUT:g} s"
    assert outcome.status == "sufficient"


async def test_a_policy_conflict_escalates_with_zero_retries(bb: Blackboard) -> None:
    conflicted = scripted.agent(
        "knowledge", reads=[Case], writes=PolicyCheck, conflict="warranty exception 4.2 applies", retries=3
    )
    outcome, history = await run(bb, [conflicted], [rules.sufficient(PolicyCheck)])
    assert runs(history) == [("knowledge", 1, "conflict")]
    assert outcome.status == "escalated"
    (reason,) = outcome.decision.reasons
    assert (reason.rule, reason.agents) == ("agent-conflict", ("knowledge",))
    assert "warranty exception 4.2 applies" in reason.message


@pytest.mark.parametrize(
    ("options", "status"),
    [({"invalid": True}, "invalid"), ({"invalid": {"subject": ""}}, "invalid"), ({"undeclared": Response}, "denied")],
)
async def test_an_invalid_or_undeclared_finding_is_refused_and_not_retried(
    bb: Blackboard, options: dict[str, Any], status: str
) -> None:
    bad = scripted.agent("bad", reads=[Case], writes=Entitlement, emit=ENTITLED, retries=2, **options)
    outcome, history = await run(bb, [bad], [rules.sufficient(Entitlement)])
    assert runs(history) == [("bad", 1, status)]
    assert not written(history, Entitlement)
    assert not written(history, Response)  # invariant 4: nothing of a kind it does not declare
    assert outcome.status == "failed"
    assert outcome.decision.reasons[0].agents == ("bad",)
    expected = "PermissionDeniedError" if status == "denied" else "InvalidFindingError"
    assert expected in outcome.reasons[0]


async def test_failures_come_before_the_final_mode_and_a_retried_conflict_still_escalates(bb: Blackboard) -> None:
    agents = [
        scripted.agent(
            "slow", reads=[Case], writes=Entitlement, conflict="exception", timeout_times=1, timeout=TIMEOUT
        ),
        scripted.agent("sloppy", reads=[Case], writes=PolicyCheck, invalid=True, fail_times=1, retries=3),
    ]
    outcome, history = await run(bb, agents, [rules.sufficient(Entitlement)])
    assert runs(history) == [
        ("slow", 1, "timeout"),
        ("slow", 2, "conflict"),
        ("sloppy", 1, "error"),
        ("sloppy", 2, "invalid"),
    ]
    assert outcome.status == "escalated"


async def test_a_delay_past_the_timeout_times_out_every_attempt(bb: Blackboard) -> None:
    slow = scripted.agent("slow", reads=[Case], writes=Entitlement, emit=ENTITLED, delay=TIMEOUT * 4, timeout=TIMEOUT)
    patient = scripted.agent(
        "patient", reads=[Case], writes=PolicyCheck, emit={"excluded": False}, delay=TIMEOUT, timeout=None
    )
    outcome, history = await run(bb, [slow, patient], [rules.sufficient(Entitlement)])
    assert runs(history) == [("slow", 1, "timeout"), ("slow", 2, "timeout"), ("patient", 1, "ok")]
    assert outcome.status == "failed"


async def test_a_delayed_agent_still_writes_in_rating_order_not_completion_order(bb: Blackboard) -> None:
    late = scripted.agent("late", reads=[Case], writes=Entitlement, emit=ENTITLED, delay=TIMEOUT, rating=10)
    early = scripted.agent("early", reads=[Case], writes=PolicyCheck, emit={"excluded": False})
    _, history = await run(bb, [early, late], [rules.sufficient(Entitlement), rules.sufficient(PolicyCheck)])
    assert [e.author for e in history if isinstance(e.payload, Entitlement | PolicyCheck)] == ["late", "early"]


# --- what it declares ---------------------------------------------------------------------------------------


def test_a_scripted_agent_declares_exactly_what_a_hand_written_one_does() -> None:
    stand_in = scripted.agent(
        "knowledge",
        reads=[Case, Entitlement],
        writes=PolicyCheck,
        emit={"excluded": False},
        timeout=8,
        retries=2,
        rating=50,
        capabilities={"warranty"},
    )
    assert (stand_in.inputs, stand_in.outputs) == (knowledge.inputs, knowledge.outputs)
    assert [(p.name, p.role, p.kind) for p in stand_in.params[:2]] == [
        (p.name, p.role, p.kind) for p in knowledge.params
    ]
    assert (stand_in.many, stand_in.optional) == (knowledge.many, knowledge.optional)
    written_by_hand, by_script = Controller([knowledge, responder]), Controller([stand_in, responder])
    assert by_script.mermaid() == written_by_hand.mermaid()
    assert sorted(by_script.registry.graph().edges) == sorted(written_by_hand.registry.graph().edges)
    assert by_script.registry.by_capability("warranty") == (stand_in,)
    assert by_script.fingerprint == written_by_hand.fingerprint  # what RunStarted records and replay compares
    assert stand_in.is_async
    assert stand_in.description.startswith("Scripted agent: writes tests.scripted.PolicyCheck")


def test_parameter_names_come_from_the_kinds_and_a_when_guard_takes_them() -> None:
    same = scripted.agent(
        "many",
        reads=[Case, Case, list[PolicyCheck]],
        writes=[Response, Entitlement],
        emit=lambda s, i: None,
        when=lambda policy_check: len(policy_check) > 0,
    )
    assert [(p.name, p.role) for p in same.params] == [
        ("case", "one"),
        ("case_2", "one"),
        ("policy_check", "all"),
        ("context", "context"),
    ]
    assert same.outputs == (Response, Entitlement)
    assert (same.many, same.optional) == (True, True)
    assert (responder.many, responder.optional) == (True, True)  # what `list[Response | Entitlement]` declares
    assert scripted.param_name(Note) == "note"
    with pytest.raises(WorkflowError, match="when= precondition asks for entitlement"):
        scripted.agent("guarded", reads=[Case], writes=Response, emit=None, when=lambda entitlement: True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"emit": {"entitled": "maybe"}}, "emit does not make a valid tests.scripted.Entitlement"),
        ({"emit": {"kind": PolicyCheck, "excluded": True}}, "which it does not write"),
        ({"emit": 42}, "emit takes a dict"),
        ({"undeclared": Entitlement}, "is a kind it declares"),
        ({"invalid": {"confidence": 0.5}}, "still makes a valid"),
        ({"timeout_times": 1, "timeout": None}, "needs a timeout"),
        ({"fail_times": -1}, "fail_times must be an int >= 0"),
        ({"timeout_times": 1.5}, "timeout_times must be an int >= 0"),
        ({"delay": float("nan")}, "delay must be a number of seconds >= 0"),
        ({"conflict": "x", "invalid": True}, "choose one of conflict, invalid"),
        ({"reads": [dict[str, Case]]}, "reads takes finding kinds"),
        ({"writes": [str]}, "writes takes a finding kind"),
        ({"retries": -1}, "retries must be an int >= 0"),
    ],
)
def test_a_script_that_cannot_work_is_refused_when_declared(options: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"reads": [Case], "writes": Entitlement, "emit": ENTITLED, **options}
    with pytest.raises(WorkflowError, match=message):
        scripted.agent("broken", **arguments)


def test_invalid_needs_fields_to_break_on_a_record_without_confidence() -> None:
    with pytest.raises(WorkflowError, match="has no confidence"):
        scripted.agent("notes", reads=[Case], writes=Note, emit={"text": "hi"}, invalid=True)
    notes = scripted.agent("notes", reads=[Case], writes=Note, emit={"text": "hi"}, invalid={"text": ""})
    assert notes.outputs == (Note,)


# --- behaviour depends on the attempt number alone ------------------------------------------------------------


async def test_each_attempt_depends_only_on_its_number(bb: Blackboard) -> None:
    await bb.board("b").write(case(), author="input")
    view = await bb.board("b").view()
    staged = scripted.agent("staged", reads=[Case], writes=Entitlement, emit=ENTITLED, fail_times=1, conflict=None)
    conflicted = scripted.agent("c", reads=[Case], writes=Entitlement, conflict="exception 4.2")

    def context(attempt: int, name: str = "staged") -> AgentContext:
        return AgentContext(agent=name, subject="case-42", attempt=attempt, view=view)

    for _ in range(2):  # the same answers however often it is asked, in any order
        assert await staged(case=case(), context=context(2)) == Entitlement(subject="case-42", **ENTITLED)
        with pytest.raises(ConnectionError, match="scripted failure 1 of 1"):
            await staged(case=case(), context=context(1))
        with pytest.raises(ConflictError, match=r"exception 4\.2"):
            await conflicted(case=case(), context=context(1, "c"))
    invalid = scripted.agent("i", reads=[Case], writes=Entitlement, emit=ENTITLED, invalid=True)
    with pytest.raises(InvalidFindingError, match="confidence"):
        collect_outputs(invalid, await invalid(case=case(), context=context(1, "i")))
    sleepy = scripted.agent("sleepy", reads=[Case], writes=Entitlement, emit=ENTITLED, timeout_times=1, timeout=0.01)
    with pytest.raises(AgentTimeoutError):  # outside a runner, it still does not answer
        await sleepy(case=case(), context=context(1, "sleepy"))


MODES: dict[str, tuple[dict[str, Any], list[str], str]] = {  # options, the attempts' statuses, the outcome
    "emit": ({"emit": ENTITLED}, ["ok"], "sufficient"),
    "dynamic": ({"emit": lambda subject, inputs: {"entitled": True, "confidence": 0.85}}, ["ok"], "sufficient"),
    "none": ({"emit": None}, ["ok"], "insufficient"),
    "fail": ({"emit": ENTITLED, "fail_times": 1}, ["error", "ok"], "sufficient"),
    "fail-for-good": ({"emit": ENTITLED, "fail_times": 2}, ["error", "error"], "failed"),
    "timeout": ({"emit": ENTITLED, "timeout_times": 1, "timeout": TIMEOUT}, ["timeout", "ok"], "sufficient"),
    "delay": ({"emit": ENTITLED, "delay": 0.01}, ["ok"], "sufficient"),
    "invalid": ({"emit": ENTITLED, "invalid": True}, ["invalid"], "failed"),
    "undeclared": ({"emit": ENTITLED, "undeclared": Response}, ["denied"], "failed"),
    "conflict": ({"conflict": "a policy exception applies"}, ["conflict"], "escalated"),
}


@pytest.mark.parametrize("mode", sorted(MODES))
async def test_replay_is_identical_and_every_build_and_run_behaves_the_same(bb: Blackboard, mode: str) -> None:
    options, statuses, status = MODES[mode]

    def build() -> Any:
        return scripted.agent("scripted", reads=[Case], writes=Entitlement, **options)

    once = build()
    rule_list = [rules.sufficient(Entitlement, min_confidence=0.8)]
    # One agent object on two boards (no state carried over), and a second build, as another process would make.
    boards = [await run(bb, [once], rule_list, "b1"), await run(bb, [once], rule_list, "b2")]
    boards.append(await run(bb, [build()], rule_list, "b3"))
    for outcome, history in boards:
        assert runs(history) == [("scripted", n, s) for n, s in enumerate(statuses, start=1)]
        assert outcome.status == status
    payloads = [[(e.kind, e.author, e.payload) for e in history] for _, history in boards]
    assert payloads[0] == payloads[1] == payloads[2]


class Crash(Exception):
    """What a test's kill switch raises: the process 'dies' at a write boundary, its earlier writes durable."""


def crash() -> None:
    raise Crash


async def test_a_crash_before_the_agents_batch_resumes_with_the_same_attempts(url: str) -> None:
    def build() -> Any:
        return scripted.agent("flaky", reads=[Case], writes=Entitlement, emit=ENTITLED, fail_times=1)

    rule_list = [rules.sufficient(Entitlement)]
    # 1: inputs, RunStarted and the first decision (one append); 2: the agent's batch and the next decision.
    faults = Faults(kill_before=2, kill=crash)
    bb = Blackboard(faults.store(open_store(url)))
    with pytest.raises(Crash):
        await Controller([build()], rule_list).run(bb.board("b"), case())
    assert faults.boundaries == ["store.append"]
    assert not runs(await bb.board("b").history())
    # The next process opens the same database; memory:// lives only in this one, so keep its store.
    resumed = Blackboard(bb.store.inner) if url == "memory://" else Blackboard.open(url)
    if url != "memory://":
        bb.close()
    with resumed:
        outcome = await Controller([build()], rule_list).run(resumed.board("b"), case())
        history = await resumed.board("b").history()
        assert runs(history) == [("flaky", 1, "error"), ("flaky", 2, "ok")]
        assert outcome.status == "sufficient"
        assert sum(isinstance(e.payload, Decision) for e in history) == 3


# --- the retry rule, for any script ---------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    timeouts=st.integers(0, 2),
    failures=st.integers(0, 3),
    retries=st.integers(0, 3),
    store=st.sampled_from(["memory", "sqlite"]),
)
def test_attempts_and_the_final_status_follow_the_retry_rule(
    timeouts: int, failures: int, retries: int, store: str
) -> None:
    script = scripted.agent(
        "retrieval",
        reads=[Case],
        writes=PolicyCheck,
        emit={"excluded": False},
        timeout_times=timeouts,
        fail_times=failures,
        timeout=0.01,
        retries=retries,
    )
    controller = Controller([script], [rules.sufficient(PolicyCheck)])

    async def main(url: str) -> tuple[Any, tuple[Entry, ...], Any]:
        with Blackboard.open(url) as bb:
            outcome = await controller.run(bb.board("b"), case())
            return outcome, await bb.board("b").history(), await controller.replay(bb.board("b"))

    with tempfile.TemporaryDirectory() as folder:
        url = "memory://" if store == "memory" else f"sqlite:///{Path(folder) / 'h.db'}"
        outcome, history, report = anyio.run(main, url)

    planned = ["timeout"] * timeouts + ["error"] * failures + ["ok"]
    expected = planned[: retries + 1]  # one first attempt, then at most `retries` more after recoverable failures
    assert runs(history) == [("retrieval", n, status) for n, status in enumerate(expected, start=1)]
    answered = timeouts + failures <= retries
    assert outcome.status == ("sufficient" if answered else "failed")
    assert len(written(history, PolicyCheck)) == int(answered)
    if not answered:
        reason = outcome.decision.reasons[0]
        assert (reason.rule, reason.agents) == ("agent-failure", ("retrieval",))
        assert f"after {retries + 1} attempt(s)" in reason.message
    assert report.identical
