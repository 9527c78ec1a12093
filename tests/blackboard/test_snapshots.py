"""Snapshots on every store slateboard ships (memory, SQLite, PostgreSQL when a server can be had): the snapshot
conformance suite, and the SQLite file's migration to the snapshot table."""

import sqlite3
from pathlib import Path

import anyio

from slateboard import Blackboard
from slateboard.blackboard.stores import sqlite_migrations
from slateboard.testing.conformance import Note
from slateboard.testing.snapshot_conformance import OnRegisteredStores, SnapshotConformance


class TestSnapshots(OnRegisteredStores, SnapshotConformance):
    """Every registered store that keeps snapshots, one parametrized copy each."""


def test_a_file_from_before_snapshots_reads_as_having_none_and_migrates(tmp_path: Path) -> None:
    """A file at layout 3 opened read-only has no snapshot table and reads as having no snapshot; opened for
    writing it gains the table (step 4) and keeps one."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with Blackboard.open(url) as bb:
        bb.board("b").write_many_sync([Note(subject="s", text=str(i), confidence=0.5) for i in range(3)], author="a")
    with sqlite3.connect(tmp_path / "old.db") as conn:  # back to the layout before snapshots
        conn.execute("DROP TABLE slateboard_snapshots")
        conn.execute("UPDATE slateboard_meta SET value = '3' WHERE key = 'layout'")
    with Blackboard.open(url, read_only=True) as bb:
        board = bb.board("b")
        restored = board.restore_sync()
        assert restored is not None
        assert (restored.version, len(board.history_sync())) == (0, 3)
    with Blackboard.open(url) as bb:
        assert anyio.run(bb.board("b").save_snapshot) == 3
    with sqlite3.connect(tmp_path / "old.db") as conn:
        layout = conn.execute("SELECT value FROM slateboard_meta WHERE key = 'layout'").fetchone()[0]
    assert layout == str(sqlite_migrations.LAYOUT_VERSION)
    with Blackboard.open(url, read_only=True) as bb:
        board = bb.board("b")
        restored = board.restore_sync()
        assert restored is not None
        assert restored.version == 3
        assert len(board.history_sync()) == 3
        assert board.cache_info().rows_loaded == 0
