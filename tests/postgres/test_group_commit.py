"""Group commit on a real PostgreSQL server: concurrent boards' appends share transactions, each stays atomic alone,
and a SIGKILL inside a group transaction loses no committed decision and applies no ledger key twice."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import anyio
import psycopg
import pytest
from hypothesis import given, settings

from slateboard import Blackboard
from slateboard.blackboard.stores.base import AppendRequest
from slateboard.blackboard.stores.memory import MemoryStore
from slateboard.blackboard.stores.postgres import PostgresStore
from slateboard.blackboard.stores.registry import backend_for_tests
from slateboard.errors import StaleVersionError
from slateboard.state.records import Decision
from tests.blackboard.test_group_commit import (
    BOARDS,
    GROUPS,
    Batches,
    check_resumed,
    note,
    pending,
    stale_request_fails_alone,
)


@pytest.fixture
def url(postgres_server: str, tmp_path: Path) -> str:
    return backend_for_tests("postgresql").fresh_url(tmp_path)


@pytest.fixture(scope="module")
def shared_store(postgres_session: str) -> Iterator[PostgresStore]:
    """One schema for every hypothesis example (each example writes boards of its own)."""
    separator = "&" if "?" in postgres_session else "?"
    store = PostgresStore.from_url(f"{postgres_session}{separator}schema=t_group_property")
    try:
        yield store
    finally:
        store.close()


@pytest.mark.anyio
async def test_concurrent_boards_share_transactions_and_a_reader_sees_each_whole(url: str) -> None:
    """On both backends: the groups are written from worker threads, the event loop going on meanwhile."""
    with Blackboard.open(url) as bb:
        assert bb.group is not None

        async def write(n: int) -> None:
            for round_ in range(3):
                await bb.board(f"b-{n}").write_many([note(n), note(n + 100)], author="w", expected_version=2 * round_)

        async with anyio.create_task_group() as tasks:
            for n in range(BOARDS):
                tasks.start_soon(write, n)
        assert bb.group.transactions < 3 * BOARDS  # grouped: fewer transactions than appends
    with Blackboard.open(url) as other:  # a reader elsewhere decodes what the writer indexed
        for n in range(BOARDS):
            board = other.board(f"b-{n}")
            assert (await board.verify()).version == 6
            history = await board.history()
            assert [e.payload.text for e in history] == [f"note {n}", f"note {n + 100}"] * 3  # type: ignore[attr-defined]


def test_one_blackboard_groups_in_one_event_loop_after_another(url: str) -> None:
    """A thread runs an asyncio loop, then a trio one, then asyncio again, on one Blackboard: each groups."""
    with Blackboard.open(url) as bb:
        group = bb.group
        assert group is not None

        async def batch(k: int) -> None:
            async with anyio.create_task_group() as tasks:
                for n in range(BOARDS):
                    tasks.start_soon(partial(bb.board(f"loop-{k}-{n}").write, note(n), author="a"))

        for k, backend in enumerate(["asyncio", "trio", "asyncio"]):
            before = group.transactions
            anyio.run(batch, k, backend=backend)
            assert 1 <= group.transactions - before < BOARDS
            assert all(bb.board(f"loop-{k}-{n}").verify_sync().version == 1 for n in range(BOARDS))


def test_a_stale_request_in_a_group_fails_alone(url: str) -> None:
    anyio.run(stale_request_fails_alone, url)


def test_group_commit_can_be_turned_off(url: str) -> None:
    with Blackboard.open(url, group_commit=False) as bb:
        assert bb.group is None
        bb.board("alone").write_sync(note(0), author="a")
        assert bb.board("alone").verify_sync().version == 1


def a_backend_waits_on_a_lock(server: str) -> bool:
    with psycopg.connect(server, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone()
    return row is not None and row[0] > 0


@pytest.mark.parametrize("how", ["retried", "savepoints", "stale-retried"])
def test_a_row_written_behind_the_lock_refuses_only_its_request(url: str, postgres_server: str, how: str) -> None:
    """A writer that skipped the board's lock inserts version 1 of board `x` while a group is inserting it. The
    group is written again (`retried`): `x`'s request lands after the intruder's row if it expected no version,
    and is refused alone if it expected version 0 (`stale-retried`). Written with a savepoint a request, the
    collision refuses `x`'s request alone; `y`'s lands either way."""
    store = PostgresStore.from_url(url)
    intruder = psycopg.connect(store.conninfo, options=f"-c search_path={store.schema}")
    try:
        intruder.execute(
            "INSERT INTO slateboard_entries (board, version, kind, schema_version, author, recorded_at, payload, hash)"
            " VALUES ('x', 1, 'k', 1, 'intruder', '2026-01-01T00:00:00+00:00', '{}', %s)",
            ("0" * 64,),
        )
        expected = 0 if how == "stale-retried" else None
        group = [AppendRequest("x", pending(1, "x"), expected), AppendRequest("y", pending(2, "y"), None)]
        if how == "savepoints":
            write = lambda: store._append_group(group, True, savepoints=True)  # noqa: E731
        else:
            write = lambda: store.append_group(group, wait=True)  # noqa: E731
        results: list[object] = []
        writer = threading.Thread(target=lambda: results.extend(write()))
        writer.start()
        while not a_backend_waits_on_a_lock(postgres_server):  # the group's insert waits on the intruder's row
            writer.join(0.01)
        intruder.commit()
        writer.join()
        x_result, y_result = results
        x_stored = store.read("x", after=0, upto=None, wait=True)
        if how == "retried":
            assert [e.author for e in x_stored] == ["intruder", "a"]
            assert x_result == x_stored[1:]
        else:
            assert isinstance(x_result, StaleVersionError)
            assert [e.author for e in x_stored] == ["intruder"]
        assert [entry.version for entry in y_result] == [1, 2]  # type: ignore[attr-defined]
        assert store.read("y", after=0, upto=None, wait=True) == y_result
    finally:
        intruder.close()
        store.close()


@pytest.mark.parametrize("savepoints", [False, True])
@settings(max_examples=30, deadline=None)
@given(group=GROUPS)
def test_a_group_ends_as_the_same_appends_one_at_a_time(
    shared_store: PostgresStore, savepoints: bool, group: list[tuple[str, int, int | None]]
) -> None:
    """Property: on PostgreSQL too, `append_group` gives every request the outcome it gets appended alone, in
    order (the stale ones refused, the others at the same versions and hashes, and the seqs a reader reads)."""
    prefix = f"p{uuid4().hex[:12]}-"
    requests = [AppendRequest(prefix + b, pending(n, f"{k}"), e) for k, (b, n, e) in enumerate(group)]
    alone = MemoryStore()
    # The one-insert way (append_group's) and the savepoint-a-request way (its way after a collision).
    results = shared_store._append_group(requests, True, savepoints=savepoints)
    for request, result in zip(requests, results, strict=True):
        head = alone.head(request.board, wait=True)[0]
        if request.expected_version is not None and request.expected_version != head:
            assert isinstance(result, StaleVersionError), result
            assert (result.expected, result.actual) == (request.expected_version, head)
            continue
        expected = alone.append(request.board, request.entries, expected_version=None, wait=True)
        assert not isinstance(result, Exception), result
        assert [(r.version, r.hash) for r in result] == [(e.version, e.hash) for e in expected]
        stored = shared_store.read(request.board, after=result[0].version - 1, upto=result[-1].version, wait=True)
        assert stored == result  # the writer's view equals a reader's, seqs included
    for board in {prefix + b for b, _, _ in group}:
        stored = shared_store.read(board, after=0, upto=None, wait=True)
        assert [(r.version, r.hash) for r in stored] == [
            (e.version, e.hash) for e in alone.read(board, after=0, upto=None, wait=True)
        ]


@pytest.fixture(scope="module")
def batches() -> Iterator[Batches]:
    server = Batches("tests.postgres.group_process")
    try:
        yield server
    finally:
        server.close()


@pytest.mark.slow
@pytest.mark.parametrize("durability", ["cycle", "relaxed"])
@pytest.mark.parametrize("kill_at", [1, 2])
def test_a_sigkill_inside_a_group_loses_no_committed_decision_and_applies_no_key_twice(
    url: str, kill_at: int, durability: str, batches: Batches, tmp_path: Path
) -> None:
    killed = batches.run(url, tmp_path, str(kill_at), durability)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    landed = [line.split()[1:] for line in killed.stdout.splitlines() if line.startswith("landed ")]
    with Blackboard.open(url) as bb:
        for board_name, version, digest in landed:  # every write reported durable is there, unchanged
            board = bb.board(board_name)
            assert board.verify_sync().version >= int(version)
            assert board.view_sync().entry(int(version)).hash == digest
        decisions_before = {
            name: [e.hash for e in bb.board(name).history_sync() if isinstance(e.payload, Decision)]
            for name in bb.boards()
        }
    resumed = batches.run(url, tmp_path)  # the same batch again: every board resumes from its log
    assert resumed.returncode == 0, resumed.stderr
    assert f"done {{'committed': {BOARDS}}}" in resumed.stdout
    with Blackboard.open(url) as bb:
        check_resumed(bb, decisions_before)
    store = PostgresStore.from_url(url)
    try:
        count = store.query(
            lambda conn: conn.execute("SELECT count(*) FROM slateboard_ledger WHERE status = 'applied'").fetchone(),
            wait=True,
        )
    finally:
        store.close()
    assert count == (BOARDS,)


class Peeking(PostgresStore):
    """Notes the group transaction's synchronous_commit, read inside it just before the insert."""

    seen: list[str]

    def _insert_group(
        self, cursor: psycopg.Cursor[tuple[Any, ...]], rows: list[tuple[Any, ...]]
    ) -> dict[tuple[str, int], int]:
        self.seen.append(str(cursor.execute("SHOW synchronous_commit").fetchone()[0]))  # type: ignore[index]
        return super()._insert_group(cursor, rows)


@pytest.mark.parametrize("durability", ["cycle", "relaxed"])
def test_a_relaxed_group_commits_without_its_flush_and_a_durable_one_keeps_the_session_setting(
    url: str, durability: str
) -> None:
    plain = PostgresStore.from_url(url)
    plain.close()
    store = Peeking(plain.conninfo, url=url, schema=plain.schema, durability=durability)  # type: ignore[arg-type]
    store.seen = []
    show = lambda conn: conn.execute("SHOW synchronous_commit").fetchone()[0]  # noqa: E731
    try:
        session = store.query(show, wait=True)  # the server's default (the test server's is off)
        group = [AppendRequest("a", pending(1, "a"), None), AppendRequest("b", pending(1, "b"), 0)]
        store.append_group(group, wait=True)
        after = store.query(show, wait=True)
    finally:
        store.close()
    assert store.seen == ["off" if durability == "relaxed" else session]
    assert after == session  # set for that transaction only
