"""`Controller.whatif`: a recorded board re-judged under a changed policy or rule set, with nothing run or written.

A stricter policy turns a committed board's verdict into needs_approval or deny, a looser one lets a waiting board
commit, the recorded policy and rules change nothing, and the report names the rules that voted differently. The
board's bytes and versions are the same afterwards.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from slateboard import Blackboard, Controller, WhatIfReport, policies, rules, sinks
from slateboard.errors import ConfigurationError
from tests.controller.whatif_kinds import AGENTS, DENYING, LOOSER, POLICY, RULES, STRICTER, Check, Request


def controller(sink: sinks.Memory | None = None) -> Controller:
    return Controller(AGENTS, RULES, policy=POLICY, sink=sink or sinks.Memory())


def run(bb: Blackboard, name: str, **scripted: object) -> Controller:
    ran = controller()
    outcome = ran.run_sync(bb.board(name), Request(subject=name, confidence=1.0, **scripted))  # type: ignore[arg-type]
    assert outcome.status in ("committed", "awaiting_approval", "escalated", "rejected")
    return ran


def test_a_stricter_policy_turns_a_commit_into_a_wait_and_says_which_rule() -> None:
    with Blackboard.open("memory://") as bb:
        ran = run(bb, "c1")
        report = ran.whatif_sync(bb.board("c1"), policy=STRICTER)
    assert isinstance(report, WhatIfReport)
    assert (report.outcome, report.would_be) == ("committed", "awaiting_approval")
    assert report.changed
    (proposal,) = report.proposals
    assert (proposal.recorded_verdict, proposal.would_be_verdict) == ("allow", "needs_approval")
    assert (proposal.recorded_status, proposal.would_be_status) == ("committed", "awaiting_approval")
    assert proposal.rules == ("approve-all",)
    assert any("every update waits for a person" in why for why in proposal.why)
    assert not any(d.changed for d in report.decisions)  # same rules: the decisions stand
    assert any("approve-all" in reason for reason in report.reasons)


def test_a_denying_policy_turns_a_commit_into_a_rejection() -> None:
    with Blackboard.open("memory://") as bb:
        ran = run(bb, "c2")
        report = ran.whatif_sync(bb.board("c2"), policy=DENYING)
    assert (report.outcome, report.would_be) == ("committed", "rejected")
    (proposal,) = report.proposals
    assert (proposal.would_be_verdict, proposal.would_be_status) == ("deny", "rejected")
    assert "min_confidence(0.95)" in proposal.rules
    text = str(report)
    assert "verdict allow -> deny" in text
    assert "1 change(s)" in text


def test_a_looser_policy_lets_a_waiting_board_commit_without_calling_a_sink() -> None:
    sink = sinks.Memory()
    with Blackboard.open("memory://") as bb:
        waiting = Controller(AGENTS, RULES, policy=POLICY, sink=sink)
        outcome = waiting.run_sync(bb.board("w"), Request(subject="w", confidence=1.0, reversible=False))
        assert outcome.status == "awaiting_approval"
        report = waiting.whatif_sync(bb.board("w"), policy=LOOSER)
    assert (report.outcome, report.would_be) == ("awaiting_approval", "committed")
    (proposal,) = report.proposals
    assert (proposal.recorded_verdict, proposal.would_be_verdict) == ("needs_approval", "allow")
    assert proposal.rules == ("require_approval(irreversible)",)
    assert any("a what-if applies nothing" in reason for reason in report.reasons)
    assert sink.applied == []


def test_an_approved_key_stays_committed_where_the_changed_policy_still_gates_it() -> None:
    with Blackboard.open("memory://") as bb:
        ran = run(bb, "a", reversible=False)
        key = ran.outcome_sync(bb.board("a")).approvals[0].key
        assert ran.approve_sync(bb.board("a"), key, reviewer="ana").status == "committed"
        same = ran.whatif_sync(bb.board("a"), policy=STRICTER)  # still needs a person, who said yes
        denied = ran.whatif_sync(bb.board("a"), policy=DENYING)  # 0.9 < 0.95: a deny, whatever the person said
    assert not same.changed, str(same)
    assert (denied.outcome, denied.would_be) == ("committed", "rejected")


def test_stricter_rules_escalate_instead_and_the_verdicts_would_not_happen() -> None:
    gate = rules.escalate_below(Check, confidence=0.95)
    with Blackboard.open("memory://") as bb:
        ran = run(bb, "r")
        report = ran.whatif_sync(bb.board("r"), rules=(*RULES, gate))
    assert (report.outcome, report.would_be) == ("committed", "escalated")
    changed = [d for d in report.decisions if d.changed]
    # From the decision after the check was written, the gate escalates: the run would have stopped there.
    assert [(d.recorded, d.would_be) for d in changed] == [("continue", "escalate"), ("sufficient", "escalate")]
    assert all(gate.id in d.rules for d in changed)
    assert any(why.startswith(f"now {gate.id}: ") for why in changed[0].why)
    (proposal,) = report.proposals
    assert (proposal.recorded_verdict, proposal.would_be_verdict) == ("allow", None)
    assert report.rules[-1] == gate.id


def test_looser_rules_that_would_stop_earlier_or_go_on_say_so() -> None:
    gate = rules.escalate_below(Check, confidence=0.95)
    with Blackboard.open("memory://") as bb:
        ran = run(bb, "l")
        earlier = ran.whatif_sync(bb.board("l"), rules=(rules.sufficient(Check),))
        gated = Controller(AGENTS, (*RULES, gate), policy=POLICY, sink=sinks.Memory())
        assert gated.run_sync(bb.board("g"), Request(subject="g", confidence=1.0)).status == "escalated"
        further = gated.whatif_sync(bb.board("g"), rules=RULES)
    assert [(d.recorded, d.would_be) for d in earlier.decisions if d.changed] == [("continue", "sufficient")]
    # Without the gate the updater would run next: what it would propose is not on the log.
    assert (further.outcome, further.would_be) == ("escalated", "undetermined")
    assert further.changed
    assert "updater on 'g' would run; a what-if runs no agent" in further.reasons[0]
    assert [(d.recorded, d.would_be) for d in further.decisions if d.changed] == [("escalate", "continue")]


def test_the_recorded_policy_and_rules_change_nothing() -> None:
    with Blackboard.open("memory://") as bb:
        ran = run(bb, "s")
        report = ran.whatif_sync(bb.board("s"))
        explicit = ran.whatif_sync(bb.board("s"), policy=POLICY, rules=RULES)
    assert not report.changed
    assert not explicit.changed
    assert report == explicit
    assert report.outcome == report.would_be == "committed"
    assert report.changes() == ()
    assert "0 change(s)" in str(report)
    assert "(unchanged)" in str(report)


def test_whatif_writes_nothing_the_bytes_and_versions_stay(tmp_path: Path) -> None:
    path = tmp_path / "slate.db"
    with Blackboard.open(f"sqlite:///{path}") as bb:
        run(bb, "b")
        before_head = anyio.run(bb.board("b").head)
    before = path.read_bytes()
    with Blackboard.open(f"sqlite:///{path}") as bb:
        board = bb.board("b")
        assert controller().whatif_sync(board, policy=DENYING).changed
        assert controller().whatif_sync(board, rules=(rules.sufficient(Check),)).changed
        assert anyio.run(board.head) == before_head
    assert path.read_bytes() == before


def test_whatif_refuses_what_is_not_a_policy_or_rules() -> None:
    with Blackboard.open("memory://") as bb:
        ran = run(bb, "x")
        with pytest.raises(ConfigurationError, match="policy must be"):
            ran.whatif_sync(bb.board("x"), policy="strict")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="is not a rule"):
            ran.whatif_sync(bb.board("x"), rules=("sufficient",))  # type: ignore[arg-type]


def test_a_policy_default_that_decides_is_named_as_the_cause() -> None:
    with Blackboard.open("memory://") as bb:
        ran = run(bb, "d", reversible=False)
        allowing = ran.whatif_sync(bb.board("d"), policy=policies.Policy(default="allow"))
        denying = ran.whatif_sync(bb.board("d"), policy=policies.Policy())
    (allowed,) = allowing.proposals
    assert allowed.rules[0] == "default-allow"
    assert allowed.why[0] == "now default-allow votes allow: no rule objected (allow by default)"
    (denied,) = denying.proposals
    assert (denied.would_be_verdict, denied.rules[0]) == ("deny", "default-deny")
    assert denying.would_be == "rejected"
