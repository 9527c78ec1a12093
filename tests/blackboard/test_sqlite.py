"""What is particular to the SQLite store: URLs, the file itself, locks, and reads that stay incremental."""

import sqlite3
from functools import partial
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from slateboard import Blackboard, Finding
from slateboard.errors import ConfigurationError, StoreError


class Fact(Finding):
    kind_name = "tests.sqlite.Fact"
    text: str


def fact(text: str = "f") -> Fact:
    return Fact(subject="s", text=text, confidence=0.9)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "write 'sqlite:///relative"),
        ("sqlite:///:memory:", "memory://"),
        ("sqlite:///no/such/dir/x.db", "directory no/such/dir does not exist"),
        ("sqlite:///x.db?synchronous=sometimes", "synchronous must be one of"),
        ("sqlite:///x.db?busy_timeout=-2", "busy_timeout must be a number of seconds"),
        ("sqlite:///x.db?colour=blue", "unknown option(s) colour"),
        ("postgresql://localhost/db?schema=Bad-Name", "schema must be a lowercase identifier"),
        ("postgresql://localhost/db?pool_size=0", "pool_size must be a whole number"),
        ("mysql://x", "is not understood"),
    ],
)
def test_a_bad_url_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Blackboard.open(url)
    assert message in str(caught.value)
    assert url in str(caught.value)


def test_relative_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Blackboard.open("sqlite:///rel.db?synchronous=normal&busy_timeout=1") as bb:
        anyio.run(partial(bb.board("b").write, fact(), author="a"))
    assert (tmp_path / "rel.db").is_file()
    with Blackboard.open(f"sqlite:///{tmp_path / 'rel.db'}") as bb:
        assert bb.boards() == ["b"]


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some text, not SQLite " * 100)
    with pytest.raises(StoreError, match=r"notes\.txt"):
        Blackboard.open(f"sqlite:///{path}")
    assert path.read_text().startswith("just some text")


def test_a_file_from_a_newer_layout_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    Blackboard.open(url).close()
    conn = sqlite3.connect(tmp_path / "b.db")
    conn.execute("UPDATE slateboard_meta SET value='99' WHERE key='layout'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer slateboard"):
        Blackboard.open(url)


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    bb = Blackboard.open(f"sqlite:///{tmp_path / 'b.db'}")
    bb.close()
    with pytest.raises(StoreError, match="closed"):
        anyio.run(bb.board("b").view)


@pytest.mark.anyio
async def test_a_write_waits_in_a_thread_while_another_connection_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    with Blackboard.open(f"sqlite:///{path}?busy_timeout=5") as bb:
        board = bb.board("b")
        await board.write(fact("first"), author="a")
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        written, ticked = anyio.Event(), anyio.Event()
        ticks = 0

        async def write() -> None:
            await board.write(fact("second"), author="a")
            written.set()

        async def ticker() -> None:
            nonlocal ticks
            while ticks < 10:
                ticks += 1
                await anyio.lowlevel.checkpoint()
            ticked.set()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(write)
                await anyio.wait_all_tasks_blocked()  # the write waits for the lock, in a worker thread
                tg.start_soon(ticker)
                await ticked.wait()
                assert not written.is_set()  # the event loop kept running while the write waited
                blocker.execute("COMMIT")
        blocker.close()
        assert written.is_set()
        assert [e.payload.text for e in await board.history()] == ["first", "second"]  # type: ignore[attr-defined]


def test_a_lock_held_past_the_timeout_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    with Blackboard.open(f"sqlite:///{path}?busy_timeout=0.2") as bb:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match=r"locked by another writer for more than 0\.2 s"):
            anyio.run(partial(bb.board("b").write, fact(), author="a"))
        blocker.execute("ROLLBACK")
        blocker.close()
        anyio.run(partial(bb.board("b").write, fact(), author="a"))
        assert bb.boards() == ["b"]


@pytest.mark.anyio
async def test_views_read_only_what_they_have_not_seen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with Blackboard.open(url) as writer_bb, Blackboard.open(url) as reader_bb:
        writer, reader = writer_bb.board("b"), reader_bb.board("b")
        await writer.write_many([fact(str(i)) for i in range(500)], author="w")
        assert (await reader.view()).version == 500
        assert reader.cache_info().rows_loaded == 500
        for i in range(20):
            await writer.write(fact(f"new{i}"), author="w")
            latest = (await reader.view()).latest(Fact)
            assert latest is not None
            assert latest.text == f"new{i}"
        assert reader.cache_info().rows_loaded == 520  # 20 more rows, not 20 re-reads of the log
        assert writer.cache_info().rows_loaded == 0  # its own writes were indexed as it made them


@pytest.mark.anyio
async def test_watch_sees_another_handles_writes_by_polling(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with Blackboard.open(url) as one, Blackboard.open(url) as two:
        seen: list[str] = []
        saw_x = anyio.Event()
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def consume() -> None:
                    async for entry in one.board("b").watch(after=0, poll_interval=0.02):
                        seen.append(entry.payload.text)  # type: ignore[attr-defined]
                        saw_x.set()
                        if len(seen) == 2:
                            break

                tg.start_soon(consume)
                await two.board("b").write(fact("x"), author="a")
                await saw_x.wait()  # found by polling: the write came through another handle
                await two.board("b").write(fact("y"), author="a")
        assert seen == ["x", "y"]
