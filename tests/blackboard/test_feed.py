"""The feed's public face beyond the conformance suite: its sync twins, its items, read-only memory stores, and
`read_only` reaching a backend through the registry."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from pydantic import ValidationError

from slateboard import Blackboard, FeedItem
from slateboard.blackboard.stores import LedgerRow, MemoryStore, StoreOptions, register_store, unregister_store
from slateboard.errors import ReadOnlyStoreError
from slateboard.testing.feed_conformance import FeedNote
from tests.blackboard.writer_process import Line

ROOT = Path(__file__).resolve().parents[2]


def note(text: str) -> FeedNote:
    return FeedNote(subject="s", text=text, confidence=0.5)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_sync_twins_read_and_follow(kind: str, tmp_path: Path) -> None:
    url = "memory://" if kind == "memory" else f"sqlite:///{tmp_path / 'b.db'}"
    with Blackboard.open(url) as bb:
        bb.board("a").write_sync(note("a1"), author="w")
        bb.board("b").write_many_sync([note("b1"), note("b2")], author="w")
        items = bb.feed_sync()
        assert [(i.board, i.entry.version) for i in items] == [("a", 1), ("b", 1), ("b", 2)]
        assert bb.feed_sync(after=items[0].position, limit=1) == items[1:2]
        followed = []
        for item in bb.follow_sync(after=items[0].position):
            followed.append(item)
            if len(followed) == 2:
                break
        assert followed == list(items[1:])


def test_a_feed_item_is_frozen_and_its_position_is_the_seq_zero_padded() -> None:
    with Blackboard.open("memory://") as bb:
        entry = bb.board("a").write_sync(note("x"), author="w")
        (item,) = bb.feed_sync()
    assert (item.board, item.entry) == ("a", entry)
    assert item.position == f"{entry.seq:020d}"
    with pytest.raises(ValidationError):
        item.position = "other"  # type: ignore[misc]
    assert isinstance(item, FeedItem)
    assert item.model_dump()["entry"]["payload"]["text"] == "x"  # the finding dumps with its own fields


def test_memory_opened_read_only_refuses_appends_and_ledger_changes() -> None:
    with Blackboard.open("memory://", read_only=True) as bb:
        with pytest.raises(ReadOnlyStoreError, match=r"append to board 'a'.*opened read-only"):
            bb.board("a").write_sync(note("x"), author="w")
        with pytest.raises(ReadOnlyStoreError, match="change the ledger"):
            bb.store.ledger.claim(LedgerRow("k", "h", "a", "t", "pending"), wait=True)
        with pytest.raises(ReadOnlyStoreError):
            bb.store.ledger.acquire("t", "me", 1.0, "", wait=True)
        assert bb.feed_sync() == ()
        assert bb.store.ledger.rows(None, wait=True) == []


@pytest.fixture
def recording() -> Iterator[list[StoreOptions]]:
    seen: list[StoreOptions] = []

    def opener(url: str, options: StoreOptions) -> MemoryStore:
        seen.append(options)
        return MemoryStore(url, read_only=options.read_only)

    register_store("recording", opener)
    try:
        yield seen
    finally:
        unregister_store("recording")


def test_read_only_reaches_the_backend(recording: list[StoreOptions]) -> None:
    Blackboard.open("recording://x", busy_timeout=3).close()
    Blackboard.open("recording://x", read_only=True).close()
    assert recording == [StoreOptions(busy_timeout=3, read_only=False), StoreOptions(read_only=True)]


def test_writer_processes_on_one_file_are_followed_exactly_once(tmp_path: Path) -> None:
    """Writer processes on boards of their own, one SQLite file; a read-only follower reading all along sees every
    entry once, each board's in version order."""
    url, count, names = f"sqlite:///{tmp_path / 'shared.db'}", 60, ("p1", "p2", "p3")
    Blackboard.open(url).close()
    at = time.time() + 1.5
    writers = [
        subprocess.Popen([sys.executable, "-m", "tests.blackboard.writer_process", url, f"board-{name}", name,
                          str(count), "append"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "WRITER_START_AT": str(at)})
        for name in names
    ]  # fmt: skip

    async def follow() -> list[FeedItem]:
        with Blackboard.open(url, read_only=True) as bb:
            items: list[FeedItem] = []
            with anyio.fail_after(120):
                async for item in bb.follow(poll_interval=0.01):
                    items.append(item)
                    if len(items) == count * len(names):
                        break
            return items

    items = anyio.run(follow)
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    keys = [(item.board, item.entry.version) for item in items]
    assert len(set(keys)) == len(keys)
    for name in names:
        assert [v for b, v in keys if b == f"board-{name}"] == list(range(1, count + 1))
    assert [item.entry.seq for item in items] == list(range(1, len(items) + 1))  # seq order, no gap
    assert all(isinstance(item.entry.payload, Line) for item in items)
