"""Many boards at once (`run_many`): order, the concurrency limit, failures that stay local, laziness, resuming.

A pipeline runs a batch of generated cases (issue 5: 10,000 support cases) and must be able to trust that one
bad case never stops the batch, that a lazy source is never read ahead of the workers, that the results line up
with the inputs, and that running the batch again after a crash or a Ctrl-C re-applies nothing.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Citation, Controller, Finding, Proposal, agent, policies, rules, sinks
from slateboard.controller.batch import BatchResult, BoardResult, _hand, run_many, run_many_sync
from slateboard.errors import ConfigurationError
from slateboard.state.records import Decision

pytestmark = pytest.mark.anyio
STORES = ("memory", "sqlite")
EXAMPLE = Path(__file__).parents[2] / "examples" / "02_batch_support_cases.py"
RECORD_KEYS = {"index", "board", "status", "reasons", "proposals", "commits", "approvals", "error_type", "error"}
# mode -> the status a board of that mode ends in
EXPECTED = {
    "ok": "committed",
    "low": "escalated",  # below the intake gate
    "idle": "insufficient",  # the agent proposes nothing
    "fail": "failed",  # the agent's reply is too big for the log: refused, the run cannot go on
    "bad": "error",  # the input is not a finding: the run raises
    "huge": "error",  # the input is too big for the log: the run raises
}
BIG = "x" * (1 << 20)  # over the log's 1 MiB limit for one entry


class Ticket(Finding):
    """A generated case; `mode` scripts how its board ends, `spin` how long its agent yields to the others."""

    kind_name = "tests.batch.Ticket"
    n: int
    mode: str = "ok"
    spin: int = 0
    note: str = ""


@dataclass
class Probe:
    """Counts the agent runs in progress; the first `gate` of them wait until that many run at once."""

    gate: int = 0
    current: int = 0
    most: int = 0
    per_board: Counter[str] = field(default_factory=Counter)
    most_per_board: int = 0
    opened: anyio.Event | None = None
    interrupt_at: int = -1


def make_controller(probe: Probe | None = None, sink: object | None = None) -> Controller:
    probe = probe or Probe()

    @agent(timeout=None)
    async def triage(ticket: Ticket) -> Proposal | None:
        probe.current += 1
        probe.per_board[ticket.subject] += 1
        probe.most = max(probe.most, probe.current)
        probe.most_per_board = max(probe.most_per_board, probe.per_board[ticket.subject])
        try:
            if probe.opened is not None and not probe.opened.is_set():
                if probe.current >= probe.gate:
                    probe.opened.set()
                await probe.opened.wait()
            if ticket.n == probe.interrupt_at:
                signal.raise_signal(signal.SIGINT)  # what Ctrl-C does
            if ticket.mode == "hang":
                await anyio.sleep_forever()
            for _ in range(ticket.spin):
                await anyio.lowlevel.checkpoint()
        finally:
            probe.current -= 1
            probe.per_board[ticket.subject] -= 1
        if ticket.mode == "idle":
            return None
        body = BIG if ticket.mode == "fail" else "Resolved"
        return Proposal(
            subject=ticket.subject,
            action="update",
            target=f"Ticket/{ticket.n}",
            changes={"Status": body},
            confidence=0.9,
            citations=(Citation(source="kb/warranty", approved=True),),
        )

    return Controller(
        [triage],
        [
            rules.escalate_below(Ticket, confidence=0.75),
            rules.sufficient(Proposal),
        ],
        policy=policies.Policy(policies.allow()),
        sink=sink if sink is not None else sinks.Memory(),
    )


def ticket(n: int, mode: str = "ok", spin: int = 0) -> tuple[str, Any]:
    """A case: board `t-<n>` and its input (a dict, not a finding, for the 'bad' mode)."""
    if mode == "bad":
        return (f"t-{n}", {"n": n})
    confidence = 0.5 if mode == "low" else 1.0
    note = BIG if mode == "huge" else ""
    return (f"t-{n}", Ticket(subject=f"ticket-{n}", n=n, mode=mode, spin=spin, note=note, confidence=confidence))


@pytest.fixture(params=STORES)
def blackboard(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Blackboard]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'batch.db'}"
    with Blackboard.open(url) as bb:
        yield bb


def check_records(result: BatchResult) -> None:
    """Every record is a flat dict of JSON scalars, all with the same keys, and survives a JSON round trip."""
    records = result.records()
    assert len(records) == len(result.results)
    for record in records:
        assert set(record) == RECORD_KEYS | {"seconds"}
        assert all(v is None or type(v) in (str, int, float) for v in record.values())
    assert json.loads(json.dumps(records)) == records
    assert sum(result.counts().values()) == len(records)


async def test_results_come_in_input_order_not_completion_order(blackboard: Blackboard) -> None:
    modes = ["ok", "low", "idle", "ok", "ok", "idle"]
    cases = [ticket(n, mode, spin=200 - 30 * n) for n, mode in enumerate(modes)]  # the later, the sooner done
    landed: list[int] = []
    result = await run_many(
        make_controller(), blackboard, cases, concurrency=3, on_result=lambda r: landed.append(r.index)
    )
    assert [r.board for r in result.results] == [name for name, _ in cases]
    assert [r.index for r in result.results] == list(range(len(cases)))
    assert [r.status for r in result.results] == [EXPECTED[m] for m in modes]
    assert landed != sorted(landed)  # they did finish out of order
    assert result.counts() == {"committed": 3, "escalated": 1, "insufficient": 2}
    assert [r.commits for r in result.results] == [1, 0, 0, 1, 1, 0]
    assert all(r.reasons for r in result.results if r.status != "committed")
    assert not result.interrupted
    check_records(result)


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_at_most_concurrency_boards_run_at_once(blackboard: Blackboard, concurrency: int) -> None:
    probe = Probe(gate=concurrency, opened=anyio.Event())  # the first wave waits until it is complete
    cases = [ticket(n, spin=n % 5) for n in range(3 * concurrency + 2)]
    result = await run_many(make_controller(probe), blackboard, cases, concurrency=concurrency)
    assert probe.most == concurrency
    assert result.counts() == {"committed": len(cases)}


async def test_a_failing_board_is_recorded_and_the_others_finish(blackboard: Blackboard) -> None:
    cases: list[Any] = [ticket(0), ticket(1, "bad"), ticket(2, "huge"), ("", ticket(3)[1]), ticket(4, "fail")]
    cases += [(5, ticket(5)[1]), "not a pair", ticket(7)]
    result = await run_many(make_controller(), blackboard, cases, concurrency=3)
    by_board = {r.board: r for r in result.results}
    statuses = ["committed", "error", "error", "error", "failed", "error", "error", "committed"]
    assert [r.status for r in result.results] == statuses
    assert by_board["t-1"].error_type == "InvalidFindingError"  # not a finding
    assert by_board["t-2"].error_type == "InvalidFindingError"  # too big for the log
    assert "bytes" in (by_board["t-2"].error or "")
    assert by_board[""].error_type == "ConfigurationError"  # no board may have an empty name
    assert by_board["t-4"].error is None  # an agent's failure is the run's outcome, not an error of the batch
    assert by_board["<case 5>"].error_type == "ConfigurationError"  # a board name must be a string
    assert by_board["<case 6>"].error_type == "ValueError"  # not a (name, inputs) pair
    assert all(r.reasons == (f"{r.error_type}: {r.error}",) for r in result.results if r.status == "error")
    assert sorted(blackboard.boards()) == ["t-0", "t-4", "t-7"]  # refused cases wrote nothing
    check_records(result)


async def test_a_board_over_the_timeout_is_cancelled_and_recorded(tmp_path: Path) -> None:
    # The limit is generous: the boards that do finish must do so within it on a loaded CI machine too.
    with Blackboard.open(f"sqlite:///{tmp_path / 'batch.db'}") as bb:
        cases = [ticket(0), ticket(1, "hang"), ticket(2), ticket(3), ticket(4)]
        result = await run_many(make_controller(), bb, cases, concurrency=2, timeout=1.5)
        assert [r.status for r in result.results] == ["committed", "error", "committed", "committed", "committed"]
        late = result.results[1]
        assert late.error_type == "TimeoutError"
        assert late.reasons == (f"TimeoutError: {late.error}",)
        # Cancelled mid-run: its log has the run's start and no final decision; a rerun resumes it.
        history = await bb.board("t-1").history()
        assert history
        assert not any(isinstance(e.payload, Decision) and e.payload.status != "continue" for e in history)
    check_records(result)


async def test_a_lazy_source_is_read_only_as_fast_as_boards_finish() -> None:
    produced = 0
    seen: list[tuple[int, int]] = []  # (results landed, cases produced) at each result

    def cases(n: int) -> Iterator[tuple[str, Any]]:
        nonlocal produced
        for i in range(n):
            produced += 1
            yield ticket(i, spin=i % 7)

    def landed(result: BoardResult) -> None:
        seen.append((len(seen) + 1, produced))

    with Blackboard.open("memory://") as bb:
        result = await run_many(make_controller(), bb, cases(40), concurrency=4, on_result=landed)
    assert len(result.results) == 40
    assert seen[0][1] <= 5  # not 40: the generator was not materialized
    assert all(made <= done + 4 for done, made in seen)  # finished + in flight (4) + one held by the feeder


async def test_cancelling_returns_what_finished_and_a_rerun_resumes_without_reapplying(tmp_path: Path) -> None:
    produced = 0
    table = sinks.Table("tickets")

    def endless() -> Iterator[tuple[str, Any]]:
        nonlocal produced
        for i in itertools.count():
            produced += 1
            yield ticket(i, spin=i % 3)

    with Blackboard.open(f"sqlite:///{tmp_path / 'batch.db'}") as bb:
        with anyio.CancelScope() as scope:
            seen: list[int] = []

            def stop_after_20(result: BoardResult) -> None:
                # By count, not by index: boards of different lengths finish out of index order.
                seen.append(result.index)
                if len(seen) >= 20:
                    scope.cancel()

            result = await run_many(make_controller(sink=table), bb, endless(), concurrency=5, on_result=stop_after_20)
        assert result.interrupted
        finished = [r.index for r in result.results]
        assert finished == sorted(finished)
        assert 20 <= len(finished) < produced <= 20 + 2 * 5  # stopped promptly; the endless source was not drained
        assert {r.status for r in result.results} == {"committed"}
        assert len(table.rows(bb)) >= len(finished)  # a cancelled board may have committed before it was stopped

        again = await run_many(make_controller(sink=table), bb, itertools.islice(endless(), 30), concurrency=5)
        assert again.counts() == {"committed": 30}
        rows = table.rows(bb)
        assert sorted(rows) == sorted(f"Ticket/{i}" for i in range(30))
        assert {row["revision"] for row in rows.values()} == {1}  # each applied once, across both batches


async def test_running_a_finished_batch_again_reruns_and_reapplies_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'batch.db'}"
    cases = [ticket(n, mode) for n, mode in enumerate(["ok", "low", "ok", "idle", "ok"])]
    first_sink = sinks.Memory()
    with Blackboard.open(url) as bb:
        first = await run_many(make_controller(sink=first_sink), bb, cases, concurrency=2)
        sizes = {name: len(await bb.board(name).history()) for name, _ in cases}
    assert len(first_sink.applied) == 3
    second_sink, probe = sinks.Memory(), Probe()
    with Blackboard.open(url) as bb:  # a new process, in effect: a new store handle, controller and sink
        second = await run_many(make_controller(probe, second_sink), bb, cases, concurrency=2)
        assert {name: len(await bb.board(name).history()) for name, _ in cases} == sizes  # nothing written
    assert [(r.board, r.status, r.reasons, r.commits) for r in second.results] == [
        (r.board, r.status, r.reasons, r.commits) for r in first.results
    ]
    assert second_sink.applied == []
    assert sum(probe.per_board.values()) == 0
    assert probe.most == 0  # no agent ran


async def test_a_board_named_twice_runs_once_at_a_time_and_commits_once(blackboard: Blackboard) -> None:
    probe, sink = Probe(), sinks.Memory()
    cases = [ticket(0, spin=50), ticket(1), ticket(0, spin=50), ticket(0, spin=50)]
    result = await run_many(make_controller(probe, sink), blackboard, cases, concurrency=4)
    assert [r.board for r in result.results] == ["t-0", "t-1", "t-0", "t-0"]
    assert result.counts() == {"committed": 4}
    assert probe.most_per_board == 1
    assert len(sink.applied) == 2


async def test_an_async_source_works_like_a_sync_one() -> None:
    async def cases() -> AsyncIterator[tuple[str, Any]]:
        for n in range(6):
            await anyio.lowlevel.checkpoint()
            yield ticket(n, "low" if n % 2 else "ok", spin=6 - n)

    with Blackboard.open("memory://") as bb:
        result = await run_many(make_controller(), bb, cases(), concurrency=3)
    assert [r.status for r in result.results] == ["committed", "escalated"] * 3


async def test_a_failing_source_stops_the_batch_after_the_running_boards_finish() -> None:
    def cases() -> Iterator[tuple[str, Any]]:
        yield from (ticket(n, spin=40) for n in range(3))
        raise ValueError("row 4 of the export is malformed")

    controller = make_controller()
    with Blackboard.open("memory://") as bb:
        with pytest.raises(ValueError, match="row 4"):
            await run_many(controller, bb, cases(), concurrency=3)
        for n in range(3):  # the boards that were running when the source failed were not cancelled
            assert (await controller.outcome(bb.board(f"t-{n}"))).status == "committed"


async def test_an_exception_in_on_result_stops_the_batch_and_propagates_as_is() -> None:
    def fussy(result: BoardResult) -> None:
        if result.index == 2:
            raise KeyError("the results file is gone")

    produced = 0

    def cases() -> Iterator[tuple[str, Any]]:
        nonlocal produced
        for n in range(1000):
            produced += 1
            yield ticket(n)

    with Blackboard.open("memory://") as bb, pytest.raises(KeyError, match="results file"):
        await run_many(make_controller(), bb, cases(), concurrency=2, on_result=fussy)
    assert produced < 10


async def test_the_progress_bar_shows_done_of_total_and_the_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with Blackboard.open("memory://") as bb:
        await run_many(make_controller(), bb, [ticket(0), ticket(1, "low"), ticket(2)], progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err
    assert "committed 2" in err
    assert "escalated 1" in err


@dataclass
class Recorder:
    """A `BatchProgress` of one's own: records what the batch told it."""

    told: list[tuple[Any, ...]] = field(default_factory=list)

    def start(self, total: int | None) -> None:
        self.told.append(("start", total))

    def update(self, done: int, seconds: float, counts: Mapping[str, int]) -> None:
        assert seconds >= 0
        self.told.append(("update", done, dict(counts)))

    def stop(self) -> None:
        self.told.append(("stop",))


