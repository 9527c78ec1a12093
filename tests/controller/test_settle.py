"""A person settles an escalation: chooses a side, corrects a finding, or closes the case; the run goes on from it."""

import pytest

from slateboard import Blackboard, Controller, Decision, Proposal, agent, rules
from slateboard.errors import SettlementError
from slateboard.state.records import Settlement
from tests.controller.kinds import (
    Case,
    Entitlement,
    PolicyCheck,
    case,
    cite,
    crm_entitlement,
    proposer,
    strict_knowledge,
)


@agent
async def denying_entitlement(case: Case) -> Entitlement:
    return Entitlement(subject=case.subject, entitled=False, confidence=0.7, citations=cite("billing"))


@agent
async def exclusion(case: Case) -> PolicyCheck:
    return PolicyCheck(subject=case.subject, excluded=True, confidence=0.95, citations=cite("kb"))


CONTRADICTION = rules.contradiction(
    Entitlement,
    PolicyCheck,
    when=lambda e, p: e.entitled and p.excluded,
    reason="entitlement contradicts a policy exception",
)
DISAGREEMENT = [
    rules.disagreement(Entitlement, field="entitled"),
    rules.sufficient(Entitlement, min_confidence=0.8, min_sources=2),
]


def disagreeing() -> Controller:
    return Controller([crm_entitlement, denying_entitlement], DISAGREEMENT)


async def versions_of(board, kind: type, author: str) -> int:  # type: ignore[no-untyped-def]
    view = await board.view()
    return next(e.version for e in view.entries() if isinstance(e.payload, kind) and e.author == author)


@pytest.mark.anyio
async def test_choosing_a_side_of_a_disagreement_sets_the_other_aside_and_the_run_goes_on() -> None:
    controller = disagreeing()
    with Blackboard.open("memory://") as bb:
        board = bb.board("case-1")
        assert (await controller.run(board, case())).status == "escalated"
        crm = await versions_of(board, Entitlement, "crm_entitlement")
        denied = await versions_of(board, Entitlement, "denying_entitlement")
        settled = await controller.settle(board, reviewer="ana", choose=crm, note="the CRM is current")
        assert (settled.action, settled.chosen, settled.set_aside) == ("choose", crm, (denied,))
        assert settled.rules == ("disagreement(tests.controller.Entitlement.entitled)",)
        entry = (await board.history())[-1]
        assert (entry.author, entry.payload) == ("ana", settled)
        outcome = await controller.run(board)
        # The reviewer is no second source: the person's choice meets the rule on its own authority.
        assert outcome.status == "sufficient", outcome.reasons
        assert any("settled by ana" in r and "the CRM is current" in r for r in outcome.reasons)
        assert (await controller.replay(board)).identical
        again = await controller.run(board)  # nothing new: the same outcome, no new decision
        assert again.status == "sufficient"
        assert again.version == outcome.version


@pytest.mark.anyio
async def test_new_evidence_of_the_settled_kind_reopens_the_conflict() -> None:
    controller = disagreeing()
    with Blackboard.open("memory://") as bb:
        board = bb.board("case-1")
        await controller.run(board, case())
        crm = await versions_of(board, Entitlement, "crm_entitlement")
        await controller.settle(board, reviewer="ana", choose=crm)
        assert (await controller.run(board)).status == "sufficient"
        late = Entitlement(subject="case-1", entitled=False, confidence=0.95, citations=cite("audit"))
        await board.write(late, author="auditor")
        reopened = await controller.run(board)
        assert reopened.status == "escalated"
        assert "auditor=False" in reopened.reasons[0]
        assert "denying_entitlement" not in reopened.reasons[0]  # what was set aside stays aside
        assert (await controller.replay(board)).identical


@pytest.mark.anyio
async def test_a_contradiction_settled_by_choosing_one_side() -> None:
    controller = Controller([crm_entitlement, exclusion], [CONTRADICTION, rules.sufficient(Entitlement)])
    with Blackboard.open("memory://") as bb:
        board = bb.board("case-1")
        escalated = await controller.run(board, case())
        assert escalated.status == "escalated"
        chosen = await versions_of(board, Entitlement, "crm_entitlement")
        check = await versions_of(board, PolicyCheck, "exclusion")
        settled = await controller.settle(board, reviewer="ana", choose=chosen, note="exception 4.2 has lapsed")
        assert settled.set_aside == (check,)
        assert settled.kinds == ("tests.controller.Entitlement", "tests.controller.PolicyCheck")
        outcome = await controller.run(board)
        assert outcome.status == "sufficient"
        assert (await controller.replay(board)).identical


