"""A run that commits, SIGKILLed at every write boundary, resumes to the state of an uninterrupted run.

Each sink mode of `tests.commit.crash_commit` (a table in the store's own file; an outside JSON-lines file with
`lookup`; the same file without it) runs once uninterrupted to count its write boundaries and fix the reference
state, then once per boundary k, killed right after the k-th returns (and once killed before anything is
written). Each killed run is resumed here, with the same controller definition, and must reach the reference:
the same status, the sink applied each key exactly once, one Commit per key with the reference receipt, the same
ledger rows, a log that verifies, replays identically and kept the killed run's entries as they were. For the
outside sink without `lookup`, a kill between the ledger's claim and its settlement leaves the key in doubt: the
resumed run ends "escalated", and a person's `resolve` (after checking the file) commits it, still once.

Every kill point runs on SQLite files; on PostgreSQL (a schema per run on the session's throwaway server) a
representative subset runs, to keep the suite fast: a kill before anything is written, one after the last log
append before any commit, and one after each boundary of the first proposal's commit (the ledger's and the sink's
steps, where the stores differ; the second proposal crosses the same steps, and the log appends before them are
each one transaction, the same on either store).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import anyio
import pytest

from slateboard import Blackboard, Commit, CommitLayer, Controller, MemoryStore, Proposal, Store, sinks
from slateboard.errors import ConfigurationError
from slateboard.testing.faults import Faults
from tests.commit.crash_commit import BOARD, CASE, MODES, TABLE, build, file_sink, read_lines, store_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# The boundaries an uninterrupted run crosses, in order (test_the_reference_run... checks the count agrees):
# four log appends (the inputs with the first decision, each agent batch with the decision after it, the verdicts),
# then per proposal its commit.
_APPENDS = ["store.append"] * 4
_OUTSIDE = ["ledger.acquire", "ledger.claim", "sink.apply", "ledger.transition", "ledger.release", "store.append"]
# A sink inside the store commits in one transaction, which keeps other writers out: no lock is written.
_TABLE = ["sink.apply_in", "ledger.apply_atomically", "store.append"]
_COMMIT = {"table": _TABLE, "lookup": _OUTSIDE, "plain": _OUTSIDE}
BOUNDARIES = {mode: _APPENDS + commit * 2 for mode, commit in _COMMIT.items()}
STORES = ("sqlite", "postgresql")
POINTS = {
    "sqlite": {mode: ["before-1"] + [f"after-{k}" for k in range(1, len(b) + 1)] for mode, b in BOUNDARIES.items()},
    # The subset of the module docstring: nothing written, all appends but no commit, each step of the first commit.
    "postgresql": {
        mode: ["before-1"] + [f"after-{len(_APPENDS) + k}" for k in range(len(commit) + 1)]
        for mode, commit in _COMMIT.items()
    },
}
# (store, mode, point) -> why it fails: a bug in code these tests do not own, kept visible as a strict xfail.
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}


def _done(mode: str, point: str) -> list[str]:
    """The boundaries that returned before the kill."""
    when, _, k = point.partition("-")
    return BOUNDARIES[mode][: int(k) - (when == "before")]


def _cases() -> Iterator[Any]:
    for store in STORES:
        for mode in MODES:
            for point in POINTS[store][mode]:
                done = _done(mode, point)
                name = done[-1] if done else "nothing"
                bug = KNOWN_BUGS.get((store, mode, point))
                marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
                yield pytest.param(store, mode, point, id=f"{store}-{mode}-{point}-{name}", marks=marks)


class Runs:
    """The reference run and the killed runs of every mode on one kind of store, started at once (2 cores),
    awaited when needed. `server`: the PostgreSQL server to make the runs' schemas on; None for SQLite files."""

    def __init__(self, root: Path, server: str | None = None) -> None:
        self.root = root
        self.server = server
        self.points = POINTS["sqlite" if server is None else "postgresql"]
        # A schema is named after its run's directory: random, since a given server outlives test sessions.
        self.dirs = {mode: root / f"{mode}_{uuid4().hex[:12]}" for mode in MODES}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        for mode in MODES:  # one process per mode; it forks one child per run, one after another
            self.dirs[mode].mkdir()
            with (root / f"{mode}.out").open("wb") as out, (root / f"{mode}.err").open("wb") as err:
                command = [sys.executable, "-m", "tests.commit.crash_commit", "each", str(self.dirs[mode]), mode]
                if server is not None:
                    command += ["--server", server]
                points = ["reference", *self.points[mode]]
                self.processes[mode] = subprocess.Popen([*command, *points], cwd=ROOT, stdout=out, stderr=err)

    def output(self, mode: str) -> list[dict[str, Any]]:
        """The JSON lines the mode's process printed, once it exited cleanly."""
        returncode = self.processes[mode].wait(timeout=120)
        assert returncode == 0, self.errors(mode)
        return [json.loads(line) for line in (self.root / f"{mode}.out").read_text().splitlines()]

    def errors(self, mode: str) -> str:
        return (self.root / f"{mode}.err").read_text()

    def returncodes(self, mode: str) -> dict[str, int]:
        """Each run's exit code as `subprocess` reports it: -9 for a run that SIGKILL ended."""
        return {line["point"]: line["returncode"] for line in self.output(mode) if "point" in line}

    def files(self, mode: str, point: str) -> tuple[str, Path]:
        """A run's store URL and sink file."""
        return store_url(self.dirs[mode], point, self.server), self.dirs[mode] / f"{point}.jsonl"

    def fresh(self, directory: Path) -> str:
        """The URL of a new, empty store of this kind for a run in this process."""
        return store_url(directory, f"fresh_{uuid4().hex[:12]}", self.server)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@contextlib.contextmanager
