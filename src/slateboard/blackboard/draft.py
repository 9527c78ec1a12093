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

from pydantic_core import PydanticSerializationError

from slateboard.blackboard.entries import Entry, PendingEntry, make_stored
from slateboard.blackboard.records import RECENT, Record, codec_of, stored_form
from slateboard.blackboard.roundtrip import clone
from slateboard.errors import InvalidFindingError

__all__ = ("Draft", "check_author", "known_author", "MAX_NAME")

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
_UNCHECKED: object = object()  # no author is this one
_good_authors: set[str] = set()
_GOOD_AUTHORS = 1024


def known_author(author: object) -> None:
    """`check_author`, skipped for an author that passed it lately (a few authors write most entries)."""
    if type(author) is not str or author not in _good_authors:
        check_author(author)
        if len(_good_authors) >= _GOOD_AUTHORS:
            _good_authors.clear()
        _good_authors.add(author)  # type: ignore[arg-type]  # checked: a str


class Draft:
    """Records (each with its author) ready to append to `board` after version `after`, all at `recorded_at`.

    `entries` are the entries the append will give them, but for `seq` (0) and `hash` (""), which only the store
    knows: enough for the controller's state, which reads neither. With `after` None (a write without an expected
    version) their versions are not known either, and `entries` stays empty.
    """

    __slots__ = ("_max_bytes", "_stamp", "after", "board", "entries", "pending", "recorded_at", "records")

    def __init__(
        self,
        board: str,
        after: int | None,
        recorded_at: datetime,
        *,
        max_bytes: int,
        authored: Iterable[tuple[Record, str]] = (),
        stamp: str | None = None,
    ) -> None:
        """`stamp`: `recorded_at` as stored (its `isoformat()`), when the caller has it already."""
        self.board = board
        self.after = after
        self.recorded_at = recorded_at
        self.pending: list[PendingEntry] = []
        self.records: list[Record] = []
        self.entries: list[Entry] = []
        self._stamp = recorded_at.isoformat() if stamp is None else stamp
        self._max_bytes = max_bytes
        self.extend(authored)

    def add(self, record: Record, author: str) -> Entry | None:
        """Encode and check one more record; its provisional entry (None when `after` is None)."""
        self.extend(((record, author),))
        return self.entries[-1] if self.after is not None else None

    def extend(self, authored: Iterable[tuple[Record, str]]) -> None:
        """Encode and check more records (a batch's hot loop: one pass, each class's codec looked up once a run)."""
        pending, records = self.pending, self.records
        stamp, max_bytes, after = self._stamp, self._max_bytes, self.after
        last_author, new_pending, recent = _UNCHECKED, tuple.__new__, RECENT
        last_type: type | None = None
        plan = to_json = None
        kind, schema_version = "", 0
        for record, author in authored:
            if author is not last_author:  # a batch is mostly one author's
                known_author(author)
                last_author = author
            if type(record) is not last_type:
                codec = codec_of(record)
                last_type, kind, schema_version, to_json, plan = (
                    type(record),
                    codec.kind,
                    codec.version,
                    codec.to_json,
                    codec.plan,
                )
            # `stored_form` inline for a record whose JSON loads back exactly; anything else (a record encoded
            # moments ago, or one that fails, is too big or was not validated) takes it, with its errors.
            decoded: Record | None = None
            if plan is not None and id(record) not in recent:
                try:
                    data = to_json(record)  # type: ignore[misc]  # set with `plan`
                except PydanticSerializationError:
                    data = None
                if data is not None and len(data) <= max_bytes:
                    decoded = clone(record, plan)  # type: ignore[assignment]  # a `Record`'s clone is one
            if decoded is None:
                kind_of, version_of, payload, decoded, _ = stored_form(record, max_bytes)
                pending.append(new_pending(PendingEntry, (kind_of, version_of, author, stamp, payload)))
            else:
                payload = data.decode()  # type: ignore[union-attr]  # set with `decoded`
                pending.append(new_pending(PendingEntry, (kind, schema_version, author, stamp, payload)))
            records.append(decoded)
            if after is not None:
                self._provisional(decoded)

    def _provisional(self, record: Record) -> None:
        version = self.after + len(self.pending)  # type: ignore[operator]  # called only with `after` known
        kind, schema_version, author, stamp, _ = self.pending[-1]
        row = make_stored((0, self.board, version, kind, schema_version, author, stamp, "", ""))
        self.entries.append(Entry.from_stored(row, record, self.recorded_at))

    def __len__(self) -> int:
        return len(self.pending)
