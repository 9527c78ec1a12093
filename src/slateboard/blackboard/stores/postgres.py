"""The PostgreSQL store, `postgresql://user@host:port/database?schema=NAME`: the log, the ledger and the tables of
sinks inside the store, in one schema of a database that many processes and machines can share.

Connections come from a `psycopg_pool` pool (`?pool_size=`, default 8). Writers to one board serialize on a
transaction-level advisory lock keyed by the board (`pg_advisory_xact_lock`), then read the head and insert: the
board's versions stay 1..n without gaps whatever the number of writers, and the unique (board, version)
constraint backs the lock. Writers to different boards do not wait for each other. Group commit
(`append_group`, `postgres_group`): concurrent boards' appends share one transaction and one WAL flush, their
locks taken in one order, so that groups from many processes and machines never deadlock.

The schema is migrated at open (`postgres_migrations`). Opened read-only, every session has
`default_transaction_read_only` on and the store runs no DDL: a schema that is missing or too old is an error.

The feed (every board in one order) reads in (tx, seq) order, only below the oldest transaction still running;
see `feed`.

`wait=False` (how `call_store` runs an operation inline on the event loop): a lock that is not free at once
(`lock_timeout` of 1 ms) or an exhausted pool raises `WouldBlock`, and `call_store` moves the operation to a
worker thread, where it waits up to the store's busy timeout. Reads never wait for locks (MVCC).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import uuid4

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from slateboard.blackboard.entries import GENESIS_HASH, PendingEntry, StoredEntry
from slateboard.blackboard.stores import postgres_group, postgres_migrations
from slateboard.blackboard.stores.base import (
    AppendRequest,
    AppendResult,
    FeedRow,
    WouldBlock,
    chain,
    decode_position,
    encode_position,
)
from slateboard.blackboard.stores.migrations import newest
from slateboard.blackboard.stores.postgres_ledger import Conn, PostgresLedger, PostgresTables
from slateboard.blackboard.stores.postgres_migrations import ENTRIES
from slateboard.blackboard.stores.postgres_queue import PostgresQueue
from slateboard.blackboard.stores.postgres_snapshots import PostgresSnapshots
from slateboard.blackboard.stores.registry import (
    Durability,
    StoreBackend,
    StoreOptions,
    UnavailableForTests,
    check_durability,
)
from slateboard.errors import ConfigurationError, ReadOnlyStoreError, SlateboardError, StaleVersionError, StoreError

__all__ = ("PostgresStore", "PostgresLedger", "PostgresTables", "TEST_SERVER_VARIABLE", "backend")

T = TypeVar("T")
TEST_SERVER_VARIABLE = "SLATEBOARD_TEST_POSTGRES"
_COLUMNS = "seq, board, version, kind, schema_version, author, recorded_at, payload, hash"
_INSERT = (
    f"INSERT INTO {ENTRIES} (board, version, kind, schema_version, author, recorded_at, payload, hash) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING seq"
)
_INSERT_MANY = (
    f"INSERT INTO {ENTRIES} (board, version, kind, schema_version, author, recorded_at, payload, hash) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
_SEQS = f"SELECT seq FROM {ENTRIES} WHERE board = %s AND version BETWEEN %s AND %s ORDER BY version"  # noqa: S608
_HEAD = f"SELECT version, hash FROM {ENTRIES} WHERE board = %s ORDER BY version DESC LIMIT 1"  # noqa: S608
_READ = (
    f"SELECT {_COLUMNS} FROM {ENTRIES} WHERE board = %s AND version > %s AND version <= %s "  # noqa: S608
    "ORDER BY version"
)
# Only transactions below the snapshot's xmin are read: each of them has ended, so every entry the feed will ever
# return at or before a position it returned is already visible (see PostgresStore.feed).
_FEED = (
    # Named apart from tx: ORDER BY would otherwise sort by this text output column (as text, "1000" < "999").
    f"SELECT tx::text AS tx_text, {_COLUMNS} FROM {ENTRIES} "  # noqa: S608
    "WHERE (tx, seq) > (%s::xid8, %s) AND tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY tx, seq LIMIT %s"
)
# The transaction's lock timeout, then the board's lock, in one statement (one round trip, not two): the lock
# is taken for each row the materialized CTE yields, so after set_config has run, and it waits at most that long.
_LOCK_BOARD = (
    "WITH timeout AS MATERIALIZED (SELECT set_config('lock_timeout', %s, true)) "
    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0)) FROM timeout"
)
# durability="relaxed": the append's commit does not wait for its WAL flush (synchronous_commit off for that one
# transaction, set in the same statement: no extra round trip). The ledger's transactions never relax.
_LOCK_BOARD_RELAXED = (
    "WITH timeout AS MATERIALIZED (SELECT set_config('lock_timeout', %s, true), "
    "set_config('synchronous_commit', 'off', true)) "
    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0)) FROM timeout"
)
_OPTIONS = ("schema", "pool_size", "durability")


class PostgresStore:
    """A store in one schema of a PostgreSQL database. Safe for many tasks, threads, processes and machines."""

    group_off_loop = True  # a group's commit is a round trip to the server: the loop goes on meanwhile (group.py)

    def __init__(
        self,
        conninfo: str,
        *,
        url: str,
        schema: str,
        pool_size: int = 8,
        busy_timeout: float = 10.0,
        read_only: bool = False,
        durability: Durability = "cycle",
    ) -> None:
        self.url = url
        self.schema = schema
        self.durability = durability
        self._lock_board = _LOCK_BOARD_RELAXED if durability == "relaxed" else _LOCK_BOARD
        self.read_only = read_only
        self.conninfo = conninfo
        self.queue = PostgresQueue(self)
        self._busy_ms = max(int(busy_timeout * 1000), 1)
        self._closed = False
        self.ledger = PostgresLedger(self.transact, self.query)
        self.snapshots = PostgresSnapshots(self.transact, self.query)
        self._pool: ConnectionPool[Conn] = ConnectionPool(
            conninfo,
            min_size=min(2, pool_size),
            max_size=pool_size,
            kwargs={"autocommit": True, "options": _session_options(schema, read_only)},
            open=False,
            name=f"slateboard:{schema}",
        )
        try:
            self._pool.open(wait=True, timeout=max(busy_timeout, 1.0))
            if read_only:
                self.query(lambda conn: postgres_migrations.check_for_reading(conn, schema, url=url), wait=True)
            else:
                self._migrate(conninfo, busy_timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreError(f"cannot connect to PostgreSQL: {exc}", url=url) from exc
        except BaseException:
            self._pool.close()
            raise

    def _migrate(self, conninfo: str, busy_timeout: float) -> None:
        """Check the layout (before anything is written), and migrate the schema if it is behind."""
        check = postgres_migrations.check_before_writing
        layout = self.query(lambda conn: check(conn, self.schema, url=self.url), wait=True)
        if layout < newest(postgres_migrations.STEPS):  # read at call time: tests may add steps
            options = _session_options(self.schema, read_only=False)
            postgres_migrations.migrate(conninfo, self.schema, url=self.url, options=options, lock_timeout=busy_timeout)

    @classmethod
    def from_url(
        cls, url: str, *, busy_timeout: float = 10.0, read_only: bool = False, durability: Durability | None = None
    ) -> PostgresStore:
        """Open the store a `postgresql://` (or `postgres://`) URL names; its own options are `schema`, `pool_size`
        and `durability`, every other query parameter goes to libpq."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ConfigurationError(f"store URL {url!r}: a PostgreSQL URL starts with postgresql://")
        query = parse_qsl(parts.query, keep_blank_values=True)
        options = {key: value for key, value in query if key in _OPTIONS}
        schema = options.get("schema", "public")
        if not (schema.isidentifier() and schema.isascii() and schema == schema.lower()):
            raise ConfigurationError(f"store URL {url!r}: schema must be a lowercase identifier, got {schema!r}")
        try:
            pool_size = int(options.get("pool_size", "8"))
        except ValueError:
            pool_size = 0
        if pool_size < 1:
            raise ConfigurationError(f"store URL {url!r}: pool_size must be a whole number >= 1")
        in_url = check_durability(options.get("durability", "cycle"), where=f"store URL {url!r}")
        if durability is not None and "durability" in options and durability != in_url:
            raise ConfigurationError(f"store URL {url!r} says durability={in_url}, the option durability={durability}")
        rest = urlencode([(key, value) for key, value in query if key not in _OPTIONS])
        conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, rest, ""))
        return cls(
            conninfo,
            url=url,
            schema=schema,
            pool_size=pool_size,
            busy_timeout=busy_timeout,
            read_only=read_only,
            durability=durability or in_url,
        )

    @contextmanager
    def _connection(self, wait: bool) -> Iterator[Conn]:
        if self._closed:
            raise StoreError("the store is closed", url=self.url)
        try:
            with self._pool.connection(timeout=self._busy_ms / 1000 if wait else 0.001) as conn:
                yield conn
        except PoolTimeout as exc:
            if not wait:
                raise WouldBlock from exc
            raise StoreError(f"no database connection free within {self._busy_ms / 1000:g} s", url=self.url) from exc
        except pg_errors.LockNotAvailable as exc:
            if not wait:
                raise WouldBlock from exc
            raise StoreError(
                f"a lock stayed held by another writer for more than {self._busy_ms / 1000:g} s", url=self.url
            ) from exc
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL failed: {exc}", url=self.url) from exc

    @contextmanager
    def _transaction(self, wait: bool) -> Iterator[Conn]:
        with self._connection(wait) as conn, conn.transaction():
            timeout = f"{self._busy_ms}ms" if wait else "1ms"
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (timeout,))
            yield conn

    def transact(self, work: Callable[[Conn], T], *, wait: bool) -> T:
        """Run `work(connection)` in one transaction (for the ledger, and sinks inside this database)."""
        if self.read_only:
            raise ReadOnlyStoreError("change the ledger", url=self.url)
        with self._transaction(wait) as conn:
            return work(conn)

    def query(self, work: Callable[[Conn], T], *, wait: bool) -> T:
        """Run the read-only `work(connection)` outside a transaction: each statement sees the latest commits."""
        with self._connection(wait) as conn:
            return work(conn)

    def append(
        self,
        board: str,
        entries: Sequence[PendingEntry],
        *,
        expected_version: int | None,
        wait: bool,
        guard: Callable[[Conn], None] | None = None,
    ) -> list[StoredEntry]:
        """Append atomically; `guard(connection)` runs first inside the transaction, holding the board's lock (a
        worker's fencing check)."""
        if self.read_only:
            raise ReadOnlyStoreError(f"append to board {board!r}", url=self.url)
        # Five statements, as few as the work allows (each costs a round trip and ~60 us of driver CPU): BEGIN;
        # lock timeout and board lock together; the head, read only once the lock is held (under READ COMMITTED
        # it then sees every earlier holder's commit); the insert; COMMIT.
        with self._connection(wait) as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute(self._lock_board, (f"{self._busy_ms}ms" if wait else "1ms", board))
            if guard is not None:
                guard(conn)
            sealed = chain(board, self._head(conn, board), entries, expected_version)
            rows = [
                (board, version, e.kind, e.schema_version, e.author, e.recorded_at, e.payload, digest)
                for e, (version, digest) in zip(entries, sealed, strict=True)
            ]
            if not rows:
                return []
            try:
                seqs = self._insert(cursor, rows)
            except pg_errors.UniqueViolation as exc:
                # Only reachable if a writer skipped the board's lock; refuse like a stale write.
                raise StaleVersionError(board, expected_version or 0, sealed[0][0] - 1) from exc
        return [StoredEntry(seq, *row) for seq, row in zip(seqs, rows, strict=True)]

    def append_group(self, requests: Sequence[AppendRequest], *, wait: bool) -> list[AppendResult]:
        """Several boards' appends in one transaction (one WAL flush), each atomic alone (see `GroupStore`).

        Five statements whatever the size of the group: BEGIN; every board's lock, in lock-key order; every
        board's head; the rows of the requests that pass their expected-version check, in one insert; COMMIT. A
        request refused for a stale version is checked before anything is inserted, so it is never written and its
        error takes its place. A unique violation (only reachable if a writer skipped the board's lock) rolls the
        whole transaction back, and the group is written again on fresh heads, this time with a savepoint around each
        request, so that a second collision refuses only its own request.
        """
        if self.read_only:
            raise ReadOnlyStoreError("append to boards", url=self.url)
        try:
            return self._append_group(requests, wait, savepoints=False)
        except postgres_group.Collision:
            return self._append_group(requests, wait, savepoints=True)

    def _append_group(self, requests: Sequence[AppendRequest], wait: bool, *, savepoints: bool) -> list[AppendResult]:
        boards = list(dict.fromkeys(request.board for request in requests))
        relaxed = self.durability == "relaxed"
        with self._connection(wait) as conn, conn.transaction(), conn.cursor() as cursor:
            heads = postgres_group.lock_and_read_heads(cursor, boards, self._busy_ms if wait else 1, relaxed=relaxed)
            results: list[AppendResult] = []
            waiting: dict[int, list[tuple[Any, ...]]] = {}  # results whose rows go in the one insert at the end
            for request in requests:
                try:
                    sealed = chain(request.board, heads[request.board], request.entries, request.expected_version)
                except SlateboardError as exc:
                    results.append(exc)
                    continue
                rows = [
                    (request.board, version, e.kind, e.schema_version, e.author, e.recorded_at, e.payload, digest)
                    for e, (version, digest) in zip(request.entries, sealed, strict=True)
                ]
                if savepoints and rows:
                    results.append(self._insert_alone(conn, cursor, request, rows))
                else:
                    waiting[len(results)] = rows
                    results.append([])
                if sealed and not isinstance(results[-1], SlateboardError):
                    heads[request.board] = sealed[-1]
            every_row = [row for rows in waiting.values() for row in rows]
            if every_row:
                try:
                    seq_of = self._insert_group(cursor, every_row)
                except pg_errors.UniqueViolation as exc:
                    raise postgres_group.Collision from exc
                for index, rows in waiting.items():
                    results[index] = [StoredEntry(seq_of[row[0], row[1]], *row) for row in rows]
        return results

    def _insert_alone(
        self, conn: Conn, cursor: psycopg.Cursor[tuple[Any, ...]], request: AppendRequest, rows: list[tuple[Any, ...]]
    ) -> AppendResult:
        """Insert one request's `rows` inside a savepoint: a collision undoes this request alone and refuses it."""
        try:
            with conn.transaction():
                seqs = self._insert(cursor, rows)
        except pg_errors.UniqueViolation as exc:
            stale = StaleVersionError(request.board, request.expected_version or 0, rows[0][1] - 1)
            stale.__cause__ = exc
            return stale
        return [StoredEntry(seq, *row) for seq, row in zip(seqs, rows, strict=True)]

    @staticmethod
    def _insert_group(
        cursor: psycopg.Cursor[tuple[Any, ...]], rows: list[tuple[Any, ...]]
    ) -> dict[tuple[str, int], int]:
        """Insert a group's `rows` (every board's lock held) in one statement; each row's seq by (board, version)."""
        return postgres_group.insert_rows(cursor, rows)

    @staticmethod
    def _insert(cursor: psycopg.Cursor[tuple[Any, ...]], rows: list[tuple[Any, ...]]) -> list[int]:
        """Insert `rows` (one board's, versions in order, under its lock) and return their seqs, in order."""
        if len(rows) == 1:  # executemany would enter pipeline mode and leave it again for one row
            return [cursor.execute(_INSERT, rows[0]).fetchone()[0]]  # type: ignore[index]
        # A batch's seqs in one read afterwards: executemany with RETURNING waits for a result per row.
        cursor.executemany(_INSERT_MANY, rows)
        board, first, last = rows[0][0], rows[0][1], rows[-1][1]
        return [seq for (seq,) in cursor.execute(_SEQS, (board, first, last))]

    @staticmethod
    def _head(conn: Conn, board: str) -> tuple[int, str]:
        row = conn.execute(_HEAD, (board,)).fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)

    def read(self, board: str, *, after: int, upto: int | None, wait: bool) -> list[StoredEntry]:
        limit = (1 << 62) if upto is None else upto
        with self._connection(wait) as conn:
            return [StoredEntry(*row) for row in conn.execute(_READ, (board, after, limit))]

    def head(self, board: str, *, wait: bool) -> tuple[int, str]:
        with self._connection(wait) as conn:
            return self._head(conn, board)

    def boards(self) -> list[str]:
        with self._connection(True) as conn:
            return [row[0] for row in conn.execute(f"SELECT DISTINCT board FROM {ENTRIES} ORDER BY board")]  # noqa: S608

    def feed(self, after: str | None, limit: int, *, wait: bool) -> list[FeedRow]:
        """Entries of every board in (tx, seq) order: by writing transaction, then by seq within it.

        seq alone is not commit order here: a transaction takes its seq values when it inserts and may commit
        after one that took later values, so a reader past the later one would skip it for good. The feed reads
        only entries of transactions below the current snapshot's xmin (the oldest transaction still running):
        all of those have ended, and a transaction still running or yet to start has a tx at or above xmin, so
        no entry can ever appear at or before a position already returned. The position is (tx, seq). An open
        transaction (anywhere on the server) holds the feed back until it ends; it never makes it skip.
        """
        tx, seq = (0, 0) if after is None else decode_position(after, 2, url=self.url)
        with self._connection(wait) as conn:
            found = conn.execute(_FEED, (str(tx), seq, limit)).fetchall()
        return [(encode_position(int(row[0]), row[1]), StoredEntry(*row[1:])) for row in found]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.close()


def _session_options(schema: str, read_only: bool) -> str:
    """Every pooled session's settings: the store's schema first on the search path, and read-only if asked."""
    options = f"-c search_path={schema}"
    return f"{options} -c default_transaction_read_only=on" if read_only else options


def _open(url: str, options: StoreOptions) -> PostgresStore:
    return PostgresStore.from_url(
        url, busy_timeout=options.busy_timeout, read_only=options.read_only, durability=options.durability
    )


def _test_url(directory: Path) -> str:
    """A fresh schema on the server `SLATEBOARD_TEST_POSTGRES` names (the test suite starts a throwaway one)."""
    server = os.environ.get(TEST_SERVER_VARIABLE)
    if not server:
        raise UnavailableForTests(
            f"no PostgreSQL server for tests: set {TEST_SERVER_VARIABLE} to a postgresql:// URL of a server where "
            "the tests may create schemas"
        )
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}schema=t_{uuid4().hex}"


backend = StoreBackend("postgresql", _open, test_url=_test_url, aliases=("postgres",))
"""`postgresql://...` (also `postgres://`): registered through the `slateboard.stores` entry point `postgresql`."""
