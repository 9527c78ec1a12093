"""Group commit and the durability setting.

Concurrent boards' appends share one transaction on SQLite; a request refused inside a group fails alone; a SIGKILL
inside a group (a real process, killed while the group's transaction is open) loses nothing that was reported
written, leaves every chain valid, and a resumed batch applies every key exactly once. `durability="relaxed"` skips
the appends' own fsync and never the ledger's.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import anyio
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Finding
from slateboard.blackboard.entries import PendingEntry
from slateboard.blackboard.stores.base import AppendRequest, AppendResult, open_store
from slateboard.blackboard.stores.ledger import LedgerRow
from slateboard.blackboard.stores.memory import MemoryStore
from slateboard.blackboard.stores.registry import backend_for_tests
from slateboard.blackboard.stores.sqlite import SQLiteStore
from slateboard.errors import ConfigurationError, StaleVersionError
from slateboard.state.records import Commit, Decision
from slateboard.testing.faults import Faults
from tests.blackboard.group_process import TABLE

ROOT = Path(__file__).resolve().parents[2]
BOARDS = 6


class Note(Finding):
    kind_name = "tests.group.Note"
    text: str


def note(n: int) -> Note:
    return Note(subject=f"s-{n}", text=f"note {n}", confidence=1.0)


def url_of(tmp_path: Path, query: str = "") -> str:
    return f"sqlite:///{tmp_path / 'group.db'}{query}"


def test_concurrent_boards_share_transactions_and_each_stays_whole(tmp_path: Path) -> None:
    async def main() -> None:
        with Blackboard.open(url_of(tmp_path)) as bb:
            assert bb.group is not None

            async def write(n: int) -> None:
                board = bb.board(f"b-{n}")
                for round_ in range(3):
                    await board.write_many([note(n), note(n + 100)], author=f"w{n}", expected_version=2 * round_)

            async with anyio.create_task_group() as tasks:
                for n in range(BOARDS):
                    tasks.start_soon(write, n)
            assert bb.group.transactions < 3 * BOARDS  # grouped: fewer transactions than appends
            for n in range(BOARDS):
                board = bb.board(f"b-{n}")
                assert (await board.verify()).version == 6
            with Blackboard.open(url_of(tmp_path)) as other:  # a reader elsewhere sees the same boards
                for n in range(BOARDS):
                    history = await other.board(f"b-{n}").history()
                    assert [e.payload.text for e in history] == [f"note {n}", f"note {n + 100}"] * 3  # type: ignore[attr-defined]

    anyio.run(main)


def test_a_board_appending_again_alone_is_written_at_once_and_a_crowd_still_gathers(tmp_path: Path) -> None:
    """Boards one after another: each board's first append gathers (another board appended last), the ones after
    it are written at once. Boards at once: their appends still share transactions."""

    async def main() -> None:
        with Blackboard.open(url_of(tmp_path)) as bb:
            group = bb.group
            assert group is not None
            for n in range(BOARDS):  # one after another, three appends each
                board = bb.board(f"alone-{n}")
                for round_ in range(3):
                    await board.write(note(round_), author="w", expected_version=round_)
            assert group.transactions == 3 * BOARDS
            assert group.at_once == 2 * BOARDS
            before, at_once = group.transactions, group.at_once

            async def write(n: int) -> None:
                board = bb.board(f"crowd-{n}")
                for round_ in range(3):
                    await board.write(note(round_), author="w", expected_version=round_)

            async with anyio.create_task_group() as tasks:
                for n in range(BOARDS):
                    tasks.start_soon(write, n)
            assert group.transactions - before < 3 * BOARDS  # grouped
            assert group.at_once == at_once  # every board appended after another: none alone
            for n in range(BOARDS):
                assert (await bb.board(f"crowd-{n}").verify()).version == 3
                assert (await bb.board(f"alone-{n}").verify()).version == 3

    anyio.run(main)


async def stale_request_fails_alone(url: str) -> None:
    """Three boards' writes in one group, the middle one stale: it alone is refused (also run on PostgreSQL)."""
    with Blackboard.open(url) as bb:
        group = bb.group
        assert group is not None
        await bb.board("late").write(note(0), author="a")
        before = group.transactions
        outcomes: dict[str, object] = {}

        async def write(name: str, expected: int | None) -> None:
            try:
                written = await bb.board(name).write(note(1), author="a", expected_version=expected)
                outcomes[name] = written.version
            except StaleVersionError as exc:
                outcomes[name] = exc

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write, "first", None)
            tasks.start_soon(write, "late", 0)  # the board is at 1: refused
            tasks.start_soon(write, "third", 0)
        assert group.transactions == before + 1  # the three shared one transaction
        assert outcomes["first"] == 1
        assert outcomes["third"] == 1
        assert isinstance(outcomes["late"], StaleVersionError)
        assert (await bb.board("late").verify()).version == 1


