"""The ledger of the PostgreSQL store and the tables of sinks inside it: tables in the store's own schema, so a sink
inside the store commits in the same transaction as its ledger row.

`PostgresLedger` runs its work through the store's `transact` (one transaction) and `query` (a read);
`PostgresTables` is the `TableTransaction` a sink inside the store writes through. Rows another transaction holds
are waited for (row locks), so a claim or a compare-and-set by two processes at once settles the same way as in
SQLite: one of them wins, the other sees its row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from dataclasses import astuple, replace
from typing import Any

from psycopg import Connection, sql

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

__all__ = ("PostgresLedger", "PostgresTables")

Conn = Connection[tuple[Any, ...]]


class PostgresTables:
    """The `TableTransaction` of a PostgreSQL store: a thin wrapper over the connection in the ledger's transaction.

    Each sink table (`sink_<name>`) holds one row per target, its fields as JSONB.
    """

    def __init__(self, conn: Conn) -> None:
        self._conn = conn
        self._created: set[str] = set()  # per transaction: a rollback also undoes a CREATE TABLE

    def _table(self, table: str) -> sql.Identifier:
        name = sink_table(table)
        if name not in self._created:
            self._conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (target TEXT PRIMARY KEY, data TEXT NOT NULL, "
                    "revision BIGINT NOT NULL, last_key TEXT NOT NULL)"
                ).format(sql.Identifier(name))
            )
            self._created.add(name)
        return sql.Identifier(name)

    def read_row(self, table: str, target: str) -> TableRow | None:
        query = sql.SQL("SELECT data, revision, last_key FROM {} WHERE target = %s FOR UPDATE")
        found = self._conn.execute(query.format(self._table(table)), (target,)).fetchone()
        return TableRow(json.loads(found[0]), found[1], found[2]) if found else None

    def write_row(self, table: str, target: str, row: TableRow) -> None:
        statement = sql.SQL(
            "INSERT INTO {} (target, data, revision, last_key) VALUES (%s, %s, %s, %s) ON CONFLICT (target) DO "
            "UPDATE SET data = EXCLUDED.data, revision = EXCLUDED.revision, last_key = EXCLUDED.last_key"
        )
        self._conn.execute(
            statement.format(self._table(table)),
            (target, json.dumps(row.data, sort_keys=True), row.revision, row.last_key),
        )

    @staticmethod
    def read_table(conn: Conn, table: str) -> dict[str, TableRow]:
        """Every row of `table` on `conn`, outside any write transaction (empty when it was never written)."""
        name = sink_table(table)
        exists = conn.execute("SELECT to_regclass(%s)", (f'"{name}"',)).fetchone()
        if exists is None or exists[0] is None:
            return {}
        query = sql.SQL("SELECT target, data, revision, last_key FROM {} ORDER BY target").format(sql.Identifier(name))
        return {
            target: TableRow(json.loads(data), revision, key) for target, data, revision, key in conn.execute(query)
        }


_LEDGER_SELECT = f"SELECT {ROW_COLUMNS} FROM slateboard_ledger WHERE key = %s"  # noqa: S608
_LEDGER_INSERT = (
    f"INSERT INTO slateboard_ledger ({ROW_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "  # noqa: S608
    "ON CONFLICT (key) DO NOTHING"
)
_LOCK_SELECT = "SELECT holder, token, expires_at FROM slateboard_target_locks WHERE target = %s"


class PostgresLedger:
    """The ledger of a PostgreSQL store: tables in the same schema, so a table sink commits with its ledger row."""

    def __init__(self, transact: Callable[..., Any], query: Callable[..., Any]) -> None:
        self._transact = transact
        self._query = query

    @staticmethod
    def _select(conn: Conn, key: str) -> LedgerRow | None:
        found = conn.execute(_LEDGER_SELECT, (key,)).fetchone()
        return LedgerRow(*found) if found else None

    @classmethod
    def _insert(cls, conn: Conn, row: LedgerRow) -> LedgerRow | None:
        """Insert `row`; None when it went in, else the row another transaction committed first under its key."""
        if conn.execute(_LEDGER_INSERT, astuple(row)).rowcount:
            return None
        return cls._select(conn, row.key)

    def get(self, key: str, *, wait: bool) -> LedgerRow | None:
        return self._query(lambda conn: self._select(conn, key), wait=wait)  # type: ignore[no-any-return]

    def claim(self, row: LedgerRow, *, wait: bool) -> tuple[LedgerRow, bool]:
        def work(conn: Conn) -> tuple[LedgerRow, bool]:
            existing = self._insert(conn, row)
            if existing is not None:
                check_params(existing, row)
                return existing, False
            return row, True

        return self._transact(work, wait=wait)  # type: ignore[no-any-return]

    def transition(self, key: str, expect: Collection[str], changes: dict[str, Any], *, wait: bool) -> LedgerRow | None:
        check_columns(changes)
        assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(name)) for name in changes)
        statement = sql.SQL("UPDATE slateboard_ledger SET {} WHERE key = %s AND status = ANY(%s) RETURNING {}").format(
            assignments, sql.SQL(ROW_COLUMNS)
        )

        def work(conn: Conn) -> LedgerRow | None:
            found = conn.execute(statement, (*changes.values(), key, list(expect))).fetchone()
            return LedgerRow(*found) if found else None

        return self._transact(work, wait=wait)  # type: ignore[no-any-return]

    def apply_atomically(self, row: LedgerRow, apply: Apply, *, holder: str = "", wait: bool) -> tuple[LedgerRow, bool]:
        """Claim, apply and settle in one transaction: the change and its ledger row commit together or not at all.

        The key's row is inserted first (as "pending"), so a concurrent attempt at the same key waits on it and
        then finds it; the target's lock row is read FOR SHARE, so it cannot change hands mid-commit. Another
        live holder of the lock (not `holder`) refuses the commit with nothing written.
        """

        def work(conn: Conn) -> tuple[LedgerRow, bool]:
            existing = self._insert(conn, replace(row, status="pending"))
            if existing is not None:
                check_params(existing, row)
                return existing, False
            lock = conn.execute(_LOCK_SELECT + " FOR SHARE", (row.target,)).fetchone()
            if lock is not None and not lock_is_free(holder, "", lock, time.time()):
                raise TargetLocked(row.target, str(lock[0]))
            applied = replace(row, status="applied", attempts=1, receipt=apply(PostgresTables(conn)))
            conn.execute(
                "UPDATE slateboard_ledger SET status = %s, attempts = %s, receipt = %s WHERE key = %s",
                (applied.status, applied.attempts, applied.receipt, applied.key),
            )
            return applied, True

        return self._transact(work, wait=wait)  # type: ignore[no-any-return]

    def rows(self, status: LedgerStatus | None, *, wait: bool) -> list[LedgerRow]:
        query = f"SELECT {ROW_COLUMNS} FROM slateboard_ledger"  # noqa: S608
        where, args = (" WHERE status = %s", (status,)) if status else ("", ())
        return self._query(  # type: ignore[no-any-return]
            lambda conn: [LedgerRow(*r) for r in conn.execute(query + where + " ORDER BY key", args)], wait=wait
        )

    def table_rows(self, table: str, *, wait: bool) -> dict[str, TableRow]:
        return self._query(lambda conn: PostgresTables.read_table(conn, table), wait=wait)  # type: ignore[no-any-return]

    def acquire(self, target: str, holder: str, lease: float, steal: str, *, wait: bool) -> tuple[int, str]:
        def work(conn: Conn) -> tuple[int, str]:
            # A first holder creates the row (token 0, expired); then every holder goes through its row lock.
            conn.execute(
                "INSERT INTO slateboard_target_locks (target, holder, token, expires_at) VALUES (%s, '', 0, 0) "
                "ON CONFLICT (target) DO NOTHING",
                (target,),
            )
            found = conn.execute(_LOCK_SELECT + " FOR UPDATE", (target,)).fetchone()
            now = time.time()
            current = None if found is None or found[1] == 0 else found
            if current is not None and not lock_is_free(holder, steal, current, now):
                return 0, str(current[0])
            token = (found[1] if found else 0) + 1
            conn.execute(
                "UPDATE slateboard_target_locks SET holder = %s, token = %s, expires_at = %s WHERE target = %s",
                (holder, token, now + lease, target),
            )
            return token, holder

        return self._transact(work, wait=wait)  # type: ignore[no-any-return]

    def release(self, target: str, token: int, *, wait: bool) -> None:
        # The row stays with an expired lease, so the next holder's token is higher: tokens never go back.
        self._transact(
            lambda conn: conn.execute(
                "UPDATE slateboard_target_locks SET expires_at = 0 WHERE target = %s AND token = %s", (target, token)
            ),
            wait=wait,
        )
