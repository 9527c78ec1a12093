"""Where the PostgreSQL store keeps boards' snapshots (`blackboard.snapshots`): one row per board.

As on SQLite (`snapshot_shelves`), a snapshot is a cache beside the log: the last put wins, and readers check it
against the log before taking it. The table comes from migration step 4; a schema opened read-only at an older
layout has none, and reads as having no snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg import Connection

from slateboard.blackboard.snapshots import SnapshotRow

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


class PostgresSnapshots:
    """Snapshots in the schema's `slateboard_snapshots` table, through the store's transactions."""

    def __init__(self, transact: Callable[..., Any], query: Callable[..., Any]) -> None:
        self._transact = transact
        self._query = query
        self._has_table = False  # checked until found: a file or schema from before step 4 gains it when migrated

    def get(self, board: str, *, wait: bool) -> SnapshotRow | None:
        def read(conn: Conn) -> SnapshotRow | None:
            if not self._has_table:
                exists = conn.execute("SELECT to_regclass(%s)", (SNAPSHOTS,)).fetchone()
                if exists is None or exists[0] is None:  # a read-only open of a schema from before step 4
                    return None
                self._has_table = True
            found = conn.execute(_GET, (board,)).fetchone()
            if found is None:
                return None
            board_name, version, digest, body_format, body, seal = found
            return SnapshotRow(board_name, int(version), digest, int(body_format), bytes(body), seal)

        result: SnapshotRow | None = self._query(read, wait=wait)
        return result

    def put(self, row: SnapshotRow, *, wait: bool) -> None:
        values = (row.board, row.version, row.hash, row.format, row.body, row.seal)
        self._transact(lambda conn: conn.execute(_PUT, values), wait=wait)
