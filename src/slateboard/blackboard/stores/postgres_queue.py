"""The PostgreSQL store's work queue: `slateboard_work`, one row per board submitted for work (see `queue`).

Claims take rows with `SELECT ... FOR UPDATE SKIP LOCKED`, so workers on any number of machines never wait for,
or take, each other's rows; leases are deadlines on the database's own clock, so machines need not agree on the
time. Every claim raises the row's fencing token. The fenced store checks it in each write transaction, after the
board's advisory lock, holding the row `FOR SHARE` until the transaction ends: a claim that would take the board
over waits for (or skips) an in-flight write, and a write after a takeover sees the new token and fails.

A trigger on the log wakes a board that waits for a person: when a `Settlement` or an `ApprovalDecision` lands, its
row goes back to "queued" (or is marked to be re-run when a worker holds it) and `NOTIFY` tells idle workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import psycopg

from slateboard.blackboard.entries import PendingEntry, StoredEntry
from slateboard.blackboard.stores.postgres_ledger import Conn, PostgresLedger
from slateboard.blackboard.stores.queue import Lease, WorkItem, WorkState
from slateboard.errors import LeaseLostError, StoreError

if TYPE_CHECKING:  # the store builds its queue: import it lazily the other way round
    from slateboard.blackboard.stores.postgres import PostgresStore

__all__ = ("PostgresQueue", "FencedPostgresStore", "WORK", "WAKING_KINDS", "queue_statements", "channel")

T = TypeVar("T")
WORK = "slateboard_work"
WAKING_KINDS = ("slateboard.Settlement", "slateboard.ApprovalDecision")
_ITEM_COLUMNS = (
    "board, scenario, variant, state, status, owner, token, claims, "
    "EXTRACT(EPOCH FROM expires_at - now())::float8, error"
)
_GIVE_UP = f"""UPDATE {WORK} SET state = 'failed', owner = NULL, expires_at = NULL, updated_at = now(),
    error = 'abandoned: its lease ran out ' || claims || ' times without the run finishing'
    WHERE state = 'leased' AND expires_at < now() AND claims >= %(max_claims)s"""  # noqa: S608
_CLAIM = f"""WITH picked AS (
        SELECT board FROM {WORK}
        WHERE (state = 'queued' OR (state = 'leased' AND expires_at < now()))
          AND claims < %(max_claims)s AND (%(scenario)s::text IS NULL OR scenario = %(scenario)s::text)
        ORDER BY enqueued_at, board LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
    UPDATE {WORK} w SET state = 'leased', owner = %(owner)s, token = w.token + 1, claims = w.claims + 1,
        wake = false, expires_at = now() + make_interval(secs => %(lease)s), updated_at = now()
    FROM picked WHERE w.board = picked.board
    RETURNING w.board, w.scenario, w.variant, w.token, w.claims"""  # noqa: S608
_HEARTBEAT = f"""UPDATE {WORK} SET expires_at = now() + make_interval(secs => %s), updated_at = now()
    WHERE board = %s AND token = %s AND state = 'leased' RETURNING 1"""  # noqa: S608
_FINISH = f"""UPDATE {WORK} SET state = CASE WHEN wake THEN 'queued' ELSE %(state)s END, status = %(status)s,
        error = %(error)s, owner = NULL, expires_at = NULL, wake = false, updated_at = now()
    WHERE board = %(board)s AND token = %(token)s AND state = 'leased' RETURNING state"""  # noqa: S608
_RELEASE = f"""UPDATE {WORK} SET state = 'queued', owner = NULL, expires_at = NULL, updated_at = now()
    WHERE board = %s AND token = %s AND state = 'leased' RETURNING 1"""  # noqa: S608
_ENQUEUE = f"""INSERT INTO {WORK} (board, scenario, variant)
    SELECT name, %s, %s FROM unnest(%s::text[]) AS name ON CONFLICT (board) DO NOTHING RETURNING board"""  # noqa: S608
_OUTSTANDING = f"SELECT count(*) FROM {WORK} WHERE state IN ('queued', 'leased')"  # noqa: S608
_FENCE = f"SELECT token FROM {WORK} WHERE board = %s FOR SHARE"  # noqa: S608


def channel(schema: str) -> str:
    """The NOTIFY channel of a schema's queue (one per schema: stores sharing a server do not wake each other)."""
    return f"slateboard_work_{schema}"


def queue_statements(schema: str) -> list[str]:
    """The DDL of the queue and of the trigger that wakes a waiting board, in `schema` (an identifier, checked)."""
    kinds = ", ".join(f"'{kind}'" for kind in WAKING_KINDS)
    return [
        f"""CREATE TABLE IF NOT EXISTS {WORK} (
            board TEXT PRIMARY KEY,
            scenario TEXT NOT NULL,
            variant TEXT,
            state TEXT NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'leased', 'waiting', 'done', 'failed')),
            status TEXT,
            error TEXT NOT NULL DEFAULT '',
            owner TEXT,
            token BIGINT NOT NULL DEFAULT 0,
            claims INTEGER NOT NULL DEFAULT 0,
            wake BOOLEAN NOT NULL DEFAULT false,
            expires_at TIMESTAMPTZ,
            enqueued_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        f"""CREATE INDEX IF NOT EXISTS {WORK}_claimable ON {WORK} (enqueued_at, board)
            WHERE state IN ('queued', 'leased')""",
        f"""CREATE OR REPLACE FUNCTION "{schema}".slateboard_wake() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE "{schema}".{WORK} SET wake = (state = 'leased'),
                    state = CASE WHEN state IN ('waiting', 'done') THEN 'queued' ELSE state END,
                    updated_at = now()
                WHERE board = NEW.board;
                IF FOUND THEN PERFORM pg_notify('{channel(schema)}', NEW.board); END IF;
                RETURN NULL;
            END $$""",  # noqa: S608 - schema is a checked identifier
        f"""CREATE OR REPLACE TRIGGER slateboard_entries_wake AFTER INSERT ON slateboard_entries
            FOR EACH ROW WHEN (NEW.kind IN ({kinds})) EXECUTE FUNCTION "{schema}".slateboard_wake()""",
    ]


class PostgresQueue:
    """The work queue of a `PostgresStore` (its `queue`), on the store's connection pool."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def enqueue(self, boards: Sequence[str], scenario: str, variant: str | None) -> list[str]:
        def work(conn: Conn) -> list[str]:
            added = [row[0] for row in conn.execute(_ENQUEUE, (scenario, variant, list(boards)))]
            if added:
                conn.execute("SELECT pg_notify(%s, '')", (channel(self._store.schema),))
            return added

        return self._store.transact(work, wait=True)

    def claim(
        self, owner: str, scenario: str | None, *, limit: int, lease_seconds: float, max_claims: int
    ) -> list[Lease]:
        params = {
            "owner": owner,
            "scenario": scenario,
            "limit": limit,
            "lease": lease_seconds,
            "max_claims": max_claims,
        }

        def work(conn: Conn) -> list[Lease]:
            conn.execute(_GIVE_UP, params)
            rows = conn.execute(_CLAIM, params).fetchall()
            return [Lease(board, found, variant, owner, token, claims) for board, found, variant, token, claims in rows]

        return self._store.transact(work, wait=True)

    def heartbeat(self, lease: Lease, lease_seconds: float) -> bool:
        def work(conn: Conn) -> bool:
            return conn.execute(_HEARTBEAT, (lease_seconds, lease.board, lease.token)).fetchone() is not None

        return self._store.transact(work, wait=True)

    def finish(self, lease: Lease, state: WorkState, status: str, error: str = "") -> WorkState | None:
        params = {"state": state, "status": status, "error": error, "board": lease.board, "token": lease.token}

        def work(conn: Conn) -> WorkState | None:
            row = conn.execute(_FINISH, params).fetchone()
            if row is not None and row[0] == "queued":  # answered during the run: run it again
                conn.execute("SELECT pg_notify(%s, %s)", (channel(self._store.schema), lease.board))
            return None if row is None else row[0]

        return self._store.transact(work, wait=True)

    def release(self, lease: Lease) -> bool:
        def work(conn: Conn) -> bool:
            released = conn.execute(_RELEASE, (lease.board, lease.token)).fetchone() is not None
            if released:
                conn.execute("SELECT pg_notify(%s, %s)", (channel(self._store.schema), lease.board))
            return released

        return self._store.transact(work, wait=True)

    def items(self, boards: Sequence[str] | None = None) -> list[WorkItem]:
        where = "" if boards is None else "WHERE board = ANY(%s)"
        statement = f"SELECT {_ITEM_COLUMNS} FROM {WORK} {where} ORDER BY board"  # noqa: S608

        def work(conn: Conn) -> list[WorkItem]:
            rows = conn.execute(statement, () if boards is None else (list(boards),)).fetchall()
            return [WorkItem(*row) for row in rows]

        return self._store.query(work, wait=True)

    def outstanding(self) -> int:
        def work(conn: Conn) -> int:
            found = conn.execute(_OUTSTANDING).fetchone()
            return int(found[0]) if found else 0

        return self._store.query(work, wait=True)

    def fenced(self, lease: Lease) -> FencedPostgresStore:
        return FencedPostgresStore(self._store, lease)

    def wakeup(self) -> PostgresWakeup:
        return PostgresWakeup(self._store)


class PostgresWakeup:
    """A connection of its own (not from the pool: it stays in LISTEN) that waits for the queue's announcements."""

    def __init__(self, store: PostgresStore) -> None:
        self._url = store.url
        try:
            self._conn = psycopg.connect(store.conninfo, autocommit=True)
            self._conn.execute(f'LISTEN "{channel(store.schema)}"')
        except psycopg.Error as exc:
            raise StoreError(f"cannot listen for new work: {exc}", url=store.url) from exc

    def wait(self, timeout: float) -> bool:
        try:
            return any(True for _ in self._conn.notifies(timeout=timeout, stop_after=1))
        except psycopg.Error as exc:
            raise StoreError(f"the connection listening for new work failed: {exc}", url=self._url) from exc

    def close(self) -> None:
        self._conn.close()


class FencedPostgresStore:
    """A `PostgresStore` as one lease holder writes to it: every write transaction (entries, ledger, sink tables)
    first checks that the board's fencing token is still the lease's, and fails with `LeaseLostError` if not."""

    def __init__(self, store: PostgresStore, lease: Lease) -> None:
        self._store = store
        self._lease = lease
        self.url = store.url
        self.ledger = PostgresLedger(self._transact, store.query)

    def _check(self, conn: Conn) -> None:
        row = conn.execute(_FENCE, (self._lease.board,)).fetchone()
        if row is None or row[0] != self._lease.token:
            current = None if row is None else int(row[0])
            raise LeaseLostError(self._lease.board, self._lease.token, current)

    def _transact(self, work: Callable[[Conn], T], *, wait: bool) -> T:
        def fenced(conn: Conn) -> T:
            self._check(conn)
            return work(conn)

        return self._store.transact(fenced, wait=wait)

    def append(
        self, board: str, entries: Sequence[PendingEntry], *, expected_version: int | None, wait: bool
    ) -> list[StoredEntry]:
        return self._store.append(board, entries, expected_version=expected_version, wait=wait, guard=self._check)

    def read(self, board: str, *, after: int, upto: int | None, wait: bool) -> list[StoredEntry]:
        return self._store.read(board, after=after, upto=upto, wait=wait)

    def head(self, board: str, *, wait: bool) -> tuple[int, str]:
        return self._store.head(board, wait=wait)

    def boards(self) -> list[str]:
        return self._store.boards()

    def feed(self, after: str | None, limit: int, *, wait: bool) -> list[tuple[str, StoredEntry]]:
        return self._store.feed(after, limit, wait=wait)

    def close(self) -> None:
        """Nothing to close: the pool is the store's."""
