"""The control loop on real boards: outcomes, reasons, retries, resume, ordering, permissions and replay."""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from slateboard import AgentRun, Blackboard, BoardView, Controller, Decision, agent, rules
from slateboard.blackboard.entries import PendingEntry
from slateboard.blackboard.records import encode_record
from slateboard.errors import ConfigurationError, WorkflowError
from tests.controller.kinds import (
    Case,
    Entitlement,
    Intake,
    PolicyCheck,
    case,
    cite,
    conflicted,
    contract_entitlement,
    crm_entitlement,
    knowledge,
    proposer,
    strict_knowledge,
)

CONTRADICTION = rules.contradiction(
    Entitlement,
    PolicyCheck,
    when=lambda e, p: e.entitled and p.excluded,
    reason="entitlement contradicts a policy exception",
)


def runs(history: tuple) -> list[AgentRun]:  # type: ignore[type-arg]
    return [e.payload for e in history if isinstance(e.payload, AgentRun)]


def decisions(history: tuple) -> list[Decision]:  # type: ignore[type-arg]
    return [e.payload for e in history if isinstance(e.payload, Decision)]


@pytest.mark.anyio
async def test_sufficient_evidence_ends_the_run_with_proposals() -> None:
    controller = Controller(
        [crm_entitlement, knowledge, proposer],
        [
            rules.sufficient(Entitlement, min_confidence=0.8),
            rules.sufficient(PolicyCheck, min_confidence=0.9),
            rules.sufficient(Proposal := __import__("slateboard").Proposal),
        ],
    )
    with Blackboard.open("memory://") as bb:
        outcome = await controller.run(bb.board("case-1"), case())
        assert outcome.status == "sufficient"
        assert [p.target for p in outcome.proposals] == ["Case/case-1"]
        assert any("pooled confidence 0.900" in r for r in outcome.reasons)
        history = await bb.board("case-1").history()
        assert [d.status for d in decisions(history)] == ["continue", "continue", "continue", "sufficient"]
        assert outcome.version == history[-1].version
        assert Proposal.kind_name == "slateboard.Proposal"


@pytest.mark.anyio
async def test_a_contradiction_escalates_to_a_person_and_names_both_findings() -> None:
    controller = Controller(
        [crm_entitlement, strict_knowledge],
        [rules.sufficient(Entitlement), rules.sufficient(PolicyCheck), CONTRADICTION],
    )
    with Blackboard.open("memory://") as bb:
        outcome = await controller.run(bb.board("c"), case("c"))
        assert outcome.status == "escalated"
        (reason,) = outcome.decision.reasons
        assert reason.rule == "contradiction(tests.controller.Entitlement, tests.controller.PolicyCheck)"
        assert reason.agents == ("crm_entitlement", "strict_knowledge")
        assert "entitlement contradicts a policy exception" in outcome.reasons[0]
        assert len(reason.findings) == 2


@pytest.mark.anyio
async def test_a_conflict_reported_by_an_agent_is_never_retried() -> None:
    controller = Controller([conflicted], [rules.sufficient(PolicyCheck)])
    with Blackboard.open("memory://") as bb:
        outcome = await controller.run(bb.board("c"), case("c"))
        history = await bb.board("c").history()
        assert [(r.agent, r.attempt, r.status) for r in runs(history)] == [("knowledge_conflict", 1, "conflict")]
        assert outcome.status == "escalated"
        assert "warranty exception 4.2" in outcome.reasons[0]


CALLS = {"flaky": 0}


@agent(name="flaky_retrieval", timeout=0.05)
async def flaky_retrieval(case: Case) -> PolicyCheck:
    CALLS["flaky"] += 1
    if CALLS["flaky"] == 1:
        await anyio.sleep_forever()  # a hang: the runner's timeout ends it
    return PolicyCheck(subject=case.subject, excluded=False, confidence=0.9)


@pytest.mark.anyio
async def test_a_timed_out_retrieval_is_retried_once_and_every_attempt_is_recorded() -> None:
    CALLS["flaky"] = 0
    controller = Controller([flaky_retrieval], [rules.sufficient(PolicyCheck)])
    with Blackboard.open("memory://") as bb, anyio.fail_after(10):
        outcome = await controller.run(bb.board("c"), case("c"))
        history = await bb.board("c").history()
        assert [(r.attempt, r.status) for r in runs(history)] == [(1, "timeout"), (2, "ok")]
        assert outcome.status == "sufficient"