def test_a_stale_request_in_a_group_fails_alone(tmp_path: Path) -> None:
    anyio.run(stale_request_fails_alone, url_of(tmp_path))


class GatedStore(SQLiteStore):
    """A real SQLite store whose group writes wait at a gate: the test holds one group's commit open. Its groups
    are written off the loop, as a server store's are (SQLite's own are written on the loop)."""

    group_off_loop = True

    def __init__(self, path: Path) -> None:
        super().__init__(path, url=f"sqlite:///{path}")
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.sizes: list[int] = []

    def append_group(self, requests: Sequence[AppendRequest], *, wait: bool) -> list[AppendResult]:
        self.sizes.append(len(requests))
        self.entered.set()
        if not self.gate.wait(timeout=30):  # written on the loop's thread, the test could never open it
            raise RuntimeError("the gate stayed shut: the group's write held the event loop")
        return super().append_group(requests, wait=wait)


def test_while_a_group_commits_off_the_loop_the_next_one_gathers_every_append(tmp_path: Path) -> None:
    """The group's write runs in a worker thread: the event loop goes on, and every append made meanwhile waits in
    the next group, written in one transaction once the first has committed."""
    store = GatedStore(tmp_path / "gated.db")

    async def main() -> None:
        with Blackboard(store) as bb:
            async with anyio.create_task_group() as tasks:
                for n in range(2):
                    tasks.start_soon(partial(bb.board(f"first-{n}").write, note(n), author="a"))
                await anyio.to_thread.run_sync(store.entered.wait)  # the first group is committing, in a thread
                for n in range(5):
                    tasks.start_soon(partial(bb.board(f"next-{n}").write, note(n), author="a"))
                await anyio.wait_all_tasks_blocked()  # every one of them has joined the next group and waits
                store.gate.set()
            assert store.sizes == [2, 5]
            for name in [*(f"first-{n}" for n in range(2)), *(f"next-{n}" for n in range(5))]:
                assert (await bb.board(name).verify()).version == 1

    anyio.run(main)


def test_faults_count_a_group_as_one_boundary(tmp_path: Path) -> None:
    faults = Faults()

    async def main() -> None:
        with Blackboard(faults.store(open_store(url_of(tmp_path)))) as bb:
            async with anyio.create_task_group() as tasks:
                for n in range(3):
                    tasks.start_soon(partial(bb.board(f"f-{n}").write, note(n), author="a"))

    anyio.run(main)
    assert faults.boundaries == ["store.append_group"]


def test_group_commit_can_be_turned_off_and_memory_does_not_group() -> None:
    with Blackboard.open("memory://") as bb:
        assert bb.group is None
    with Blackboard.open("memory://", group_commit=False) as bb:
        assert bb.group is None


def synchronous_now(bb: Blackboard) -> int:
    return int(bb.store.query(lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0], wait=True))  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", ["option", "url"])
def test_relaxed_durability_relaxes_appends_and_never_the_ledger(tmp_path: Path, how: str) -> None:
    opened = (
        Blackboard.open(url_of(tmp_path), durability="relaxed")
        if how == "option"
        else Blackboard.open(url_of(tmp_path, "?durability=relaxed"))
    )
    with opened as bb:
        assert bb.store.durability == "relaxed"  # type: ignore[attr-defined]
        bb.board("r").write_sync(note(0), author="a")
        assert synchronous_now(bb) == 1  # NORMAL: the append's commit did not fsync
        row = LedgerRow(key="k", params_hash="h", board="r", target="T/1", status="claimed")
        bb.store.ledger.claim(row, wait=True)
        assert synchronous_now(bb) == 2  # FULL: the ledger's commit did (and with it every append before)
        bb.board("r").write_sync(note(1), author="a")
        assert synchronous_now(bb) == 1


