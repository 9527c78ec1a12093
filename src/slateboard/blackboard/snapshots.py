"""Snapshots: a board's decoded index (and what a layer above adds, e.g. the controller's state), persisted beside
the log so that a cold open reads the snapshot and only the entries after it.

A snapshot is a cache, never a source of truth. It records the version it covers and the chain hash of that
entry, and a seal (SHA-256 over the board, the version, that hash, the format and the body). A board takes it only
when the seal matches and the log's own entry at that version carries the same hash, so a snapshot of another
board, of a log that was rewritten, or of a tail since truncated is refused and the log is read instead. `verify`
goes further and compares every entry of the snapshot with the log (`check`).

The body is pickled, and read back by an unpickler that only builds what a board holds: classes of slateboard's
own modules, the registered finding kinds and other pydantic models, a few value types; it imports nothing
(a class of a module not loaded is refused) and calls no function, so a forged body cannot run code.

Stores keep snapshots through `SnapshotShelf` (one per board, the newest replacing the older); a store without
one (a third party's) simply has no snapshots, and boards read their whole log as before.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import hashlib
import io
import pickle
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, is_dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from slateboard.blackboard.entries import Entry, encode_field
from slateboard.blackboard.records import encode_record

__all__ = (
    "FORMAT",
    "SnapshotRow",
    "SnapshotShelf",
    "HasSnapshots",
    "Loaded",
    "SnapshotCheck",
    "Rejected",
    "Restored",
    "shelf_of",
    "seal_snapshot",
    "make_row",
    "load",
    "check_entries",
    "allow_in_snapshots",
)

FORMAT = 1
"""The body's format: a pickle of (entries, extra) read by `_Unpickler`. A row of another format is ignored."""
_DOMAIN = b"slateboard/snapshot/v1\x00"
_EXTRA: set[type] = set()
_VALUES: frozenset[type] = frozenset(
    {datetime.datetime, datetime.date, datetime.time, datetime.timedelta, datetime.timezone, decimal.Decimal, uuid.UUID}
)


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """A snapshot as a store keeps it: the board, the version and chain hash it covers, its format, body and seal."""

    board: str
    version: int
    hash: str
    format: int
    body: bytes
    seal: str


@runtime_checkable
class SnapshotShelf(Protocol):
    """Where a store keeps its boards' snapshots: the newest per board."""

    def get(self, board: str, *, wait: bool) -> SnapshotRow | None:
        """The board's snapshot, or None."""
        ...

    def put(self, row: SnapshotRow, *, wait: bool) -> None:
        """Keep `row` as the board's snapshot, unless the one kept covers a later version."""
        ...


@runtime_checkable
class HasSnapshots(Protocol):
    """A store that keeps snapshots (slateboard's own do)."""

    @property
    def snapshots(self) -> SnapshotShelf: ...


def shelf_of(store: object) -> SnapshotShelf | None:
    """The store's snapshot shelf, or None for a store that keeps none."""
    return store.snapshots if isinstance(store, HasSnapshots) else None


def seal_snapshot(board: str, version: int, head_hash: str, body_format: int, body: bytes) -> str:
    """The seal over a snapshot's fields: any change to one of them (or a row moved to another board) breaks it."""
    parts = (
        _DOMAIN,
        encode_field(board),
        encode_field(str(version)),
        bytes.fromhex(head_hash),
        encode_field(str(body_format)),
        hashlib.sha256(body).digest(),
    )
    return hashlib.sha256(b"".join(parts)).hexdigest()


def make_row(board: str, entries: Sequence[Entry], extra: object) -> SnapshotRow:
    """A snapshot of `entries` (versions 1..k of `board`, in order) with `extra` beside them."""
    if not entries:
        raise ValueError("a snapshot covers at least one entry")
    version, head_hash = entries[-1].version, entries[-1].hash
    body = pickle.dumps((list(entries), extra), protocol=5)
    return SnapshotRow(board, version, head_hash, FORMAT, body, seal_snapshot(board, version, head_hash, FORMAT, body))


class SnapshotCheck(BaseModel):
    """What `Board.verify_snapshot` found: the version the snapshot covers (None: no snapshot), whether it
    matches the log, and what did not."""

    model_config = ConfigDict(frozen=True)

    board: str
    version: int | None
    valid: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Loaded:
    """A snapshot that passed the checks: its entries (1..version) and what was stored beside them."""

    version: int
    entries: list[Entry]
    extra: object


