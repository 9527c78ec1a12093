"""Log entries: the row a store keeps, the `Entry` users read, and the hash chain that seals them.

Each entry's hash is SHA-256 over a domain tag, the previous entry's hash and the entry's stored content,
every field length-prefixed so no two different entries encode alike. Because it covers the board name
and the version, an entry edited, moved to another position or copied to another board no longer verifies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from slateboard.blackboard.records import Record

__all__ = ("Entry", "Head", "PendingEntry", "StoredEntry", "GENESIS_HASH", "seal")

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


def _field(value: str) -> bytes:
    data = value.encode()
    return len(data).to_bytes(8, "big") + data


def seal(prev_hash: str, board: str, version: int, entry: PendingEntry | StoredEntry) -> str:
    """The chain hash of `entry` at `version` of `board`, following `prev_hash`."""
    digest = hashlib.sha256(_DOMAIN)
    digest.update(bytes.fromhex(prev_hash))
    digest.update(
        b"".join(
            (
                _field(board),
                _field(str(version)),
                _field(entry.kind),
                _field(str(entry.schema_version)),
                _field(entry.author),
                _field(entry.recorded_at),
                _field(entry.payload),
            )
        )
    )
    return digest.hexdigest()


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
    payload: Record
    hash: str

    @classmethod
    def from_stored(cls, row: StoredEntry, payload: Record) -> Entry:
        # Rows come from our own store, already checked: skip re-validation on this hot path.
        return cls.model_construct(
            board=row.board,
            version=row.version,
            seq=row.seq,
            kind=row.kind,
            schema_version=row.schema_version,
            author=row.author,
            recorded_at=datetime.fromisoformat(row.recorded_at),
            payload=payload,
            hash=row.hash,
        )
