"""What-if replay: re-judge a recorded board under a changed policy and/or rule set, running nothing.

`Controller.whatif(board, policy=..., rules=...)` walks the board's log as `replay` does, with the same
`BoardState` fold, and at each recorded decision asks the changed rules what they decide on the evidence that was
there; at each recorded verdict it asks the changed policy. No agent runs, no sink is called, nothing is written:
the findings already on the log are the evidence.

Where the proposals would stand follows from the would-be verdicts and the people's recorded answers, folded by a
second `KeyBook` from the same log with slateboard's own records swapped:

- a recorded verdict is replaced by the would-be one (an approval request goes with a would-be "needs_approval");
- a person's recorded answer to an approval counts only where the would-be verdict still asks for one (the
  answer is kept by idempotency key, so an approved key stays approved under a policy that still gates it);
- a recorded commit (or failure, resolution, compensation) counts only where the would-be gate lets the key
  through; a key the would-be policy allows that was never committed is reported as would-be "committed".

The outcome is judged at the last decision entry, as the recorded outcome is. When the changed rules end the run
differently there (escalate instead of sufficient, say) the recorded verdicts after it would not have happened, and
where they would let it end sufficiently the live proposals are judged there. When they would let the run go on
("continue") the would-be outcome is "undetermined": what the agents would find is not on the log. A decision
point where the changed rules would have stopped the run earlier is reported as a changed decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from slateboard.blackboard.board import Board
from slateboard.blackboard.view import BoardView
from slateboard.controller.commits import approval_request
from slateboard.controller.decide import Evaluator
from slateboard.controller.outcomes import build_outcome
from slateboard.controller.rules import Rule
from slateboard.controller.whatif_report import (
    DecisionWhatIf,
    ProposalWhatIf,
    WhatIfReport,
    WouldBe,
    reason_changes,
    vote_changes,
)
from slateboard.errors import ConfigurationError
from slateboard.policies.policy import Policy
from slateboard.state.keys import KeyBook, KeyState
from slateboard.state.projection import BoardState
from slateboard.state.records import (
    ApprovalDecision,
    ApprovalRequest,
    Commit,
    CommitFailure,
    Compensation,
    Decision,
    DoubtResolved,
    Verdict,
    Vote,
)
from slateboard.state.vocabulary import DECISION_OUTCOMES, KEY_OUTCOMES, PRESSING, KeyStatus, OutcomeStatus

if TYPE_CHECKING:
    from slateboard.controller.loop import Controller

__all__ = ("whatif",)

_SETTLING = (Commit, CommitFailure, DoubtResolved, Compensation)
_GATED: frozenset[KeyStatus] = frozenset({"unjudged", "rejected", "escalated", "awaiting_approval"})


class _Walk:
    """One pass over a board's log: the recorded state, the would-be decisions, verdicts and keys."""

    def __init__(self, controller: Controller, view: BoardView, policy: Policy | None, rules: Sequence[Rule]) -> None:
        self.view = view
        self.policy = policy
        self.state = BoardState(controller.agents)
        self.evaluator = Evaluator(controller.agents, rules)
        self.book = KeyBook()  # where each key would stand
        self.decisions: list[DecisionWhatIf] = []
        self.derived: Decision | None = None  # the would-be decision at the last decision entry
        self.recorded: dict[int, Verdict] = {}  # by proposal version: the newest recorded verdict
        self.would: dict[int, Verdict] = {}  # by proposal version: the newest would-be verdict
        self.last = max((e.version for e in view.entries() if isinstance(e.payload, Decision)), default=0)

    def run(self) -> None:
        for entry in self.view.entries():
            record = entry.payload
            if isinstance(record, Decision):
                self._decide(entry.version, record)
            elif isinstance(record, Verdict):
                self._verdict(entry.version, record)
            elif isinstance(record, ApprovalRequest):
                pass  # a would-be request goes with each would-be "needs_approval" verdict instead
            elif isinstance(record, ApprovalDecision):
                found = self.book.keys.get(record.key)
                verdict = found.verdict if found is not None else None
                if verdict is not None and verdict.outcome == "needs_approval":
                    self.book.ingest(self.view.board, entry.version, entry.author, record)
            elif isinstance(record, _SETTLING):
                found = self.book.keys.get(record.key)
                if found is not None and found.status not in _GATED:
                    self.book.ingest(self.view.board, entry.version, entry.author, record)
            else:
                self.book.ingest(self.view.board, entry.version, entry.author, record)
            self.state.ingest(entry)
            if entry.version == self.last:
                self._judge_at_last()

    def _decide(self, version: int, record: Decision) -> None:
        derived = self.evaluator.decide(self.state)
        rules, why = reason_changes(record.reasons, derived.reasons) if derived.status != record.status else ((), [])
        self.decisions.append(
            DecisionWhatIf(
                version=version,
                cycle=record.cycle,
                recorded=record.status,
                would_be=derived.status,
                rules=rules,
                why=tuple(why),
            )
        )
        if version == self.last:
            self.derived = derived

    def _verdict(self, version: int, record: Verdict) -> None:
        self.recorded[record.proposal] = record
        if version > self.last and record.proposal in self.would:
            return  # judged at the last decision already, as the run would have judged it
        if version > self.last and (self.derived is None or self.derived.status != "sufficient"):
            return  # the changed rules would not have ended the run sufficient: no proposal is judged
        if self.policy is not None:
            self._feed(self.policy.evaluate(_at(self.view, record.at), record.proposal, state=self.state))

    def _judge_at_last(self) -> None:
        """At the last decision: the verdicts a would-be "sufficient" leads to, as the commit step judges them."""
        if self.policy is None or self.derived is None or self.derived.status != "sufficient":
            return
        view = _at(self.view, self.state.version)
        judged = set(self.book.judged)
        for verdict in self.policy.judge(view, state=self.state):
            if verdict.proposal not in judged:
                self._feed(verdict)

    def _feed(self, verdict: Verdict) -> None:
        self.would[verdict.proposal] = verdict
        self.book.ingest(self.view.board, self.state.version, "", verdict)
        if verdict.outcome == "needs_approval":
            self.book.ingest(self.view.board, self.state.version, "", approval_request(self.view, verdict))

    def proposals(self) -> tuple[ProposalWhatIf, ...]:
        found = []
        for version in sorted({*self.recorded, *self.would}):
            before, after = self.recorded.get(version), self.would.get(version)
            some = after or before
            if some is None:
                continue
            recorded_key = self.state.keys.keys.get(some.key)
            would_key = self.book.keys.get(some.key)
            recorded_status = _status(recorded_key)
            rules, why = vote_changes(_votes(before), _votes(after), after.reasons if after else ())
            if (before and before.outcome) == (after and after.outcome):
                rules, why = (), []
            found.append(
                ProposalWhatIf(
                    key=some.key,
                    proposal=version,
                    action=some.action,
                    target=some.target,
                    recorded_verdict=before.outcome if before else None,
                    would_be_verdict=after.outcome if after else None,
                    recorded_status=recorded_status,
                    would_be_status=_would_status(would_key, recorded_status),
                    rules=rules,
                    why=tuple(why),
                )
            )
        return tuple(found)

    def outcome(self) -> tuple[WouldBe | None, tuple[str, ...]]:
        """The would-be outcome at the last decision entry, and why."""
        derived = self.derived
        if derived is None:
            return None, ()
        reasons = tuple(map(str, derived.reasons))
        if derived.status == "continue":
            names = ", ".join(f"{t.agent} on {t.subject!r}" for t in derived.agenda)
            return "undetermined", (f"whatif: the run would go on ({names} would run; a what-if runs no agent)",)
        status: OutcomeStatus = DECISION_OUTCOMES[derived.status]
        if derived.status != "sufficient" or self.policy is None:
            return status, reasons
        # As `build_outcome` reads the recorded keys: every live key counts, the most pressing status wins.
        recorded = self.state.keys.keys
        would = [(k, _would_status(k, _status(recorded.get(k.key)))) for k in self.book.live()]
        statuses = {KEY_OUTCOMES[status] for _, status in would}
        settled = next((s for s in PRESSING if s in statuses), None)
        return settled or status, (*reasons, *(_describe(k, status) for k, status in would))


