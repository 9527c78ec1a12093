"""The SQLite store's schema: its tables declared with SQLModel, as they stand at the newest layout.

The DDL a file gets is the migration steps' (`sqlite_migrations.STEPS`, plain SQL, frozen once released); these
declarations describe the rows the store reads and writes, and a test checks that a migrated file has their
columns. The store writes rows through the driver connection directly.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.schema import UniqueConstraint
from sqlmodel import Field, SQLModel

from slateboard.blackboard.stores.sqlite_migrations import LAYOUT_VERSION, STEPS

__all__ = (
    "EntryRow",
    "MetaRow",
    "LedgerTable",
    "LockTable",
    "SnapshotTable",
    "LAYOUT_VERSION",
    "ENTRIES",
    "TABLES",
    "schema_statements",
)


class EntryRow(SQLModel, table=True):
    """One log entry. (board, version) is unique: the guard that makes a stale writer fail."""

    __tablename__: ClassVar[str] = "slateboard_entries"
    __table_args__ = (UniqueConstraint("board", "version", name="slateboard_entries_board_version"),)

    seq: int | None = Field(default=None, primary_key=True)
    board: str
    version: int
    kind: str
    schema_version: int
    author: str
    recorded_at: str
    payload: str
    hash: str


class MetaRow(SQLModel, table=True):
    """Facts about the file itself, such as the layout version that wrote it."""

    __tablename__: ClassVar[str] = "slateboard_meta"

    key: str = Field(primary_key=True)
    value: str


class LedgerTable(SQLModel, table=True):
    """One row per idempotency key."""

    __tablename__: ClassVar[str] = "slateboard_ledger"

    key: str = Field(primary_key=True)
    params_hash: str
    board: str
    target: str
    status: str
    attempts: int
    receipt: str
    error: str
    fence: int


class LockTable(SQLModel, table=True):
    """One lease per target record, with its fencing token."""

    __tablename__: ClassVar[str] = "slateboard_target_locks"

    target: str = Field(primary_key=True)
    holder: str
    token: int
    expires_at: float


class SnapshotTable(SQLModel, table=True):
    """A board's snapshot (blackboard.snapshots): the newest only, replaced by the next."""

    __tablename__: ClassVar[str] = "slateboard_snapshots"

    board: str = Field(primary_key=True)
    version: int
    hash: str
    format: int
    body: bytes
    seal: str


ENTRIES = EntryRow.__tablename__
TABLES = (EntryRow, MetaRow, LedgerTable, LockTable, SnapshotTable)


def schema_statements() -> list[str]:
    """The DDL of a fresh file at the newest layout: every migration step's statements, in order."""
    return [statement for step in STEPS for statement in step.sql()]