@pytest.mark.anyio
async def test_a_corrected_finding_replaces_the_conflicting_side_and_its_readers_run_on_it() -> None:
    controller = Controller(
        [crm_entitlement, strict_knowledge, proposer],
        [CONTRADICTION, rules.sufficient(Entitlement), rules.sufficient(Proposal)],
    )
    with Blackboard.open("memory://") as bb:
        board = bb.board("case-1")
        assert (await controller.run(board, case())).status == "escalated"
        check = await versions_of(board, PolicyCheck, "strict_knowledge")
        corrected = PolicyCheck(subject="case-1", excluded=False, confidence=1.0, citations=cite("kb-2026"))
        settled = await controller.settle(board, reviewer="ana", finding=corrected, note="4.2 was withdrawn")
        history = await board.history()
        assert settled.action == "correct"
        assert (history[-2].version, history[-2].author, history[-2].payload) == (settled.chosen, "ana", corrected)
        assert settled.set_aside == (check,)
        outcome = await controller.run(board)
        assert outcome.status == "sufficient", outcome.reasons
        assert [p.target for p in outcome.proposals] == ["Case/case-1"]
        assert (await controller.replay(board)).identical


def test_closing_the_case_ends_it_with_the_reviewer_and_the_reason() -> None:
    controller = disagreeing()  # the sync twins, as a script uses them
    with Blackboard.open("memory://") as bb:
        board = bb.board("case-1")
        controller.run_sync(board, case())
        settled = controller.settle_sync(board, reviewer="bo", close="duplicate of case 40")
        assert (settled.action, settled.reason) == ("close", "duplicate of case 40")
        outcome = controller.run_sync(board)
        assert outcome.status == "closed"
        assert outcome.reasons == ("settled: closed by bo (v9): duplicate of case 40",)
        assert outcome.decision.reasons[0].agents == ("bo",)
        assert controller.run_sync(board).version == outcome.version
        assert controller.replay_sync(board).identical
        with pytest.raises(SettlementError, match="is not escalated: its last decision is 'closed'"):
            controller.settle_sync(board, reviewer="bo", close="again")


@pytest.mark.anyio
async def test_answers_that_cannot_be_taken_are_clear_errors() -> None:
    controller = disagreeing()
    with Blackboard.open("memory://") as bb:
        board = bb.board("case-1")
        with pytest.raises(SettlementError, match="'case-1': has no decision yet"):
            await controller.settle(board, reviewer="ana", close="x")
        await controller.run(board, case())
        crm = await versions_of(board, Entitlement, "crm_entitlement")
        with pytest.raises(SettlementError, match=r"'case-1', v1: not one of the escalated conflict's findings \(v"):
            await controller.settle(board, reviewer="ana", choose=1)
        with pytest.raises(SettlementError, match="exactly one of choose=, finding= or close= \\(got choose and close"):
            await controller.settle(board, reviewer="ana", choose=crm, close="x")
        with pytest.raises(SettlementError, match="got none of them"):
            await controller.settle(board, reviewer="ana")
        with pytest.raises(SettlementError, match="reviewer must be a non-empty name"):
            await controller.settle(board, reviewer=" ", choose=crm)
        with pytest.raises(SettlementError, match="close= takes the reason"):
            await controller.settle(board, reviewer="ana", close=" ")
        other = PolicyCheck(subject="case-1", excluded=True, confidence=1.0)
        with pytest.raises(SettlementError, match=r"no escalated conflict involves a tests\.controller\.PolicyCheck"):
            await controller.settle(board, reviewer="ana", finding=other)
        await controller.settle(board, reviewer="ana", choose=crm)
        with pytest.raises(SettlementError, match="this conflict was already settled by ana"):
            await controller.settle(board, reviewer="bo", choose=crm)
        await controller.run(board)
        with pytest.raises(SettlementError, match="is not escalated: its last decision is 'sufficient'"):
            await controller.settle(board, reviewer="ana", choose=crm)
        decisions = [e.payload for e in await board.history() if isinstance(e.payload, Decision)]
        assert [d.status for d in decisions] == ["continue", "escalate", "sufficient"]
        assert sum(isinstance(e.payload, Settlement) for e in await board.history()) == 1