@agent(name="always_down", timeout=0.05, retries=1)
async def always_down(case: Case) -> PolicyCheck:
    raise ConnectionError("crm unreachable")


@pytest.mark.anyio
async def test_an_agent_that_keeps_failing_fails_the_run_naming_it() -> None:
    controller = Controller([always_down], [rules.sufficient(PolicyCheck)])
    with Blackboard.open("memory://") as bb:
        outcome = await controller.run(bb.board("c"), case("c"))
        assert outcome.status == "failed"
        assert any("always_down" in r and "crm unreachable" in r and "2 attempt" in r for r in outcome.reasons)
        history = await bb.board("c").history()
        assert [r.status for r in runs(history)] == ["error", "error"]
        again = await controller.run(bb.board("c"), case("c"))
        assert again.version == outcome.version  # nothing new: no agent re-run on the same inputs


@pytest.mark.anyio
async def test_nothing_left_to_run_without_enough_evidence_is_insufficient() -> None:
    controller = Controller([contract_entitlement], [rules.sufficient(Entitlement, min_confidence=0.9)])
    with Blackboard.open("memory://") as bb:
        outcome = await controller.run(bb.board("c"), case("c"))
        assert outcome.status == "insufficient"
        assert any(r.startswith("sufficient(tests.controller.Entitlement): 1 independent") for r in outcome.reasons)
        assert outcome.reasons[-1].startswith("stall:")


@pytest.mark.anyio
async def test_two_agents_citing_the_same_single_source_are_one_source() -> None:
    @agent(name="crm_copy")
    async def crm_copy(case: Case) -> Entitlement:
        return Entitlement(subject=case.subject, entitled=True, confidence=0.9, citations=cite("crm"))

    need_two = rules.sufficient(Entitlement, min_sources=2)
    with Blackboard.open("memory://") as bb:
        same = await Controller([crm_entitlement, crm_copy], [need_two]).run(bb.board("same"), case("same"))
        assert same.status == "insufficient"
        assert "1 independent source(s)" in same.reasons[0]
        distinct = await Controller([crm_entitlement, contract_entitlement], [need_two]).run(bb.board("d"), case("d"))
        assert distinct.status == "sufficient"
        assert "pooled confidence 0.981" in distinct.reasons[0]  # odds 9 x 5.67 = 51 -> 0.981


@pytest.mark.anyio
async def test_disagreement_between_agents_escalates() -> None:
    @agent(name="denier")
    async def denier(case: Case) -> Entitlement:
        return Entitlement(subject=case.subject, entitled=False, confidence=0.9, citations=cite("erp"))

    controller = Controller(
        [crm_entitlement, denier], [rules.sufficient(Entitlement), rules.disagreement(Entitlement, field="entitled")]
    )
    with Blackboard.open("memory://") as bb:
        outcome = await controller.run(bb.board("c"), case("c"))
        assert outcome.status == "escalated"
        assert "crm_entitlement=True" in outcome.reasons[0]
        assert "denier=False" in outcome.reasons[0]


@pytest.mark.anyio
async def test_low_intake_confidence_goes_to_a_person() -> None:
    @agent(name="intake")
    async def intake(case: Case) -> Intake:
        return Intake(subject=case.subject, category="warranty", confidence=0.6)

    controller = Controller(
        [intake, crm_entitlement], [rules.escalate_below(Intake, confidence=0.75), rules.sufficient(Entitlement)]
    )
    with Blackboard.open("memory://") as bb:
        outcome = await controller.run(bb.board("c"), case("c"))
        assert outcome.status == "escalated"
        assert "confidence 0.60, below the gate of 0.75" in outcome.reasons[0]


@pytest.mark.anyio
async def test_findings_of_one_cycle_land_in_rating_then_declaration_order() -> None:
    answered = anyio.Event()

    @agent(name="slow_first", rating=5)
    async def slow_first(case: Case) -> Intake:
        await answered.wait()  # finishes after fast_second, whichever starts first
        return Intake(subject=case.subject, category="slow", confidence=1.0)

    @agent(name="fast_second", rating=5)
    async def fast_second(case: Case) -> PolicyCheck:
        answered.set()
        return PolicyCheck(subject=case.subject, excluded=False, confidence=1.0)

    controller = Controller([slow_first, fast_second, crm_entitlement], [])
    with Blackboard.open("memory://") as bb:
        await controller.run(bb.board("c"), case("c"))
        history = await bb.board("c").history()
        authors = [e.author for e in history if e.author not in ("input", "slateboard.controller")]
        assert authors == ["crm_entitlement", "slow_first", "fast_second"]  # rating 10 first, then declared order


