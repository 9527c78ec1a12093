"""`Worker`: claims boards from a store's work queue and runs their scenario on each, many at once.

A worker runs `concurrency` slots. Each slot claims one board at a time with a lease, runs (or resumes) the
board's scenario on a store fenced by the lease's token, keeps the lease alive with heartbeats while the run goes
on, and ends it with the outcome: "done" for a final outcome, "waiting" when a person must answer (an answer
queues the board again). Idle slots sleep until the queue announces work (LISTEN/NOTIFY) or `poll` seconds pass.

A worker that dies loses its leases when they run out; another worker claims the boards and resumes them from the
log: agents' findings already on a board are not asked for again and commits are applied once (the ledger). A
worker that lost a lease stops working on that board at once; its late writes fail on the fencing token.

`stop()` (the command calls it on SIGTERM): no new claims; runs in flight get `grace` seconds to finish, then are
cancelled and their boards released, queued for the next worker.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import anyio.to_thread

from slateboard.blackboard.board import Blackboard
from slateboard.blackboard.stores.queue import Lease, QueueStore, Wakeup, WorkQueue, WorkState
from slateboard.errors import ConfigurationError, LeaseLostError, StoreError, redacted
from slateboard.scenarios.catalog import resolve

if TYPE_CHECKING:
    from slateboard.controller.outcomes import Outcome
    from slateboard.scenarios.model import Scenario

__all__ = ("Worker", "WorkerReport", "BoardDone", "queue_of", "WAITING_STATUSES")

log = logging.getLogger(__name__)
# Outcomes that wait for a person; the board is queued again when the answer lands.
WAITING_STATUSES = frozenset({"awaiting_approval", "escalated"})


def queue_of(blackboard: Blackboard) -> WorkQueue:
    """The work queue beside `blackboard`'s log, or `ConfigurationError` for a store that has none."""
    store = blackboard.store
    if not isinstance(store, QueueStore):
        raise ConfigurationError(
            f"store {redacted(blackboard.url)}: it has no work queue; workers and enqueue need a PostgreSQL store "
            "(--db postgresql://...)"
        )
    return store.queue


@dataclass(frozen=True)
class BoardDone:
    """What a worker did with one claimed board: its outcome `status` ("" when it did not get one), the queue
    `state` it left the board in ("lost" when another worker took it over, "released" when stopped)."""

    board: str
    status: str
    state: WorkState | str
    seconds: float
    claims: int
    error: str = ""


@dataclass
class WorkerReport:
    """What a worker did, by the queue state it left each board in."""

    name: str
    boards: list[BoardDone] = field(default_factory=list)

    def count(self, state: str) -> int:
        """How many boards ended in queue state `state` (or "lost", "released")."""
        return sum(1 for done in self.boards if done.state == state)


@dataclass
class _Live:
    """What a running worker signals with: made inside `run`, on its event loop."""

    stopping: anyio.Event
    announced: anyio.Event
    runs: anyio.CancelScope
    group: anyio.abc.TaskGroup