def test_cycle_durability_is_the_default_and_fsyncs_every_append(tmp_path: Path) -> None:
    with Blackboard.open(url_of(tmp_path)) as bb:
        assert bb.store.durability == "cycle"  # type: ignore[attr-defined]
        bb.board("c").write_sync(note(0), author="a")
        assert synchronous_now(bb) == 2


@pytest.mark.parametrize(
    ("url_query", "option", "message"),
    [
        ("?durability=lazy", None, "durability must be one of 'cycle', 'relaxed', got 'lazy'"),
        ("", "sometimes", "durability must be one of"),
        ("?durability=cycle", "relaxed", "says durability=cycle, the option durability=relaxed"),
    ],
)
def test_a_bad_durability_is_refused_naming_it(
    tmp_path: Path, url_query: str, option: str | None, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Blackboard.open(url_of(tmp_path, url_query), durability=option)  # type: ignore[arg-type]


class Batches:
    """`python -m MODULE serve` (a group_process module): each batch runs in a process of its own, forked from this
    server."""

    def __init__(self, module: str = "tests.blackboard.group_process") -> None:
        command = [sys.executable, "-m", module, "serve"]
        self.server = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, store: str, where: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """The batch on `store` (a file or a URL; killed at `args`' point, if any), once its process has ended; its
        output in files under `where`."""
        if self.server.stdin is None or self.server.stdout is None:
            raise RuntimeError("the batch server has no pipes")
        runs = len(list(where.glob("batch.*.out")))
        out, err = (where / f"batch.{runs}.{stream}" for stream in ("out", "err"))
        argv = [store, str(BOARDS), *args]
        self.server.stdin.write(json.dumps({"argv": argv, "stdout": str(out), "stderr": str(err)}) + "\n")
        self.server.stdin.flush()
        answer = self.server.stdout.readline()
        if not answer:
            raise RuntimeError(f"the batch server ended (exit code {self.server.wait()})")
        code = json.loads(answer)["returncode"]
        return subprocess.CompletedProcess(argv, code, out.read_text(), err.read_text())

    def close(self) -> None:
        if self.server.stdin is not None:
            self.server.stdin.close()
        self.server.wait(timeout=60)


@pytest.fixture(scope="module")
def batches() -> Iterator[Batches]:
    server = Batches()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.slow
@pytest.mark.parametrize("durability", ["cycle", "relaxed"])
@pytest.mark.parametrize("kill_at", [1, 5, 14])
def test_a_sigkill_inside_a_group_loses_no_reported_write_and_applies_no_key_twice(
    tmp_path: Path, kill_at: int, durability: str, batches: Batches
) -> None:
    db = tmp_path / "crash.db"
    killed = batches.run(str(db), tmp_path, str(kill_at), durability)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    landed = [line.split()[1:] for line in killed.stdout.splitlines() if line.startswith("landed ")]
    with Blackboard.open(f"sqlite:///{db}") as bb:
        for board_name, version, digest in landed:  # every write reported durable is there, unchanged
            board = bb.board(board_name)
            head = board.verify_sync()
            assert head.version >= int(version)
            assert board.view_sync().entry(int(version)).hash == digest
        decisions_before = {
            name: [e.hash for e in bb.board(name).history_sync() if isinstance(e.payload, Decision)]
            for name in bb.boards()
        }
    resumed = batches.run(str(db), tmp_path)  # the same batch again, in a new process: every board resumes from its log
    assert resumed.returncode == 0, resumed.stderr
    assert f"done {{'committed': {BOARDS}}}" in resumed.stdout
    with Blackboard.open(f"sqlite:///{db}") as bb:
        check_resumed(bb, decisions_before)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM slateboard_ledger WHERE status = 'applied'").fetchone()[0] == BOARDS


def test_relaxed_durability_on_postgresql_appends_and_reads_back(postgres_server: str, tmp_path: Path) -> None:
    url = backend_for_tests("postgresql").fresh_url(tmp_path)
    with Blackboard.open(url, durability="relaxed") as bb:
        assert bb.store.durability == "relaxed"  # type: ignore[attr-defined]
        bb.board("pg").write_many_sync([note(0), note(1)], author="a")
    with Blackboard.open(url) as other:
        assert [e.payload.text for e in other.board("pg").history_sync()] == ["note 0", "note 1"]  # type: ignore[attr-defined]
        assert other.store.durability == "cycle"  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="durability must be one of"):
        Blackboard.open(f"{url}&durability=never" if "?" in url else f"{url}?durability=never")


