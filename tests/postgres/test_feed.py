"""The feed across boards on a real PostgreSQL server: a writer that holds its transaction open holds the feed back
instead of being skipped (the sequence-gap problem), and concurrent writers are each followed exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import anyio
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, FeedItem
from slateboard.blackboard.entries import PendingEntry
from slateboard.blackboard.stores import postgres
from slateboard.blackboard.stores.base import FeedRow, chain
from slateboard.blackboard.stores.postgres import PostgresStore, backend
from slateboard.testing.feed_conformance import FeedNote, collect
from tests.blackboard.writer_process import Line

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url(postgres_server: str, tmp_path: Path) -> str:
    return backend.fresh_url(tmp_path)


def note(text: str) -> FeedNote:
    return FeedNote(subject="s", text=text, confidence=0.5)


def text_of(item: FeedItem) -> str:
    return str(item.entry.payload.text)  # type: ignore[attr-defined]


@dataclass
class HeldWrite:
    """An append made through the store's own transaction and insert, which waits to commit until released."""

    store: PostgresStore
    board: str
    text: str
    rollback: bool = False
    inserted: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    seq: int = 0

    def run(self) -> None:
        try:
            with self.store._transaction(wait=True) as conn:  # what PostgresStore.append does, paused before commit
                conn.execute(postgres._LOCK_BOARD, ("30000ms", self.board))
                entry = PendingEntry(FeedNote.kind_name, 1, "held", "2026-01-01T00:00:00+00:00",
                                     note(self.text).model_dump_json())  # fmt: skip
                ((version, digest),) = chain(self.board, self.store._head(conn, self.board), [entry], None)
                row = (self.board, version, entry.kind, 1, entry.author, entry.recorded_at, entry.payload, digest)
                found = conn.execute(postgres._INSERT, row).fetchone()
                self.seq = int(found[0]) if found else 0
                self.inserted.set()
                self.release.wait(60)
                if self.rollback:
                    raise _RolledBack
        except _RolledBack:
            pass
        finally:
            self.done.set()


class _RolledBack(Exception):
    pass


@contextmanager
def held(write: HeldWrite) -> Iterator[HeldWrite]:
    thread = threading.Thread(target=write.run)
    thread.start()
    try:
        assert write.inserted.wait(30), "the held writer did not insert"
        yield write
    finally:
        write.release.set()
        thread.join(60)


@pytest.mark.parametrize("outcome", ["commits", "rolls back"])
@pytest.mark.anyio
async def test_a_writer_holding_its_transaction_open_is_waited_for_not_skipped(url: str, outcome: str) -> None:
    store = PostgresStore.from_url(url)
    with Blackboard.open(url) as bb:
        await bb.board("c").write(note("before"), author="w")
        (before,) = await collect(bb, 1)
        polled, feed = threading.Event(), bb.store.feed

        def counted_feed(after: str | None, limit: int, *, wait: bool) -> list[FeedRow]:
            rows = feed(after, limit, wait=wait)
            polled.set()
            return rows

        bb.store.feed = counted_feed  # type: ignore[method-assign]  # the real store, each poll announced
        seen: list[FeedItem] = []
        with held(HeldWrite(store, "a", "A", rollback=outcome == "rolls back")) as writer:
            b = await bb.board("b").write(note("B"), author="w")  # commits while A is open
            assert b.seq > writer.seq  # A took its seq first: a reader following seq would pass A and miss it
            assert [e.payload.text for e in await bb.board("b").history()] == ["B"]  # type: ignore[attr-defined]
            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:

                    async def follow() -> None:
                        async for item in bb.follow(after=before.position, poll_interval=0.02):
                            seen.append(item)
                            if text_of(item) == "B":
                                break

                    tg.start_soon(follow)
                    for _ in range(5):  # the follower reads, finds nothing it may return, and waits: five times
                        await anyio.to_thread.run_sync(polled.wait, 30)  # its next poll of the store
                        polled.clear()
                        await anyio.wait_all_tasks_blocked()
                        assert seen == []
                        assert await bb.feed(after=before.position) == ()
                        assert [text_of(i) for i in await bb.feed()] == ["before"]
                        polled.clear()  # those two reads were the test's, not the follower's
                    writer.release.set()
                    assert await anyio.to_thread.run_sync(writer.done.wait, 30)
        expected = ["A", "B"] if outcome == "commits" else ["B"]
        assert [text_of(i) for i in seen] == expected
        assert [text_of(i) for i in await bb.feed()] == ["before", *expected]  # each exactly once
        assert await bb.feed(after=seen[-1].position) == ()
    store.close()


