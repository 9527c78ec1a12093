"""A write (and a run-start read) is an anyio checkpoint even when it ran inline and skipped the scheduling round
(`stores.base.call_append`): a cancelled writer gets its cancellation at the write, and a loop of writes still lets
the other tasks of its event loop run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

from slateboard import Blackboard, Finding


class Tick(Finding):
    kind_name = "tests.append_checkpoints.Tick"
    n: int


def tick(n: int) -> Tick:
    return Tick(subject="clock", confidence=1.0, n=n)


def ungrouped(bb: Blackboard) -> Blackboard:
    """The store's appends one by one, through `call_append` (group commit has its own scheduling: group.py)."""
    return Blackboard(bb.store, group_commit=False)


@pytest.mark.anyio
@pytest.mark.parametrize("grouped", [False, True])
async def test_a_cancelled_writer_is_cancelled_at_its_write_which_landed(bb: Blackboard, grouped: bool) -> None:
    """Alone (`call_append`) or through group commit (where the store groups: SQLite, PostgreSQL)."""
    board = (bb if grouped else ungrouped(bb)).board("cancelled")
    await board.write(tick(0), author="w")
    reached = []
    with anyio.CancelScope() as scope:
        scope.cancel()
        await board.write(tick(1), author="w")
        reached.append("after the write")
    assert scope.cancelled_caught
    assert reached == []
    assert [entry.payload.n for entry in await board.history()] == [0, 1]  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_a_loop_of_writes_lets_the_other_tasks_run(bb: Blackboard) -> None:
    board = ungrouped(bb).board("loop")
    written = await steps_until_another_task_runs(lambda n: board.write(tick(n), author="w"))
    assert (await board.view()).version == written


async def steps_until_another_task_runs(step: Callable[[int], Awaitable[object]]) -> int:
    """How many `step`s a loop that awaits nothing else takes before another task of its event loop gets to run:
    only the steps' checkpoints can let it. Each step takes microseconds and they yield at least every millisecond,
    so the bound is never reached."""
    other_ran = anyio.Event()
    steps = 0

    async def other() -> None:
        other_ran.set()

    async with anyio.create_task_group() as group:
        group.start_soon(other)
        while not other_ran.is_set() and steps < 1_000_000:
            await step(steps)
            steps += 1
    assert other_ran.is_set()
    assert steps < 1_000_000
    return steps


@pytest.mark.anyio
async def test_a_read_is_a_checkpoint_and_a_loop_of_reads_lets_the_other_tasks_run(bb: Blackboard) -> None:
    """The reads a run starts with (`call_read`: here a view's catch-up read) skip the scheduling round as writes
    do, and are still checkpoints."""
    board = bb.board("reads")
    await board.write(tick(0), author="w")
    reached = []
    with anyio.CancelScope() as scope:
        scope.cancel()
        await board.view()
        reached.append("after the read")
    assert scope.cancelled_caught
    assert reached == []
    await steps_until_another_task_runs(lambda _: board.view())
