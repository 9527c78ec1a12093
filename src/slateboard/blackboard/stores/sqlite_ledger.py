"""The ledger of the SQLite store and the tables of sinks inside it: tables in the store's own file, so a sink
inside the store commits in the same transaction as its ledger row.

`SQLiteLedger` runs its work through the store's `transact` (one write transaction) and `query` (a read);
`SQLiteTables` is the `TableTransaction` a sink inside the store writes through.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Collection
from dataclasses import astuple, replace
from typing import Any

from slateboard.blackboard.stores.ledger import (
    ROW_COLUMNS,
    LedgerRow,
    LedgerStatus,
    TargetLocked,
    check_columns,
    check_params,
    lock_is_free,
)
from slateboard.blackboard.stores.tables import Apply, TableRow, sink_table

__all__ = ("SQLiteLedger", "SQLiteTables")


class SQLiteTables:
    """The `TableTransaction` of a SQLite store: a thin wrapper over the connection in the ledger's transaction.

    Each sink table (`sink_<name>`) holds one row per target, its fields as JSON text.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._created: set[str] = set()  # per transaction: a rollback also undoes a CREATE TABLE

    def _table(self, table: str) -> str:
        name = sink_table(table)
        if name not in self._created:
            self._conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{name}" '
                "(target TEXT PRIMARY KEY, data TEXT NOT NULL, revision INTEGER NOT NULL, last_key TEXT NOT NULL)"
            )
            self._created.add(name)
        return name

    def read_row(self, table: str, target: str) -> TableRow | None:
        query = f'SELECT data, revision, last_key FROM "{self._table(table)}" WHERE target = ?'  # noqa: S608 - an identifier
        found = self._conn.execute(query, (target,)).fetchone()
        return TableRow(json.loads(found[0]), found[1], found[2]) if found else None

    def write_row(self, table: str, target: str, row: TableRow) -> None:
        self._conn.execute(
            f'INSERT OR REPLACE INTO "{self._table(table)}" (target, data, revision, last_key) VALUES (?, ?, ?, ?)',  # noqa: S608 - an identifier
            (target, json.dumps(row.data, sort_keys=True), row.revision, row.last_key),
        )

    @staticmethod
    def read_table(conn: sqlite3.Connection, table: str) -> dict[str, TableRow]:
        """Every row of `table` on `conn`, outside any write transaction (empty when it was never written)."""
        name = sink_table(table)
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone():
            return {}
        query = f'SELECT target, data, revision, last_key FROM "{name}" ORDER BY target'  # noqa: S608 - an identifier
        return {
            target: TableRow(json.loads(data), revision, key) for target, data, revision, key in conn.execute(query)
        }


_LEDGER_SELECT = f"SELECT {ROW_COLUMNS} FROM slateboard_ledger WHERE key = ?"  # noqa: S608
_LEDGER_INSERT = f"INSERT INTO slateboard_ledger ({ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608