@pytest.mark.anyio
async def test_agents_of_a_cycle_run_concurrently() -> None:
    started = anyio.Event()

    @agent(name="waiter")
    async def waiter(case: Case) -> Intake:
        with anyio.fail_after(2):
            await started.wait()  # only finishes if the other agent runs at the same time
        return Intake(subject=case.subject, category="x", confidence=1.0)

    @agent(name="starter")
    async def starter(case: Case) -> PolicyCheck:
        started.set()
        return PolicyCheck(subject=case.subject, excluded=False, confidence=1.0)

    with Blackboard.open("memory://") as bb:
        outcome = await Controller([waiter, starter], []).run(bb.board("c"), case("c"))
        assert outcome.status == "sufficient"
        assert [r.status for r in runs(await bb.board("c").history())] == ["ok", "ok"]


@pytest.mark.anyio
async def test_an_agent_gets_a_read_only_view_and_cannot_write_undeclared_kinds() -> None:
    seen: list[object] = []

    @agent(name="sneaky")
    def sneaky(case: Case, view: BoardView) -> PolicyCheck:
        seen.append(view)
        seen.append(threading.current_thread())
        return Entitlement(subject=case.subject, entitled=True, confidence=1.0)  # type: ignore[return-value]

    with Blackboard.open("memory://") as bb:
        outcome = await Controller([sneaky], [rules.sufficient(PolicyCheck)]).run(bb.board("c"), case("c"))
        view = seen[0]
        assert isinstance(view, BoardView)
        assert not any(hasattr(view, name) for name in ("write", "write_many", "write_each", "commit", "_store"))
        assert seen[1] is not threading.main_thread()  # a sync agent runs in a worker thread
        history = await bb.board("c").history()
        assert [(r.status, r.attempt) for r in runs(history)] == [("denied", 1)]
        assert not view.findings(Entitlement)
        assert (await bb.board("c").view()).findings(Entitlement) == ()
        assert outcome.status == "failed"
        assert "declares only: tests.controller.PolicyCheck" in outcome.reasons[0]


@pytest.mark.anyio
async def test_resume_does_not_rerun_agents_and_new_inputs_do(tmp_path: Path) -> None:
    controller = Controller([crm_entitlement, knowledge], [rules.sufficient(PolicyCheck)])
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with Blackboard.open(url) as bb:
        first = await controller.run(bb.board("c"), case("c"))
    with Blackboard.open(url) as bb:  # a new process would see the same
        again = await controller.run(bb.board("c"), case("c"))
        assert again == first
        other = await controller.run(bb.board("c"), case("c2"))
        history = await bb.board("c").history()
        ran = [(r.agent, r.subject) for r in runs(history)]
        assert ran == [("crm_entitlement", "c"), ("knowledge", "c"), ("crm_entitlement", "c2"), ("knowledge", "c2")]
        assert other.status == "sufficient"


@pytest.mark.anyio
async def test_budgets_fail_the_run_naming_the_limit() -> None:
    @agent(name="counter", when=lambda case: True)
    async def counter(case: Case) -> Case:
        return Case(subject=case.subject, description=str(int(case.description or "0") + 1), confidence=1.0)

    with Blackboard.open("memory://") as bb:
        outcome = await Controller([counter], [rules.budget(max_cycles=3)]).run(
            bb.board("c"), Case(subject="c", description="0", confidence=1)
        )
        assert outcome.status == "failed"
        assert outcome.reasons[0] == "budget: the run has used its 3 cycles"


@pytest.mark.anyio
async def test_the_deadline_is_read_from_the_log_so_replay_agrees() -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]

    def tick() -> datetime:
        clock[0] += timedelta(seconds=4)
        return clock[0]

    @agent(name="loop", when=lambda case: True)
    async def loop(case: Case) -> Case:
        return Case(subject=case.subject, description=case.description + "+", confidence=1.0)

    controller = Controller([loop], [rules.budget(deadline=10)])
    with Blackboard.open("memory://", clock=tick) as bb:
        outcome = await controller.run(bb.board("c"), case("c"))
        assert outcome.reasons[0] == "budget: the run is past its deadline of 10 s"
        assert (await controller.replay(bb.board("c"))).identical


