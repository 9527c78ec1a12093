"""Snapshots: a board's entries and index as columns (blackboard.columns), and what a layer above adds (the
controller's state), persisted beside the log so that a cold open reads the snapshot and only the entries after it.

A snapshot is a cache, never a source of truth. It records the version it covers and the chain hash of that
entry, and a seal (SHA-256 over the board, the version, that hash, the format and the body). A board takes it only
when the seal matches and the log's own entry at that version carries the same hash, so a snapshot of another
board, of a log that was rewritten, or of a tail since truncated is refused and the log is read instead; so is a
body whose columns have the wrong shape. A restored board decodes each entry from the columns when first read: one
that cannot be decoded, or whose subject is not the one the snapshot's index files it under, raises
`TamperedLogError` then. `verify_snapshot` goes further and compares every entry of the snapshot with the log, and
the snapshot's index with its entries (`check_entries`).

The body is pickled: the columns as plain data (bytes, strings, tuples, dicts), and the layer above's part. It is
read back by an unpickler that only builds what a board holds: classes of slateboard's own modules, the
registered finding kinds and other pydantic models, a few value types; it imports nothing (a class of a module not
loaded is refused) and calls no function, so a forged body cannot run code.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, is_dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from slateboard.blackboard.columns import ColumnsError, EntryColumns
from slateboard.blackboard.entries import StoredEntry, encode_field

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

FORMAT = 2
"""The body's format: a pickle of (packed columns, extra) read by `_Unpickler`. A row of another format (1 held
decoded `Entry` objects) is ignored: the log is read instead, and the next load keeps a snapshot of this one."""
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


def make_row(columns: EntryColumns, extra: object) -> SnapshotRow:
    """A snapshot of `columns` (entries 1..k of their board) with `extra` beside them."""
    board, version = columns.board, columns.count
    if not version:
        raise ValueError("a snapshot covers at least one entry")
    head_hash = columns.hash(version)
    body = pickle.dumps((columns.pack(), extra), protocol=5)
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
    """A snapshot that passed the checks: its entries (1..version) as columns and what was stored beside them."""

    version: int
    columns: EntryColumns
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
        packed, extra = _Unpickler(io.BytesIO(row.body)).load()
    except Exception as exc:  # a forged or damaged body: any failure to read it is a refusal, never a crash
        return Rejected(row.version, f"the body cannot be read: {exc}")
    try:
        columns = EntryColumns.unpack(row.board, packed)
    except ColumnsError as exc:
        return Rejected(row.version, f"the body's columns are damaged: {exc}")
    if columns.count != row.version:
        return Rejected(row.version, f"it holds {columns.count} entries, not {row.version}")
    if columns.hash(row.version) != row.hash:
        return Rejected(row.version, "its last entry's hash is not the hash it records")
    return Loaded(row.version, columns, extra)


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


def check_entries(
    loaded: Loaded, rows: Sequence[StoredEntry], subject_of: Callable[[StoredEntry], str | None]
) -> str | None:
    """Compare every entry of a loaded snapshot with the log's stored rows (1..version), the subject each is filed
    under with `subject_of(row)` (the subject a reader decodes), and the snapshot's index with its entries: None,
    or what differs."""
    columns = loaded.columns
    for version, row in enumerate(rows[: loaded.version], 1):
        try:
            ours = columns.row(version)
        except ColumnsError as exc:
            return f"entry {version} cannot be read: {exc}"
        if ours != row:
            return f"entry {version} differs from the log"
        if columns.subject(version) != subject_of(row):
            return f"entry {version}'s subject differs from the log's"
    if len(rows) != loaded.version:
        return f"the log holds {len(rows)} of the snapshot's {loaded.version} entries"
    return columns.misfit_index()


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
