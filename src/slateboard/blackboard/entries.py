"""Log entries: the row a store keeps, the `Entry` users read, and the hash chain that seals them.

Each entry's hash is SHA-256 over a domain tag, the previous entry's hash and the entry's stored content,
every field length-prefixed so no two different entries encode alike. Because it covers the board name
and the version, an entry edited, moved to another position or copied to another board no longer verifies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, SerializeAsAny

from slateboard.blackboard.records import Record
from slateboard.blackboard.roundtrip import assemble_parts

__all__ = (
    "Entry", "Head", "PendingEntry", "StoredEntry", "GENESIS_HASH", "row_problem", "seal", "sealed", "seal_run",
    "header", "encode_field", "make_pending", "make_stored", "seal_rows", "entries_of",
)  # fmt: skip

GENESIS_HASH = "0" * 64
_DOMAIN = b"slateboard/entry/v1\x00"


# Both row types are named tuples: a store's row is a tuple already (a driver's result row, an `executemany`
# parameter row), and the write path makes one of each per entry, where a frozen dataclass's `__init__` cost more
# than the SHA-256 of the entry. `make_pending` and `make_stored` build them from a tuple without the named
# tuple's Python-level `__new__`.


class PendingEntry(NamedTuple):
    """An entry ready to append, before the store gives it a version and a hash."""

    kind: str
    schema_version: int
    author: str
    recorded_at: str
    payload: str


class StoredEntry(NamedTuple):
    """An entry as a store keeps it: every field in the exact form that was hashed."""

    seq: int
    board: str
    version: int
    kind: str
    schema_version: int
    author: str
    recorded_at: str
    payload: str
    hash: str


_tuple_new = tuple.__new__


def make_pending(fields: tuple[str, int, str, str, str]) -> PendingEntry:
    """A `PendingEntry` of (kind, schema version, author, recorded_at, payload)."""
    return _tuple_new(PendingEntry, fields)


def make_stored(fields: tuple[int, str, int, str, int, str, str, str, str]) -> StoredEntry:
    """A `StoredEntry` of its nine columns in order (a driver's row, with the seq first)."""
    return _tuple_new(StoredEntry, fields)


_ROW_TYPES = (("version", int), ("kind", str), ("schema_version", int), ("author", str), ("recorded_at", str),
              ("payload", str), ("hash", str))  # fmt: skip


def row_problem(row: StoredEntry) -> str | None:
    """What is wrong with the types of a stored row's columns, or None: a column of another type than the store
    writes (a version stored as text, a payload as a blob) can only come from an edit outside slateboard."""
    for column, expected in _ROW_TYPES:
        value = getattr(row, column)
        if isinstance(value, bool) or not isinstance(value, expected):
            return f"column {column} holds a {type(value).__name__}, not the {expected.__name__} slateboard writes"
    return None


def encode_field(value: str) -> bytes:
    data = value.encode()
    return len(data).to_bytes(8, "big") + data


def header(entry: PendingEntry | StoredEntry) -> bytes:
    """The encoded fields an entry shares with the rest of its batch (kind, schema version, author, time)."""
    return b"".join(map(encode_field, (entry.kind, str(entry.schema_version), entry.author, entry.recorded_at)))


def sealed(prev_hash: str, board: bytes, version: int, head: bytes, payload: str) -> str:
    """`seal` with the board and header already encoded, for the write path's batches."""
    parts = (_DOMAIN, bytes.fromhex(prev_hash), board, encode_field(str(version)), head, encode_field(payload))
    return hashlib.sha256(b"".join(parts)).hexdigest()


def seal(prev_hash: str, board: str, version: int, entry: PendingEntry | StoredEntry) -> str:
    """The chain hash of `entry` at `version` of `board`, following `prev_hash`."""
    return sealed(prev_hash, encode_field(board), version, header(entry), entry.payload)


def seal_run(prev_hash: str, board: str, version: int, entries: Sequence[PendingEntry]) -> list[str]:
    """The chain hashes of `entries` at the versions after `version` of `board`, following `prev_hash`: `seal`
    of each in turn (for a store that builds its rows itself; `seal_rows` builds them as it hashes)."""
    return [row[8] for row in seal_rows(prev_hash, board, version, 0, entries)]


def seal_rows(
    prev_hash: str, board: str, version: int, first_seq: int, entries: Sequence[PendingEntry]
) -> list[tuple[int, str, int, str, int, str, str, str, str]]:
    """The stored rows of `entries` appended after `version` of `board` (whose head hash is `prev_hash`), the
    first with seq `first_seq + 1`: `StoredEntry`'s nine columns as plain tuples, each sealed as `seal` seals it.

    The write path's one loop over a batch: each distinct field is encoded once, the previous digest is kept as
    bytes, and a row is made as its hash is (plain tuples: what `executemany` binds fastest; `make_stored`, or
    `tuple.__new__(StoredEntry, row)`, gives the named row).
    """
    board_field = _board_fields.get(board) or _board_field(board)
    prev = bytes.fromhex(prev_hash)
    rows: list[tuple[int, str, int, str, int, str, str, str, str]] = []
    sha256, join, heads, sizes, append = hashlib.sha256, b"".join, _heads, _SIZES, rows.append
    seq = first_seq - version  # seq and version grow together within an append
    stamp: str | None = None
    stamp_field = head = b""
    last_kind = last_author = None
    last_schema = 0
    for kind, schema_version, author, recorded_at, payload in entries:
        version += 1
        # A batch shares its author and time, usually its kind; a board, its few kinds and authors.
        if kind is not last_kind or author is not last_author or schema_version != last_schema:
            last_kind, last_author, last_schema = kind, author, schema_version
            head = heads.get((kind, schema_version, author)) or _head(kind, schema_version, author)
        if recorded_at is not stamp:
            stamp = recorded_at
            stamp_field = encode_field(recorded_at)
        number = b"%d" % version
        data = payload.encode()
        prev = sha256(join((_DOMAIN, prev, board_field, sizes[len(number)], number, head, stamp_field,
                            len(data).to_bytes(8, "big"), data))).digest()  # fmt: skip
        append((seq + version, board, version, kind, schema_version, author, recorded_at, payload, prev.hex()))
    return rows


_SIZES = tuple(size.to_bytes(8, "big") for size in range(32))  # the length prefix of a version's digits
# The encoded (kind, schema version, author) of entries sealed lately, and boards' encoded names; bounded, cleared
# when full.
_heads: dict[tuple[str, int, str], bytes] = {}
_board_fields: dict[str, bytes] = {}
_HEADS = 1024


def _head(kind: str, schema_version: int, author: str) -> bytes:
    if len(_heads) >= _HEADS:
        _heads.clear()
    head = _heads[kind, schema_version, author] = b"".join(map(encode_field, (kind, str(schema_version), author)))
    return head


def _board_field(board: str) -> bytes:
    if len(_board_fields) >= _HEADS:
        _board_fields.clear()
    field = _board_fields[board] = encode_field(board)
    return field


class Head(BaseModel):
    """A board's latest version and its chain hash. Exported and kept elsewhere, it also catches truncation."""

    model_config = ConfigDict(frozen=True)

    board: str
    version: int
    hash: str


class Entry(BaseModel):
    """One entry of a board's append-only log.

    `version` counts 1, 2, 3 ... per board without gaps; `seq` orders entries across all boards of a store;
    `payload` is the typed record (a `Finding` for findings); `hash` seals it to every entry before it.
    """

    model_config = ConfigDict(frozen=True)

    board: str
    version: int
    seq: int
    kind: str
    schema_version: int
    author: str
    recorded_at: datetime
    payload: SerializeAsAny[Record]  # dump the finding with its own fields, not as a bare Record
    hash: str

    @classmethod
    def from_stored(cls, row: StoredEntry, payload: Record, recorded_at: datetime | None = None) -> Entry:
        """An entry for a row of our own store, which was checked when written.

        This is pydantic's `model_construct` without its per-field bookkeeping (`roundtrip.assemble`, inline): it
        is on the write path of every finding, where `model_construct` alone cost more than the SQLite insert.
        """
        seq, board, version, kind, schema_version, author, stamp, _, digest = row
        entry: Entry = _new(cls)
        _set_dict(entry, {
            "board": board,
            "version": version,
            "seq": seq,
            "kind": kind,
            "schema_version": schema_version,
            "author": author,
            "recorded_at": recorded_at or datetime.fromisoformat(stamp),
            "payload": payload,
            "hash": digest,
        })  # fmt: skip
        _set_fields_set(entry, set(_ENTRY_FIELDS))  # a set of its own, as validation gives: `model_copy` adds to it
        _set_extra(entry, None)
        _set_private(entry, None)
        return entry


def entries_of(rows: Sequence[StoredEntry], records: Sequence[Record], recorded_at: datetime) -> tuple[Entry, ...]:
    """`Entry.from_stored` of each of an append's rows with its record, all recorded at `recorded_at`: the write
    path's one loop (a call per entry, and the lookups of the slots' setters, cost a third of an entry)."""
    entries: list[Entry] = []
    append, new, cls, set_dict, set_fields, set_extra, set_private = (
        entries.append,
        _new,
        Entry,
        _set_dict,
        _set_fields_set,
        _set_extra,
        _set_private,
    )
    names = _ENTRY_FIELDS
    for (seq, board, version, kind, schema_version, author, _, _, digest), payload in zip(rows, records, strict=True):
        entry = new(cls)
        set_dict(entry, {
            "board": board,
            "version": version,
            "seq": seq,
            "kind": kind,
            "schema_version": schema_version,
            "author": author,
            "recorded_at": recorded_at,
            "payload": payload,
            "hash": digest,
        })  # fmt: skip
        set_fields(entry, set(names))
        set_extra(entry, None)
        set_private(entry, None)
        append(entry)
    return tuple(entries)


_ENTRY_FIELDS = frozenset(Entry.model_fields)
_new, _set_dict, _set_fields_set, _set_extra, _set_private = assemble_parts