class SQLiteLedger:
    """The ledger of a SQLite store: tables in the same file, so a table sink commits with its ledger row."""

    def __init__(self, transact: Callable[..., Any], query: Callable[..., Any] | None = None) -> None:
        self._transact = transact
        self._query = query or transact

    def _run(self, work: Callable[[sqlite3.Connection], Any], wait: bool) -> Any:
        return self._transact(work, wait=wait)

    def _read(self, work: Callable[[sqlite3.Connection], Any], wait: bool) -> Any:
        # A read needs no write lock: in WAL mode it sees the last committed state and blocks no writer.
        return self._query(work, wait=wait)

    @staticmethod
    def _select(conn: sqlite3.Connection, key: str) -> LedgerRow | None:
        found = conn.execute(_LEDGER_SELECT, (key,)).fetchone()
        return LedgerRow(*found) if found else None

    @staticmethod
    def _insert(conn: sqlite3.Connection, row: LedgerRow) -> None:
        conn.execute(_LEDGER_INSERT, astuple(row))  # the row's fields are ROW_COLUMNS, in order

    def get(self, key: str, *, wait: bool) -> LedgerRow | None:
        return self._read(lambda conn: self._select(conn, key), wait)  # type: ignore[no-any-return]

    def claim(self, row: LedgerRow, *, wait: bool) -> tuple[LedgerRow, bool]:
        def work(conn: sqlite3.Connection) -> tuple[LedgerRow, bool]:
            existing = self._select(conn, row.key)
            if existing is not None:
                check_params(existing, row)
                return existing, False
            self._insert(conn, row)
            return row, True

        return self._run(work, wait)  # type: ignore[no-any-return]

    def transition(self, key: str, expect: Collection[str], changes: dict[str, Any], *, wait: bool) -> LedgerRow | None:
        check_columns(changes)
        assignments = ", ".join(f"{name} = ?" for name in changes)
        marks = ", ".join("?" for _ in expect)
        statement = f"UPDATE slateboard_ledger SET {assignments} WHERE key = ? AND status IN ({marks})"  # noqa: S608

        def work(conn: sqlite3.Connection) -> LedgerRow | None:
            updated = conn.execute(statement, (*changes.values(), key, *expect)).rowcount
            return self._select(conn, key) if updated else None

        return self._run(work, wait)  # type: ignore[no-any-return]

    def apply_atomically(self, row: LedgerRow, apply: Apply, *, holder: str = "", wait: bool) -> tuple[LedgerRow, bool]:
        """Claim, apply and settle in one transaction: the change and its ledger row commit together or not at all.

        The target's lock is only read, not written: the transaction itself keeps other writers out, so an
        exactly-once commit is one transaction. Another live holder of the lock (not `holder`) refuses it.
        """

        def work(conn: sqlite3.Connection) -> tuple[LedgerRow, bool]:
            existing = self._select(conn, row.key)
            if existing is not None:
                check_params(existing, row)
                return existing, False
            lock = conn.execute(
                "SELECT holder, token, expires_at FROM slateboard_target_locks WHERE target = ?", (row.target,)
            ).fetchone()
            if lock is not None and not lock_is_free(holder, "", lock, time.time()):
                raise TargetLocked(row.target, str(lock[0]))
            applied = replace(row, status="applied", attempts=1, receipt=apply(SQLiteTables(conn)))
            self._insert(conn, applied)
            return applied, True

        return self._run(work, wait)  # type: ignore[no-any-return]

    def rows(self, status: LedgerStatus | None, *, wait: bool) -> list[LedgerRow]:
        query = f"SELECT {ROW_COLUMNS} FROM slateboard_ledger"  # noqa: S608
        where, args = (" WHERE status = ?", (status,)) if status else ("", ())
        return self._read(  # type: ignore[no-any-return]
            lambda conn: [LedgerRow(*r) for r in conn.execute(query + where + " ORDER BY key", args)], wait
        )

    def table_rows(self, table: str, *, wait: bool) -> dict[str, TableRow]:
        return self._read(lambda conn: SQLiteTables.read_table(conn, table), wait)  # type: ignore[no-any-return]

    def acquire(self, target: str, holder: str, lease: float, steal: str, *, wait: bool) -> tuple[int, str]:
        def work(conn: sqlite3.Connection) -> tuple[int, str]:
            now = time.time()
            found = conn.execute(
                "SELECT holder, token, expires_at FROM slateboard_target_locks WHERE target = ?", (target,)
            ).fetchone()
            if found is not None and not lock_is_free(holder, steal, found, now):
                return 0, str(found[0])
            token = (found[1] if found else 0) + 1
            conn.execute(
                "INSERT OR REPLACE INTO slateboard_target_locks (target, holder, token, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (target, holder, token, now + lease),
            )
            return token, holder

        return self._run(work, wait)  # type: ignore[no-any-return]

    def release(self, target: str, token: int, *, wait: bool) -> None:
        # The row stays with an expired lease, so the next holder's token is higher: tokens never go back.
        self._run(
            lambda conn: conn.execute(
                "UPDATE slateboard_target_locks SET expires_at = 0 WHERE target = ? AND token = ?", (target, token)
            ),
            wait,
        )
