"""The commit layer: proposals, the records of verdicts, approvals and commits, sinks, and `CommitLayer`."""

from slateboard.commit.layer import CommitLayer
from slateboard.state.proposal import Proposal
from slateboard.state.records import (
    ApprovalDecision,
    ApprovalRequest,
    Commit,
    CommitFailure,
    Compensation,
    DoubtResolved,
    Verdict,
    Vote,
)

__all__ = (
    "Proposal",
    "CommitLayer",
    "Verdict",
    "Vote",
    "ApprovalRequest",
    "ApprovalDecision",
    "Commit",
    "CommitFailure",
    "DoubtResolved",
    "Compensation",
)
