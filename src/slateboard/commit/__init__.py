"""The commit layer: proposals now; policies' verdicts, the idempotency ledger and sinks come with issue 4."""

from slateboard.commit.proposal import Proposal

__all__ = ("Proposal",)
