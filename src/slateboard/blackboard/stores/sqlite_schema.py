"""The SQLite store's schema: its tables declared with SQLModel, and the DDL generated from them.

The schema (tables, the unique (board, version) constraint that guards optimistic concurrency, and the
triggers that refuse UPDATE and DELETE on the log) is generated from these declarations; the store then writes
rows through the driver connection directly.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.schema import CreateIndex, CreateTable, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = ("EntryRow", "MetaRow", "LedgerTable", "LockTable", "LAYOUT_VERSION", "ENTRIES", "schema_statements")

LAYOUT_VERSION = 1


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


ENTRIES = EntryRow.__tablename__
_APPEND_ONLY = "slateboard: the entry log is append-only"


def schema_statements() -> list[str]:
    """The DDL for a fresh file, generated from the SQLModel tables, plus the append-only triggers."""
    dialect = sqlite_dialect.dialect()
    statements = []
    tables: tuple[Table, ...] = (
        EntryRow.__table__,  # type: ignore[attr-defined]
        MetaRow.__table__,  # type: ignore[attr-defined]
        LedgerTable.__table__,  # type: ignore[attr-defined]
        LockTable.__table__,  # type: ignore[attr-defined]
    )
    for table in tables:
        statements.append(str(CreateTable(table, if_not_exists=True).compile(dialect=dialect)))
        statements += [str(CreateIndex(i, if_not_exists=True).compile(dialect=dialect)) for i in table.indexes]
    for event in ("UPDATE", "DELETE"):
        statements.append(
            f"CREATE TRIGGER IF NOT EXISTS {ENTRIES}_no_{event.lower()} BEFORE {event} ON {ENTRIES} "
            f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
        )
    return statements
