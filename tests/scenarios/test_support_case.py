"""The built-in support case (seed 000) and its variants, on real boards: each ends as the article says."""

from __future__ import annotations

import pytest

from slateboard import AgentRun, Blackboard, Verdict, scenarios, sinks
from slateboard.errors import ScenarioError
from slateboard.scenarios import Expectation
from slateboard.scenarios.support_case import VARIANTS

pytestmark = pytest.mark.anyio


def runs_of(history: tuple, agent: str) -> list[AgentRun]:  # type: ignore[type-arg]
    return [e.payload for e in history if isinstance(e.payload, AgentRun) and e.payload.agent == agent]


@pytest.mark.parametrize("variant", VARIANTS)
async def test_every_variant_ends_as_expected_and_replays_identically(bb: Blackboard, variant: str) -> None:
    run = await scenarios.get("support-case", variant).run(bb)
    assert run.problems == []
    outcome = run.check()
    if outcome.status != "committed":
        assert outcome.reasons  # invariant 6
    assert (await run.controller.replay(run.board)).identical
    await run.board.verify()
    again = await scenarios.get("support-case", variant).run(bb)  # resumed from the log: nothing new happens
    assert again.outcome.status == outcome.status
    assert len(await again.board.history()) == len(await run.board.history())


async def test_the_happy_path_commits_the_case_update_and_the_reply_waits_for_a_person(bb: Blackboard) -> None:
    run = await scenarios.get("support-case").run(bb, board="case-42")
    outcome = run.outcome
    assert [c.action for c in outcome.commits] == ["update"]
    (request,) = outcome.approvals
    assert request.action == "send_reply"
    assert {c.source for c in request.citations} == {"crm:contract/C-1042", "kb:warranty-policy"}
    table = run.controller.sink
    assert isinstance(table, sinks.Table)
    assert table.rows(bb)["Case/case-42"]["data"]["Status"] == "Working"
    approved = await run.controller.approve(run.board, request.key, reviewer="ana")
    assert approved.status == "committed"
    assert table.rows(bb)["Case/case-42/reply"]["revision"] == 1


async def test_a_timed_out_retrieval_is_retried_once(bb: Blackboard) -> None:
    run = await scenarios.get("support-case/timeout").run(bb)
    attempts = runs_of(await run.board.history(), "knowledge")
    assert [(a.attempt, a.status) for a in attempts] == [(1, "timeout"), (2, "ok")]


async def test_a_policy_conflict_is_not_retried(bb: Blackboard) -> None:
    run = await scenarios.get("support-case", "policy-conflict").run(bb)
    attempts = runs_of(await run.board.history(), "review")
    assert [(a.attempt, a.status) for a in attempts] == [(1, "conflict")]
    assert any("agent review reported a conflict" in r for r in run.outcome.reasons)


async def test_a_reply_without_approved_citations_is_not_committed(bb: Blackboard) -> None:
    run = await scenarios.get("support-case", "uncited").run(bb)
    verdicts = [e.payload for e in await run.board.history() if isinstance(e.payload, Verdict)]
    assert [v.outcome for v in verdicts] == ["deny", "deny"]
    assert run.outcome.commits == ()


async def test_low_intake_confidence_goes_to_a_person_before_anything_else_runs(bb: Blackboard) -> None:
    run = await scenarios.get("support-case", "low-intake").run(bb)
    ran = {e.payload.agent for e in await run.board.history() if isinstance(e.payload, AgentRun)}
    assert ran == {"intake"}
    assert run.outcome.status == "escalated"


async def test_an_expectation_that_is_not_met_is_reported_and_check_raises(bb: Blackboard) -> None:
    scenario = scenarios.get("support-case", "conflict")
    wrong = Expectation(status="committed", reasons=("no such reason",), commits=1, approvals=2)
    run = await scenario.run(bb)
    problems = wrong.problems(run.outcome)
    assert problems == [
        "status is 'escalated', expected 'committed'",
        "no reason mentions 'no such reason'",
        "0 commit(s), expected 1",
        "0 approval(s) waiting, expected 2",
    ]


def test_the_catalog_names_every_variant_and_refuses_unknown_ones() -> None:
    assert scenarios.names()[0] == "support-case"
    assert "support-case/uncited" in scenarios.names()
    assert scenarios.get("support-case/conflict").variant == "conflict"
    assert scenarios.get("support-case/conflict").title == "support-case/conflict"
    built_in = "no built-in scenario 'nope'; built-in: handoffs, lead-to-cash, support-case"
    with pytest.raises(ScenarioError, match=built_in):
        scenarios.get("nope")
    with pytest.raises(ScenarioError, match="has no variant 'sideways'"):
        scenarios.get("support-case", "sideways")
    with pytest.raises(ScenarioError, match="names variant 'conflict', but variant 'timeout'"):
        scenarios.get("support-case/conflict", "timeout")


def test_each_run_gets_a_fresh_controller_and_sink() -> None:
    scenario = scenarios.get("support-case")
    first, second = scenario.controller(), scenario.controller()
    assert first is not second
    assert first.sink is not second.sink
    assert first.fingerprint == second.fingerprint  # the same definition, so boards can be matched to it
