"""Log entries: the row a store keeps, the `Entry` users read, and the hash chain that seals them.

Each entry's hash is SHA-256 over a domain tag, the previous entry's hash and the entry's stored content,
every field length-prefixed so no two different entries encode alike. Because it covers the board name
and the version, an entry edited, moved to another position or copied to another board no longer verifies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, SerializeAsAny

from slateboard.blackboard.records import Record

__all__ = (
    "Entry", "Head", "PendingEntry", "StoredEntry", "GENESIS_HASH", "row_problem", "seal", "sealed", "header",
    "encode_field",
)  # fmt: skip

GENESIS_HASH = "0" * 64
_DOMAIN = b"slateboard/entry/v1\x00"


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An entry ready to append, before the store gives it a version and a hash."""

    kind: str
    schema_version: int
    author: str
    recorded_at: str
    payload: str


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
        entry = cls.__new__(cls)
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
        object.__setattr__(entry, "__dict__", values)
        object.__setattr__(entry, "__pydantic_fields_set__", _ENTRY_FIELDS)
        object.__setattr__(entry, "__pydantic_extra__", None)
        object.__setattr__(entry, "__pydantic_private__", None)
        return entry


_ENTRY_FIELDS = frozenset(Entry.model_fields)