def _votes(verdict: Verdict | None) -> tuple[Vote, ...]:
    """A verdict's votes, with the policy's default when it decided (`default-deny`, `default-allow`: a reason that
    no rule cast)."""
    if verdict is None:
        return ()
    return (*verdict.votes, *(r for r in verdict.reasons if r not in verdict.votes))


def _at(view: BoardView, version: int) -> BoardView:
    """The snapshot of `view` at an earlier `version` (the first entries never change)."""
    return replace(view, version=version)


def _status(found: KeyState | None) -> KeyStatus:
    return found.status if found is not None else "unjudged"


def _would_status(found: KeyState | None, recorded: KeyStatus) -> KeyStatus:
    """Where a key would stand; one the policy would let through, never committed on the log, would be committed."""
    status = _status(found)
    return "committed" if status == "authorized" and recorded != "authorized" else status


def _describe(found: KeyState, status: KeyStatus) -> str:
    """One line of the would-be outcome's reasons: which proposal, where it would stand, and why."""
    head = f"Proposal v{found.version} {found.proposal.action} {found.proposal.target} (key {found.key})"
    verdict = found.verdict
    if status in ("rejected", "escalated", "awaiting_approval") and found.decision is None and verdict is not None:
        return f"{head}: would be {status} by policy: " + "; ".join(map(str, verdict.reasons))
    if status == "committed" and not found.commits and not found.found_applied:
        return f"{head}: would be committed (a what-if applies nothing)"
    return f"{head}: would be {status}"


async def whatif(
    controller: Controller, board: Board, *, policy: Policy | None = None, rules: Sequence[Rule] | None = None
) -> WhatIfReport:
    """Re-judge `board` under `policy` and/or `rules` (each defaults to the controller's own); see the module."""
    if policy is not None and not isinstance(policy, Policy):
        raise ConfigurationError(f"whatif: policy must be a slateboard.policies.Policy, got {policy!r}")
    if isinstance(rules, str) or (rules is not None and not isinstance(rules, Sequence)):
        raise ConfigurationError(f"whatif: rules must be a sequence of rules, got {rules!r}")
    chosen_policy = policy if policy is not None else controller.policy
    chosen_rules = tuple(rules) if rules is not None else controller.rules
    view = await board.view()
    walk = _Walk(controller, view, chosen_policy, chosen_rules)
    walk.run()
    state = walk.state
    recorded: OutcomeStatus | None = None
    if state.last_decision is not None:
        last, version = state.last_decision, state.last_decision_version
        recorded = build_outcome(board.name, state, last, version=version, policy=controller.policy).status
    would_be, reasons = walk.outcome()
    return WhatIfReport(
        board=board.name,
        policy=chosen_policy.version if chosen_policy is not None else None,
        rules=tuple(rule.id for rule in chosen_rules),
        outcome=recorded,
        would_be=would_be,
        reasons=reasons,
        decisions=tuple(walk.decisions),
        proposals=walk.proposals(),
    )
