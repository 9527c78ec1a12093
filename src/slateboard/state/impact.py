"""What retracting a source does to one board, read from its stored rows: `BoardImpact` and `impact`.

Both `slateboard retract` (before it writes) and `slateboard boards --affected-by` (which writes nothing) ask it.
It reads rows, not decoded entries, so a board whose finding kinds this process cannot import is judged all the
same: findings are recognized by their fields, citations and agent runs by their JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.records import FrozenModel
from slateboard.state.keys import KeyBook
from slateboard.state.records import Commit, Compensation
from slateboard.state.retractions import Retraction, SourceRef, Staleness

__all__ = ("AffectedCommit", "BoardImpact", "impact", "withdraw_stale")


class AffectedCommit(FrozenModel):
    """A commit that rested on a stale finding: its key, the proposal's version, what it did, and its entry."""

    key: str
    proposal: int
    action: str
    target: str
    entry: int

    def __str__(self) -> str:
        return f"{self.action} {self.target} (key {self.key}, proposal v{self.proposal}, committed at v{self.entry})"


class BoardImpact(FrozenModel):
    """One board a source concerns: the findings that cite it (`citing`), those derived from them (`derived`),
    the commits that rested on either (`commits`, not undone by a compensation), and whether a retraction of exactly
    this source is recorded on the board (`recorded`)."""

    board: str
    source: str
    version: str | None
    entries: int
    citing: tuple[int, ...]
    derived: tuple[int, ...]
    commits: tuple[AffectedCommit, ...] = ()
    recorded: bool = False

    @property
    def stale(self) -> tuple[int, ...]:
        """Every finding the retraction leaves stale on this board, in log order."""
        return tuple(sorted((*self.citing, *self.derived)))

    def describe(self) -> str:
        """One line: the board, what is stale on it, and what a person must look at."""
        said = f"{self.board}: {len(self.stale)} stale finding(s) ({', '.join(f'v{v}' for v in self.stale)})"
        if self.derived:
            said += f", {len(self.derived)} of them derived"
        if self.commits:
            said += "; committed on them, a person must decide: " + "; ".join(map(str, self.commits))
        else:
            said += "; reopened on the next run"
        return said


def impact(board: str, rows: Sequence[StoredEntry], ref: SourceRef) -> BoardImpact | None:
    """What a retraction of `ref` makes stale on `board` (its rows, all of them, in version order), whether or not it
    was retracted yet; None when nothing on it cites `ref`.

    Other retractions on the board are left out, so the answer is this source's share alone.
    """
    fold = Staleness()
    recorded = False
    for row in rows:
        if row.kind == Retraction.kind_name:
            payload = json.loads(row.payload)
            recorded |= SourceRef(payload.get("source", ""), payload.get("version")) == ref
            continue
        fold.row(row)
    stale = fold.retract(len(rows) + 1, ref)
    if not stale:
        return None
    citing = tuple(sorted(v for v in stale if fold.cites(v, ref)))
    derived = tuple(sorted(v for v in stale if v not in citing))
    return BoardImpact(
        board=board,
        source=ref.source,
        version=ref.version,
        entries=len(rows),
        citing=citing,
        derived=derived,
        commits=_commits(rows, stale),
        recorded=recorded,
    )


def _commits(rows: Sequence[StoredEntry], stale: frozenset[int]) -> tuple[AffectedCommit, ...]:
    """The commits whose proposal is stale and that no compensation undid since, in log order."""
    found: dict[str, AffectedCommit] = {}
    for row in rows:
        if row.kind == Commit.kind_name:
            payload = json.loads(row.payload)
            if payload.get("proposal") in stale:
                found[payload["key"]] = AffectedCommit(
                    key=payload["key"],
                    proposal=payload["proposal"],
                    action=str(payload.get("action", "")),
                    target=str(payload.get("target", "")),
                    entry=row.version,
                )
        elif row.kind == Compensation.kind_name:
            found.pop(json.loads(row.payload).get("key", ""), None)
    return tuple(found.values())


def withdraw_stale(book: KeyBook, rows: Sequence[StoredEntry]) -> frozenset[str]:
    """Withdraw from `book` (folded from `rows`) the proposals that retractions on the board left stale, as the
    controller's own fold does, so a stored-row reader (audit, review page) shows no approval waiting on them; the
    keys withdrawn."""
    if not any(row.kind == Retraction.kind_name for row in rows):
        return frozenset()  # most boards: nothing retracted, nothing to read twice
    fold = Staleness()
    for row in rows:
        fold.row(row)
    withdrawn = (book.withdraw(version) for version in sorted(fold.stale))
    return frozenset(key for key in withdrawn if key is not None)
