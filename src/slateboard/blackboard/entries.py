"""Log entries: the row a store keeps, the `Entry` users read, and the hash chain that seals them.

Each entry's hash is SHA-256 over a domain tag, the previous entry's hash and the entry's stored content,
every field length-prefixed so no two different entries encode alike. Because it covers the board name
and the version, an entry edited, moved to another position or copied to another board no longer verifies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from pydantic import BaseModel, ConfigDict, SerializeAsAny

from slateboard.blackboard.records import Record
from slateboard.blackboard.roundtrip import assemble

__all__ = (
    "Entry", "Head", "PendingEntry", "StoredEntry", "GENESIS_HASH", "row_problem", "seal", "sealed", "seal_run",
    "header", "encode_field",
)  # fmt: skip

GENESIS_HASH = "0" * 64
_DOMAIN = b"slateboard/entry/v1\x00"


# Both row types are made once or twice per entry written: their `__init__` sets the slots through the slots' own
# descriptors, at half the cost of the frozen dataclass's generated one (which goes through `object.__setattr__`).


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An entry ready to append, before the store gives it a version and a hash."""

    kind: str
    schema_version: int
    author: str
    recorded_at: str
    payload: str

    def __init__(self, kind: str, schema_version: int, author: str, recorded_at: str, payload: str) -> None:
        _pending[0](self, kind)
        _pending[1](self, schema_version)
        _pending[2](self, author)
        _pending[3](self, recorded_at)
        _pending[4](self, payload)


@dataclass(frozen=True, slots=True)
class StoredEntry:
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

    def __init__(  # noqa: PLR0917 - a row's nine columns, in their order
        self,
        seq: int,
        board: str,
        version: int,
        kind: str,
        schema_version: int,
        author: str,
        recorded_at: str,
        payload: str,
        hash: str,
    ) -> None:
        _stored[0](self, seq)
        _stored[1](self, board)
        _stored[2](self, version)
        _stored[3](self, kind)
        _stored[4](self, schema_version)
        _stored[5](self, author)
        _stored[6](self, recorded_at)
        _stored[7](self, payload)
        _stored[8](self, hash)


def _setters(cls: type) -> tuple[Callable[[object, object], None], ...]:
    return tuple(cls.__dict__[field.name].__set__ for field in fields(cls))


_pending = _setters(PendingEntry)
_stored = _setters(StoredEntry)


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
    of each in turn, for the write path (each distinct field encoded once, the previous digest kept as bytes)."""
    board_field = encode_field(board)
    prev = bytes.fromhex(prev_hash)
    digests = []
    sha256, join, heads, sizes = hashlib.sha256, b"".join, _heads, _SIZES
    stamp, stamp_field = None, b""
    for entry in entries:
        version += 1
        # A batch shares its author and time, usually its kind; a board, its few kinds and authors.
        head = heads.get((entry.kind, entry.schema_version, entry.author)) or _head(entry)
        if entry.recorded_at is not stamp:
            stamp = entry.recorded_at
            stamp_field = encode_field(stamp)
        number = b"%d" % version
        payload = entry.payload.encode()
        prev = sha256(join((_DOMAIN, prev, board_field, sizes[len(number)], number, head, stamp_field,
                            len(payload).to_bytes(8, "big"), payload))).digest()  # fmt: skip
        digests.append(prev.hex())
    return digests


_SIZES = tuple(size.to_bytes(8, "big") for size in range(32))  # the length prefix of a version's digits
# The encoded (kind, schema version, author) of entries sealed lately; bounded, cleared when full.
_heads: dict[tuple[str, int, str], bytes] = {}
_HEADS = 1024


def _head(entry: PendingEntry) -> bytes:
    if len(_heads) >= _HEADS:
        _heads.clear()
    key = (entry.kind, entry.schema_version, entry.author)
    head = _heads[key] = b"".join(map(encode_field, (entry.kind, str(entry.schema_version), entry.author)))
    return head


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

        This is pydantic's `model_construct` without its per-field bookkeeping: it is on the write path
        of every finding, where `model_construct` alone cost more than the SQLite insert.
        """
        values = {
            "board": row.board,
            "version": row.version,
            "seq": row.seq,
            "kind": row.kind,
            "schema_version": row.schema_version,
            "author": row.author,
            "recorded_at": recorded_at or datetime.fromisoformat(row.recorded_at),
            "payload": payload,
            "hash": row.hash,
        }
        return assemble(cls, values, _ENTRY_FIELDS)


_ENTRY_FIELDS = frozenset(Entry.model_fields)