def _started(root: Path, server: str | None = None) -> Iterator[Runs]:
    started = Runs(root, server)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def sqlite_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    with _started(tmp_path_factory.mktemp("crash-commit")) as started:
        yield started


@pytest.fixture(scope="module")
def postgresql_runs(tmp_path_factory: pytest.TempPathFactory, postgres_session: str) -> Iterator[Runs]:
    with _started(tmp_path_factory.mktemp("crash-commit-pg"), postgres_session) as started:
        yield started


@pytest.fixture
def runs(store: str, request: pytest.FixtureRequest) -> Runs:
    """The runs on `store`, started at the first test that needs them (PostgreSQL's skip only its own tests)."""
    return request.getfixturevalue(f"{store}_runs")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class State:
    """What a finished run leaves behind, minus what legitimately differs (times, fences, attempt counts)."""

    status: str
    sink: object  # the file's records in order, or the table's rows
    receipts: dict[str, Any]  # each committed key's receipt, from its Commit entry
    commits: dict[str, int]  # how many Commit entries each key has
    ledger: dict[str, tuple[str, str]]  # key -> (status, receipt)
    ordered: bool = True

    def unordered(self) -> State:
        """This state without the order of applications: file records by key, receipts without line numbers."""

        def unlined(receipt: Any) -> Any:
            return {k: v for k, v in receipt.items() if k != "line"} if isinstance(receipt, dict) else receipt

        return State(
            status=self.status,
            sink=sorted(self.sink, key=lambda r: r["key"]) if isinstance(self.sink, list) else self.sink,
            receipts={key: unlined(r) for key, r in self.receipts.items()},
            commits=self.commits,
            ledger={key: (s, json.dumps(unlined(json.loads(r)))) for key, (s, r) in self.ledger.items()},
            ordered=False,
        )

    @classmethod
    async def of(cls, bb: Blackboard, controller: Controller, mode: str, sink_file: Path) -> State:
        board = bb.board(BOARD)
        commits = [e.payload for e in await board.history() if isinstance(e.payload, Commit)]
        rows = bb.store.ledger.rows(None, wait=True)
        return cls(
            status=(await controller.outcome(board)).status,
            sink=TABLE.rows(bb) if mode == "table" else read_lines(sink_file),
            receipts={c.key: c.receipt for c in commits},
            commits=dict(Counter(c.key for c in commits)),
            ledger={r.key: (r.status, r.receipt) for r in rows},
        )


