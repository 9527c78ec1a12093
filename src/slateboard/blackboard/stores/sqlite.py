"""The embedded default store, `sqlite:///path`: one SQLite file in WAL mode, holding the log, the ledger and the
tables of sinks inside the store.

Its schema comes from migration steps (`sqlite_migrations`), checked and run at open; its row types are declared
with SQLModel (`sqlite_schema`); its ledger and sink tables are `sqlite_ledger`. Rows are written through the
driver connection directly: the ORM would cost more per entry than SQLite does. Writers serialize with BEGIN
IMMEDIATE, so two processes on one file never read the same head, and `seq` is commit order (the feed's position).

Opened read-only, the file is opened with SQLite's `mode=ro`: nothing is created, migrated or switched to WAL.
(A WAL file's readers share its `-shm` index: SQLite creates `-wal` and `-shm` beside the file when they are
missing and the directory is writable, and leaves them; the file itself is not changed. In a directory nobody can
write to, where no writer can be working either, the file is opened as immutable instead.)
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from itertools import repeat
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, quote, urlsplit

from slateboard.blackboard.entries import GENESIS_HASH, PendingEntry, StoredEntry, seal_rows
from slateboard.blackboard.stores import sqlite_migrations
from slateboard.blackboard.stores.base import (
    AppendRequest,
    AppendResult,
    FeedRow,
    WouldBlock,
    check_head,
    decode_position,
    encode_position,
)
from slateboard.blackboard.stores.migrations import newest
from slateboard.blackboard.stores.registry import Durability, StoreBackend, StoreOptions, check_durability
from slateboard.blackboard.stores.snapshot_shelves import SQLiteSnapshots
from slateboard.blackboard.stores.sqlite_ledger import SQLiteLedger, SQLiteTables
from slateboard.blackboard.stores.sqlite_schema import (
    ENTRIES,
    LAYOUT_VERSION,
    EntryRow,
    LedgerTable,
    LockTable,
    MetaRow,
    schema_statements,
)
from slateboard.errors import ConfigurationError, ReadOnlyStoreError, SlateboardError, StaleVersionError, StoreError

__all__ = (
    "SQLiteStore",
    "database_file",
    "SQLiteLedger",
    "SQLiteTables",
    "EntryRow",
    "MetaRow",
    "LedgerTable",
    "LockTable",
    "LAYOUT_VERSION",
    "schema_statements",
    "backend",
)

T = TypeVar("T")
_SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")
_BUSY_CODES = {getattr(sqlite3, "SQLITE_BUSY", 5), getattr(sqlite3, "SQLITE_LOCKED", 6)}
_COLUMNS = "seq, board, version, kind, schema_version, author, recorded_at, payload, hash"
_INSERT = f"INSERT INTO {ENTRIES} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
# The board's head (NULLs for a new board) and the store's last seq, in one statement: an append's one read.
_HEAD_AND_SEQ = (
    f"SELECT head.version, head.hash, (SELECT max(seq) FROM {ENTRIES}) FROM (SELECT 1) LEFT JOIN "  # noqa: S608
    f"(SELECT version, hash FROM {ENTRIES} WHERE board = ? ORDER BY version DESC LIMIT 1) AS head"
)
_HEAD = f"SELECT version, hash FROM {ENTRIES} WHERE board = ? ORDER BY version DESC LIMIT 1"  # noqa: S608
_READ = (
    f"SELECT {_COLUMNS} FROM {ENTRIES} WHERE board = ? AND version > ? AND version <= ? "  # noqa: S608
    "ORDER BY version"
)
_FEED = f"SELECT {_COLUMNS} FROM {ENTRIES} WHERE seq > ? ORDER BY seq LIMIT ?"  # noqa: S608


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in _BUSY_CODES or "locked" in str(exc)


class SQLiteStore:
    """A store in one SQLite file (WAL). Safe for many tasks, threads and processes at once."""

    group_off_loop = False  # a group's commit is one fsync; the loop's reads share the one connection (group.py)

    def __init__(
        self,
        path: Path,
        *,
        url: str,
        synchronous: str = "FULL",
        busy_timeout: float = 10.0,
        read_only: bool = False,
        durability: Durability = "cycle",
    ) -> None:
        self.url = url
        self.path = path
        self.read_only = read_only
        self.durability = durability
        # "relaxed": appends commit at synchronous=NORMAL (no fsync of their own); the ledger's transactions always
        # at the file's setting. In WAL mode an fsync covers every frame before it, so a durable ledger write also
        # makes every append before it durable.
        self._sync_full = synchronous
        self._sync_append = "NORMAL" if durability == "relaxed" else synchronous
        self._sync_now = synchronous
        self._busy_ms = max(int(busy_timeout * 1000), 0)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.ledger = SQLiteLedger(self.transact, self.query)
        self.snapshots = SQLiteSnapshots(self.transact, self.query)
        if read_only and not path.is_file():
            raise StoreError(f"{path} does not exist (a read-only open creates nothing)", url=url)
        conn = None
        try:
            conn = self._connect()
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            if read_only:
                sqlite_migrations.check_for_reading(conn, where=str(path), url=url)
            else:
                self._configure_when_free(conn, synchronous)
            conn.execute("PRAGMA busy_timeout = 0")
        except sqlite3.DatabaseError as exc:
            _close(conn)
            raise StoreError(f"cannot open {path} as a slateboard database: {exc}", url=url) from exc
        except BaseException:
            _close(conn)
            raise
        self._conn = conn

    def _connect(self) -> sqlite3.Connection:
        if not self.read_only:
            return sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
        target = f"file:{quote(str(self.path.absolute()))}?mode=ro"
        if not os.access(self.path.parent, os.W_OK) and not Path(f"{self.path}-wal").exists():
            # Nobody can write here (no -wal can be made), so nothing changes under us: read without -shm.
            target += "&immutable=1"
        conn = sqlite3.connect(target, uri=True, isolation_level=None, check_same_thread=False, timeout=0)
        conn.execute("PRAGMA query_only = ON")
        return conn

    @classmethod
    def from_url(
        cls, url: str, *, busy_timeout: float = 10.0, read_only: bool = False, durability: Durability | None = None
    ) -> SQLiteStore:
        parts = urlsplit(url)
        file = database_file(url)
        if file is None:
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
        in_url = check_durability(options.pop("durability", "cycle"), where=f"store URL {url!r}")
        if durability is not None and "durability=" in parts.query and durability != in_url:
            raise ConfigurationError(f"store URL {url!r} says durability={in_url}, the option durability={durability}")
        if options:
            raise ConfigurationError(f"store URL {url!r}: unknown option(s) {', '.join(sorted(options))}")
        path = file
        if not path.parent.is_dir():
            raise ConfigurationError(f"store URL {url!r}: directory {path.parent} does not exist")
        return cls(
            path,
            url=url,
            synchronous=synchronous,
            busy_timeout=busy_timeout,
            read_only=read_only,
            durability=durability or in_url,
        )

    def _configure_when_free(self, conn: sqlite3.Connection, synchronous: str) -> None:
        """`_configure`, tried again while another process holds the file: switching a new file to WAL, or
        upgrading a read to a write, fails at once with "database is locked" rather than waiting out the busy
        timeout, so this waits it out here (each attempt changes nothing unless it completes)."""
        deadline = time.monotonic() + self._busy_ms / 1000
        pause = 0.005
        while True:
            try:
                return self._configure(conn, synchronous)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
                if conn.in_transaction:
                    conn.rollback()
            time.sleep(pause)  # a sync constructor: nothing else to do until the other process lets go
            pause = min(pause * 2, 0.2)

    def _configure(self, conn: sqlite3.Connection, synchronous: str) -> None:
        """Check the layout (before anything is written), switch to WAL, then migrate if the file is behind."""
        where = str(self.path)
        layout = sqlite_migrations.check_before_writing(conn, where=where, url=self.url)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path} cannot use write-ahead logging (journal mode is {mode})", url=self.url)
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        if layout < newest(sqlite_migrations.STEPS):  # read at call time: tests may add steps
            sqlite_migrations.migrate(conn, where=where, url=self.url)

    def _locked(self, wait: bool, work: Callable[..., T], *args: object) -> T:
        """`work(connection, *args)` holding the store's lock; SQLite's errors said as `StoreError`s (`WouldBlock`
        when another writer holds the file and `wait` is False).

        Plain calls rather than context managers: every append and every read a run makes comes through here, and
        two generator-based context managers cost more than the statements of a small append's transaction.
        """
        if not self._lock.acquire(blocking=wait):
            raise WouldBlock
        try:
            conn = self._conn
            if conn is None:
                raise StoreError("the store is closed", url=self.url)
            if not wait:
                return work(conn, *args)
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            try:
                return work(conn, *args)
            finally:
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

    def _in_transaction(self, conn: sqlite3.Connection, synchronous: str, work: Callable[..., T], *args: object) -> T:
        """`work(conn, *args)` in one write transaction, committed at `synchronous` (see `_locked`)."""
        if synchronous != self._sync_now:  # a connection's setting: switched between transactions only
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._sync_now = synchronous
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn, *args)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def transact(self, work: Callable[[sqlite3.Connection], T], *, wait: bool) -> T:
        """Run `work(connection)` in one write transaction (for the ledger, and sinks inside this database)."""
        if self.read_only:
            raise ReadOnlyStoreError("change the ledger", url=self.url)
        done: T = self._locked(wait, self._in_transaction, self._sync_full, work)
        return done

    def query(self, work: Callable[[sqlite3.Connection], T], *, wait: bool) -> T:
        """Run the read-only `work(connection)` without a write transaction."""
        return self._locked(wait, work)

    def append(
        self, board: str, entries: Sequence[PendingEntry], *, expected_version: int | None, wait: bool
    ) -> list[StoredEntry]:
        if self.read_only:
            raise ReadOnlyStoreError(f"append to board {board!r}", url=self.url)
        request = AppendRequest(board, entries, expected_version)
        return self._locked(wait, self._in_transaction, self._sync_append, self._insert, request)

    def append_group(self, requests: Sequence[AppendRequest], *, wait: bool) -> list[AppendResult]:
        """Several boards' appends in one transaction (one fsync), each atomic alone: a refused one is rolled back
        to its savepoint and its error returned in its place (see `GroupStore`)."""
        if self.read_only:
            raise ReadOnlyStoreError("append to boards", url=self.url)
        return self._locked(wait, self._in_transaction, self._sync_append, self._insert_each, requests)

    def _insert_each(self, conn: sqlite3.Connection, requests: Sequence[AppendRequest]) -> list[AppendResult]:
        results: list[AppendResult] = []
        for request in requests:
            conn.execute("SAVEPOINT slateboard_append")
            try:
                results.append(self._insert(conn, request))
            except SlateboardError as exc:
                conn.execute("ROLLBACK TO slateboard_append")
                results.append(exc)
            conn.execute("RELEASE slateboard_append")
        return results

    def _insert(self, conn: sqlite3.Connection, request: AppendRequest) -> list[StoredEntry]:
        board, entries, expected_version = request.board, request.entries, request.expected_version
        head, prev_hash, last_seq = conn.execute(_HEAD_AND_SEQ, (board,)).fetchone()
        version = check_head(board, head or 0, expected_version)
        # The write lock is held (BEGIN IMMEDIATE), so the seqs SQLite would give are known: each row is inserted
        # with its seq, in the order of `StoredEntry`'s fields. (Plain tuples: sqlite3 binds a tuple subclass's
        # items through the sequence protocol, which cost more than making the named tuples afterwards.)
        rows = seal_rows(prev_hash or GENESIS_HASH, board, version, last_seq or 0, entries)
        try:
            if len(rows) == 1:
                conn.execute(_INSERT, rows[0])
            elif rows:
                conn.executemany(_INSERT, rows)
        except sqlite3.IntegrityError as exc:
            # Only reachable if the file was changed behind the lock's back; refuse like a stale write.
            actual = self._head(conn, board)[0]
            raise StaleVersionError(board, expected_version or actual, actual) from exc
        return list(map(tuple.__new__, repeat(StoredEntry), rows))  # `make_stored` of each

    @staticmethod
    def _head(conn: sqlite3.Connection, board: str) -> tuple[int, str]:
        row = conn.execute(_HEAD, (board,)).fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def read(self, board: str, *, after: int, upto: int | None, wait: bool) -> list[StoredEntry]:
        return self._locked(wait, _read, board, after, (1 << 62) if upto is None else upto)

    def head(self, board: str, *, wait: bool) -> tuple[int, str]:
        return self._locked(wait, self._head, board)

    def boards(self) -> list[str]:
        return self._locked(True, _boards)

    def feed(self, after: str | None, limit: int, *, wait: bool) -> list[FeedRow]:
        """Entries of every board in seq order: writers serialize, so seq is commit order and no entry lands behind
        one already read. The position is the seq."""
        start = 0 if after is None else decode_position(after, 1, url=self.url)[0]
        rows = self._locked(wait, _feed, start, limit)
        return [(encode_position(row.seq), row) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _read(conn: sqlite3.Connection, board: str, after: int, upto: int) -> list[StoredEntry]:
    return list(map(tuple.__new__, repeat(StoredEntry), conn.execute(_READ, (board, after, upto))))


def _feed(conn: sqlite3.Connection, after: int, limit: int) -> list[StoredEntry]:
    return list(map(tuple.__new__, repeat(StoredEntry), conn.execute(_FEED, (after, limit))))


def _boards(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute(f"SELECT DISTINCT board FROM {ENTRIES} ORDER BY board")]  # noqa: S608


def _close(conn: sqlite3.Connection | None) -> None:
    if conn is not None:
        conn.close()


def _parse_seconds(url: str, text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ConfigurationError(f"store URL {url!r}: busy_timeout must be a number of seconds >= 0, got {text!r}")
    return seconds


def database_file(url: str) -> Path | None:
    """The file a `sqlite:` URL names (relative to the working directory unless it starts with a fourth slash), or
    None when the URL is of another scheme or names no file."""
    parts = urlsplit(url)
    raw_path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if parts.scheme != "sqlite" or parts.netloc or not raw_path or raw_path == ":memory:":
        return None
    return Path(raw_path)


def _open(url: str, options: StoreOptions) -> SQLiteStore:
    return SQLiteStore.from_url(
        url, busy_timeout=options.busy_timeout, read_only=options.read_only, durability=options.durability
    )


def _test_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'slateboard.db'}"


backend = StoreBackend("sqlite", _open, test_url=_test_url)
"""`sqlite:///path`: registered through the `slateboard.stores` entry point `sqlite`."""
