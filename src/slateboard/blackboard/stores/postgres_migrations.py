"""The PostgreSQL store's schema: its migration steps (`STEPS`), and how a schema is checked and migrated at open.

The tables are those of the SQLite store (`sqlite_schema`): the log with its unique (board, version) constraint
and the writing transaction of each entry (`tx`, for the feed), the layout version, the idempotency ledger and the
target locks, plus triggers that refuse UPDATE, DELETE and TRUNCATE on the log; all in the schema the store's URL
names (`?schema=`, else `public`).

The rules are `migrations`' (read the layout before writing, refuse a newer one, migrate in one transaction under
a lock). The lock is a session-level advisory lock (`SCHEMA_LOCK`) on a connection of the migration's own, taken
before its transaction begins, so processes on many machines opening one fresh schema at once apply each step
once: the transaction that reads the layout again starts after the lock is granted, and so sees (and its catalog
caches know of) the tables a migration that held the lock before it committed. Closing the connection releases it.

Statements name tables without a schema: every connection's `search_path` is the store's schema, which is created
(if missing) in the migration's transaction before the steps run.

To add a step: append `Step(n, "what it adds", ("SQL", ...))` to `STEPS`, and the matching step to
`sqlite_migrations.STEPS`, so a layout number means the same on both backends.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import Connection, sql

from slateboard.blackboard.stores.migrations import (
    Step,
    check_readable,
    check_steps,
    newest,
    parse_layout,
    run_steps,
)
from slateboard.blackboard.stores.postgres_queue import queue_statements
from slateboard.blackboard.stores.postgres_snapshots import SNAPSHOT_STATEMENTS
from slateboard.errors import StoreError

__all__ = (
    "STEPS",
    "LAYOUT_VERSION",
    "SCHEMA_LOCK",
    "read_layout",
    "check_before_writing",
    "migrate",
    "check_for_reading",
)

Conn = Connection[tuple[Any, ...]]
ENTRIES = "slateboard_entries"
# The key of the advisory lock that serializes migrations (any constant; this one spells "slate").
SCHEMA_LOCK = 0x736C617465
_APPEND_ONLY = "slateboard: the entry log is append-only"

_LAYOUT_1 = (
    """CREATE TABLE IF NOT EXISTS slateboard_entries (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        board TEXT NOT NULL,
        version BIGINT NOT NULL,
        kind TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        author TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        payload TEXT NOT NULL,
        hash TEXT NOT NULL,
        CONSTRAINT slateboard_entries_board_version UNIQUE (board, version)
    )""",
    "CREATE TABLE IF NOT EXISTS slateboard_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS slateboard_ledger (
        key TEXT PRIMARY KEY,
        params_hash TEXT NOT NULL,
        board TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        receipt TEXT NOT NULL,
        error TEXT NOT NULL,
        fence BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS slateboard_target_locks (
        target TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        token BIGINT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    )""",
    f"""CREATE OR REPLACE FUNCTION slateboard_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$""",
    """CREATE OR REPLACE TRIGGER slateboard_entries_no_change BEFORE UPDATE OR DELETE ON slateboard_entries
        FOR EACH ROW EXECUTE FUNCTION slateboard_append_only()""",
    """CREATE OR REPLACE TRIGGER slateboard_entries_no_truncate BEFORE TRUNCATE ON slateboard_entries
        FOR EACH STATEMENT EXECUTE FUNCTION slateboard_append_only()""",
)

# Every entry records the transaction that wrote it. Existing rows get the migrating transaction's id (one value,
# so their order among themselves stays seq order; pg_current_xact_id is STABLE, so PostgreSQL stores that default
# once instead of rewriting the table); the feed reads in (tx, seq) order only below the oldest
# transaction still running, so a transaction that commits late is never skipped (see PostgresStore.feed).
_LAYOUT_2 = (
    "ALTER TABLE slateboard_entries ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id()",
    "CREATE INDEX slateboard_entries_tx_seq ON slateboard_entries (tx, seq)",
)