def _applied(bb: Blackboard, mode: str, sink_file: Path) -> Counter[str]:
    """How many times the sink applied each key."""
    if mode == "table":
        # One row per target; its revision counts the applications, its last_key names the last one.
        return Counter({row["last_key"]: row["revision"] for row in TABLE.rows(bb).values()})
    return Counter(record["key"] for record in read_lines(sink_file))


async def _finish(mode: str, url: str, sink_file: Path) -> State:
    controller = build(mode, sink_file)
    with Blackboard.open(url) as bb:
        outcome = await controller.run(bb.board(BOARD), CASE)
        assert outcome.status == "committed", outcome.reasons
        return await State.of(bb, controller, mode, sink_file)


_references: dict[tuple[str | None, str], State] = {}


def reference(runs: Runs, mode: str) -> State:
    """The reference state of `mode`: its uninterrupted run (in a process of its own, through the wrappers)."""
    if (runs.server, mode) not in _references:
        # The reference child printed its status and boundaries before its exit line.
        printed = runs.output(mode)[0]
        assert printed == {"status": "committed", "boundaries": BOUNDARIES[mode]}
        assert runs.returncodes(mode)["reference"] == 0
        _references[runs.server, mode] = anyio.run(_finish, mode, *runs.files(mode, "reference"))
    return _references[runs.server, mode]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("store", STORES)
def test_the_reference_run_commits_each_key_once_and_the_wrappers_change_nothing(
    store: str, mode: str, runs: Runs, tmp_path: Path
) -> None:
    state = reference(runs, mode)  # also checks the boundaries counted are exactly BOUNDARIES[mode]
    assert state.status == "committed"
    assert len(state.receipts) == 2
    assert set(state.commits.values()) == {1}
    assert {status for status, _ in state.ledger.values()} == {"applied"}
    url, sink_file = runs.files(mode, "reference")
    with Blackboard.open(url) as bb:
        assert _applied(bb, mode, sink_file) == Counter(dict.fromkeys(state.receipts, 1))
    # The same run without the fault wrappers, in this process, ends in the same state.
    plain = anyio.run(_finish, mode, runs.fresh(tmp_path), tmp_path / "reference.jsonl")
    assert plain == state


@pytest.mark.parametrize(("store", "mode", "point"), list(_cases()))
def test_a_run_killed_at_a_write_boundary_resumes_to_the_uninterrupted_state(
    store: str, mode: str, point: str, runs: Runs
) -> None:
    expected = reference(runs, mode)
    assert runs.returncodes(mode)[point] == -9, runs.errors(mode)  # SIGKILL ended it
    url, sink_file = runs.files(mode, point)
    done = _done(mode, point)
    backend = "trio" if len(done) % 2 else "asyncio"  # both event loops, without running every point twice
    anyio.run(partial(_resume_and_check, mode, url, sink_file, done, expected), backend=backend)


async def _resume_and_check(mode: str, url: str, sink_file: Path, done: list[str], expected: State) -> None:
    controller = build(mode, sink_file)
    with Blackboard.open(url) as bb:
        board = bb.board(BOARD)
        before = await board.history()
        await board.verify()
        # What the killed run left: exactly the applications that returned (inside the table's transaction,
        # an apply the kill cut short was rolled back with its ledger row).
        settled = "ledger.apply_atomically" if mode == "table" else "sink.apply"
        assert sum(_applied(bb, mode, sink_file).values()) == done.count(settled)

        outcome = await controller.run(board, CASE)
        in_doubt = mode == "plain" and bool(done) and done[-1] in ("ledger.claim", "sink.apply")
        if in_doubt:
            called = done[-1] == "sink.apply"
            outcome = await _resolve_in_doubt(bb, controller, outcome, sink_file, called=called)
            if not called:  # the other key went ahead while this one waited for a person: order may differ
                expected = expected.unordered()

        after = await board.history()
        assert after[: len(before)] == before  # the killed run's log was only appended to
        assert outcome.status == expected.status, outcome.reasons
        assert _applied(bb, mode, sink_file) == Counter(dict.fromkeys(expected.receipts, 1))  # zero duplicates
        state = await State.of(bb, controller, mode, sink_file)
        assert (state if expected.ordered else state.unordered()) == expected
        await board.verify()
        report = await controller.replay(board)
        assert report.identical, str(report)
        assert report.same_controller


