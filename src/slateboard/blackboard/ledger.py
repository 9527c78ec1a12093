"""The idempotency ledger and target locks, kept by each store beside the entry log.

The ledger holds one row per idempotency key: a hash of the proposal's parameters (the same key with other
parameters is refused), a status, the fencing token of the lock it was claimed under, and the sink's receipt.
A key is marked "pending" just before a sink is called and settled just after, so a crash in between leaves
a "pending" row that the next attempt treats as in doubt instead of applying again. A sink inside the store's
own database applies and settles in one transaction: exactly once.

Every status change is a compare-and-set (`transition`): two workers can never both move a key from
"failed" back to "pending", so they can never both call the sink for it.

Target locks are leases with fencing tokens: two boards cannot commit to one record at once, and a holder that
died loses the lock when its lease runs out, to a successor whose token is higher.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from slateboard.errors import CommitError

__all__ = (
    "LedgerRow",
    "LedgerStatus",
    "Ledger",
    "MemoryLedger",
    "MemoryTables",
    "SQLiteLedger",
    "TargetLocked",
)

LedgerStatus = Literal["pending", "applied", "failed", "dead", "in_doubt", "compensated"]
# A transaction handle for sinks inside the store: a sqlite3 connection, or the memory store's tables.
Apply = Callable[[Any], str]


@dataclass(frozen=True)
class LedgerRow:
    """The ledger's record of one idempotency key. `receipt` is the sink's answer as JSON text."""

    key: str
    params_hash: str
    board: str
    target: str
    status: LedgerStatus
    attempts: int = 0
    receipt: str = "null"
    error: str = ""
    fence: int = 0


_ROW_COLUMNS = "key, params_hash, board, target, status, attempts, receipt, error, fence"
_COLUMN_NAMES = frozenset(_ROW_COLUMNS.split(", "))


class Ledger(Protocol):
    """What the commit layer needs from a store. `wait` has the same meaning as for `Store` operations."""

    def get(self, key: str, *, wait: bool) -> LedgerRow | None: ...

    def claim(self, row: LedgerRow, *, wait: bool) -> tuple[LedgerRow, bool]: ...

    def transition(
        self, key: str, expect: Collection[str], changes: dict[str, Any], *, wait: bool
    ) -> LedgerRow | None: ...

    def apply_atomically(
        self, row: LedgerRow, apply: Apply, *, holder: str = "", wait: bool
    ) -> tuple[LedgerRow, bool]: ...

    def rows(self, status: LedgerStatus | None, *, wait: bool) -> list[LedgerRow]: ...

    def acquire(self, target: str, holder: str, lease: float, steal: str, *, wait: bool) -> tuple[int, str]: ...

    def release(self, target: str, token: int, *, wait: bool) -> None: ...


class TargetLocked(Exception):
    """Raised by `apply_atomically` when another live holder has the target's lock; nothing was written."""

    def __init__(self, target: str, holder: str) -> None:
        super().__init__(f"target {target!r} is locked by {holder}")
        self.target = target
        self.holder = holder


def check_params(existing: LedgerRow, row: LedgerRow) -> None:
    """The same key must always name the same change."""
    if existing.params_hash != row.params_hash:
        raise CommitError(
            f"idempotency key {row.key!r} was first used for other parameters (on board {existing.board!r}, "
            f"target {existing.target!r}); a key must always name the same change"
        )


def _check_columns(changes: dict[str, Any]) -> None:
    """Every store refuses the same way a change to a column the ledger does not have."""
    unknown = set(changes) - _COLUMN_NAMES
    if unknown:
        raise CommitError(f"ledger has no column(s) {', '.join(sorted(unknown))}")


def _free(holder: str, steal: str, current: tuple[str, int, float] | None, now: float) -> bool:
    """Free for `holder` when unheld, its own, expired, or held by `steal` (a holder known to be dead)."""
    return current is None or current[0] in (holder, steal) or current[2] <= now


_Row = tuple[dict[str, Any], int, str]
_ABSENT: Any = object()


class MemoryTables:
    """The tables of in-database sinks (`sinks.Table`) when the store is `memory://`.

    Write through `put`: inside `apply_atomically` it journals the row it replaces, so a sink that raises halfway
    is undone row by row, at a cost that does not grow with the tables.
    """

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, _Row]] = {}
        self._journal: list[tuple[str, str, Any]] | None = None

    def get(self, table: str, target: str) -> _Row | None:
        return self.tables.get(table, {}).get(target)

    def put(self, table: str, target: str, row: _Row) -> None:
        rows = self.tables.setdefault(table, {})
        if self._journal is not None:
            self._journal.append((table, target, rows.get(target, _ABSENT)))
        rows[target] = row

    def begin(self) -> None:
        self._journal = []

    def end(self, *, undo: bool) -> None:
        journal, self._journal = self._journal or [], None
        if undo:
            for table, target, before in reversed(journal):
                if before is _ABSENT:
                    self.tables[table].pop(target, None)
                else:
                    self.tables[table][target] = before


