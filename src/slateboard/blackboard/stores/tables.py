"""Tables for sinks inside the store's own database (`sinks.Table`): what a store's transaction offers them.

Such a sink writes through a `TableTransaction`, which the ledger's `apply_atomically` hands it: the rows it reads
and writes commit, or roll back, with the key's ledger row. Every store implements it over its own transaction
(the memory store over its dictionaries, the SQLite store as a thin wrapper over its connection), so a sink never
needs to know which store it is in. Outside a commit, `Ledger.table_rows` reads a table back.

A table is one row per target; each store keeps a sink's table apart from its own (SQLite: `sink_<name>`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import JsonValue

from slateboard.errors import CommitError

__all__ = ("TableRow", "TableTransaction", "Apply", "sink_table")


@dataclass(frozen=True)
class TableRow:
    """One row of a sink's table: the target's fields, how many changes made them, and the key of the last one."""

    data: dict[str, JsonValue]
    revision: int
    last_key: str


class TableTransaction(Protocol):
    """A store's open write transaction, as a sink inside the store sees it: rows of named tables, by target."""

    def read_row(self, table: str, target: str) -> TableRow | None:
        """The row of `target` in `table`, or None (also when the table was never written)."""
        ...

    def write_row(self, table: str, target: str, row: TableRow) -> None:
        """Insert or replace the row of `target` in `table`, creating the table on its first write."""
        ...


# What `apply_atomically` runs inside the transaction: write through it, return the receipt as JSON text.
Apply = Callable[[TableTransaction], str]


def sink_table(table: str) -> str:
    """The name a store keeps a sink's table under; refuses a name that is not an identifier (it reaches SQL)."""
    if not table.isidentifier():
        raise CommitError(f"a sink's table name must be an identifier, got {table!r}")
    return f"sink_{table}"
