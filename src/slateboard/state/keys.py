"""Where each proposal stands, read from the log: judged, waiting for a person, committed, failed or in doubt.

The log is the only source: the verdict, approval, commit and failure entries of each idempotency key, later
entries overriding earlier ones. A run's outcome is the most pressing state among its live proposals:
escalated (a person must decide), failed, awaiting_approval, committed, then rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slateboard.blackboard.records import Record
from slateboard.blackboard.view import BoardView
from slateboard.state.projection import BoardState, live_proposals
from slateboard.state.proposal import Proposal
from slateboard.state.records import (
    ApprovalDecision,
    ApprovalRequest,
    Commit,
    CommitFailure,
    Compensation,
    DoubtResolved,
    Verdict,
)
from slateboard.state.vocabulary import KeyStatus

__all__ = ("KeyState", "KeyStatus", "Settlement", "RUN_STATUS", "PRESSING")

# How a key's status counts toward the run's outcome, and which outcome wins when proposals differ.
RUN_STATUS: dict[str, str] = {
    "unjudged": "failed",
    "authorized": "failed",
    "rejected": "rejected",
    "escalated": "escalated",
    "in_doubt": "escalated",
    "awaiting_approval": "awaiting_approval",
    "committed": "committed",
    "compensated": "committed",
    "failed": "failed",
}
PRESSING = ("escalated", "failed", "awaiting_approval", "committed", "rejected")
_SETTLING = (Commit, CommitFailure, DoubtResolved, Compensation)
_KINDS: tuple[type[Record], ...] = (Verdict, ApprovalRequest, ApprovalDecision, *_SETTLING)


@dataclass
class KeyState:
    """Everything the log says about one idempotency key."""

    key: str
    version: int
    proposal: Proposal
    verdict: Verdict | None = None
    request: ApprovalRequest | None = None
    decision: ApprovalDecision | None = None
    decision_version: int = 0
    last: Record | None = None  # the newest commit, failure, resolution or compensation
    commits: list[Commit] = field(default_factory=list)

    @property
    def status(self) -> KeyStatus:
        verdict = self.verdict
        if verdict is None:
            return "unjudged"
        if verdict.outcome == "deny":
            return "rejected"
        if verdict.outcome == "escalate":
            return "escalated"
        if verdict.outcome == "needs_approval" and self.decision is None:
            return "awaiting_approval"
        if self.decision is not None and self.decision.decision == "rejected":
            return "rejected"
        return self._settled()

    def _settled(self) -> KeyStatus:
        last = self.last
        if isinstance(last, Commit):
            return "committed"
        if isinstance(last, Compensation):
            return "compensated"
        if isinstance(last, CommitFailure):
            return "failed" if last.status == "dead" else "in_doubt"
        return "authorized"  # nothing yet, or a doubt resolved as "not applied": commit it

    @property
    def to_commit(self) -> Proposal:
        """The proposal as it is to be applied: with a reviewer's edits, if any."""
        if self.decision is not None and self.decision.decision == "approved" and self.decision.edits:
            return type(self.proposal)(**{**self.proposal.model_dump(), "changes": self.decision.changes})
        return self.proposal

    def describe(self) -> str:  # noqa: PLR0911 - one sentence per state
        """One line for an outcome's reasons: which proposal, and where it stands and why."""
        p = self.proposal
        head = f"Proposal v{self.version} {p.action} {p.target} (key {self.key})"
        status = self.status
        if status in ("rejected", "escalated") and self.decision is None and self.verdict is not None:
            return f"{head}: {status} by policy: " + "; ".join(map(str, self.verdict.reasons))
        if status == "rejected" and self.decision is not None:
            return f"{head}: rejected by {self.decision.reviewer}: {self.decision.reason}"
        if status == "awaiting_approval" and self.request is not None:
            return f"{head}: awaiting approval: {self.request.reason}"
        if isinstance(self.last, CommitFailure):
            return f"{head}: {status} after {self.last.attempts} attempt(s): {self.last.error}"
        if status == "authorized":
            return f"{head}: allowed, but not committed yet (run again to commit)"
        if status == "unjudged":
            return f"{head}: not judged yet (run again to judge it)"
        by = f", approved by {self.decision.reviewer}" if self.decision is not None else ""
        return f"{head}: {status}{by}"


@dataclass
class Settlement:
    """Every live proposal's `KeyState`, by key, in log order."""

    keys: dict[str, KeyState]

    @classmethod
    def of(cls, view: BoardView, state: BoardState) -> Settlement:
        keys: dict[str, KeyState] = {}
        for version in live_proposals(state):
            proposal = state.findings[version]
            if isinstance(proposal, Proposal):
                keys.setdefault(proposal.key(view.board), KeyState(proposal.key(view.board), version, proposal))
        if not keys:
            return cls(keys)
        entries = sorted((e for kind in _KINDS for e in view.entries(kind)), key=lambda e: e.version)
        for entry in entries:
            record = entry.payload
            found = keys.get(getattr(record, "key", ""))
            if found is None:
                continue
            if isinstance(record, Verdict) and record.proposal == found.version:
                found.verdict = record
            elif isinstance(record, ApprovalRequest):
                found.request = record
            elif isinstance(record, ApprovalDecision):
                found.decision, found.decision_version = record, entry.version
            elif isinstance(record, _SETTLING):
                found.last = record
                if isinstance(record, Commit):
                    found.commits.append(record)
        return cls(keys)

    def status(self) -> str | None:
        """The run's status from its proposals (None when there are none)."""
        present = {RUN_STATUS[k.status] for k in self.keys.values()}
        return next((s for s in PRESSING if s in present), None)

    def pending(self) -> list[KeyState]:
        """Keys allowed (or approved) whose commit has not happened yet, in log order."""
        return [k for k in self.keys.values() if k.status == "authorized"]