def pending(n: int, text: str) -> list[PendingEntry]:
    stamp = "2026-01-01T00:00:00+00:00"
    return [PendingEntry(Note.kind_name, 1, "a", stamp, f'{{"text": "{text}-{i}"}}') for i in range(n)]


# Finding one example of an outcome proves the strategy reaches it; shrinking it to the smallest adds nothing.
WITNESS = settings(max_examples=2000, database=None, phases=[Phase.generate])
GROUPS = st.lists(
    st.tuples(st.sampled_from(["x", "y", "z"]), st.integers(1, 3), st.one_of(st.none(), st.integers(0, 4))),
    min_size=1,
    max_size=8,
)


def test_the_groups_reach_every_outcome() -> None:
    """Groups where every request lands, where some are refused, and where one board is written twice."""
    find(GROUPS, lambda g: len(g) > 1 and all(e is None for _, _, e in g), settings=WITNESS)
    find(GROUPS, lambda g: any(e is not None and e > 0 for _, _, e in g), settings=WITNESS)
    find(GROUPS, lambda g: len({b for b, _, _ in g}) < len(g), settings=WITNESS)


@settings(max_examples=60, deadline=None)
@given(group=GROUPS)
def test_a_group_ends_as_the_same_appends_one_at_a_time(
    tmp_path_factory: pytest.TempPathFactory, group: list[tuple[str, int, int | None]]
) -> None:
    """Property: `append_group` gives every request the outcome it gets appended alone, in order (the stale ones
    refused, the others at the same versions and hashes), whatever mix of boards and expected versions."""
    directory = tmp_path_factory.mktemp("group")
    requests = [AppendRequest(b, pending(n, f"{k}"), expected) for k, (b, n, expected) in enumerate(group)]
    grouped = SQLiteStore(directory / "g.db", url="sqlite:///g.db")
    alone = MemoryStore()
    try:
        results = grouped.append_group(requests, wait=True)
        for request, result in zip(requests, results, strict=True):
            head = alone.head(request.board, wait=True)[0]
            if request.expected_version is not None and request.expected_version != head:
                assert isinstance(result, StaleVersionError), result
                assert (result.expected, result.actual) == (request.expected_version, head)
                continue
            expected = alone.append(request.board, request.entries, expected_version=None, wait=True)
            assert not isinstance(result, Exception), result
            assert [(r.version, r.hash) for r in result] == [(e.version, e.hash) for e in expected]
        for board in ("x", "y", "z"):
            stored = grouped.read(board, after=0, upto=None, wait=True)
            assert [(r.version, r.hash) for r in stored] == [
                (e.version, e.hash) for e in alone.read(board, after=0, upto=None, wait=True)
            ]
    finally:
        grouped.close()


def check_resumed(bb: Blackboard, decisions_before: dict[str, list[str]]) -> None:
    """After a killed batch was run again (also on PostgreSQL): every key applied once, every board whole, verified,
    with one commit, and every decision committed before the kill still there, unchanged."""
    rows = TABLE.rows(bb)
    assert sorted(rows) == [f"Ticket/{n}" for n in range(BOARDS)]
    assert {row["revision"] for row in rows.values()} == {1}  # each applied exactly once
    for n in range(BOARDS):
        history = bb.board(f"g-{n}").history_sync()
        bb.board(f"g-{n}").verify_sync()
        assert sum(isinstance(e.payload, Commit) for e in history) == 1
        decided = [e.hash for e in history if isinstance(e.payload, Decision)]
        before = decisions_before.get(f"g-{n}", [])
        assert decided[: len(before)] == before  # no committed decision lost or changed
