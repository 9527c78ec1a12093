"""`run_many(concurrency=n)` runs n boards at once: idle workers take their cases together, not one per round.

Handing the cases out one scheduling round apiece kept a batch of 1,000 "at once" near a dozen boards in flight
(each board takes a dozen rounds), so their appends rarely met in one transaction. These tests pin down that a
batch's first wave starts together, and what that gives group commit on SQLite, while a lazy source is still
read no faster than workers free up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio.lowlevel
import pytest

from slateboard import Blackboard, Controller, Finding, agent, rules
from slateboard.controller.batch import run_many

pytestmark = pytest.mark.anyio


class Job(Finding):
    kind_name = "tests.at_once.Job"
    n: int


class Done(Finding):
    kind_name = "tests.at_once.Done"
    n: int


def counting(produced: list[int], seen: list[int]) -> Controller:
    """A one-agent controller whose agent notes how many cases the source had produced when it answered."""

    @agent(timeout=None)
    async def finish(job: Job) -> Done:
        # One scheduling round, as any agent that waits on something takes: a board's run may reach its agent
        # without yielding before (its reads and appends take microseconds and yield at most every millisecond).
        await anyio.lowlevel.checkpoint()
        seen.append(len(produced))
        return Done(subject=job.subject, n=job.n, confidence=1.0)

    return Controller([finish], [rules.sufficient(Done)])


def jobs(n: int, produced: list[int]) -> Iterator[tuple[str, Job]]:
    for i in range(n):
        produced.append(i)
        yield f"job-{i}", Job(subject=f"job-{i}", n=i, confidence=1.0)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # trio shuffles its run queue: "one round" has no order
@pytest.mark.parametrize("url", ["memory://", "sqlite"])
async def test_the_first_wave_starts_together(tmp_path: Path, url: str) -> None:
    concurrency, total = 25, 60
    produced: list[int] = []
    seen: list[int] = []
    url = url if url == "memory://" else f"sqlite:///{tmp_path / 'wave.db'}"
    with Blackboard.open(url) as bb:
        result = await run_many(counting(produced, seen), bb, jobs(total, produced), concurrency=concurrency)
    assert result.counts() == {"sufficient": total}
    # Every idle worker had its case within the first board's first scheduling round, and the feeder holds the
    # next one: no more was read.
    assert seen[0] == concurrency + 1
    assert max(seen) <= total


async def test_a_lazy_source_is_still_read_only_as_workers_free_up() -> None:
    produced: list[int] = []
    finished: list[tuple[int, int]] = []  # (results landed, cases produced) at each result

    @agent(timeout=None)
    async def slow(job: Job) -> Done:
        for _ in range(job.n % 5):
            await anyio.lowlevel.checkpoint()
        return Done(subject=job.subject, n=job.n, confidence=1.0)

    controller = Controller([slow], [rules.sufficient(Done)])
    with Blackboard.open("memory://") as bb:
        await run_many(
            controller,
            bb,
            jobs(50, produced),
            concurrency=8,
            on_result=lambda r: finished.append((len(finished) + 1, len(produced))),
        )
    assert finished[0][1] <= 9  # the first wave (8) and the one case the feeder holds
    assert all(made <= done + 8 + 1 for done, made in finished)


async def test_boards_started_together_share_their_transactions(tmp_path: Path) -> None:
    # Each board appends twice (its start and first decision; its agent's finding and the final decision): 80
    # appends. Started together, the boards reach each append within a round or two of each other, so a few
    # transactions hold them all (2 or 3 on asyncio; trio's scheduling order varies more). One board a round gave
    # groups of a handful: 25 transactions.
    produced: list[int] = []
    seen: list[int] = []
    concurrency = 40
    with Blackboard.open(f"sqlite:///{tmp_path / 'group.db'}") as bb:
        if bb.group is None:
            pytest.fail("a SQLite blackboard has group commit on by default")
        result = await run_many(counting(produced, seen), bb, jobs(concurrency, produced), concurrency=concurrency)
        assert result.counts() == {"sufficient": concurrency}
        assert bb.group.transactions <= 8
        for i in range(concurrency):
            history = await bb.board(f"job-{i}").history()
            assert [e.kind for e in history][-1] == "slateboard.Decision"
