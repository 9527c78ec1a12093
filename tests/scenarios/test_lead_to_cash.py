"""The built-in lead-to-cash scenario (seed 002) and its variants, on real boards: each ends as the article says."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import AgentRun, Blackboard, Commit, Proposal, Verdict, scenarios, sinks
from slateboard.errors import PolicyError
from slateboard.scenarios.lead_to_cash import (
    VARIANTS,
    CallTranscript,
    ComplianceFlag,
    Lead,
    ProposalDraft,
    SupportActivity,
    lead_to_cash,
)

pytestmark = pytest.mark.anyio


def ran(history: tuple[Any, ...]) -> list[tuple[str, int, str]]:
    return [(e.payload.agent, e.payload.attempt, e.payload.status) for e in history if isinstance(e.payload, AgentRun)]


def verdicts(history: tuple[Any, ...]) -> list[Verdict]:
    return [e.payload for e in history if isinstance(e.payload, Verdict)]


def table_rows(run: Any, bb: Blackboard) -> dict[str, dict[str, Any]]:
    table = run.controller.sink
    assert isinstance(table, sinks.Table)
    return table.rows(bb)


@pytest.mark.parametrize("variant", VARIANTS)
async def test_every_variant_ends_as_expected_and_replays_identically(bb: Blackboard, variant: str) -> None:
    run = await scenarios.get("lead-to-cash", variant).run(bb)
    assert run.problems == []
    outcome = run.check()
    if outcome.status != "committed":
        assert outcome.reasons  # invariant 6
    assert (await run.controller.replay(run.board)).identical
    await run.board.verify()
    rows = table_rows(run, bb)
    again = await scenarios.get("lead-to-cash", variant).run(bb)  # resumed from the log: nothing new happens
    assert again.outcome.status == outcome.status
    assert len(await again.board.history()) == len(await run.board.history())
    assert table_rows(again, bb) == rows


async def test_the_happy_path_commits_the_lead_in_one_transaction_and_the_first_outreach_waits(
    bb: Blackboard,
) -> None:
    run = await scenarios.get("lead-to-cash").run(bb, board="lead-7")
    (commit,) = run.outcome.commits
    assert (commit.action, commit.target) == ("update", "Lead/lead-7")
    row = table_rows(run, bb)["Lead/lead-7"]
    assert row["revision"] == 1  # status, score, rep, task and notes landed together
    assert row["data"]["Status"] == "Qualified"
    assert row["data"]["Lead_Score__c"] == 86
    assert row["data"]["OwnerId"] == "rep-maya"  # west, enterprise, the lighter pipeline of the two who fit
    assert "verify the current decision-maker" in row["data"]["Qualification_Notes__c"]
    assert row["data"]["Next_Task"].startswith("First call within 24 h")
    (request,) = run.outcome.approvals
    assert (request.action, request.changes["Touch"]) == ("queue_outreach", "first")
    assert "Lead/lead-7/outreach" not in table_rows(run, bb)
    approved = await run.controller.approve(run.board, request.key, reviewer="rep-maya")
    assert approved.status == "committed"
    assert table_rows(run, bb)["Lead/lead-7/outreach"]["data"]["Owner"] == "rep-maya"


async def test_specialists_only_propose_and_every_write_is_a_commit_of_the_commit_layer(bb: Blackboard) -> None:
    run = await scenarios.get("lead-to-cash", "follow-up").run(bb)
    history = await run.board.history()
    commits = [e for e in history if isinstance(e.payload, Commit)]
    specialists = {"qualification", "routing", "engagement", "call-summary", "proposal", "supervisor", "compliance"}
    assert {e.author for e in commits}.isdisjoint(specialists)
    assert {e.author for e in history if isinstance(e.payload, Proposal)} == {"routing", "engagement", "proposal"}
    rows = table_rows(run, bb)
    assert {target: row["last_key"] for target, row in rows.items()} == {
        e.payload.target: e.payload.key for e in commits
    }


async def test_a_service_downgrade_overrides_the_sales_update_on_the_same_record(bb: Blackboard) -> None:
    run = await scenarios.get("lead-to-cash", "conflict").run(bb, board="lead-9")
    history = await run.board.history()
    proposals = {e.author: e.version for e in history if isinstance(e.payload, Proposal)}
    by_proposal = {v.proposal: v for v in verdicts(history)}
    sales, service = by_proposal[proposals["proposal"]], by_proposal[proposals["service"]]
    assert (sales.outcome, sales.overridden_by) == ("deny", proposals["service"])
    assert "overridden: service" in sales.reasons[0].message
    assert service.outcome == "allow"
    opportunity = table_rows(run, bb)["Opportunity/lead-9"]["data"]
    assert opportunity["Health__c"] == "Red"
    assert "StageName" not in opportunity  # the overridden sales update was not applied in part either
    assert any("overridden" in reason for reason in run.outcome.reasons)


async def test_a_compliance_flag_freezes_every_action(bb: Blackboard) -> None:
    run = await scenarios.get("lead-to-cash", "compliance").run(bb)
    judged = verdicts(await run.board.history())
    assert len(judged) == 2
    assert all(v.outcome == "deny" and v.reasons[0].rule == "freeze_on(lead2cash.ComplianceFlag)" for v in judged)
    assert table_rows(run, bb) == {}


async def test_a_flag_raised_while_the_outreach_waits_still_freezes_it(bb: Blackboard) -> None:
    run = await scenarios.get("lead-to-cash").run(bb, board="lead-3")
    (request,) = run.outcome.approvals
    flag = ComplianceFlag(subject="lead-3", frozen=True, reason="the contact asked not to be contacted", confidence=1)
    await run.board.write(flag, author="compliance-desk")
    with pytest.raises(PolicyError, match="freeze_on"):
        await run.controller.approve(run.board, request.key, reviewer="rep-maya")
    assert "Lead/lead-3/outreach" not in table_rows(run, bb)


async def test_a_low_confidence_specialist_goes_to_a_person_before_anything_is_proposed(bb: Blackboard) -> None:
    run = await scenarios.get("lead-to-cash", "low-confidence").run(bb)
    assert {agent for agent, _, _ in ran(await run.board.history())} == {"supervisor", "compliance", "qualification"}
    assert run.outcome.proposals == ()


async def test_an_unavailable_model_is_retried_once_then_the_run_fails(bb: Blackboard) -> None:
    run = await scenarios.get("lead-to-cash", "unavailable").run(bb)
    routing = [(n, status) for agent, n, status in ran(await run.board.history()) if agent == "routing"]
    assert routing == [(1, "error"), (2, "error")]
    assert any("503 Service Unavailable" in reason for reason in run.outcome.reasons)


async def test_the_proposal_is_drafted_from_the_full_thread_and_a_follow_up_needs_no_approval(bb: Blackboard) -> None:
    run = await scenarios.get("lead-to-cash", "follow-up").run(bb)
    view = await run.board.view()
    draft = view.latest(ProposalDraft)
    assert draft is not None
    assert "two hours a day lost re-planning routes" in draft.sections  # the call summary reached the proposal
    assert any("Contoso Freight" in section for section in draft.sections)  # and so did the qualification notes
    outreach = [c for c in run.outcome.commits if c.action == "queue_outreach"]
    assert [c.changes["Touch"] for c in outreach] == ["follow-up"]


def _conflict_run(tickets: int) -> tuple[list[Verdict], dict[str, Any]]:
    scenario = lead_to_cash("conflict")
    inputs = [f for f in scenario.inputs("lead-1") if not isinstance(f, SupportActivity)]
    activity = SupportActivity(subject="lead-1", tickets_this_week=tickets, confidence=1.0)

    async def main() -> tuple[list[Verdict], dict[str, Any]]:
        with Blackboard.open("memory://") as bb:
            controller = scenario.controller()
            await controller.run(bb.board("lead-1"), *inputs, activity)
            table = controller.sink
            assert isinstance(table, sinks.Table)
            return verdicts(await bb.board("lead-1").history()), table.rows(bb)

    return anyio.run(main)


@settings(max_examples=8, deadline=None)
@given(tickets=st.integers(0, 6))
def test_sales_is_overridden_exactly_when_service_sets_the_health_differently(tickets: int) -> None:
    judged, rows = _conflict_run(tickets)
    overridden = [v for v in judged if v.overridden_by is not None]
    downgraded = tickets >= 3
    assert len(overridden) == int(downgraded)
    assert [v.target for v in overridden] == ["Opportunity/lead-1"] * int(downgraded)
    assert rows["Opportunity/lead-1"]["data"]["Health__c"] == ("Red" if downgraded else "Green")
    assert ("StageName" in rows["Opportunity/lead-1"]["data"]) is not downgraded


def test_the_inputs_follow_the_variant() -> None:
    kinds = {v: {type(f) for f in lead_to_cash(v).inputs("b")} for v in VARIANTS}
    assert kinds["happy"] == {Lead}
    assert kinds["follow-up"] == {Lead, CallTranscript}
    assert kinds["conflict"] == {Lead, CallTranscript, SupportActivity}


def test_the_catalog_lists_the_family_with_its_seed() -> None:
    family = scenarios.families()["lead-to-cash"]
    assert (family.seed, family.variants) == ("002", VARIANTS)
    assert "lead-to-cash/compliance" in scenarios.names()
    assert scenarios.get("lead-to-cash/conflict").title == "lead-to-cash/conflict"
