"""The SQLite store's migrations: the layout is checked before anything is written, older files are migrated in one
transaction, newer or unreadable stamps are refused leaving the file as it was, and concurrent opens of a fresh
file apply each step once."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import anyio
import pytest

from slateboard import Blackboard
from slateboard.blackboard.entries import PendingEntry
from slateboard.blackboard.stores import sqlite_migrations
from slateboard.blackboard.stores.base import chain
from slateboard.blackboard.stores.migrations import Step
from slateboard.blackboard.stores.sqlite import SQLiteStore
from slateboard.blackboard.stores.sqlite_schema import TABLES
from slateboard.errors import SchemaVersionError, StoreError
from slateboard.testing.feed_conformance import FeedNote
from tests.blackboard.racing_opens import open_at_once

NEWEST = sqlite_migrations.LAYOUT_VERSION


def layout_of(path: Path) -> str | None:
    with sqlite3.connect(path) as conn:
        found = conn.execute("SELECT value FROM slateboard_meta WHERE key = 'layout'").fetchone()
    return None if found is None else str(found[0])


def tables_of(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def snapshot(path: Path) -> tuple[bytes, list[str]]:
    """The file's bytes and its directory's listing."""
    return path.read_bytes(), sorted(os.listdir(path.parent))


def make_layout_1(path: Path, boards: dict[str, list[str]]) -> None:
    """A file as slateboard wrote it before migrations existed: step 1's tables, stamp 1, WAL, chained entries."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for statement in sqlite_migrations.STEPS[0].sql():
        conn.execute(statement)
    conn.execute("INSERT INTO slateboard_meta (key, value) VALUES ('layout', '1')")
    for board, texts in boards.items():
        pending = [
            PendingEntry(FeedNote.kind_name, 1, "old", "2025-01-01T00:00:00+00:00", note_payload(text))
            for text in texts
        ]
        for entry, (version, digest) in zip(pending, chain(board, (0, "0" * 64), pending, None), strict=True):
            conn.execute(
                "INSERT INTO slateboard_entries (board, version, kind, schema_version, author, recorded_at, payload, "
                "hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (board, version, entry.kind, 1, entry.author, entry.recorded_at, entry.payload, digest),
            )
    conn.close()


def note_payload(text: str) -> str:
    return FeedNote(subject="s", text=text, confidence=0.5).model_dump_json()


def stamped(path: Path, stamp: str) -> None:
    """A file in SQLite's default (rollback journal) mode with only a layout stamp."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE slateboard_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        conn.execute("INSERT INTO slateboard_meta VALUES ('layout', ?)", (stamp,))
    conn.close()


def test_every_step_is_numbered_and_described() -> None:
    assert [step.version for step in sqlite_migrations.STEPS] == list(range(1, NEWEST + 1))
    assert all(step.description for step in sqlite_migrations.STEPS)
    with pytest.raises(ValueError, match="numbered 1, 2, 3"):
        sqlite_migrations.check_steps((Step(1, "a", ()), Step(3, "c", ())))


def test_a_fresh_file_gets_every_step_and_the_declared_columns(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    Blackboard.open(f"sqlite:///{path}").close()
    assert layout_of(path) == str(NEWEST)
    with sqlite3.connect(path) as conn:
        for model in TABLES:  # the SQLModel declarations describe the newest layout
            table = model.__tablename__  # type: ignore[attr-defined]
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            assert columns == set(model.model_fields), table


def test_a_layout_1_file_is_migrated_and_keeps_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_layout_1(path, {"a": ["a1", "a2"], "b": ["b1"]})

    async def read() -> tuple[list[str], list[str]]:
        with Blackboard.open(f"sqlite:///{path}") as bb:
            await bb.board("a").verify()
            await bb.board("b").write(FeedNote(subject="s", text="b2", confidence=0.5), author="new")
            await bb.board("b").verify()
            texts = [e.payload.text for e in await bb.board("a").history()]  # type: ignore[attr-defined]
            return texts, [item.entry.payload.text for item in await bb.feed()]  # type: ignore[attr-defined]

    texts, fed = anyio.run(read)
    assert layout_of(path) == str(NEWEST)
    assert texts == ["a1", "a2"]
    assert fed == ["a1", "a2", "b1", "b2"]


@pytest.mark.parametrize(("stamp", "message"), [("99", "newer slateboard"), ("two", "not a layout number")])
def test_a_newer_or_unreadable_stamp_is_refused_and_the_file_left_as_it_was(
    tmp_path: Path, stamp: str, message: str
) -> None:
    path = tmp_path / "other.db"
    stamped(path, stamp)
    before = snapshot(path)
    for read_only in (False, True):
        with pytest.raises(SchemaVersionError, match=message) as caught:
            Blackboard.open(f"sqlite:///{path}", read_only=read_only)
        assert str(path) in str(caught.value)
        assert (caught.value.found, caught.value.newest) == (stamp, NEWEST)
        assert snapshot(path) == before  # no table added, no -wal or -shm, not switched to WAL
    assert path.read_bytes()[18:20] == b"\x01\x01"  # the header's journal bytes: still a rollback-journal file
    assert tables_of(path) == {"slateboard_meta"}


def test_a_failing_step_rolls_back_every_step_of_the_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "b.db"
    Blackboard.open(f"sqlite:///{path}").close()
    broken = Step(NEWEST + 1, "a table, then a typo", ("CREATE TABLE half (n INTEGER)", "CREATE TABEL oops (n)"))
    fine = Step(NEWEST + 2, "never reached", ("CREATE TABLE later (n INTEGER)",))
    monkeypatch.setattr(sqlite_migrations, "STEPS", (*sqlite_migrations.STEPS, broken, fine))
    with pytest.raises(StoreError, match=rf"migration step {NEWEST + 1} \(a table, then a typo\) failed") as caught:
        Blackboard.open(f"sqlite:///{path}")
    assert f"stays at layout {NEWEST}" in str(caught.value)
    assert layout_of(path) == str(NEWEST)
    assert not {"half", "later"} & tables_of(path)


def test_threads_opening_one_fresh_file_at_once_apply_each_step_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A step that fails when run twice (no IF NOT EXISTS) and counts its runs: a race would show in either.
    probe = Step(NEWEST + 1, "probe", ("CREATE TABLE probe (n INTEGER)", "INSERT INTO probe VALUES (1)"))
    monkeypatch.setattr(sqlite_migrations, "STEPS", (*sqlite_migrations.STEPS, probe))
    for attempt in range(5):
        path = tmp_path / f"race-{attempt}.db"
        start = threading.Barrier(3)
        errors: list[BaseException] = []

        def open_it(path: Path = path, start: threading.Barrier = start, errors: list[BaseException] = errors) -> None:
            start.wait()
            try:
                SQLiteStore(path, url=f"sqlite:///{path}").close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert layout_of(path) == str(NEWEST + 1)
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM probe").fetchone() == (1,)


def test_processes_opening_one_fresh_file_at_once_all_open_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    open_at_once(url)
    assert layout_of(tmp_path / "race.db") == str(NEWEST)
    assert tables_of(tmp_path / "race.db") == {t.__tablename__ for t in TABLES}  # type: ignore[attr-defined]
