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
from slateboard.blackboard.records import Record, encode
from slateboard.errors import InvalidFindingError

__all__ = ("Draft", "check_author", "MAX_NAME")

MAX_NAME = 256
_UNCHECKED = object()


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
        self._author: object = _UNCHECKED
        for record, author in authored:
            self.add(record, author)

    def add(self, record: Record, author: str) -> Entry | None:
        """Encode and check one more record; its provisional entry (None when `after` is None)."""
        if author != self._author:  # a batch is mostly one author: check each new one once
            check_author(author)
            self._author = author
        encoded = encode(record, max_bytes=self._max_bytes)
        pending = PendingEntry(encoded.kind, encoded.schema_version, author, self._stamp, encoded.payload)
        self.pending.append(pending)
        self.records.append(encoded.record)
        if self.after is None:
            return None
        version = self.after + len(self.pending)
        row = StoredEntry(0, self.board, version, pending.kind, pending.schema_version, author, self._stamp, "", "")
        entry = Entry.from_stored(row, encoded.record, self.recorded_at)
        self.entries.append(entry)
        return entry

    def __len__(self) -> int:
        return len(self.pending)