async def test_a_progress_hook_of_ones_own_is_told_each_board_in_status_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    recorder = Recorder()
    with Blackboard.open("memory://") as bb:
        cases = [ticket(0, "low"), ticket(1), ticket(2, "bad")]
        await run_many(make_controller(), bb, cases, concurrency=1, progress=recorder)
    assert recorder.told == [
        ("start", 3),
        ("update", 1, {"escalated": 1}),
        ("update", 2, {"committed": 1, "escalated": 1}),
        ("update", 3, {"committed": 1, "escalated": 1, "error": 1}),
        ("stop",),
    ]
    assert list(recorder.told[3][2]) == ["committed", "escalated", "error"]  # the vocabulary's order
    assert capsys.readouterr().err == ""  # no bar of its own


async def test_a_progress_hook_hears_of_a_lazy_batch_without_a_total_and_of_its_end_when_it_fails() -> None:
    recorder = Recorder()

    def cases() -> Iterator[tuple[str, Any]]:
        yield ticket(0)
        raise KeyError("the source broke")

    with Blackboard.open("memory://") as bb, pytest.raises(KeyError, match="the source broke"):
        await run_many(make_controller(), bb, cases(), progress=recorder)
    assert recorder.told[0] == ("start", None)
    assert recorder.told[-1] == ("stop",)


