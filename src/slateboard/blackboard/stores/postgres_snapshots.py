"""Where the PostgreSQL store keeps boards' snapshots (`blackboard.snapshots`): one row per board.

As on SQLite (`snapshot_shelves`), a snapshot is a cache beside the log: the last put wins, and readers check it
against the log before taking it. The table comes from migration step 4; a schema opened read-only at an older
layout has none, and reads as having no snapshot.
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from slateboard.blackboard.stores.snapshot_shelves import SQLiteSnapshots

__all__ = ("PostgresSnapshots", "SNAPSHOTS", "SNAPSHOT_STATEMENTS")

Conn = Connection[tuple[Any, ...]]
SNAPSHOTS = "slateboard_snapshots"
SNAPSHOT_STATEMENTS = (
    f"""CREATE TABLE IF NOT EXISTS {SNAPSHOTS} (
        board TEXT PRIMARY KEY,
        version BIGINT NOT NULL,
        hash TEXT NOT NULL,
        format INTEGER NOT NULL,
        body BYTEA NOT NULL,
        seal TEXT NOT NULL
    )""",
)
_GET = f"SELECT board, version, hash, format, body, seal FROM {SNAPSHOTS} WHERE board = %s"  # noqa: S608
_PUT = (
    f"INSERT INTO {SNAPSHOTS} (board, version, hash, format, body, seal) VALUES (%s, %s, %s, %s, %s, %s) "  # noqa: S608
    "ON CONFLICT (board) DO UPDATE SET version = EXCLUDED.version, hash = EXCLUDED.hash, "
    "format = EXCLUDED.format, body = EXCLUDED.body, seal = EXCLUDED.seal"
)


class PostgresSnapshots(SQLiteSnapshots):
    """Snapshots in the schema's `slateboard_snapshots` table, through the store's transactions."""

    _get, _put = _GET, _PUT

    def _table_exists(self, conn: Any) -> bool:
        exists = conn.execute("SELECT to_regclass(%s)", (SNAPSHOTS,)).fetchone()
        return exists is not None and exists[0] is not None