def test_transaction_ids_are_ordered_as_numbers_across_a_power_of_ten(url: str) -> None:
    """Transaction ids of different lengths (999 and 1000, say) come out in numeric order (not as text)."""
    bb = Blackboard.open(url)
    try:
        first = anyio.run(partial(bb.board("a").write, note("first"), author="w"))
        with psycopg.connect(url.split("?", 1)[0], autocommit=True) as conn:
            found = conn.execute("SELECT pg_current_xact_id()::text").fetchone()
            assert found is not None
            burn = 10 ** len(found[0]) - int(found[0]) + 1  # enough transaction ids to reach one more digit
            if burn > 300_000:
                pytest.skip(f"the server is at transaction {found[0]}: too far from a power of ten to reach it fast")
            conn.execute("CREATE TEMP TABLE burn (n INT)")
            # Each block with an EXCEPTION clause is a subtransaction, and its insert takes a transaction id.
            conn.execute(  # type: ignore[call-overload]
                f"DO $$ BEGIN FOR i IN 1..{burn} LOOP BEGIN INSERT INTO burn VALUES (i); "
                "EXCEPTION WHEN others THEN NULL; END; END LOOP; END $$"
            )
        second = anyio.run(partial(bb.board("b").write, note("second"), author="w"))
        items = anyio.run(collect, bb, 2)
    finally:
        bb.close()
    assert [text_of(item) for item in items] == ["first", "second"]
    assert (first.seq, second.seq) == (items[0].entry.seq, items[1].entry.seq)
    assert len(items[0].position) == len(items[1].position)  # padded: positions compare as strings, too
    assert items[0].position < items[1].position


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(4)))
def test_writers_released_in_any_order_are_fed_once_and_in_transaction_order(url: str, order: list[int]) -> None:
    """Four transactions insert one after another and commit in the order hypothesis picks. After each commit the
    feed gives exactly the entries of the transactions that started first and have all ended: nothing of a
    transaction after one still open, and nothing twice."""
    store = PostgresStore.from_url(url)
    tag = uuid.uuid4().hex[:8]
    writes = [HeldWrite(store, f"{tag}-{i}", f"{tag}-{i}") for i in range(4)]
    threads = [threading.Thread(target=write.run) for write in writes]
    try:
        with Blackboard.open(url) as bb:
            earlier = anyio.run(partial(bb.feed, limit=10_000))  # other examples' entries, on the same schema
            cursor = earlier[-1].position if earlier else None
            for thread, write in zip(threads, writes, strict=True):  # one after another: their tx ids are in order
                thread.start()
                assert write.inserted.wait(30)
            fed: list[str] = []
            released: set[int] = set()
            for number in order:
                writes[number].release.set()
                assert writes[number].done.wait(30)
                released.add(number)
                ready = next((i for i in range(4) if i not in released), 4)  # the first ones, all ended
                expected = [write.text for write in writes[:ready]]
                if len(expected) > len(fed):  # they come (an unrelated transaction may delay them a moment)
                    got = anyio.run(partial(collect, bb, len(expected) - len(fed), after=cursor))
                    fed += [text_of(item) for item in got]
                    cursor = got[-1].position
                assert fed == expected
                assert anyio.run(partial(bb.feed, after=cursor)) == ()  # and nothing past a transaction still open
    finally:
        for write in writes:
            write.release.set()
        for thread in threads:
            if thread.is_alive():
                thread.join(30)
        store.close()


def test_concurrent_writer_processes_are_followed_exactly_once(url: str) -> None:
    """Writer processes on boards of their own (so they do not wait for each other) commit in whatever order the
    server runs them; a follower reading all along sees every entry once, each board's in version order."""
    count, names = 80, ("p1", "p2", "p3")
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
            with anyio.fail_after(180):
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
    assert Counter(keys).most_common(1)[0][1] == 1  # nothing twice
    assert sorted(keys) == sorted((f"board-{n}", v) for n in names for v in range(1, count + 1))  # nothing missed
    for name in names:
        assert [v for b, v in keys if b == f"board-{name}"] == list(range(1, count + 1))
    positions = [item.position for item in items]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    assert all(isinstance(item.entry.payload, Line) for item in items)