@dataclass(frozen=True, slots=True)
class Restored:
    """What a cold board took from its snapshot: the version it covers (0: none) and what was kept beside it."""

    version: int
    extra: object


@dataclass(frozen=True, slots=True)
class Rejected:
    """A snapshot that was refused, and why (the log is read instead)."""

    version: int
    reason: str


def load(row: SnapshotRow, anchor_hash: str | None) -> Loaded | Rejected:
    """Check `row` (its seal, and `anchor_hash`: the log's own hash at the row's version, None when the log is
    shorter) and unpickle it; a `Rejected` says what did not match."""
    reason = _refusal(row, anchor_hash)
    if reason is not None:
        return Rejected(row.version, reason)
    try:
        entries, extra = _Unpickler(io.BytesIO(row.body)).load()
    except Exception as exc:  # a forged or damaged body: any failure to read it is a refusal, never a crash
        return Rejected(row.version, f"the body cannot be read: {exc}")
    reason = _misfit(row, entries)
    return Rejected(row.version, reason) if reason is not None else Loaded(row.version, entries, extra)


def _refusal(row: SnapshotRow, anchor_hash: str | None) -> str | None:
    if row.format != FORMAT:
        return f"format {row.format} is not this release's ({FORMAT})"
    if seal_snapshot(row.board, row.version, row.hash, row.format, row.body) != row.seal:
        return "the seal does not match its contents (edited or corrupted)"
    if anchor_hash is None:
        return f"the log has no version {row.version} (truncated, or another store's snapshot)"
    if anchor_hash != row.hash:
        return f"the log's hash at version {row.version} differs (the log was rewritten)"
    return None


def _misfit(row: SnapshotRow, entries: object) -> str | None:
    if not isinstance(entries, list) or len(entries) != row.version:
        return f"it holds {len(entries) if isinstance(entries, list) else 0} entries, not {row.version}"
    for expected, entry in enumerate(entries, 1):
        if not isinstance(entry, Entry) or entry.version != expected or entry.board != row.board:
            return f"entry {expected} is not version {expected} of board {row.board!r}"
    if entries[-1].hash != row.hash:
        return "its last entry's hash is not the hash it records"
    return None


def check_entries(loaded: Loaded, rows: Sequence[Any]) -> str | None:
    """Compare every entry of a loaded snapshot with the log's stored rows (1..version): None, or what differs."""
    for entry, row in zip(loaded.entries, rows, strict=False):
        where = f"entry {entry.version}"
        if (entry.hash, entry.kind, entry.author, entry.schema_version) != (
            row.hash,
            row.kind,
            row.author,
            row.schema_version,
        ):
            return f"{where} differs from the log"
        if entry.recorded_at != datetime.datetime.fromisoformat(row.recorded_at):
            return f"{where}'s time differs from the log"
        if encode_record(entry.payload)[2] != row.payload:
            return f"{where}'s finding differs from the log"
    if len(rows) != loaded.version:
        return f"the log holds {len(rows)} of the snapshot's {loaded.version} entries"
    return None


class _Unpickler(pickle.Unpickler):
    """Builds only what a board's index and state hold: no import, no function call."""

    def find_class(self, module: str, name: str) -> Any:
        found: Any = sys.modules.get(module)
        for part in name.split("."):
            found = getattr(found, part, None)
        if not isinstance(found, type) or not _allowed(found):
            raise pickle.UnpicklingError(f"{module}.{name} is not a type a snapshot may hold")
        return found


def allow_in_snapshots(*classes: type) -> None:
    """Let snapshot bodies hold instances of `classes` (plain-data classes of a layer above, e.g. the controller's
    state): their `__init__` may be called with the body's arguments, so only classes whose `__init__` merely
    stores what it is given belong here."""
    _EXTRA.update(classes)


def _allowed(cls: type) -> bool:
    if cls in _VALUES or cls in _EXTRA or issubclass(cls, (BaseModel, enum.Enum)):
        return True
    module = cls.__module__ or ""
    return (module == "slateboard" or module.startswith("slateboard.")) and is_dataclass(cls)
