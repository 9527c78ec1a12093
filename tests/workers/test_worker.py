"""`Worker` and `enqueue` in one process, on a real PostgreSQL server: boards run to their outcome once, a person's
answer brings a board back, an idle worker wakes on NOTIFY, and `stop()` releases what is in flight."""

from __future__ import annotations

from collections import Counter

import anyio
import pytest

from slateboard import Blackboard, sinks
from slateboard.errors import ConfigurationError, ScenarioError, StoreError
from slateboard.scenarios import controller_for
from slateboard.workers import BoardDone, Worker, WorkQueue, enqueue, enqueue_sync
from tests.workers import hanging

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_worker_runs_every_queued_board_to_its_outcome_once(bb: Blackboard, queue: WorkQueue) -> None:
    submitted = await enqueue(bb, "support-case", count=12, prefix="case-")
    assert submitted.queued[0] == "case-0001"
    assert len(submitted.queued) == 12
    report = await Worker(bb, concurrency=3, poll=0.5).run(until_idle=True)
    assert Counter((d.status, d.state) for d in report.boards) == {("awaiting_approval", "waiting"): 12}
    assert all(item.state == "waiting" for item in queue.items())
    table = sinks.Table("support_cases").rows(bb)
    assert sorted(table) == [f"Case/case-{n:04d}" for n in range(1, 13)]
    assert {row["revision"] for row in table.values()} == {1}
    for name in submitted.queued:
        await bb.board(name).verify()


async def test_an_approval_brings_a_waiting_board_back_and_it_ends_committed(bb: Blackboard, queue: WorkQueue) -> None:
    await enqueue(bb, "support-case", boards=["a", "b"])
    await Worker(bb, poll=0.5).run(until_idle=True)
    controller, board = controller_for(bb, "a")
    [request] = (await controller.outcome(board)).approvals
    await controller.approve(board, request.key, reviewer="ana")
    assert [(i.board, i.state) for i in queue.items()] == [("a", "queued"), ("b", "waiting")]
    report = await Worker(bb, poll=0.5).run(until_idle=True)
    assert [(d.board, d.status, d.state) for d in report.boards] == [("a", "committed", "done")]


async def test_an_idle_worker_wakes_when_boards_are_enqueued(bb: Blackboard) -> None:
    finished = anyio.Event()

    def on_board(done: BoardDone) -> None:
        finished.set()

    worker = Worker(bb, poll=600, on_board=on_board)  # a poll this long would fail the test: NOTIFY must wake it
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run)
        with anyio.fail_after(60):
            await anyio.to_thread.run_sync(lambda: enqueue_sync(bb, "support-case", boards=["late"]))
            await finished.wait()
        worker.stop()
    assert [(d.board, d.state) for d in worker.report.boards] == [("late", "waiting")]


async def test_stop_cancels_runs_in_flight_after_the_grace_and_releases_their_boards(
    bb: Blackboard, queue: WorkQueue
) -> None:
    hanging.STARTED.clear()
    await enqueue(bb, "tests.workers.hanging:scenario", boards=["stuck"])
    worker = Worker(bb, grace=0.1, poll=0.5)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run)
        with anyio.fail_after(60):
            await anyio.to_thread.run_sync(hanging.STARTED.wait)
        assert queue.items()[0].state == "leased"
        worker.stop()
    assert [(d.board, d.state) for d in worker.report.boards] == [("stuck", "released")]
    [item] = queue.items()
    assert (item.state, item.owner) == ("queued", None)


async def test_a_run_that_raises_marks_its_board_failed_and_the_worker_goes_on(
    bb: Blackboard, queue: WorkQueue
) -> None:
    queue.enqueue(["bad"], "tests.workers.no_such_module:scenario", None)
    await enqueue(bb, "support-case", boards=["good"])
    report = await Worker(bb, poll=0.5).run(until_idle=True)
    states = {d.board: (d.state, d.error) for d in report.boards}
    assert states["good"] == ("waiting", "")
    assert states["bad"][0] == "failed"
    assert "cannot load the scenario" in states["bad"][1]
    assert queue.items(["bad"])[0].error == states["bad"][1]


async def test_enqueue_checks_the_scenario_and_the_settings_first(bb: Blackboard, queue: WorkQueue) -> None:
    with pytest.raises(ScenarioError, match="nope"):
        await enqueue(bb, "support-case", variant="nope")
    with pytest.raises(ConfigurationError, match="count"):
        await enqueue(bb, "support-case", count=0)
    with pytest.raises(ConfigurationError, match="concurrency"):
        Worker(bb, concurrency=0)
    with pytest.raises(ConfigurationError, match="lease"):
        Worker(bb, lease=0)
    assert queue.items() == []
    done = await enqueue(bb, "support-case/conflict", count=2)
    assert (done.scenario, done.variant) == ("support-case", "conflict")
    assert done.queued == ("support-case-0001", "support-case-0002")


class FlakyQueue:
    """The real queue, whose first claim fails as a database that went away for a moment does."""

    def __init__(self, queue: WorkQueue) -> None:
        self._queue = queue
        self.failed = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._queue, name)

    def claim(self, *args: object, **kwargs: object) -> object:
        if not self.failed:
            self.failed = True
            raise StoreError("connection refused", url="postgresql://app:secret@db/x")
        return self._queue.claim(*args, **kwargs)  # type: ignore[arg-type]


async def test_a_worker_outlives_a_moment_without_its_database(
    bb: Blackboard, queue: WorkQueue, caplog: pytest.LogCaptureFixture
) -> None:
    await enqueue(bb, "support-case", boards=["a"])
    worker = Worker(bb, concurrency=1, poll=0.05)
    flaky = FlakyQueue(worker.queue)
    worker.queue = flaky  # type: ignore[assignment]
    report = await worker.run(until_idle=True)
    assert flaky.failed
    assert [(d.board, d.state) for d in report.boards] == [("a", "waiting")]
    assert "connection refused" in caplog.text
    assert "secret" not in caplog.text