@pytest.mark.parametrize("options", [{"concurrency": 0}, {"concurrency": 2.5}, {"timeout": 0}, {"timeout": -1}])
async def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with Blackboard.open("memory://") as bb, pytest.raises(ConfigurationError):
        await run_many(make_controller(), bb, [ticket(0)], **options)


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C as an interactive Python has it. A process that a non-interactive shell started in the background
    (`pytest &`, a CI runner's job) inherits SIGINT ignored, and Python then leaves it ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_raises")
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_stops_the_batch_and_returns_what_finished(backend: str) -> None:
    probe = Probe(interrupt_at=8)
    with Blackboard.open("memory://") as bb:
        cases = (ticket(n) for n in range(200))
        if backend == "asyncio":
            result = run_many_sync(make_controller(probe), bb, cases, concurrency=2)
        else:
            run = partial(run_many, make_controller(probe), bb, cases, concurrency=2)
            result = anyio.run(run, backend="trio")
    assert result.interrupted
    assert 6 <= len(result.results) < 20
    assert 8 not in [r.index for r in result.results]
    assert {r.status for r in result.results} == {"committed"}


async def test_a_feeder_whose_workers_have_all_left_stops_instead_of_failing() -> None:
    """On trio, Ctrl-C raises in a board's task: its worker leaves, and the feeder, not yet cancelled, may hand the
    next case to no one. That ends the feeding (the interrupt stops the batch), not fails it as the source's error
    (seen once in a few dozen runs of test_ctrl_c_stops_the_batch_and_returns_what_finished[trio])."""
    send, receive = anyio.create_memory_object_stream[tuple[int, Any]](0)
    receive.close()
    async with send:
        assert await _hand(send, (0, ticket(0))) is False


async def test_a_source_that_raises_a_broken_resource_error_itself_still_fails_the_batch() -> None:
    async def cases() -> AsyncIterator[tuple[str, Any]]:
        yield ticket(0)
        raise anyio.BrokenResourceError("the source's own stream broke")

    with Blackboard.open("memory://") as bb, pytest.raises(anyio.BrokenResourceError, match="the source's own"):
        await run_many(make_controller(), bb, cases(), concurrency=2)


@settings(max_examples=25, deadline=None)
@given(
    modes=st.lists(st.sampled_from(sorted(EXPECTED)), max_size=12),
    spins=st.lists(st.integers(0, 20), min_size=12, max_size=12),
    concurrency=st.integers(1, 6),
)
def test_every_case_gets_one_result_in_its_place(modes: list[str], spins: list[int], concurrency: int) -> None:
    cases = [ticket(n, mode, spin) for n, (mode, spin) in enumerate(zip(modes, spins, strict=False))]
    probe = Probe()
    with Blackboard.open("memory://") as bb:
        result = run_many_sync(make_controller(probe), bb, iter(cases), concurrency=concurrency)
    assert [(r.index, r.board, r.status) for r in result.results] == [
        (n, name, EXPECTED[mode]) for n, ((name, _), mode) in enumerate(zip(cases, modes, strict=True))
    ]
    assert probe.most <= concurrency
    assert all(r.error and r.error_type for r in result.results if r.status == "error")
    assert all(r.error is None for r in result.results if r.status != "error")
    check_records(result)


def load_example() -> ModuleType:
    """examples/02_batch_support_cases.py as a module (once: its finding kinds register globally)."""
    if "example_02_batch" not in sys.modules:
        spec = importlib.util.spec_from_file_location("example_02_batch", EXAMPLE)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["example_02_batch"] = module
        spec.loader.exec_module(module)
    return sys.modules["example_02_batch"]


def test_the_batch_example_runs_and_commits_what_it_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = load_example()
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    assert example.main(["--cases", "60", "--db", url, "--no-progress"]) == 0
    out = capsys.readouterr().out
    with Blackboard.open(url) as bb:
        committed = len(sinks.Table("cases").rows(bb))
        assert len(bb.boards()) == 60
    assert f"committed {committed}" in out
    assert 0 < committed < 60  # the generated cases reach more than one status
    assert "cases/s" in out