def test_construction_rejects_what_cannot_work() -> None:
    with pytest.raises(WorkflowError, match="no agent writes and no input provides"):
        Controller([knowledge], [], inputs=[Case])
    with pytest.raises(ConfigurationError, match="is not a rule"):
        Controller([crm_entitlement], ["sufficient"])
    with pytest.raises(ConfigurationError, match="has no field 'colour'"):
        rules.disagreement(Entitlement, field="colour")
    with pytest.raises(ConfigurationError, match="min_sources"):
        rules.sufficient(Entitlement, min_sources=0)


def test_run_sync_for_scripts() -> None:
    controller = Controller([crm_entitlement], [rules.sufficient(Entitlement)])
    with Blackboard.open("memory://") as bb:
        assert controller.run_sync(bb.board("c"), case("c")).status == "sufficient"


@pytest.mark.anyio
async def test_replay_reports_where_another_rule_set_would_decide_differently() -> None:
    lenient = Controller([crm_entitlement], [rules.sufficient(Entitlement, min_confidence=0.5)])
    strict = Controller([crm_entitlement], [rules.sufficient(Entitlement, min_confidence=0.95)])
    with Blackboard.open("memory://") as bb:
        await lenient.run(bb.board("c"), case("c"))
        same = await lenient.replay(bb.board("c"))
        assert same.identical
        assert same.same_controller
        assert same.decisions == 2
        other = await strict.replay(bb.board("c"))
        assert not other.identical
        assert not other.same_controller
        (difference,) = other.differences
        assert (difference.recorded.status, difference.derived.status) == ("sufficient", "insufficient")
        assert "differ; first at v" in str(other)


@pytest.mark.anyio
async def test_inputs_survive_another_writer_getting_in_first(tmp_path: Path) -> None:
    """Regression: a stale first write used to drop the run's inputs and end 'sufficient' with nothing run."""
    url = f"sqlite:///{tmp_path / 'b.db'}"
    other = Blackboard.open(url)
    interfered = []

    def clock_with_a_rival() -> datetime:
        if not interfered:  # just before the controller's first write, someone else writes to the board
            interfered.append(True)
            kind, version, payload = encode_record(Intake(subject="other", category="x", confidence=1.0))
            pending = PendingEntry(kind, version, "someone", datetime.now(UTC).isoformat(), payload)
            other.store.append("b", [pending], expected_version=None, wait=True)
        return datetime.now(UTC)

    controller = Controller([crm_entitlement], [rules.sufficient(Entitlement)])
    with Blackboard.open(url, clock=clock_with_a_rival) as bb, other:
        outcome = await controller.run(bb.board("b"), case("c"))
        history = await bb.board("b").history()
        assert interfered
        assert history[0].author == "someone"
        assert [e.author for e in history[1:3]] == ["input", "slateboard.controller"]
        assert [r.agent for r in runs(history)] == ["crm_entitlement"]
        assert outcome.status == "sufficient"
        assert (await controller.replay(bb.board("b"))).identical


@pytest.mark.anyio
@pytest.mark.parametrize("blocking", [True, False])
async def test_sync_agents_write_the_same_log_in_a_worker_thread_or_on_the_loop(blocking: bool) -> None:
    """`blocking=False` changes where a sync agent runs, never what the run writes: the log equals the async
    agents' log entry for entry (kind, author, payload), and it replays identically."""

    def entitlement(case: Case) -> Entitlement:
        return Entitlement(subject=case.subject, entitled=True, confidence=0.9, citations=cite("crm"))

    def policy(case: Case, entitlement: Entitlement) -> PolicyCheck:
        return PolicyCheck(subject=case.subject, excluded=False, confidence=0.95, citations=cite("kb"))

    sync = [agent(blocking=blocking)(entitlement), agent(blocking=blocking)(policy)]
    chosen = [rules.sufficient(Entitlement, min_confidence=0.8), rules.sufficient(PolicyCheck)]
    reference = [agent(name="entitlement")(crm_entitlement.fn), agent(name="policy")(knowledge.fn)]

    async def log_of(agents: list) -> list[tuple[str, str, object]]:  # type: ignore[type-arg]
        controller = Controller(agents, chosen)
        with Blackboard.open("memory://") as bb:
            board = bb.board("case-1")
            outcome = await controller.run(board, case())
            assert outcome.status == "sufficient"
            assert (await controller.replay(board)).identical
            return [(e.kind, e.author, e.payload) for e in await board.history()]

    assert await log_of(sync) == await log_of(reference)
