"""What a policy rule sees when it judges one proposal: the proposal, the snapshot, and its rivals.

Everything here is derived from the board's log up to the snapshot, so a verdict is a function of the snapshot
and the policy: judged again on the same snapshot, a proposal gets the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from slateboard.blackboard.view import BoardView
from slateboard.state.projection import BoardState, live_proposals
from slateboard.state.proposal import Proposal

__all__ = ("PolicyContext", "Rival", "live_proposals", "state_of")


@dataclass(frozen=True)
class Rival:
    """Another live proposal that sets some of the same fields of the same target to other values."""

    version: int
    proposal: Proposal
    author: str
    domain: str
    fields: tuple[str, ...]


def state_of(view: BoardView) -> BoardState:
    """The controller's view of the log up to the snapshot (what conflict rules and agent conflicts need)."""
    return BoardState.of(view)


@dataclass(frozen=True)
class PolicyContext:
    """One proposal (`proposal`, written at `version` by `author`) on the snapshot `view`.

    `ranking` is the policy's domain order (from `policies.priority`), highest first; `live` the versions of
    every live proposal on the snapshot.
    """

    view: BoardView
    state: BoardState
    version: int
    proposal: Proposal
    author: str
    live: tuple[int, ...]
    ranking: tuple[str, ...] | None = None

    @property
    def subject(self) -> str:
        return self.proposal.subject

    @property
    def domain(self) -> str:
        """Who speaks for the proposal: its `domain`, else the agent that wrote it."""
        return self.proposal.domain or self.author

    def rank(self, domain: str) -> int:
        """Position in the policy's ranking (0 is highest); unlisted domains rank below every listed one."""
        ranking = self.ranking or ()
        return ranking.index(domain) if domain in ranking else len(ranking)

    def outranks(self, first: str, second: str) -> bool | None:
        """True/False when the ranking orders the two domains; None when it does not (equal or both unlisted)."""
        if self.ranking is None or self.rank(first) == self.rank(second):
            return None
        return self.rank(first) < self.rank(second)

    @cached_property
    def rivals(self) -> tuple[Rival, ...]:
        """Live proposals on the same target that set a field this one sets to a different value."""
        found = []
        mine = self.proposal
        for version in self.live:
            other = self.state.findings[version]
            if version == self.version or not isinstance(other, Proposal) or other.target != mine.target:
                continue
            fields = tuple(
                sorted(f for f in mine.changes if f in other.changes and other.changes[f] != mine.changes[f])
            )
            if fields:
                author = self.state.author(version)
                found.append(Rival(version, other, author, other.domain or author, fields))
        return tuple(found)
