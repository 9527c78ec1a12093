"""What the policy and the commit layer write on a board: verdicts, approvals, commits and their failures.

They are records like findings: hash-chained, versioned and replayable with the rest of the log. A proposal is
named by its idempotency `key` throughout; `proposal` is the version of the entry that holds it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue

from slateboard.blackboard.records import Citation, FrozenModel, Record

__all__ = (
    "Effect",
    "Vote",
    "Verdict",
    "ApprovalRequest",
    "ApprovalDecision",
    "Commit",
    "CommitFailure",
    "DoubtResolved",
    "Compensation",
    "COMMIT_LAYER",
)

COMMIT_LAYER = "slateboard.commit"
Effect = Literal["allow", "deny", "escalate", "needs_approval"]


class Vote(FrozenModel):
    """One policy rule's say on a proposal: its `effect`, why, and the finding versions behind it."""

    rule: str
    effect: Effect
    message: str
    findings: tuple[int, ...] = ()
    overridden_by: int | None = None

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


class Verdict(Record):
    """The policy's judgement of one proposal on the snapshot at version `at`, under policy version `policy`.

    `reasons` are the deciding votes (those whose effect is the outcome, or the default rule's), `votes` every vote.
    """

    kind_name = "slateboard.Verdict"

    key: str
    proposal: int
    action: str
    target: str
    outcome: Effect
    reasons: tuple[Vote, ...]
    votes: tuple[Vote, ...] = ()
    policy: str
    at: int
    overridden_by: int | None = None


class ApprovalRequest(Record):
    """A proposal waiting for a person: what is recommended, how sure, on what evidence, and why it waits."""

    kind_name = "slateboard.ApprovalRequest"

    key: str
    proposal: int
    recommended: str
    action: str
    target: str
    changes: dict[str, JsonValue]
    confidence: float
    citations: tuple[Citation, ...] = ()
    reason: str


class ApprovalDecision(Record):
    """A person's answer to an `ApprovalRequest`: approved (with any `edits`, and the resulting `changes`) or not."""

    kind_name = "slateboard.ApprovalDecision"

    key: str
    decision: Literal["approved", "rejected"]
    reviewer: str
    edits: dict[str, JsonValue] = Field(default_factory=dict)
    changes: dict[str, JsonValue] = Field(default_factory=dict)
    reason: str = ""


class Commit(Record):
    """A proposal applied to its sink, once: the `receipt` is the sink's answer, `fence` the target lock's token."""

    kind_name = "slateboard.Commit"

    key: str
    proposal: int
    action: str
    target: str
    changes: dict[str, JsonValue]
    sink: str
    receipt: JsonValue = None
    attempts: int = 1
    fence: int = 0


class CommitFailure(Record):
    """A commit that did not happen for sure: `dead` (the sink kept failing) or `in_doubt` (a person must check)."""

    kind_name = "slateboard.CommitFailure"

    key: str
    proposal: int
    target: str
    status: Literal["dead", "in_doubt"]
    error: str
    attempts: int = 0


class DoubtResolved(Record):
    """A person's finding on an in-doubt commit: whether the sink had applied it."""

    kind_name = "slateboard.DoubtResolved"

    key: str
    applied: bool
    reviewer: str
    receipt: JsonValue = None
    note: str = ""


class Compensation(Record):
    """A committed proposal undone by the sink's `compensate`: a forward entry, never a delete."""

    kind_name = "slateboard.Compensation"

    key: str
    target: str
    reviewer: str
    reason: str
    receipt: JsonValue = None
