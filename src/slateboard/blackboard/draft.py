"""`Draft`: entries encoded and checked for one atomic append, before the store has them.

A draft is what `Board.write_each` builds on its way to the store, and what the controller builds itself when it
must see a batch's entries before they are written: a cycle's agent runs and findings, then the decision that follows
them, go to the store as one append (one transaction, one fsync), and the decision is taken on the entries the
draft says the batch will have. Each record is encoded once (`records.encode`); the draft's entries hold the records
as every reader will load them back, so the writer's view of the board is the reader's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from slateboard.blackboard.entries import Entry, PendingEntry, StoredEntry
from slateboard.blackboard.records import Record, stored_form
from slateboard.errors import InvalidFindingError

__all__ = ("Draft", "check_author", "MAX_NAME")

MAX_NAME = 256


def check_author(author: object) -> None:
    """Refuse an author the store could not keep: not a string, blank, too long, or not encodable as UTF-8."""
    problem = None
    if not isinstance(author, str) or not author.strip() or len(author) > MAX_NAME:
        problem = f"must be a non-empty string of at most {MAX_NAME} characters, got {author!r}"
    else:
        try:
            author.encode()
        except UnicodeEncodeError:
            problem = f"cannot be encoded as UTF-8 (a lone surrogate?), got {author!r}"
    if problem is not None:
        raise InvalidFindingError("write", [("author", problem)])


# Authors that passed `check_author` lately: bounded, cleared when full.
_good_authors: set[str] = set()
_GOOD_AUTHORS = 1024


def _remember_author(author: str) -> None:
    if len(_good_authors) >= _GOOD_AUTHORS:
        _good_authors.clear()
    _good_authors.add(author)


class Draft:
    """Records (each with its author) ready to append to `board` after version `after`, all at `recorded_at`.

    `entries` are the entries the append will give them, but for `seq` (0) and `hash` (""), which only the store
    knows: enough for the controller's state, which reads neither. With `after` None (a write without an expected
    version) their versions are not known either, and `entries` stays empty.
    """

    def __init__(
        self,
        board: str,
        after: int | None,
        recorded_at: datetime,
        *,
        max_bytes: int,
        authored: Iterable[tuple[Record, str]] = (),
    ) -> None:
        self.board = board
        self.after = after
        self.recorded_at = recorded_at
        self.pending: list[PendingEntry] = []
        self.records: list[Record] = []
        self.entries: list[Entry] = []
        self._stamp = recorded_at.isoformat()
        self._max_bytes = max_bytes
        self.extend(authored)

    def add(self, record: Record, author: str) -> Entry | None:
        """Encode and check one more record; its provisional entry (None when `after` is None)."""
        self.extend(((record, author),))
        return self.entries[-1] if self.after is not None else None

    def extend(self, authored: Iterable[tuple[Record, str]]) -> None:
        """Encode and check more records (a batch's hot loop: one pass, no per-record call but `encode`)."""
        pending, records, entries = self.pending, self.records, self.entries
        stamp, max_bytes, after, board = self._stamp, self._max_bytes, self.after, self.board
        for record, author in authored:
            if type(author) is not str or author not in _good_authors:  # a few authors write most entries
                check_author(author)
                _remember_author(author)
            kind, schema_version, payload, decoded, _ = stored_form(record, max_bytes)
            pending.append(PendingEntry(kind, schema_version, author, stamp, payload))
            records.append(decoded)
            if after is not None:
                row = StoredEntry(0, board, after + len(pending), kind, schema_version, author, stamp, "", "")
                entries.append(Entry.from_stored(row, decoded, self.recorded_at))

    def __len__(self) -> int:
        return len(self.pending)
