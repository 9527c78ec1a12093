"""The commit flow through `Controller.run`: every outcome status, on the memory store and on a SQLite file.

Each scenario comes from the field (seeds 000 and 002): a support case whose Salesforce update is committed,
waits for a person, is escalated or rejected; a sales and a service update of one account resolved by
priority; a compliance flag that freezes everything; a CRM that keeps failing. For every scenario the run must
end in the expected status with a reason naming its cause (invariant 6), apply nothing twice (invariant 5),
do nothing more when run again, and replay to the same decisions and verdicts (invariant 3).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from slateboard import (
    ApprovalRequest,
    Blackboard,
    Commit,
    CommitFailure,
    CommitLayer,
    Controller,
    Decision,
    Finding,
    Verdict,
    policies,
    rules,
    sinks,
)
from slateboard.errors import ConfigurationError
from slateboard.state.records import COMMIT_LAYER
from tests.controller.commit_kinds import (
    LEAD_AGENTS,
    LEAD_RULES,
    SUPPORT_AGENTS,
    SUPPORT_RULES,
    ComplianceFlag,
    DownCRM,
    Entitlement,
    account,
    case,
    compliance_agent,
    crm_down,
    record,
)

SUPPORT_POLICY = policies.Policy(
    policies.min_confidence(0.85),
    policies.require_citations(approved=True),
    policies.escalate_on_conflict(),
    policies.require_approval(),
)
LEAD_POLICY = policies.Policy(
    policies.min_confidence(0.8),
    policies.escalate_on_conflict(),
    policies.freeze_on(ComplianceFlag),
    policies.priority("compliance", "service", "sales"),
)
UNRANKED_POLICY = policies.Policy(policies.min_confidence(0.8), policies.escalate_on_conflict())


@dataclass(frozen=True)
class Scenario:
    """One run: the controller's parts, the inputs, and the status and cause its outcome must name."""

    name: str
    agents: tuple[Any, ...]
    rules: tuple[Any, ...]
    policy: policies.Policy | None
    inputs: Callable[[], tuple[Finding, ...]]
    status: str
    cause: str
    failing: bool = False

    def controller(self) -> tuple[Controller, sinks.Memory]:
        sink = DownCRM() if self.failing else sinks.Memory()
        target: object = CommitLayer(sink, attempts=2, backoff=0) if self.failing else sink
        return Controller(self.agents, self.rules, policy=self.policy, sink=target), sink


SCENARIOS = [
    Scenario("committed", SUPPORT_AGENTS, SUPPORT_RULES, SUPPORT_POLICY, lambda: (case(),), "committed", ""),
    Scenario(
        "awaiting_approval",
        SUPPORT_AGENTS,
        SUPPORT_RULES,
        SUPPORT_POLICY,
        lambda: (case(reversible=False),),
        "awaiting_approval",
        "awaiting approval: require_approval(irreversible)",
    ),
    Scenario(
        "escalated_low_confidence",
        SUPPORT_AGENTS,
        SUPPORT_RULES,
        SUPPORT_POLICY,
        lambda: (case(propose_confidence=0.6),),
        "escalated",
        "min_confidence(0.85): confidence 0.6",
    ),
    Scenario(
        "escalated_unranked_rivals",
        LEAD_AGENTS,
        LEAD_RULES,
        UNRANKED_POLICY,
        lambda: (account(),),
        "escalated",
        "escalate_on_conflict: open conflict on 'acme'",
    ),
    Scenario(
        "rejected_unapproved_citations",
        SUPPORT_AGENTS,
        SUPPORT_RULES,
        SUPPORT_POLICY,
        lambda: (case(approved_sources=False),),
        "rejected",
        "require_citations(approved): Proposal v",
    ),
    Scenario(
        "rejected_compliance_freeze",
        (*LEAD_AGENTS, compliance_agent),
        LEAD_RULES,
        LEAD_POLICY,
        lambda: (account(under_review=True),),
        "rejected",
        "freeze_on(tests.commitflow.ComplianceFlag): tests.commitflow.ComplianceFlag v",
    ),
    Scenario(
        "rejected_default_deny", SUPPORT_AGENTS, SUPPORT_RULES, None, lambda: (case(),), "rejected", "default-deny"
    ),
    Scenario(
        "failed_sink",
        SUPPORT_AGENTS,
        SUPPORT_RULES,
        SUPPORT_POLICY,
        lambda: (case(),),
        "failed",
        "failed after 2 attempt(s): RuntimeError: CRM is down",
        failing=True,
    ),
    Scenario(
        "insufficient",
        SUPPORT_AGENTS,
        (rules.sufficient(Entitlement, min_confidence=0.99),),
        SUPPORT_POLICY,
        lambda: (case(),),
        "insufficient",
        "sufficient(tests.commitflow.Entitlement)",
    ),
    Scenario(
        "failed_agent",
        (crm_down,),
        (rules.sufficient(Entitlement),),
        SUPPORT_POLICY,
        lambda: (case(),),
        "failed",
        "agent crm_down failed on 'case-42'",
    ),
    Scenario(
        "committed_by_priority",
        (*LEAD_AGENTS, compliance_agent),
        LEAD_RULES,
        LEAD_POLICY,
        lambda: (account(),),
        "committed",
        "",
    ),
]


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'flow.db'}"


