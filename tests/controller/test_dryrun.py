"""`DryRun`: a scenario runs as it would, and its sink records what it would apply without applying anything."""

from __future__ import annotations

from slateboard import Blackboard, scenarios
from slateboard.controller import DryRun


def test_a_dry_run_plans_every_commit_once_and_the_log_says_so() -> None:
    planned = DryRun(of="handoffs")
    with Blackboard.open("memory://") as bb:
        first = scenarios.get("handoffs").run_sync(bb, sink=planned)
        again = scenarios.get("handoffs").run_sync(bb, sink=planned)  # resumed: nothing is planned twice
    assert first.ok
    assert first.outcome.status == again.outcome.status == "committed"
    assert [(p.key, p.target) for p in planned.planned] == [(c.key, c.target) for c in first.outcome.commits]
    assert len(planned.planned) == 3
    assert {c.sink for c in first.outcome.commits} == {"dry-run(handoffs)"}
    assert {str(c.receipt) for c in first.outcome.commits} == {"{'dry_run': True}"}
    assert str(planned.planned[0]).startswith("would apply update CRM/Case/handoffs: Status=")
    assert repr(planned) == "DryRun(name='dry-run(handoffs)', planned=3)"


def test_a_waiting_proposal_is_not_planned_until_a_person_approves() -> None:
    planned = DryRun()
    with Blackboard.open("memory://") as bb:
        run = scenarios.get("support-case").run_sync(bb, sink=planned)
        assert run.outcome.status == "awaiting_approval"
        waiting = [a.key for a in run.outcome.approvals]
        assert waiting
        assert all(p.key not in waiting for p in planned.planned)
        run.controller.approve_sync(run.board, waiting[0], reviewer="ana")
    assert planned.planned[-1].key == waiting[0]