async def _resolve_in_doubt(
    bb: Blackboard, controller: Controller, outcome: Any, sink_file: Path, *, called: bool
) -> Any:
    """The key the kill interrupted is in doubt; a person checks the file and settles it."""
    assert outcome.status == "escalated", outcome.reasons
    (failure,) = outcome.failures
    assert failure.status == "in_doubt"
    assert any("in_doubt" in reason for reason in outcome.reasons)
    board = bb.board(BOARD)
    receipt = file_sink(sink_file, with_lookup=True).lookup(failure.key)  # what the person finds there
    assert (receipt is not None) == called
    assert Counter(r["key"] for r in read_lines(sink_file))[failure.key] == int(called)
    return await controller.resolve(board, failure.key, reviewer="ops", applied=called, receipt=receipt)


class Killed(Exception):
    """Stands in for SIGKILL in the tests of the fault wrappers themselves."""


def _killed() -> None:
    raise Killed


def test_faults_kill_right_after_or_right_before_the_chosen_boundary() -> None:
    for faults, written in ((Faults(kill_after=2, kill=_killed), 2), (Faults(kill_before=2, kill=_killed), 1)):
        store = MemoryStore()
        board = Blackboard(faults.store(store)).board("b")
        anyio.run(partial(board.write, CASE, author="a"))
        with pytest.raises(Killed):
            anyio.run(partial(board.write, CASE, author="a"))
        assert len(store.read("b", after=0, upto=None, wait=True)) == written
        assert faults.boundaries == ["store.append"] * written
    with pytest.raises(ConfigurationError, match="kill_after"):
        Faults(kill_after=0)


async def _apply_later(proposal: Proposal, key: str) -> str:
    return key


def test_fault_wrappers_look_to_the_commit_layer_exactly_like_what_they_wrap() -> None:
    faults = Faults()
    assert isinstance(faults.store(MemoryStore()), Store)
    memory = sinks.Memory()
    for sink in (memory, sinks.Table("t"), sinks.Callable(_apply_later), file_sink(Path("x"), with_lookup=True)):
        plain, wrapped = CommitLayer(sink), CommitLayer(faults.sink(sink))
        assert (wrapped.transactional, wrapped.idempotent, wrapped.sink_name) == (
            plain.transactional,
            plain.idempotent,
            plain.sink_name,
        )
        assert (wrapped.lookup is None) == (plain.lookup is None)
        assert getattr(wrapped.sink, "blocking", True) == getattr(sink, "blocking", True)
        if not plain.transactional:
            assert inspect.iscoroutinefunction(wrapped.sink.apply) == inspect.iscoroutinefunction(sink.apply)
    assert faults.sink(memory).applied is memory.applied
    assert faults.count == 0


def test_an_async_sink_call_is_a_boundary_once_it_has_run() -> None:
    applied: list[str] = []

    async def apply(proposal: Proposal, key: str) -> str:
        applied.append(key)
        return key

    class AsyncSink:
        async def apply(self, proposal: Proposal, key: str) -> str:
            return await apply(proposal, key)

    change = Proposal(subject="s", action="update", target="Case/1", confidence=1.0)
    for sink in (sinks.Callable(apply), AsyncSink()):
        seen: list[list[str]] = []
        faults = Faults(kill_after=1, kill=lambda seen=seen: seen.append(list(applied)))
        pending = faults.sink(sink).apply(change, "k")  # a coroutine: nothing has been applied yet
        assert faults.count == 0

        async def finish(pending: Any = pending) -> Any:
            return await pending

        assert anyio.run(finish) == "k"
        assert seen == [applied[:]]  # killed right after the application, not when the coroutine was made
        assert faults.boundaries == ["sink.apply"]