@pytest.fixture
def blackboard(url: str) -> Iterator[Blackboard]:
    with Blackboard.open(url) as bb:
        yield bb


def of(history: tuple[Any, ...], kind: type[Any]) -> list[Any]:
    return [e.payload for e in history if isinstance(e.payload, kind)]


def board_name(scenario: Scenario) -> str:
    return str(scenario.inputs()[0].subject)


@pytest.mark.anyio
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_every_status_names_its_cause_applies_nothing_twice_and_replays(
    scenario: Scenario, blackboard: Blackboard
) -> None:
    controller, sink = scenario.controller()
    board = blackboard.board(board_name(scenario))
    outcome = await controller.run(board, *scenario.inputs())
    assert outcome.status == scenario.status, outcome.reasons

    # Invariant 6: every outcome other than committed carries a reason naming what caused it.
    if scenario.status != "committed":
        assert outcome.reasons
        assert any(scenario.cause in reason for reason in outcome.reasons), outcome.reasons

    # Invariant 5: nothing applied twice; what the sink has is exactly what the board records as committed.
    history = await board.history()
    commits = of(history, Commit)
    applied = Counter(sink.keys())
    assert all(count == 1 for count in applied.values()), applied
    assert sorted(applied) == sorted(c.key for c in commits)
    assert sorted(c.key for c in outcome.commits) == sorted(c.key for c in commits)
    assert not {a.key for a in outcome.approvals} & set(applied)

    # Run again on the finished board: nothing is judged, committed or written again.
    again = await controller.run(board, *scenario.inputs())
    assert again == outcome
    assert await board.history() == history
    assert Counter(sink.keys()) == Counter(c.key for c in commits)

    # Invariant 3: every decision and every verdict re-derives from the log to what was recorded.
    report = await controller.replay(board)
    assert report.identical, str(report)
    assert report.same_controller
    assert (report.decisions, report.verdicts) == (len(of(history, Decision)), len(of(history, Verdict)))
    await board.verify()


@pytest.mark.anyio
async def test_an_allowed_proposal_is_committed_once_with_its_receipt_on_the_board(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=SUPPORT_POLICY, sink=sink)
    board = blackboard.board("case-42")
    outcome = await controller.run(board, case())

    assert outcome.status == "committed"
    (applied,) = sink.applied
    (proposal,) = outcome.proposals
    assert applied.key == proposal.key("case-42")
    assert applied.proposal == proposal
    assert sink.records == {"Case/case-42": {"Status": "Resolved"}}

    history = await board.history()
    (entry,) = [e for e in history if isinstance(e.payload, Commit)]
    assert entry.author == COMMIT_LAYER
    assert entry.payload == outcome.commits[0]
    assert entry.payload.receipt == applied.receipt
    assert entry.payload.changes == {"Status": "Resolved"}
    assert entry.payload.fence >= 1
    (verdict,) = of(history, Verdict)
    assert verdict.outcome == "allow"
    assert verdict.policy == SUPPORT_POLICY.version
    assert outcome.verdicts == (verdict,)
    # The policy judged after the decision that the evidence sufficed, and the commit followed the verdict.
    versions = {type(e.payload): e.version for e in history if isinstance(e.payload, Decision | Verdict | Commit)}
    assert versions[Decision] < versions[Verdict] < versions[Commit]


@pytest.mark.anyio
async def test_a_sqlite_board_keeps_its_outcome_for_a_second_handle(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'flow.db'}"
    sink = sinks.Memory()
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=SUPPORT_POLICY, sink=sink)
    with Blackboard.open(url) as bb:
        first = await controller.run(bb.board("case-42"), case())
    with Blackboard.open(url) as bb:
        board = bb.board("case-42")
        assert await controller.outcome(board) == first
        assert await controller.run(board, case()) == first  # resumed from the file: nothing applied again
    assert len(sink.applied) == 1


