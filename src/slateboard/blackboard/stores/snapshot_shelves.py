"""Where the memory and SQLite stores keep boards' snapshots (`blackboard.snapshots`): one row per board.

A snapshot is a cache beside the log, not part of it: a newer one replaces the older (the last put wins; an older
snapshot put late only covers less), and readers check it against the log before taking it. On SQLite the table
comes from migration step 4; a file opened read-only at an older layout has none, and reads as having no snapshot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from slateboard.blackboard.snapshots import SnapshotRow
from slateboard.errors import ReadOnlyStoreError

__all__ = ("MemorySnapshots", "SQLiteSnapshots", "SNAPSHOTS")

SNAPSHOTS = "slateboard_snapshots"
_GET = f"SELECT board, version, hash, format, body, seal FROM {SNAPSHOTS} WHERE board = ?"  # noqa: S608
_PUT = (
    f"INSERT INTO {SNAPSHOTS} (board, version, hash, format, body, seal) VALUES (?, ?, ?, ?, ?, ?) "  # noqa: S608
    "ON CONFLICT (board) DO UPDATE SET version = excluded.version, hash = excluded.hash, "
    "format = excluded.format, body = excluded.body, seal = excluded.seal"
)
_EXISTS = f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{SNAPSHOTS}'"  # noqa: S608


class MemorySnapshots:
    """Snapshots of a `memory://` store, in a dict (`read_only`: one that refuses every put)."""

    def __init__(self, *, read_only: bool = False, url: str = "memory://") -> None:
        self._rows: dict[str, SnapshotRow] = {}
        self._lock = threading.Lock()
        self._read_only = read_only
        self._url = url

    def get(self, board: str, *, wait: bool) -> SnapshotRow | None:
        with self._lock:
            return self._rows.get(board)

    def put(self, row: SnapshotRow, *, wait: bool) -> None:
        if self._read_only:
            raise ReadOnlyStoreError(f"keep a snapshot of board {row.board!r}", url=self._url)
        with self._lock:
            self._rows[row.board] = row


class SQLiteSnapshots:
    """Snapshots in the SQLite file's `slateboard_snapshots` table, through the store's transactions."""

    _get, _put = _GET, _PUT  # a subclass for another database gives its own statements

    def __init__(self, transact: Callable[..., Any], query: Callable[..., Any]) -> None:
        self._transact = transact
        self._query = query
        self._has_table = False  # checked until found: a file or schema from before step 4 gains it when migrated

    def get(self, board: str, *, wait: bool) -> SnapshotRow | None:
        def read(conn: Any) -> SnapshotRow | None:
            if not self._has_table:
                if not self._table_exists(conn):  # a read-only open of a file or schema from before step 4
                    return None
                self._has_table = True
            found = conn.execute(self._get, (board,)).fetchone()
            if found is None:
                return None
            board_name, version, digest, body_format, body, seal = found
            return SnapshotRow(board_name, int(version), digest, int(body_format), bytes(body), seal)

        result: SnapshotRow | None = self._query(read, wait=wait)
        return result

    def put(self, row: SnapshotRow, *, wait: bool) -> None:
        values = (row.board, row.version, row.hash, row.format, row.body, row.seal)
        self._transact(lambda conn: conn.execute(self._put, values), wait=wait)

    def _table_exists(self, conn: Any) -> bool:
        return conn.execute(_EXISTS).fetchone() is not None
