"""The SQLite store's migration steps (`STEPS`), and how a file is checked and migrated when it is opened.

The rules are `migrations`' (read the layout before writing, refuse a newer one, migrate under BEGIN IMMEDIATE).
Step 1 is the layout every file had before migrations existed, frozen here as plain SQL: the SQLModel tables in
`sqlite_schema` describe the newest layout, and a test checks that a migrated file has their columns.

To add a step: append `Step(n, "what it adds", ("SQL", ...))` to `STEPS` (and the matching step to
`postgres_migrations.STEPS`, so a layout number means the same on both), and update `sqlite_schema`'s tables.
"""

from __future__ import annotations

import sqlite3

from slateboard.blackboard.stores.migrations import (
    Step,
    check_readable,
    check_steps,
    newest,
    parse_layout,
    run_steps,
)
from slateboard.errors import StoreError

__all__ = ("STEPS", "LAYOUT_VERSION", "read_layout", "check_before_writing", "migrate", "check_for_reading")

_APPEND_ONLY = "slateboard: the entry log is append-only"

_LAYOUT_1 = (
    """CREATE TABLE IF NOT EXISTS slateboard_entries (
        seq INTEGER NOT NULL,
        board VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        kind VARCHAR NOT NULL,
        schema_version INTEGER NOT NULL,
        author VARCHAR NOT NULL,
        recorded_at VARCHAR NOT NULL,
        payload VARCHAR NOT NULL,
        hash VARCHAR NOT NULL,
        PRIMARY KEY (seq),
        CONSTRAINT slateboard_entries_board_version UNIQUE (board, version)
    )""",
    """CREATE TABLE IF NOT EXISTS slateboard_meta (
        "key" VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        PRIMARY KEY ("key")
    )""",
    """CREATE TABLE IF NOT EXISTS slateboard_ledger (
        "key" VARCHAR NOT NULL,
        params_hash VARCHAR NOT NULL,
        board VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        attempts INTEGER NOT NULL,
        receipt VARCHAR NOT NULL,
        error VARCHAR NOT NULL,
        fence INTEGER NOT NULL,
        PRIMARY KEY ("key")
    )""",
    """CREATE TABLE IF NOT EXISTS slateboard_target_locks (
        target VARCHAR NOT NULL,
        holder VARCHAR NOT NULL,
        token INTEGER NOT NULL,
        expires_at FLOAT NOT NULL,
        PRIMARY KEY (target)
    )""",
    "CREATE TRIGGER IF NOT EXISTS slateboard_entries_no_update BEFORE UPDATE ON slateboard_entries "
    f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
    "CREATE TRIGGER IF NOT EXISTS slateboard_entries_no_delete BEFORE DELETE ON slateboard_entries "
    f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
)

_SNAPSHOTS = (
    """CREATE TABLE IF NOT EXISTS slateboard_snapshots (
        board VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        hash VARCHAR NOT NULL,
        format INTEGER NOT NULL,
        body BLOB NOT NULL,
        seal VARCHAR NOT NULL,
        PRIMARY KEY (board)
    )""",
)

STEPS: tuple[Step, ...] = check_steps(
    (
        Step(1, "the entry log (append-only), the layout stamp, the idempotency ledger and target locks", _LAYOUT_1),
        # Writers serialize (BEGIN IMMEDIATE), so seq is already commit order: the feed needs no new column here.
        # The step exists so that a layout number means the same on every backend.
        Step(2, "the feed across boards: seq is commit order on SQLite; nothing to change", (), False),
        Step(3, "the work queue of workers on many machines: PostgreSQL only; nothing to change", (), False),
        # A cache beside the log (blackboard.snapshots): readers of an older file see no snapshot, so not required.
        Step(
            4,
            "board snapshots (slateboard_snapshots): a cold open reads the snapshot, then the tail",
            _SNAPSHOTS,
            False,
        ),
    )
)
"""Every migration of the SQLite store, in order; a file's layout is the version of the last one it applied."""

LAYOUT_VERSION = newest(STEPS)
"""The layout a file has once migrated (the newest step's version)."""

_STAMP = (
    "INSERT INTO slateboard_meta (key, value) VALUES ('layout', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def read_layout(conn: sqlite3.Connection) -> str | None:
    """The layout stamp as stored, or None when the file has none (a fresh file). Reads only."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'slateboard_meta'").fetchone():
        return None
    found = conn.execute("SELECT value FROM slateboard_meta WHERE key = 'layout'").fetchone()
    return None if found is None else str(found[0])


def check_before_writing(conn: sqlite3.Connection, *, where: str, url: str) -> int:
    """The file's layout, read before anything is written; `SchemaVersionError` when this release cannot open it."""
    return parse_layout(read_layout(conn), where=where, url=url, steps=STEPS)


def migrate(conn: sqlite3.Connection, *, where: str, url: str) -> int:
    """Run the missing steps and stamp the new layout, in one BEGIN IMMEDIATE transaction; the layout after.

    The layout is read again once the write lock is held: another process may have migrated meanwhile.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        layout = parse_layout(read_layout(conn), where=where, url=url, steps=STEPS)
        if layout < newest(STEPS):
            layout = run_steps(conn.execute, STEPS, layout, where=where, url=url)
            conn.execute(_STAMP, (str(layout),))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return layout


def check_for_reading(conn: sqlite3.Connection, *, where: str, url: str) -> int:
    """The layout of a file opened read-only: it must be a slateboard file this release can read as it is."""
    found = read_layout(conn)
    if found is None:
        raise StoreError(f"{where} is not a slateboard database (it has no layout stamp); nothing to read", url=url)
    layout = parse_layout(found, where=where, url=url, steps=STEPS)
    check_readable(STEPS, layout, where=where, url=url)
    return layout