@pytest.mark.anyio
async def test_an_irreversible_action_waits_with_a_keyed_request(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=SUPPORT_POLICY, sink=sink)
    board = blackboard.board("case-42")
    outcome = await controller.run(board, case(reversible=False))

    assert outcome.status == "awaiting_approval"
    (request,) = outcome.approvals
    (proposal,) = outcome.proposals
    assert request.key == proposal.key("case-42")
    assert request.recommended == "update Case/case-42: Status='Resolved'"
    assert request.confidence == 0.9
    assert request.citations == proposal.citations
    assert request.citations[0].approved
    assert request.changes == {"Status": "Resolved"}
    assert "require_approval(irreversible)" in request.reason
    assert (request.action, request.target) == ("update", "Case/case-42")
    assert of(await board.history(), ApprovalRequest) == [request]
    assert sink.applied == []
    assert outcome.commits == ()


@pytest.mark.anyio
async def test_a_low_confidence_proposal_escalates_and_nothing_is_applied(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=SUPPORT_POLICY, sink=sink)
    outcome = await controller.run(blackboard.board("case-42"), case(propose_confidence=0.6))

    assert outcome.status == "escalated"
    (verdict,) = outcome.verdicts
    assert verdict.outcome == "escalate"
    assert [v.rule for v in verdict.reasons] == ["min_confidence(0.85)"]
    assert "below 0.85" in verdict.reasons[0].message
    assert outcome.approvals == ()
    assert sink.applied == []


@pytest.mark.anyio
async def test_unranked_rival_proposals_go_to_a_person_not_to_a_retry(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller = Controller(LEAD_AGENTS, LEAD_RULES, policy=UNRANKED_POLICY, sink=sink)
    outcome = await controller.run(blackboard.board("acme"), account())

    assert outcome.status == "escalated"
    assert len(outcome.verdicts) == 2
    first, second = outcome.verdicts
    for verdict, rival in ((first, second), (second, first)):
        assert verdict.outcome == "escalate"
        (reason,) = verdict.reasons
        assert reason.rule == "escalate_on_conflict"
        # Each names the other proposal and the field they disagree on.
        assert f"Proposal v{rival.proposal} by" in reason.message
        assert "sets Health of Account/acme differently" in reason.message
        assert reason.findings == (verdict.proposal, rival.proposal)
    assert sink.applied == []


@pytest.mark.anyio
async def test_unapproved_citations_are_rejected_for_customer_facing_use(blackboard: Blackboard) -> None:
    """Seed 000: the review agent checks that an answer cites sources approved for customer-facing use."""
    sink = sinks.Memory()
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=SUPPORT_POLICY, sink=sink)
    outcome = await controller.run(blackboard.board("case-42"), case(approved_sources=False))

    assert outcome.status == "rejected"
    (verdict,) = outcome.verdicts
    assert verdict.outcome == "deny"
    assert [v.rule for v in verdict.reasons] == ["require_citations(approved)"]
    assert "0 approved citation(s), needs 1" in verdict.reasons[0].message
    assert sink.applied == []


@pytest.mark.anyio
async def test_a_compliance_flag_freezes_every_action_on_its_subject(blackboard: Blackboard) -> None:
    """Seed 002: compliance flags freeze all other actions, whichever domain would have won."""
    sink = sinks.Memory()
    controller = Controller((*LEAD_AGENTS, compliance_agent), LEAD_RULES, policy=LEAD_POLICY, sink=sink)
    board = blackboard.board("acme")
    outcome = await controller.run(board, account(under_review=True))

    assert outcome.status == "rejected"
    (flag,) = [e for e in await board.history() if isinstance(e.payload, ComplianceFlag)]
    assert {p.domain for p in outcome.proposals} == {"sales", "service"}
    for verdict in outcome.verdicts:
        assert verdict.outcome == "deny"
        frozen = [v for v in verdict.reasons if v.rule == "freeze_on(tests.commitflow.ComplianceFlag)"]
        assert frozen
        assert frozen[0].findings == (flag.version,)
    assert sink.applied == []


@pytest.mark.anyio
async def test_priority_commits_service_over_sales_and_records_the_override(blackboard: Blackboard) -> None:
    """Seed 002: a sales update and a service health downgrade of one record; service outranks sales."""
    sink = sinks.Memory()
    controller = Controller((*LEAD_AGENTS, compliance_agent), LEAD_RULES, policy=LEAD_POLICY, sink=sink)
    outcome = await controller.run(blackboard.board("acme"), account())

    assert outcome.status == "committed"
    by_domain = {p.domain: p for p in outcome.proposals}
    (applied,) = sink.applied
    assert applied.proposal == by_domain["service"]
    assert sink.records == {record("acme"): {"Health": "Red"}}
    verdicts = {v.key: v for v in outcome.verdicts}
    service = verdicts[by_domain["service"].key("acme")]
    sales = verdicts[by_domain["sales"].key("acme")]
    assert service.outcome == "allow"
    assert sales.outcome == "deny"
    assert sales.overridden_by == service.proposal
    assert [v.rule for v in sales.reasons] == ["priority(compliance > service > sales)"]
    assert sales.reasons[0].overridden_by == service.proposal
    assert [c.key for c in outcome.commits] == [service.key]
    assert any("rejected by policy: priority" in r and "outranks sales" in r for r in outcome.reasons)


