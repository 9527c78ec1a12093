"""Each built-in policy rule on real boards (memory and a SQLite file): what it votes, why, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from slateboard import AgentRun, Blackboard, Citation, Controller, Finding, Proposal, Verdict, policies, rules
from slateboard.blackboard.board import Board
from slateboard.errors import PolicyError
from slateboard.policies import Policy
from tests.controller.kinds import Case, conflicted

pytestmark = pytest.mark.anyio


class Entitlement(Finding):
    kind_name = "tests.policies.builtins.Entitlement"
    entitled: bool


class Exception_(Finding):
    kind_name = "tests.policies.builtins.PolicyException"
    excluded: bool


class ComplianceFlag(Finding):
    kind_name = "tests.policies.builtins.ComplianceFlag"
    frozen: bool = True


@pytest.fixture
def board(bb: Blackboard) -> Board:
    return bb.board("case-1")


def cited(*sources: str, approved: bool = True) -> tuple[Citation, ...]:
    return tuple(Citation(source=s, approved=approved) for s in sources)


def proposal(
    subject: str = "case-1",
    *,
    action: str = "update",
    target: str = "Case/1",
    changes: dict[str, Any] | None = None,
    confidence: float = 0.9,
    citations: tuple[Citation, ...] = (),
    **extra: Any,
) -> Proposal:
    return Proposal(
        subject=subject,
        action=action,
        target=target,
        changes={"Status": "Approved"} if changes is None else changes,
        confidence=confidence,
        citations=citations,
        **extra,
    )


async def judge_one(board: Board, policy: Policy, item: Proposal, *, author: str = "agent") -> Verdict:
    entry = await board.write(item, author=author)
    return policy.evaluate(await board.view(), entry.version)


def rules_of(verdict: Verdict) -> list[str]:
    return [vote.rule for vote in verdict.reasons]


def vote_of(verdict: Verdict, rule: str) -> str | None:
    """The effect `rule` voted (None if it abstained)."""
    return next((v.effect for v in verdict.votes if v.rule == rule), None)


# allow ----------------------------------------------------------------------------------------------------


async def test_allow_lets_every_proposal_through_and_names_itself(board: Board) -> None:
    verdict = await judge_one(board, Policy(policies.allow()), proposal(confidence=0.01))
    assert verdict.outcome == "allow"
    assert rules_of(verdict) == ["allow"]


async def test_allow_with_actions_allows_only_those_actions(board: Board) -> None:
    policy = Policy(policies.allow(actions=["update"]))
    assert (await judge_one(board, policy, proposal(action="update"))).outcome == "allow"
    other = await judge_one(board, policy, proposal(action="delete", target="Case/2"))
    assert other.outcome == "deny"
    assert rules_of(other) == ["default-deny"]
    assert policy.rules[0].id == "allow(update)"


async def test_allow_with_when_asks_the_predicate(board: Board) -> None:
    policy = Policy(policies.allow(when=lambda p: p.target.startswith("Case/")))
    assert (await judge_one(board, policy, proposal(target="Case/7"))).outcome == "allow"
    assert (await judge_one(board, policy, proposal(target="Account/7"))).outcome == "deny"


@pytest.mark.parametrize("bad", [{"actions": "update"}, {"actions": []}, {"actions": [""]}, {"when": "yes"}])
def test_allow_refuses_bad_parameters_naming_the_rule(bad: dict[str, Any]) -> None:
    with pytest.raises(PolicyError, match="allow") as caught:
        policies.allow(**bad)
    assert caught.value.rule == "allow"


# min_confidence -------------------------------------------------------------------------------------------


async def test_min_confidence_allows_at_the_threshold_and_escalates_below(board: Board) -> None:
    policy = Policy(policies.min_confidence(0.85))
    at = await judge_one(board, policy, proposal(confidence=0.85))
    assert at.outcome == "allow"
    assert rules_of(at) == ["min_confidence(0.85)"]
    below = await judge_one(board, policy, proposal(target="Case/2", confidence=0.84))
    assert below.outcome == "escalate"
    assert rules_of(below) == ["min_confidence(0.85)"]
    assert below.reasons[0].findings == (below.proposal,)
    assert f"v{below.proposal}" in below.reasons[0].message
    assert "0.84" in below.reasons[0].message


async def test_min_confidence_effect_deny_denies_below_the_threshold(board: Board) -> None:
    verdict = await judge_one(board, Policy(policies.min_confidence(0.5, effect="deny")), proposal(confidence=0.2))
    assert verdict.outcome == "deny"
    assert rules_of(verdict) == ["min_confidence(0.5)"]


@pytest.mark.parametrize("threshold", [1.5, -0.1, float("nan"), float("inf"), True, "0.5", None])
def test_min_confidence_refuses_a_bad_threshold_naming_the_rule(threshold: Any) -> None:
    with pytest.raises(PolicyError, match="threshold") as caught:
        policies.min_confidence(threshold)
    assert caught.value.rule is not None
    assert caught.value.rule.startswith("min_confidence")


def test_min_confidence_refuses_an_effect_that_is_not_a_veto() -> None:
    with pytest.raises(PolicyError, match="effect") as caught:
        policies.min_confidence(0.5, effect="allow", id="gate")
    assert caught.value.rule == "gate"


# require_citations ----------------------------------------------------------------------------------------


async def test_require_citations_denies_an_uncited_proposal_and_allows_a_cited_one(board: Board) -> None:
    policy = Policy(policies.require_citations())
    bare = await judge_one(board, policy, proposal())
    assert bare.outcome == "deny"
    assert rules_of(bare) == ["require_citations"]
    assert "0 citation" in bare.reasons[0].message
    ok = await judge_one(board, policy, proposal(target="Case/2", citations=cited("kb", approved=False)))
    assert ok.outcome == "allow"
    assert "kb" in ok.reasons[0].message


async def test_require_citations_approved_counts_only_approved_sources(board: Board) -> None:
    policy = Policy(policies.require_citations(approved=True))
    unapproved = await judge_one(board, policy, proposal(citations=cited("forum", approved=False)))
    assert unapproved.outcome == "deny"
    assert rules_of(unapproved) == ["require_citations(approved)"]
    assert "approved" in unapproved.reasons[0].message
    approved = await judge_one(board, policy, proposal(target="Case/2", citations=cited("kb")))
    assert approved.outcome == "allow"


async def test_require_citations_min_count(board: Board) -> None:
    policy = Policy(policies.require_citations(min_count=2, effect="escalate"))
    one = await judge_one(board, policy, proposal(citations=cited("kb")))
    assert one.outcome == "escalate"
    assert "needs 2" in one.reasons[0].message
    two = await judge_one(board, policy, proposal(target="Case/2", citations=cited("kb", "crm")))
    assert two.outcome == "allow"


@pytest.mark.parametrize("bad", [{"min_count": 0}, {"min_count": 1.5}, {"min_count": True}, {"effect": "allow"}])
def test_require_citations_refuses_bad_parameters_naming_the_rule(bad: dict[str, Any]) -> None:
    with pytest.raises(PolicyError) as caught:
        policies.require_citations(**bad)
    assert caught.value.rule == "require_citations"
    assert "require_citations" in str(caught.value)


# escalate_on_conflict -------------------------------------------------------------------------------------


async def test_rival_proposals_without_priority_both_escalate(board: Board) -> None:
    policy = Policy(policies.allow(), policies.escalate_on_conflict())
    first = await board.write(proposal(changes={"Status": "Approved"}), author="service")
    second = await board.write(proposal(changes={"Status": "Rejected"}), author="sales")
    view = await board.view()
    for mine, theirs, rival in ((first, second, "sales"), (second, first, "service")):
        verdict = policy.evaluate(view, mine.version)
        assert verdict.outcome == "escalate"
        assert rules_of(verdict) == ["escalate_on_conflict"]
        message = verdict.reasons[0].message
        assert f"Proposal v{theirs.version} by {rival}" in message
        assert "Status" in message
        assert set(verdict.reasons[0].findings) == {mine.version, theirs.version}


async def test_proposals_that_agree_or_touch_other_targets_or_fields_are_no_conflict(board: Board) -> None:
    policy = Policy(policies.allow(), policies.escalate_on_conflict())
    await board.write(proposal(changes={"Status": "Approved"}), author="a")
    await board.write(proposal(changes={"Status": "Approved"}), author="b")  # the same value
    await board.write(proposal(target="Case/2", changes={"Status": "Rejected"}), author="c")  # another target
    await board.write(proposal(changes={"Priority": "High"}), author="d")  # another field
    view = await board.view()
    assert [v.outcome for v in policy.judge(view)] == ["allow"] * 4


async def test_rivals_that_priority_decides_are_no_open_conflict(board: Board) -> None:
    policy = Policy(policies.allow(), policies.escalate_on_conflict(), policies.priority("service", "sales"))
    high = await board.write(proposal(changes={"Status": "Escalated"}), author="service")
    low = await board.write(proposal(changes={"Status": "Closed"}), author="sales")
    view = await board.view()
    winner, loser = policy.evaluate(view, high.version), policy.evaluate(view, low.version)
    assert winner.outcome == "allow"
    assert vote_of(winner, "escalate_on_conflict") is None
    assert loser.outcome == "deny"
    assert vote_of(loser, "escalate_on_conflict") is None


async def test_an_agent_that_reported_a_conflict_on_the_subject_escalates_its_proposals(board: Board) -> None:
    # A real run: the agent raises ConflictError, the controller records the attempt as a conflict.
    await Controller([conflicted], []).run(board, Case(subject="case-1", confidence=1.0))
    assert any(e.payload.status == "conflict" for e in (await board.view()).entries(AgentRun))
    policy = Policy(policies.allow(), policies.escalate_on_conflict())
    verdict = await judge_one(board, policy, proposal("case-1"))
    assert verdict.outcome == "escalate"
    message = verdict.reasons[0].message
    assert "knowledge_conflict reported a conflict" in message
    assert "warranty exception 4.2" in message
    elsewhere = await judge_one(board, policy, proposal("case-2", target="Case/2"))
    assert elsewhere.outcome == "allow"


async def test_an_agent_conflict_that_a_later_successful_run_resolved_no_longer_escalates(board: Board) -> None:
    run = {"agent": "knowledge", "subject": "case-1", "inputs": (), "attempt": 1}
    await board.write(AgentRun(**run, status="conflict", error="exception 4.2"), author="slateboard.controller")
    policy = Policy(policies.allow(), policies.escalate_on_conflict())
    assert (await judge_one(board, policy, proposal())).outcome == "escalate"
    await board.write(AgentRun(**run, status="ok"), author="slateboard.controller")
    assert (await judge_one(board, policy, proposal(target="Case/2"))).outcome == "allow"


async def test_a_controller_conflict_rule_on_the_subject_escalates(board: Board) -> None:
    contradiction = rules.contradiction(
        Entitlement, Exception_, when=lambda e, x: e.entitled and x.excluded, reason="entitled despite an exception"
    )
    policy = Policy(policies.allow(), policies.escalate_on_conflict(contradiction))
    await board.write(Entitlement(subject="case-1", entitled=True, confidence=0.9), author="crm")
    await board.write(Exception_(subject="case-1", excluded=False, confidence=0.9), author="kb")
    assert (await judge_one(board, policy, proposal())).outcome == "allow"
    await board.write(Exception_(subject="case-1", excluded=True, confidence=0.9), author="kb")
    verdict = await judge_one(board, policy, proposal(target="Case/2"))
    assert verdict.outcome == "escalate"
    assert "entitled despite an exception" in verdict.reasons[0].message
    other = await judge_one(board, policy, proposal("case-2", target="Case/3"))
    assert other.outcome == "allow"  # the contradiction is on case-1 only


async def test_a_disagreement_rule_escalates(board: Board) -> None:
    policy = Policy(policies.allow(), policies.escalate_on_conflict(rules.disagreement(Entitlement, field="entitled")))
    await board.write(Entitlement(subject="case-1", entitled=True, confidence=0.9), author="crm")
    await board.write(Entitlement(subject="case-1", entitled=False, confidence=0.9), author="contracts")
    verdict = await judge_one(board, policy, proposal())
    assert verdict.outcome == "escalate"
    assert "differs between agents" in verdict.reasons[0].message


@pytest.mark.parametrize(
    "bad", ["contradiction", rules.sufficient(Entitlement), rules.budget(max_cycles=3)], ids=["str", "rule", "budget"]
)
def test_escalate_on_conflict_refuses_what_is_not_a_conflict_rule(bad: Any) -> None:
    with pytest.raises(PolicyError, match="not a conflict rule") as caught:
        policies.escalate_on_conflict(bad)
    assert caught.value.rule == "escalate_on_conflict"


# freeze_on ------------------------------------------------------------------------------------------------


async def test_a_flag_on_the_subject_freezes_every_action(board: Board) -> None:
    policy = Policy(policies.allow(), policies.freeze_on(ComplianceFlag))
    flag = await board.write(ComplianceFlag(subject="case-1", confidence=1.0), author="compliance")
    for action in ("update", "delete", "notify"):
        verdict = await judge_one(board, policy, proposal(action=action, target=f"Case/{action}"))
        assert verdict.outcome == "deny"
        assert rules_of(verdict) == ["freeze_on(tests.policies.builtins.ComplianceFlag)"]
        assert f"v{flag.version} by compliance" in verdict.reasons[0].message
        assert verdict.reasons[0].findings == (flag.version,)


async def test_a_flag_on_the_target_freezes_it(board: Board) -> None:
    policy = Policy(policies.allow(), policies.freeze_on(ComplianceFlag))
    await board.write(ComplianceFlag(subject="Account/9", confidence=1.0), author="compliance")
    frozen = await judge_one(board, policy, proposal("case-1", target="Account/9"))
    assert frozen.outcome == "deny"
    assert "'Account/9'" in frozen.reasons[0].message
    free = await judge_one(board, policy, proposal("case-1", target="Account/10"))
    assert free.outcome == "allow"


async def test_freeze_on_when_freezes_only_matching_flags(board: Board) -> None:
    policy = Policy(policies.allow(), policies.freeze_on(ComplianceFlag, when=lambda f: f.frozen, effect="escalate"))
    await board.write(ComplianceFlag(subject="case-1", frozen=False, confidence=1.0), author="compliance")
    assert (await judge_one(board, policy, proposal())).outcome == "allow"
    await board.write(ComplianceFlag(subject="case-1", frozen=True, confidence=1.0), author="compliance")
    assert (await judge_one(board, policy, proposal(target="Case/2"))).outcome == "escalate"


async def test_a_newer_flag_that_does_not_match_lifts_the_freeze(board: Board) -> None:
    policy = Policy(policies.allow(), policies.freeze_on(ComplianceFlag, when=lambda f: f.frozen))
    await board.write(ComplianceFlag(subject="case-1", frozen=True, confidence=1.0), author="compliance")
    frozen = await judge_one(board, policy, proposal())
    assert frozen.outcome == "deny"
    lifted_at = await board.write(ComplianceFlag(subject="case-1", frozen=False, confidence=1.0), author="compliance")
    assert (await judge_one(board, policy, proposal(target="Case/2"))).outcome == "allow"
    # The freeze still stands in the snapshot before it was lifted: verdicts follow their snapshot.
    before = await board.view(at=lifted_at.version - 1)
    assert policy.evaluate(before, frozen.proposal).outcome == "deny"


@pytest.mark.parametrize("bad", [("ComplianceFlag", {}), (AgentRun, {}), (ComplianceFlag, {"effect": "allow"})])
def test_freeze_on_refuses_bad_parameters_naming_the_rule(bad: tuple[Any, dict[str, Any]]) -> None:
    kind, options = bad
    with pytest.raises(PolicyError) as caught:
        policies.freeze_on(kind, **options)
    assert caught.value.rule is not None
    assert caught.value.rule.startswith("freeze_on")


def test_freeze_on_refuses_a_when_that_is_not_callable() -> None:
    with pytest.raises(PolicyError, match="when"):
        policies.freeze_on(ComplianceFlag, when=True)  # type: ignore[arg-type]


# priority -------------------------------------------------------------------------------------------------

RANKING = ("compliance", "service", "sales")


async def test_the_higher_domain_wins_and_the_loser_is_overridden(board: Board) -> None:
    policy = Policy(policies.allow(), policies.priority(*RANKING))
    low = await board.write(proposal(changes={"Status": "Closed", "Owner": "ana"}), author="sales")
    high = await board.write(proposal(changes={"Status": "Escalated", "Owner": "ana"}), author="service")
    view = await board.view()
    loser, winner = policy.evaluate(view, low.version), policy.evaluate(view, high.version)
    assert winner.outcome == "allow"
    assert winner.overridden_by is None
    assert loser.outcome == "deny"
    assert loser.overridden_by == high.version
    assert rules_of(loser) == ["priority(compliance > service > sales)"]
    reason = loser.reasons[0]
    assert reason.overridden_by == high.version
    assert reason.findings == (low.version, high.version)
    assert "service" in reason.message
    assert "Status" in reason.message
    assert "Owner" not in reason.message  # the same value is no rivalry


async def test_the_loser_is_overridden_by_the_highest_of_several_winners(board: Board) -> None:
    policy = Policy(policies.allow(), policies.priority(*RANKING))
    low = await board.write(proposal(changes={"Status": "Closed"}), author="sales")
    service = await board.write(proposal(changes={"Status": "Escalated"}), author="service")
    top = await board.write(proposal(changes={"Status": "Frozen"}), author="compliance")
    view = await board.view()
    assert policy.evaluate(view, low.version).overridden_by == top.version
    assert policy.evaluate(view, service.version).overridden_by == top.version
    assert policy.evaluate(view, top.version).outcome == "allow"


async def test_proposal_domain_speaks_instead_of_the_author_name(board: Board) -> None:
    policy = Policy(policies.allow(), policies.priority(*RANKING))
    # Written by an agent called "sales", but on behalf of compliance: it outranks service.
    flagged = await board.write(proposal(changes={"Status": "Frozen"}, domain="compliance"), author="sales")
    service = await board.write(proposal(changes={"Status": "Open"}), author="service")
    view = await board.view()
    assert policy.evaluate(view, flagged.version).outcome == "allow"
    loser = policy.evaluate(view, service.version)
    assert loser.outcome == "deny"
    assert loser.overridden_by == flagged.version
    assert "compliance" in loser.reasons[0].message


async def test_an_unlisted_domain_ranks_below_every_listed_one(board: Board) -> None:
    policy = Policy(policies.allow(), policies.priority(*RANKING))
    unlisted = await board.write(proposal(changes={"Status": "Promo"}), author="marketing")
    sales = await board.write(proposal(changes={"Status": "Won"}), author="sales")
    view = await board.view()
    assert policy.evaluate(view, sales.version).outcome == "allow"
    assert policy.evaluate(view, unlisted.version).overridden_by == sales.version


@pytest.mark.parametrize(
    ("first", "second"),
    [(("marketing", None), ("support", None)), (("bot-a", "sales"), ("bot-b", "sales"))],
    ids=["both-unlisted", "equal-domain"],
)
async def test_equal_or_unranked_rivals_are_not_decided_by_priority(
    board: Board, first: tuple[str, str | None], second: tuple[str, str | None]
) -> None:
    policy = Policy(policies.allow(), policies.priority(*RANKING), policies.escalate_on_conflict())
    a = await board.write(proposal(changes={"Status": "A"}, domain=first[1]), author=first[0])
    b = await board.write(proposal(changes={"Status": "B"}, domain=second[1]), author=second[0])
    view = await board.view()
    for version in (a.version, b.version):
        verdict = policy.evaluate(view, version)
        assert vote_of(verdict, "priority(compliance > service > sales)") is None
        assert verdict.overridden_by is None
        assert verdict.outcome == "escalate"  # an undecided rivalry goes to a person
        assert "no priority ranks" in verdict.reasons[0].message


def test_priority_takes_one_list_too() -> None:
    assert policies.priority(list(RANKING)).id == policies.priority(*RANKING).id


@pytest.mark.parametrize("domains", [(), ("sales", "sales"), ("sales", ""), ([],), (("a", 3),)])
def test_priority_refuses_bad_domains_naming_the_rule(domains: tuple[Any, ...]) -> None:
    with pytest.raises(PolicyError, match="domains") as caught:
        policies.priority(*domains)
    assert caught.value.rule is not None
    assert caught.value.rule.startswith("priority")


# require_approval -----------------------------------------------------------------------------------------


async def test_require_approval_by_default_gates_irreversible_proposals(board: Board) -> None:
    policy = Policy(policies.allow(), policies.require_approval())
    gated = await judge_one(board, policy, proposal(reversible=False))
    assert gated.outcome == "needs_approval"
    assert rules_of(gated) == ["require_approval(irreversible)"]
    assert "irreversible" in gated.reasons[0].message
    free = await judge_one(board, policy, proposal(target="Case/2", reversible=True))
    assert free.outcome == "allow"
    assert vote_of(free, "require_approval(irreversible)") is None


async def test_require_approval_with_a_custom_predicate_and_reason(board: Board) -> None:
    rule = policies.require_approval(
        lambda p: p.action == "email", reason="the customer sees this", id="outbound-needs-a-person"
    )
    policy = Policy(policies.allow(), rule)
    email = await judge_one(board, policy, proposal(action="email", reversible=True))
    assert email.outcome == "needs_approval"
    assert email.reasons[0].rule == "outbound-needs-a-person"
    assert email.reasons[0].message == "the customer sees this"
    update = await judge_one(board, policy, proposal(action="update", reversible=False))
    assert update.outcome == "allow"  # the custom predicate replaces the default one


def test_require_approval_refuses_a_predicate_that_is_not_callable() -> None:
    with pytest.raises(PolicyError, match="callable") as caught:
        policies.require_approval("irreversible")  # type: ignore[arg-type]
    assert caught.value.rule == "require_approval"


# max_changes and allowed_fields ---------------------------------------------------------------------------


async def test_max_changes_denies_proposals_that_change_too_many_fields(board: Board) -> None:
    policy = Policy(policies.allow(), policies.max_changes(1, actions=["update"]))
    small = await judge_one(board, policy, proposal(changes={"Status": "Open"}))
    assert small.outcome == "allow"
    big = await judge_one(board, policy, proposal(target="Case/2", changes={"Status": "Open", "Owner": "ana"}))
    assert big.outcome == "deny"
    assert rules_of(big) == ["max_changes(1)"]
    assert "changes 2 fields, at most 1" in big.reasons[0].message
    other = await judge_one(board, policy, proposal(action="create", target="Case/3", changes={"A": 1, "B": 2}))
    assert other.outcome == "allow"  # actions= limits the rule to updates


@pytest.mark.parametrize("bad", [{"limit": -1}, {"limit": 1.5}, {"limit": True}, {"limit": 2, "actions": "update"}])
def test_max_changes_refuses_bad_parameters_naming_the_rule(bad: dict[str, Any]) -> None:
    with pytest.raises(PolicyError) as caught:
        policies.max_changes(**bad)
    assert caught.value.rule == f"max_changes({bad['limit']})"


async def test_allowed_fields_denies_changes_outside_the_list(board: Board) -> None:
    policy = Policy(policies.allow(), policies.allowed_fields(["Status", "Owner"], actions=["update"]))
    inside = await judge_one(board, policy, proposal(changes={"Status": "Open", "Owner": "ana"}))
    assert inside.outcome == "allow"
    outside = await judge_one(board, policy, proposal(target="Case/2", changes={"Status": "Open", "Price": 0}))
    assert outside.outcome == "deny"
    assert rules_of(outside) == ["allowed_fields(Owner, Status)"]
    assert "changes Price, outside the allowed fields Owner, Status" in outside.reasons[0].message
    other = await judge_one(board, policy, proposal(action="create", target="Case/3", changes={"Price": 0}))
    assert other.outcome == "allow"


@pytest.mark.parametrize("bad", [{"fields": []}, {"fields": "Status"}, {"fields": ["Status"], "actions": []}])
def test_allowed_fields_refuses_bad_parameters_naming_the_rule(bad: dict[str, Any]) -> None:
    with pytest.raises(PolicyError) as caught:
        policies.allowed_fields(**bad)
    assert caught.value.rule is not None
    assert caught.value.rule.startswith("allowed_fields")
