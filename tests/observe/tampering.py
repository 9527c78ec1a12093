"""What someone who can write a board's SQLite file does: drop the guards, cut the tail, or edit an entry and
re-chain every hash after it so that the chain alone verifies again (board "case")."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from slateboard.blackboard.entries import GENESIS_HASH, PendingEntry, seal

__all__ = ("TABLE", "raw", "truncate", "rewrite")

TABLE = "slateboard_entries"


def raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")
    conn.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_delete")
    return conn


def truncate(path: Path, keep: int) -> None:
    with raw(path) as conn:
        conn.execute(f"DELETE FROM {TABLE} WHERE board='case' AND version > ?", (keep,))


def rewrite(path: Path, version: int) -> None:
    """Edit one entry and re-chain every hash from it on: the chain alone verifies again."""
    with raw(path) as conn:
        conn.execute(f"UPDATE {TABLE} SET author='mallory' WHERE board='case' AND version=?", (version,))
        rows = conn.execute(
            f"SELECT version, kind, schema_version, author, recorded_at, payload FROM {TABLE} "
            "WHERE board='case' ORDER BY version"
        ).fetchall()
        prev = GENESIS_HASH
        for v, kind, sv, author, at, payload in rows:
            prev = seal(prev, "case", v, PendingEntry(kind, sv, author, at, payload))
            conn.execute(f"UPDATE {TABLE} SET hash=? WHERE board='case' AND version=?", (prev, v))
