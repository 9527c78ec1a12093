"""The PostgreSQL store beyond the conformance suites: writers in several processes, a writer holding its
transaction open, the append-only log, and errors that name the store."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import anyio
import psycopg
import pytest

from slateboard import Blackboard
from slateboard.blackboard.entries import PendingEntry
from slateboard.blackboard.stores import WouldBlock
from slateboard.blackboard.stores.postgres import PostgresStore, backend
from slateboard.blackboard.stores.registry import UnavailableForTests
from slateboard.errors import StaleVersionError, StoreError
from slateboard.testing import postgres as server
from tests.blackboard.test_processes import history, start
from tests.blackboard.writer_process import Line


@pytest.fixture
def url(postgres_server: str, tmp_path: Path) -> str:
    return backend.fresh_url(tmp_path)


def entry(text: str) -> PendingEntry:
    return PendingEntry("tests.Line", 1, "a", "2026-01-01T00:00:00+00:00", json.dumps({"text": text}))


def libpq(url: str) -> str:
    return url.split("?", 1)[0]


def schema(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


@pytest.mark.parametrize("mode", ["optimistic", "append"])
def test_two_processes_writing_one_board_lose_nothing(url: str, mode: str) -> None:
    count = 150
    Blackboard.open(url).close()
    at = time.time() + 2.0
    writers = [start(url, name, count, mode, at=at) for name in ("p1", "p2")]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    texts = [line.text for line in history(url)]  # history() checks versions 1..n and verifies the chain
    assert sorted(texts) == sorted(f"{p}-{i}" for p in ("p1", "p2") for i in range(count))
    for name in ("p1", "p2"):
        assert [t for t in texts if t.startswith(name)] == [f"{name}-{i}" for i in range(count)]


def test_a_writer_holding_its_transaction_open_blocks_only_its_board(url: str) -> None:
    store = PostgresStore.from_url(url)
    try:
        store.append("b", [entry("first")], expected_version=None, wait=True)
        held, release = threading.Event(), threading.Event()

        def writer() -> None:
            with store._transaction(wait=True) as conn:  # another writer, mid-append on board "b"
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("b",))
                held.set()
                release.wait(10)

        thread = threading.Thread(target=writer)
        thread.start()
        assert held.wait(10)
        with pytest.raises(WouldBlock):
            store.append("b", [entry("second")], expected_version=1, wait=False)
        store.append("other", [entry("free")], expected_version=None, wait=False)  # another board: no wait
        assert store.read("b", after=0, upto=None, wait=False)[-1].version == 1  # reads never wait
        timer = threading.Timer(0.3, release.set)
        timer.start()
        stored = store.append("b", [entry("second")], expected_version=1, wait=True)  # waits, then writes
        assert [e.version for e in stored] == [2]
        thread.join()
        with pytest.raises(StaleVersionError):
            store.append("b", [entry("stale")], expected_version=1, wait=True)
        assert store.head("b", wait=True)[0] == 2
    finally:
        store.close()


def test_the_log_is_append_only(url: str) -> None:
    store = PostgresStore.from_url(url)
    try:
        store.append("b", [entry("x")], expected_version=None, wait=True)
    finally:
        store.close()
    with psycopg.connect(libpq(url), autocommit=True, options=f"-c search_path={schema(url)}") as conn:
        for statement in ("UPDATE slateboard_entries SET payload = 'y'", "DELETE FROM slateboard_entries",
                          "TRUNCATE slateboard_entries"):  # fmt: skip
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute(statement)  # type: ignore[arg-type]


def test_an_unreachable_server_is_a_store_error_naming_the_url() -> None:
    bad = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    with pytest.raises(StoreError) as caught:
        Blackboard.open(bad, busy_timeout=1)
    assert bad in str(caught.value)


def test_blackboard_open_and_the_postgres_alias(url: str) -> None:
    async def write_and_read(address: str) -> list[int]:
        with Blackboard.open(address) as bb:
            board = bb.board("case")
            await board.write(Line(subject="s", text="t", confidence=1), author="a")
            return [e.version for e in await board.history()]

    assert anyio.run(write_and_read, url) == [1]
    assert anyio.run(write_and_read, url.replace("postgresql://", "postgres://", 1)) == [1, 2]


def test_without_a_server_or_binaries_the_tests_say_why_they_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(server.VARIABLE, raising=False)
    monkeypatch.setattr(server, "binaries", lambda: None)
    with pytest.raises(server.Unavailable, match="no PostgreSQL server binaries were found"), server.throwaway_server():
        pass
    with pytest.raises(UnavailableForTests, match="SLATEBOARD_TEST_POSTGRES"):
        backend.fresh_url(Path("unused"))