class Worker:
    """A worker on `blackboard`'s work queue. `scenario` limits it to boards of that scenario (default: any);
    `lease` is the lease in seconds (heartbeats every third of it); `max_claims` bounds how often a board whose
    worker keeps dying is claimed again; `until_idle` returns once no board is queued or leased."""

    def __init__(
        self,
        blackboard: Blackboard,
        *,
        scenario: str | None = None,
        concurrency: int = 4,
        lease: float = 30.0,
        poll: float = 5.0,
        max_claims: int = 5,
        grace: float = 30.0,
        name: str | None = None,
        on_board: Callable[[BoardDone], None] | None = None,
    ) -> None:
        for what, value in (("concurrency", concurrency), ("max_claims", max_claims)):
            if value < 1:
                raise ConfigurationError(f"worker {what} must be at least 1, got {value}")
        for what, seconds in (("lease", lease), ("poll", poll), ("grace", grace)):
            if not seconds > 0:
                raise ConfigurationError(f"worker {what} must be a positive number of seconds, got {seconds}")
        self.blackboard = blackboard
        self.queue = queue_of(blackboard)
        self.scenario = scenario
        self.concurrency, self.lease, self.poll = concurrency, lease, poll
        self.max_claims, self.grace = max_claims, grace
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.report = WorkerReport(self.name)
        self._on_board = on_board
        self._scenarios: dict[tuple[str, str | None], Scenario] = {}
        self._until_idle = False
        self._stopped = False  # stop() before run(): run() returns at once
        self._live: _Live | None = None

    def _prepare(self, group: anyio.abc.TaskGroup) -> None:
        # anyio's events belong to the event loop run() is called on, so they are made there.
        self._live = _Live(anyio.Event(), anyio.Event(), anyio.CancelScope(), group)
        if self._stopped:
            self._stop_now()

    @property
    def _stopping(self) -> anyio.Event:
        return self._running().stopping

    @property
    def _runs(self) -> anyio.CancelScope:
        return self._running().runs

    def _running(self) -> _Live:
        if self._live is None:
            raise ConfigurationError("the worker is not running: await worker.run() first")
        return self._live

    async def run(self, *, until_idle: bool = False) -> WorkerReport:
        """Work until `stop()` (or, with `until_idle`, until the queue has nothing queued or leased)."""
        self._until_idle = until_idle
        wakeup = await anyio.to_thread.run_sync(self.queue.wakeup)
        try:
            async with anyio.create_task_group() as group:
                self._prepare(group)
                group.start_soon(self._listen, wakeup)
                with self._runs:
                    async with anyio.create_task_group() as slots:
                        for _ in range(self.concurrency):
                            slots.start_soon(self._slot)
                self._stop_now()
        except BaseExceptionGroup as failures:  # one clear error rather than a tree of task groups
            raise _first(failures) from failures
        finally:
            wakeup.close()
        return self.report

    def stop(self, grace: float | None = None) -> None:
        """Claim nothing more; runs in flight get `grace` seconds (default: the worker's), then are cancelled and
        their boards released. Call it again with a shorter grace to stop sooner."""
        self._stopped = True
        if self._live is None:
            return
        self._stop_now()
        chosen = self.grace if grace is None else grace
        self._runs.deadline = min(self._runs.deadline, anyio.current_time() + chosen)

    def _stop_now(self) -> None:
        self._stopping.set()
        self._running().announced.set()

    async def _listen(self, wakeup: Wakeup) -> None:
        while not self._stopping.is_set():
            if await anyio.to_thread.run_sync(wakeup.wait, 0.5):
                live = self._running()
                live.announced.set()
                live.announced = anyio.Event()

    async def _slot(self) -> None:
        claim = partial(self.queue.claim, limit=1, lease_seconds=self.lease, max_claims=self.max_claims)
        while not self._stopping.is_set():
            # Taken before claiming: work announced while the claim runs sets this event, not a later one.
            announced = self._running().announced
            try:
                leases = await anyio.to_thread.run_sync(claim, self.name, self.scenario)
                if leases:
                    await self._work_on(leases[0])
                    continue
                if self._until_idle and not await anyio.to_thread.run_sync(self.queue.outstanding):
                    self._stop_now()
                    continue
            except StoreError as exc:  # the database, not a board: say so, wait, try again
                log.warning("worker %s: %s; trying again in %g s", self.name, exc, self.poll)
            with anyio.move_on_after(self.poll):
                await announced.wait()

    async def _work_on(self, lease: Lease) -> None:
        started = time.monotonic()
        try:
            status, state, error = await self._outcome_of(lease)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._release(lease)
                self._done(BoardDone(lease.board, "", "released", time.monotonic() - started, lease.claims))
            raise
        self._done(BoardDone(lease.board, status, state, time.monotonic() - started, lease.claims, error))

    async def _outcome_of(self, lease: Lease) -> tuple[str, WorkState | str, str]:
        """Run the leased board; (outcome status, the queue state it was left in, the error)."""
        try:
            outcome = await self._run_leased(lease)
        except LeaseLostError as exc:
            return "", "lost", str(exc)
        except StoreError as exc:  # the database failed, not the board: leave it for a later claim
            await self._release(lease)
            return "", "released", str(exc)
        except Exception as exc:  # a run that raised: recorded on its row, the worker goes on with other boards
            error = f"{type(exc).__name__}: {exc}"
            finished = await anyio.to_thread.run_sync(self.queue.finish, lease, "failed", "error", error)
            return "error", finished or "lost", error
        wanted: WorkState = "waiting" if outcome.status in WAITING_STATUSES else "done"
        finished = await anyio.to_thread.run_sync(self.queue.finish, lease, wanted, outcome.status)
        return outcome.status, finished or "lost", ""

    async def _release(self, lease: Lease) -> None:
        try:
            await anyio.to_thread.run_sync(self.queue.release, lease)
        except StoreError as exc:  # the lease runs out instead
            log.warning("worker %s: could not release %s (%s); its lease will run out", self.name, lease.board, exc)

    async def _run_leased(self, lease: Lease) -> Outcome:
        scenario = self._scenario(lease)
        blackboard = Blackboard(self.queue.fenced(lease))
        beating = anyio.CancelScope()
        with anyio.CancelScope() as run_scope:
            self._running().group.start_soon(self._keep_alive, lease, run_scope, beating)
            try:
                return (await scenario.run(blackboard, board=lease.board)).outcome
            finally:
                beating.cancel()
        raise LeaseLostError(lease.board, lease.token, None)  # the heartbeat found the lease gone

    async def _keep_alive(self, lease: Lease, run_scope: anyio.CancelScope, beating: anyio.CancelScope) -> None:
        """Heartbeats until the run ends; the run is cancelled once the lease is lost, or presumed lost (no
        heartbeat got through for a whole lease)."""
        last = anyio.current_time()
        with beating:
            while anyio.current_time() - last < self.lease:
                await anyio.sleep(self.lease / 3)
                try:
                    if not await anyio.to_thread.run_sync(self.queue.heartbeat, lease, self.lease):
                        break
                    last = anyio.current_time()
                except StoreError as exc:
                    log.warning("worker %s: heartbeat for %s failed: %s", self.name, lease.board, exc)
            run_scope.cancel()

    def _scenario(self, lease: Lease) -> Scenario:
        key = (lease.scenario, lease.variant)
        if key not in self._scenarios:
            self._scenarios[key] = resolve(lease.scenario, lease.variant)
        return self._scenarios[key]

    def _done(self, done: BoardDone) -> None:
        self.report.boards.append(done)
        if self._on_board is not None:
            self._on_board(done)


def _first(failures: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error of a task group's failures that is not a cancellation."""
    for failure in failures.exceptions:
        found = _first(failure) if isinstance(failure, BaseExceptionGroup) else failure
        if not isinstance(found, anyio.get_cancelled_exc_class()):
            return found
    return failures
