"""The embedded default store: one SQLite file in WAL mode, its tables declared with SQLModel.

The schema (tables, the unique (board, version) constraint that guards optimistic concurrency, and the
triggers that refuse UPDATE and DELETE on the log) is generated from the SQLModel declarations. Rows are
then written through the driver connection directly: the ORM would cost more per entry than SQLite does.
Writers serialize with BEGIN IMMEDIATE, so two processes on one file never read the same head.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.schema import CreateIndex, CreateTable, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from slateboard.blackboard.entries import GENESIS_HASH, PendingEntry, StoredEntry
from slateboard.blackboard.stores.base import WouldBlock, chain
from slateboard.blackboard.stores.ledger import (
    ROW_COLUMNS,
    LedgerRow,
    LedgerStatus,
    TargetLocked,
    check_columns,
    check_params,
    lock_is_free,
)
from slateboard.blackboard.stores.registry import StoreBackend, StoreOptions
from slateboard.blackboard.stores.tables import Apply, TableRow, sink_table
from slateboard.errors import ConfigurationError, StaleVersionError, StoreError

__all__ = (
    "SQLiteStore",
    "SQLiteLedger",
    "SQLiteTables",
    "EntryRow",
    "MetaRow",
    "LedgerTable",
    "LockTable",
    "LAYOUT_VERSION",
    "backend",
)

LAYOUT_VERSION = 1
T = TypeVar("T")
_SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")
_BUSY_CODES = {getattr(sqlite3, "SQLITE_BUSY", 5), getattr(sqlite3, "SQLITE_LOCKED", 6)}


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


_ENTRIES = EntryRow.__tablename__
_COLUMNS = "seq, board, version, kind, schema_version, author, recorded_at, payload, hash"
_INSERT = (
    f"INSERT INTO {_ENTRIES} (board, version, kind, schema_version, author, recorded_at, payload, hash) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_HEAD = f"SELECT version, hash FROM {_ENTRIES} WHERE board = ? ORDER BY version DESC LIMIT 1"  # noqa: S608
_READ = (
    f"SELECT {_COLUMNS} FROM {_ENTRIES} WHERE board = ? AND version > ? AND version <= ? "  # noqa: S608
    "ORDER BY version"
)
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
            f"CREATE TRIGGER IF NOT EXISTS {_ENTRIES}_no_{event.lower()} BEFORE {event} ON {_ENTRIES} "
            f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
        )
    return statements


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in _BUSY_CODES or "locked" in str(exc)


class SQLiteStore:
    """A store in one SQLite file (WAL). Safe for many tasks, threads and processes at once."""

    def __init__(self, path: Path, *, url: str, synchronous: str = "FULL", busy_timeout: float = 10.0) -> None:
        self.url = url
        self.path = path
        self._busy_ms = max(int(busy_timeout * 1000), 0)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.ledger = SQLiteLedger(self.transact, self.query)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
            self._configure(conn, synchronous)
            self._conn = conn
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open {path} as a slateboard database: {exc}", url=url) from exc

    @classmethod
    def from_url(cls, url: str, *, busy_timeout: float = 10.0) -> SQLiteStore:
        parts = urlsplit(url)
        raw_path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if parts.netloc or not raw_path or raw_path == ":memory:":
            raise ConfigurationError(
                f"store URL {url!r}: write 'sqlite:///relative/file.db' or 'sqlite:////absolute/file.db' "
                "(and 'memory://' for a store that is not a file)"
            )
        options = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        synchronous = options.pop("synchronous", "full").upper()
        if synchronous not in _SYNCHRONOUS:
            raise ConfigurationError(f"store URL {url!r}: synchronous must be one of {', '.join(_SYNCHRONOUS)}")
        if "busy_timeout" in options:
            busy_timeout = _parse_seconds(url, options.pop("busy_timeout"))
        if options:
            raise ConfigurationError(f"store URL {url!r}: unknown option(s) {', '.join(sorted(options))}")
        path = Path(raw_path)
        if not path.parent.is_dir():
            raise ConfigurationError(f"store URL {url!r}: directory {path.parent} does not exist")
        return cls(path, url=url, synchronous=synchronous, busy_timeout=busy_timeout)

    def _configure(self, conn: sqlite3.Connection, synchronous: str) -> None:
        conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path} cannot use write-ahead logging (journal mode is {mode})", url=self.url)
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in schema_statements():
                conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO slateboard_meta (key, value) VALUES ('layout', ?)",
                (str(LAYOUT_VERSION),),
            )
            layout = int(conn.execute("SELECT value FROM slateboard_meta WHERE key = 'layout'").fetchone()[0])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("PRAGMA busy_timeout = 0")
        if layout > LAYOUT_VERSION:
            raise StoreError(f"{self.path} was written by a newer slateboard (layout {layout})", url=self.url)

    @contextmanager
    def _connection(self, wait: bool) -> Iterator[sqlite3.Connection]:
        if not self._lock.acquire(blocking=wait):
            raise WouldBlock
        try:
            conn = self._conn
            if conn is None:
                raise StoreError("the store is closed", url=self.url)
            if wait:
                conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            try:
                yield conn
            finally:
                if wait:
                    conn.execute("PRAGMA busy_timeout = 0")
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise StoreError(f"SQLite failed: {exc}", url=self.url) from exc
            if not wait:
                raise WouldBlock from exc
            raise StoreError(
                f"the database stayed locked by another writer for more than {self._busy_ms / 1000:g} s",
                url=self.url,
            ) from exc
        finally:
            self._lock.release()

    @contextmanager
    def _transaction(self, wait: bool) -> Iterator[sqlite3.Connection]:
        with self._connection(wait) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def transact(self, work: Callable[[sqlite3.Connection], T], *, wait: bool) -> T:
        """Run `work(connection)` in one write transaction (for the ledger, and sinks inside this database)."""
        with self._transaction(wait) as conn:
            return work(conn)

    def query(self, work: Callable[[sqlite3.Connection], T], *, wait: bool) -> T:
        """Run the read-only `work(connection)` without a write transaction."""
        with self._connection(wait) as conn:
            return work(conn)

    def append(
        self, board: str, entries: Sequence[PendingEntry], *, expected_version: int | None, wait: bool
    ) -> list[StoredEntry]:
        with self._transaction(wait) as conn:
            sealed = chain(board, self._head(conn, board), entries, expected_version)
            rows = [
                (board, version, e.kind, e.schema_version, e.author, e.recorded_at, e.payload, digest)
                for e, (version, digest) in zip(entries, sealed, strict=True)
            ]
            try:
                if len(rows) == 1:
                    last_seq = conn.execute(_INSERT, rows[0]).lastrowid or 0
                elif rows:
                    conn.executemany(_INSERT, rows)
                    last_seq = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            except sqlite3.IntegrityError as exc:
                # Only reachable if the file was changed behind the lock's back; refuse like a stale write.
                actual = self._head(conn, board)[0]
                raise StaleVersionError(board, expected_version or actual, actual) from exc
        first_seq = last_seq - len(rows) + 1 if rows else 0
        return [StoredEntry(first_seq + i, *row) for i, row in enumerate(rows)]

    @staticmethod
    def _head(conn: sqlite3.Connection, board: str) -> tuple[int, str]:
        row = conn.execute(_HEAD, (board,)).fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def read(self, board: str, *, after: int, upto: int | None, wait: bool) -> list[StoredEntry]:
        limit = (1 << 62) if upto is None else upto
        with self._connection(wait) as conn:
            return [StoredEntry(*row) for row in conn.execute(_READ, (board, after, limit))]

    def head(self, board: str, *, wait: bool) -> tuple[int, str]:
        with self._connection(wait) as conn:
            return self._head(conn, board)

    def boards(self) -> list[str]:
        with self._connection(True) as conn:
            return [row[0] for row in conn.execute(f"SELECT DISTINCT board FROM {_ENTRIES} ORDER BY board")]  # noqa: S608

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _parse_seconds(url: str, text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ConfigurationError(f"store URL {url!r}: busy_timeout must be a number of seconds >= 0, got {text!r}")
    return seconds


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
        conn.execute(
            _LEDGER_INSERT,
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


def _open(url: str, options: StoreOptions) -> SQLiteStore:
    return SQLiteStore.from_url(url, busy_timeout=options.busy_timeout)


def _test_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'slateboard.db'}"


backend = StoreBackend("sqlite", _open, test_url=_test_url)
"""`sqlite:///path`: registered through the `slateboard.stores` entry point `sqlite`."""