@pytest.mark.anyio
async def test_a_failing_sink_is_dead_lettered_and_retry_commits_it_after_the_fix(blackboard: Blackboard) -> None:
    sink = DownCRM()
    controller = Controller(
        SUPPORT_AGENTS, SUPPORT_RULES, policy=SUPPORT_POLICY, sink=CommitLayer(sink, attempts=2, backoff=0)
    )
    board = blackboard.board("case-42")
    outcome = await controller.run(board, case())

    assert outcome.status == "failed"
    assert sink.calls == 2
    assert sink.applied == []
    (failure,) = outcome.failures
    assert failure.status == "dead"
    assert failure.error == "RuntimeError: CRM is down"
    assert failure.attempts == 2
    assert of(await board.history(), CommitFailure) == [failure]
    (dead,) = await controller.dead_letters(board)
    assert dead.key == failure.key
    assert dead.board == "case-42"
    assert dead.error == "RuntimeError: CRM is down"

    sink.down = False
    retried = await controller.retry(board, failure.key)
    assert retried.status == "committed"
    assert sink.keys() == [failure.key]
    assert [c.key for c in retried.commits] == [failure.key]
    assert await controller.dead_letters(board) == []
    assert retried.failures == ()
    # Once committed, running again neither calls the sink nor writes anything.
    calls, history = sink.calls, await board.history()
    await controller.run(board, case())
    assert (sink.calls, await board.history()) == (calls, history)


@pytest.mark.anyio
async def test_insufficient_and_failed_runs_judge_and_commit_nothing(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    unmet = Controller(
        SUPPORT_AGENTS, (rules.sufficient(Entitlement, min_confidence=0.99),), policy=SUPPORT_POLICY, sink=sink
    )
    board = blackboard.board("case-1")
    outcome = await unmet.run(board, case("case-1"))
    assert outcome.status == "insufficient"
    assert len(outcome.proposals) == 1  # the action agent proposed, but the evidence never sufficed
    assert outcome.verdicts == ()

    failing = Controller((crm_down,), (rules.sufficient(Entitlement),), policy=SUPPORT_POLICY, sink=sink)
    other = blackboard.board("case-2")
    broken = await failing.run(other, case("case-2"))
    assert broken.status == "failed"
    assert any("RuntimeError: CRM is down" in r for r in broken.reasons)

    for b in (board, other):
        history = await b.history()
        assert of(history, Verdict) == of(history, Commit) == []
    assert sink.applied == []


@pytest.mark.anyio
async def test_sufficient_evidence_without_proposals_stays_sufficient(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller = Controller(SUPPORT_AGENTS[:1], (rules.sufficient(Entitlement),), policy=SUPPORT_POLICY, sink=sink)
    outcome = await controller.run(blackboard.board("case-42"), case())
    assert outcome.status == "sufficient"
    assert outcome.proposals == outcome.verdicts == ()
    assert sink.applied == []


@pytest.mark.anyio
async def test_replay_with_a_changed_policy_reports_the_verdicts_that_differ(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=SUPPORT_POLICY, sink=sink)
    board = blackboard.board("case-42")
    outcome = await controller.run(board, case())
    assert outcome.status == "committed"

    stricter = policies.Policy(
        policies.min_confidence(0.95),
        policies.require_citations(approved=True),
        policies.escalate_on_conflict(),
        policies.require_approval(),
    )
    changed = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=stricter, sink=sinks.Memory())
    report = await changed.replay(board)
    assert not report.identical
    assert not report.same_controller
    (difference,) = report.differences  # the decisions still agree; only the verdict differs
    assert isinstance(difference.recorded, Verdict)
    assert isinstance(difference.derived, Verdict)
    assert (difference.recorded.outcome, difference.derived.outcome) == ("allow", "escalate")
    assert (difference.recorded.policy, difference.derived.policy) == (SUPPORT_POLICY.version, stricter.version)
    assert "verdict allow" in str(report)
    assert "verdict escalate" in str(report)
    # Replay runs nothing: the changed controller's sink was never called.
    assert len(sink.applied) == 1


def test_a_policy_without_a_sink_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="a policy needs a sink"):
        Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=SUPPORT_POLICY)


@pytest.mark.anyio
async def test_a_sink_without_a_policy_denies_by_default(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, sink=sink)
    outcome = await controller.run(blackboard.board("case-42"), case())

    assert outcome.status == "rejected"
    (verdict,) = outcome.verdicts
    assert verdict.outcome == "deny"
    assert [v.rule for v in verdict.reasons] == ["default-deny"]
    assert any("default-deny" in r for r in outcome.reasons)
    assert sink.applied == []
