"""The public rule protocol (docs/rules.md): a conflict rule of one's own escalates with its reason, replays
identically, is settled by a person like a built-in one, and a what-if without it says what would change."""

from __future__ import annotations

from dataclasses import dataclass

from slateboard import Blackboard, Controller, rules, sinks
from slateboard.rules import BoardState, ConflictRule, Reason, SufficiencyRule
from tests.controller.whatif_kinds import AGENTS, POLICY, RULES, Check, Request


@dataclass(frozen=True)
class Cautious:
    """Escalate a subject whose newest check is less sure than `threshold`."""

    threshold: float
    kind: type[Check] = Check

    @property
    def id(self) -> str:
        return f"cautious({self.threshold:.2f})"

    def check(self, state: BoardState, subject: str) -> Reason | None:
        version = state.newest(self.kind, subject)
        if not version or state.finding(version).confidence >= self.threshold:
            return None
        message = f"check v{version} by {state.author(version)} is below {self.threshold:.2f} on {subject!r}"
        return Reason(rule=self.id, message=message, findings=(version,), agents=(state.author(version),))


def test_a_conflict_rule_of_ones_own_escalates_replays_and_is_settled_by_a_person() -> None:
    cautious = Cautious(0.7)
    assert isinstance(cautious, ConflictRule)
    assert not isinstance(cautious, SufficiencyRule)
    controller = Controller(AGENTS, [*RULES, cautious], policy=POLICY, sink=sinks.Memory())
    with Blackboard.open("memory://") as bb:
        board = bb.board("p")
        outcome = controller.run_sync(board, Request(subject="p", confidence=1.0, check_confidence=0.6))
        assert outcome.status == "escalated"
        (reason,) = outcome.decision.reasons
        (check,) = reason.findings
        assert outcome.decision_reasons == (f"cautious(0.70): check v{check} by checker is below 0.70 on 'p'",)
        assert controller.replay_sync(board).identical
        without = controller.whatif_sync(board, rules=RULES)
        assert (without.outcome, without.would_be) == ("escalated", "undetermined")
        assert [d.rules for d in without.decisions if d.changed] == [("cautious(0.70)", "agenda")]  # updater next
        # A person keeps the check: the rule does not fire on it again, and the run goes on to commit.
        controller.settle_sync(board, reviewer="ana", choose=check, note="the contract says so")
        settled = controller.run_sync(board, Request(subject="p", confidence=1.0, check_confidence=0.6))
        assert settled.status == "committed"
        assert controller.replay_sync(board).identical


def test_a_changed_rule_parameter_changes_the_fingerprint() -> None:
    loose = Controller(AGENTS, [*RULES, Cautious(0.5)], policy=POLICY, sink=sinks.Memory())
    strict = Controller(AGENTS, [*RULES, Cautious(0.9)], policy=POLICY, sink=sinks.Memory())
    same = Controller(AGENTS, [*RULES, Cautious(0.5)], policy=POLICY, sink=sinks.Memory())
    assert loose.fingerprint != strict.fingerprint
    assert loose.fingerprint == same.fingerprint
    assert rules.Rule  # the union Controller(rules=...) takes, public