class MemoryLedger:
    """The ledger of a `memory://` store."""

    def __init__(self) -> None:
        self._rows: dict[str, LedgerRow] = {}
        self._locks: dict[str, tuple[str, int, float]] = {}
        self._mutex = threading.Lock()
        self.tables = MemoryTables()

    def get(self, key: str, *, wait: bool) -> LedgerRow | None:
        with self._mutex:
            return self._rows.get(key)

    def claim(self, row: LedgerRow, *, wait: bool) -> tuple[LedgerRow, bool]:
        with self._mutex:
            existing = self._rows.get(row.key)
            if existing is not None:
                check_params(existing, row)
                return existing, False
            self._rows[row.key] = row
            return row, True

    def transition(self, key: str, expect: Collection[str], changes: dict[str, Any], *, wait: bool) -> LedgerRow | None:
        _check_columns(changes)
        with self._mutex:
            row = self._rows.get(key)
            if row is None or row.status not in expect:
                return None
            self._rows[key] = replace(row, **changes)
            return self._rows[key]

    def apply_atomically(self, row: LedgerRow, apply: Apply, *, holder: str = "", wait: bool) -> tuple[LedgerRow, bool]:
        """Claim, apply and settle at once, unless another live holder (not `holder`) has the target's lock."""
        with self._mutex:
            existing = self._rows.get(row.key)
            if existing is not None:
                check_params(existing, row)
                return existing, False
            lock = self._locks.get(row.target)
            if lock is not None and not _free(holder, "", lock, time.time()):
                raise TargetLocked(row.target, lock[0])
            # A sink that raises halfway leaves the tables as they were: its writes are journaled and undone.
            self.tables.begin()
            try:
                applied = replace(row, status="applied", attempts=1, receipt=apply(self.tables))
            except BaseException:
                self.tables.end(undo=True)
                raise
            self.tables.end(undo=False)
            self._rows[row.key] = applied
            return applied, True

    def rows(self, status: LedgerStatus | None, *, wait: bool) -> list[LedgerRow]:
        with self._mutex:
            return [r for _, r in sorted(self._rows.items()) if status is None or r.status == status]

    def acquire(self, target: str, holder: str, lease: float, steal: str, *, wait: bool) -> tuple[int, str]:
        """(fencing token, holder) when acquired; (0, current holder) when another holds the lease."""
        with self._mutex:
            now, current = time.time(), self._locks.get(target)
            if current is not None and not _free(holder, steal, current, now):
                return 0, current[0]
            token = (current[1] if current else 0) + 1
            self._locks[target] = (holder, token, now + lease)
            return token, holder

    def release(self, target: str, token: int, *, wait: bool) -> None:
        with self._mutex:
            current = self._locks.get(target)
            if current is not None and current[1] == token:
                # Keep the token so the next holder's is higher: fencing tokens never go back.
                self._locks[target] = (current[0], token, 0.0)


_SELECT = f"SELECT {_ROW_COLUMNS} FROM slateboard_ledger WHERE key = ?"  # noqa: S608
_INSERT = f"INSERT INTO slateboard_ledger ({_ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608


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
        found = conn.execute(_SELECT, (key,)).fetchone()
        return LedgerRow(*found) if found else None

    @staticmethod
    def _insert(conn: sqlite3.Connection, row: LedgerRow) -> None:
        conn.execute(
            _INSERT,
            (
                row.key,
                row.params_hash,
                row.board,
                row.target,
                row.status,
                row.attempts,
                row.receipt,
                row.error,
                row.fence,
            ),
        )

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
        _check_columns(changes)
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
            if lock is not None and not _free(holder, "", lock, time.time()):
                raise TargetLocked(row.target, str(lock[0]))
            applied = replace(row, status="applied", attempts=1, receipt=apply(conn))
            self._insert(conn, applied)
            return applied, True

        return self._run(work, wait)  # type: ignore[no-any-return]

    def rows(self, status: LedgerStatus | None, *, wait: bool) -> list[LedgerRow]:
        query = f"SELECT {_ROW_COLUMNS} FROM slateboard_ledger"  # noqa: S608
        where, args = (" WHERE status = ?", (status,)) if status else ("", ())
        return self._read(  # type: ignore[no-any-return]
            lambda conn: [LedgerRow(*r) for r in conn.execute(query + where + " ORDER BY key", args)], wait
        )

    def acquire(self, target: str, holder: str, lease: float, steal: str, *, wait: bool) -> tuple[int, str]:
        def work(conn: sqlite3.Connection) -> tuple[int, str]:
            now = time.time()
            found = conn.execute(
                "SELECT holder, token, expires_at FROM slateboard_target_locks WHERE target = ?", (target,)
            ).fetchone()
            if found is not None and not _free(holder, steal, found, now):
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
