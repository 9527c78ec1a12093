"""`Blackboard.open(url, read_only=True)` on SQLite: reads everything, writes nothing (the file's bytes are compared),
creates nothing, migrates nothing, and refuses appends and ledger writes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from slateboard import Blackboard
from slateboard.blackboard.stores.ledger import LedgerRow
from slateboard.errors import ReadOnlyStoreError, StoreError
from slateboard.testing.feed_conformance import FeedNote, collect
from tests.blackboard.test_sqlite_migrations import layout_of, make_layout_1, snapshot

ROOT = Path(__file__).resolve().parents[2]


def note(text: str) -> FeedNote:
    return FeedNote(subject="s", text=text, confidence=0.5)


async def written(path: Path) -> None:
    with Blackboard.open(f"sqlite:///{path}") as bb:
        await bb.board("a").write_many([note("a1"), note("a2")], author="w")
        await bb.board("b").write(note("b1"), author="w")


def assert_unchanged(path: Path, before: tuple[bytes, list[str]]) -> None:
    """The file's bytes are the same; the only names that may have appeared are its WAL readers' -wal and -shm,
    and the -wal holds nothing."""
    data, listing = snapshot(path)
    assert data == before[0]
    assert set(listing) - set(before[1]) <= {f"{path.name}-wal", f"{path.name}-shm"}
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_missing_file_is_named_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(StoreError, match="does not exist") as caught:
        Blackboard.open(f"sqlite:///{path}", read_only=True)
    assert str(path) in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_a_file_without_slateboard_tables_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    before = snapshot(path)
    with pytest.raises(StoreError, match="not a slateboard database"):
        Blackboard.open(f"sqlite:///{path}", read_only=True)
    assert snapshot(path) == before


@pytest.mark.anyio
async def test_reads_everything_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "slate.db"
    await written(path)
    before = snapshot(path)
    with Blackboard.open(f"sqlite:///{path}", read_only=True) as bb:
        assert bb.boards() == ["a", "b"]
        await bb.board("a").verify()
        assert [e.payload.text for e in await bb.board("a").history()] == ["a1", "a2"]  # type: ignore[attr-defined]
        assert [item.entry.payload.text for item in await bb.feed()] == ["a1", "a2", "b1"]  # type: ignore[attr-defined]
        with pytest.raises(ReadOnlyStoreError, match="append to board 'a': the store was opened read-only"):
            await bb.board("a").write(note("no"), author="w")
        with pytest.raises(ReadOnlyStoreError, match="opened read-only"):
            bb.store.ledger.claim(LedgerRow("k", "h", "a", "t", "pending"), wait=True)
        with pytest.raises(ReadOnlyStoreError):
            bb.store.ledger.acquire("t", "me", 10.0, "", wait=True)
        assert bb.store.ledger.rows(None, wait=True) == []  # ledger reads still work
    assert_unchanged(path, before)


def test_a_layout_1_file_is_read_without_migrating(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_layout_1(path, {"a": ["a1", "a2"]})
    before = snapshot(path)

    async def read() -> list[str]:
        with Blackboard.open(f"sqlite:///{path}", read_only=True) as bb:
            await bb.board("a").verify()
            return [item.entry.payload.text for item in await bb.feed()]  # type: ignore[attr-defined]

    assert anyio.run(read) == ["a1", "a2"]  # the step it lacks is not needed for reading
    assert layout_of(path) == "1"
    assert_unchanged(path, before)


@pytest.mark.anyio
async def test_a_read_only_follower_sees_a_writer_live(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with Blackboard.open(url) as writer:
        await writer.board("a").write(note("first"), author="w")
        with Blackboard.open(url, read_only=True) as reader:
            (first,) = await collect(reader, 1)
            await writer.board("b").write(note("second"), author="w")
            await writer.board("a").write(note("third"), author="w")
            later = await collect(reader, 2, after=first.position)  # polled: another handle wrote them
            assert [(i.board, i.entry.payload.text) for i in later] == [("b", "second"), ("a", "third")]  # type: ignore[attr-defined]
            assert (await reader.board("a").view()).version == 2


@pytest.fixture
def locked_directory() -> Iterator[Path]:
    """A directory of its own, made read-only by the test, and removable again afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="slateboard-ro-"))
    try:
        yield directory
    finally:
        directory.chmod(0o700)
        shutil.rmtree(directory, ignore_errors=True)


def test_a_read_only_file_in_a_read_only_directory_can_be_read(locked_directory: Path) -> None:
    path = locked_directory / "archive.db"
    anyio.run(written, path)
    path.chmod(0o444)
    locked_directory.chmod(0o555)
    before = snapshot(path)
    script = (
        "import sys, anyio; import slateboard.testing.feed_conformance; from slateboard import Blackboard\n"
        "with Blackboard.open(sys.argv[1], read_only=True) as bb:\n"
        "    print(len(anyio.run(bb.board('a').history)), len(anyio.run(bb.feed)))\n"
    )
    command = [sys.executable, "-c", script, f"sqlite:///{path}"]
    if os.geteuid() == 0:
        # Root ignores permissions through two capabilities: drop them, so the permissions hold as for anyone.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: the file's permissions would not apply")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "3"]
    assert snapshot(path) == before  # nothing created: no -wal or -shm either