STEPS: tuple[Step, ...] = check_steps(
    (
        Step(1, "the entry log (append-only), the layout stamp, the idempotency ledger and target locks", _LAYOUT_1),
        Step(2, "the feed across boards: each entry's writing transaction (tx), indexed with seq", _LAYOUT_2),
        # Schemas written before migrations may have it already: its statements are idempotent.
        Step(
            3, "the work queue (slateboard_work) and the trigger that wakes a board a person answered", queue_statements
        ),
        # A cache beside the log (blackboard.snapshots): readers of an older schema see no snapshot, so not required.
        Step(
            4,
            "board snapshots (slateboard_snapshots): a cold open reads the snapshot, then the tail",
            SNAPSHOT_STATEMENTS,
            False,
        ),
    )
)
"""Every migration of the PostgreSQL store, in order; a schema's layout is the version of the last one applied."""

LAYOUT_VERSION = newest(STEPS)
"""The layout a schema has once migrated (the newest step's version)."""


def schema_statements(schema: str) -> list[str]:
    """The DDL of a fresh store in `schema` (an identifier, already checked) at the newest layout, to run in one
    transaction on a connection whose search_path is `schema`."""
    return [f'CREATE SCHEMA IF NOT EXISTS "{schema}"', *(statement for step in STEPS for statement in step.sql(schema))]


_STAMP = (
    "INSERT INTO slateboard_meta (key, value) VALUES ('layout', %s) "
    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
)


def read_layout(conn: Conn, schema: str) -> str | None:
    """The layout stamp as stored in `schema`, or None when it has none (no schema, or no tables yet). Reads only."""
    exists = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".slateboard_meta',)).fetchone()
    if exists is None or exists[0] is None:
        return None
    query = sql.SQL("SELECT value FROM {}.slateboard_meta WHERE key = 'layout'").format(sql.Identifier(schema))
    found = conn.execute(query).fetchone()
    return None if found is None else str(found[0])


def check_before_writing(conn: Conn, schema: str, *, url: str) -> int:
    """The schema's layout, read without a lock before anything is written; `SchemaVersionError` when this release
    cannot open it. A layout below the newest then needs `migrate`."""
    return parse_layout(read_layout(conn, schema), where=f"schema {schema!r}", url=url, steps=STEPS)


def migrate(conninfo: str, schema: str, *, url: str, options: str, lock_timeout: float) -> int:
    """Run the missing steps and stamp the new layout, in one transaction under the migration lock; the layout
    after. `options`: the store's session settings; `lock_timeout`: seconds to wait for another migration."""
    where = f"schema {schema!r}"
    timeout = f"-c lock_timeout={max(int(lock_timeout * 1000), 1)}"
    try:
        with psycopg.connect(conninfo, autocommit=True, options=f"{options} {timeout}") as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
            with conn.transaction():
                layout = parse_layout(read_layout(conn, schema), where=where, url=url, steps=STEPS)
                if layout < newest(STEPS):
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                    layout = run_steps(conn.execute, STEPS, layout, where=where, url=url, schema=schema)
                    conn.execute(_STAMP, (str(layout),))
    except psycopg.errors.LockNotAvailable as exc:
        raise StoreError(f"{where}: another process migrated it for more than {lock_timeout:g} s", url=url) from exc
    except psycopg.Error as exc:
        raise StoreError(f"{where}: migrating failed: {exc}", url=url) from exc
    return layout


def check_for_reading(conn: Conn, schema: str, *, url: str) -> int:
    """The layout of a schema opened read-only: it must hold a slateboard store this release can read as it is."""
    where = f"schema {schema!r}"
    found = read_layout(conn, schema)
    if found is None:
        raise StoreError(f"{where} holds no slateboard store (no slateboard_meta table); nothing to read", url=url)
    layout = parse_layout(found, where=where, url=url, steps=STEPS)
    check_readable(STEPS, layout, where=where, url=url)
    return layout
