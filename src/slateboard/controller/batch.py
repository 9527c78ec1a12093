"""Running many boards concurrently: `run_many` for pipelines (a batch of 10,000 generated cases, a nightly job).

```python
result = await run_many(controller, bb, ((f"case-{i}", Case(...)) for i in range(10_000)), concurrency=8)
result.counts()                          # {"committed": 9120, "escalated": 611, ..., "error": 3}
pandas.DataFrame(result.records())       # one flat row per board, in input order
```

One feeder pulls `(board_name, inputs)` pairs from `cases` and hands each, through an unbuffered memory object
stream, to the first of `concurrency` workers that is free; so at most `concurrency` boards run at once and a lazy
generator is read only as fast as boards finish (never materialized). Idle workers take their cases in one go, so
`concurrency` boards do run at once (and their appends share transactions: blackboard/group.py). Each board is one
`controller.run`, which resumes a board that already has entries: running the same batch again on the same store
re-runs nothing finished and applies no proposal twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from slateboard._internal.progress import RichProgress
from slateboard._internal.sync import run_sync
from slateboard.blackboard.board import Blackboard
from slateboard.blackboard.records import Finding, FrozenModel
from slateboard.controller.outcomes import Outcome
from slateboard.errors import ConfigurationError
from slateboard.state.vocabulary import BOARD_STATUSES, BoardStatus

if TYPE_CHECKING:  # loop.py delegates `Controller.run_many` here: a runtime import would be circular
    from slateboard.controller.loop import Controller

__all__ = ("BatchCase", "BatchProgress", "BatchResult", "BoardResult", "BoardStatus", "run_many", "run_many_sync")

_ORDER = BOARD_STATUSES

BatchCase = tuple[str, Finding | Sequence[Finding]]
"""One case of a batch: the board's name and its inputs (one finding or several)."""

Row = dict[str, str | int | float | None]


class BatchProgress(Protocol):
    """How a batch reports its progress: pass one as `run_many(progress=...)`; `progress=True` uses a rich bar.

    Its methods are called from the batch's own event loop, between boards; they should return quickly.
    """

    def start(self, total: int | None) -> None:
        """The batch begins: `total` is the number of cases when `cases` has a length, else None."""

    def update(self, done: int, seconds: float, counts: Mapping[str, int]) -> None:
        """A board finished: `done` boards in `seconds`; `counts` per status, committed ... error, none at zero."""

    def stop(self) -> None:
        """The batch ended: finished, interrupted or failed (it may be called twice)."""


class BoardResult(FrozenModel):
    """How one board of a batch ended.

    `status` is the run's `Outcome.status`, or "error" when the run raised or overran the batch's `timeout`; then
    `error_type` and `error` say what happened and `reasons` holds the same text, so that every status but
    "committed" carries a reason. `index` is the case's position in the input; `seconds` the board's wall time.
    """

    index: int
    board: str
    status: BoardStatus
    reasons: tuple[str, ...] = ()
    proposals: int = 0
    commits: int = 0
    approvals: int = 0
    error_type: str | None = None
    error: str | None = None
    seconds: float = 0.0

    def record(self) -> Row:
        """This result as one flat row of plain JSON values (the reasons joined by "; ")."""
        row: Row = {
            "index": self.index,
            "board": self.board,
            "status": self.status,
            "reasons": "; ".join(self.reasons),
            "proposals": self.proposals,
            "commits": self.commits,
            "approvals": self.approvals,
            "error_type": self.error_type,
            "error": self.error,
            "seconds": self.seconds,
        }
        return row


class BatchResult(FrozenModel):
    """What `run_many` returns: `results` (one `BoardResult` per finished board, in input order).

    `interrupted` is true when the batch was cancelled (or stopped with Ctrl-C) before every case ran: `results`
    then holds the boards that finished, and running the same batch again resumes the rest. `seconds` is the
    batch's wall time.
    """

    results: tuple[BoardResult, ...]
    interrupted: bool = False
    seconds: float = 0.0

    def records(self) -> list[Row]:
        """One flat dict of JSON values per board, all with the same keys: `pandas.DataFrame(result.records())`."""
        return [r.record() for r in self.results]

    def counts(self) -> dict[str, int]:
        """How many boards ended in each status, in the order committed ... sufficient, error (none at zero)."""
        counted = Counter(r.status for r in self.results)
        return {status: counted[status] for status in _ORDER if counted[status]}

    @property
    def rate(self) -> float:
        """Boards finished per second of the batch's wall time."""
        return len(self.results) / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        counts = ", ".join(f"{status} {n:,}" for status, n in self.counts().items()) or "nothing finished"
        stopped = " (interrupted)" if self.interrupted else ""
        return f"{len(self.results):,} board(s) in {self.seconds:.1f} s ({self.rate:,.1f}/s){stopped}: {counts}"


async def run_many(
    controller: Controller,
    blackboard: Blackboard,
    cases: Iterable[BatchCase] | AsyncIterable[BatchCase],
    *,
    concurrency: int = 8,
    timeout: float | None = None,  # noqa: ASYNC109 - each board's limit, not the call's
    progress: bool | BatchProgress = False,
    on_result: Callable[[BoardResult], object] | None = None,
) -> BatchResult:
    """Run `controller` on one board of `blackboard` per case, at most `concurrency` at once.

    `cases` yields `(board_name, inputs)` pairs, `inputs` a `Finding` or a sequence of them; it may be a lazy
    (even endless) iterator or an async iterable, and is read only as boards finish. A board that raises, or runs
    longer than `timeout` seconds (it is cancelled), is recorded with status "error"; the others go on. A board
    name that comes again while its first run is still going waits for it, then resumes it. `progress=True` shows
    a rich progress bar on stderr; a `BatchProgress` of one's own is told instead. `on_result` is called with each
    `BoardResult` as it lands (completion order); an exception it raises stops the batch (the running boards are
    cancelled) and propagates.

    Cancelling the caller (or Ctrl-C) stops the batch: no new board starts, the running ones are cancelled (a
    rerun resumes them from their logs), and the boards that finished are returned with `interrupted=True`.
    The cancellation itself goes on at the caller's next checkpoint. An exception raised by `cases` itself stops
    the feeding; once the running boards finish, it propagates.
    """
    options = _Options(concurrency, timeout, progress, on_result)
    return await _execute(_Batch(), controller, blackboard, cases, options)


def run_many_sync(
    controller: Controller,
    blackboard: Blackboard,
    cases: Iterable[BatchCase] | AsyncIterable[BatchCase],
    *,
    concurrency: int = 8,
    timeout: float | None = None,
    progress: bool | BatchProgress = False,
    on_result: Callable[[BoardResult], object] | None = None,
) -> BatchResult:
    """`run_many` for scripts and notebooks without an event loop; Ctrl-C returns the boards that finished."""
    options, batch = _Options(concurrency, timeout, progress, on_result), _Batch()
    try:
        return run_sync(_execute, batch, controller, blackboard, cases, options)
    except KeyboardInterrupt:
        # A first Ctrl-C cancels the batch, which returns normally. One that escapes the batch's tasks (a second
        # Ctrl-C, or one raised inside an asyncio task) leaves the event loop without a value: take what it collected.
        batch.stop_progress()
        return batch.result(interrupted=True)


@dataclass(frozen=True)
class _Options:
    """`run_many`'s keyword options, checked once."""

    concurrency: int
    limit: float | None
    progress: bool | BatchProgress
    on_result: Callable[[BoardResult], object] | None

    def __post_init__(self) -> None:
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ConfigurationError(f"concurrency must be a positive integer, got {self.concurrency!r}")
        if self.limit is not None and not self.limit > 0:
            raise ConfigurationError(f"timeout must be a positive number of seconds or None, got {self.limit!r}")


@dataclass
class _Batch:
    """What a running batch has collected so far (kept outside the event loop for `run_many_sync`)."""

    done: dict[int, BoardResult] = field(default_factory=dict)
    statuses: Counter[BoardStatus] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    progress: BatchProgress | None = None

    def add(self, result: BoardResult) -> None:
        self.done[result.index] = result
        self.statuses[result.status] += 1
        if self.progress is not None:
            counts: dict[str, int] = {status: self.statuses[status] for status in _ORDER if self.statuses[status]}
            self.progress.update(len(self.done), time.perf_counter() - self.started, counts)

    def result(self, *, interrupted: bool) -> BatchResult:
        ordered = tuple(self.done[i] for i in sorted(self.done))
        return BatchResult(results=ordered, interrupted=interrupted, seconds=time.perf_counter() - self.started)

    def start_progress(self, chosen: bool | BatchProgress, total: int | None) -> None:
        if isinstance(chosen, bool):
            self.progress = RichProgress() if chosen else None
        else:
            self.progress = chosen
        if self.progress is not None:
            self.progress.start(total)

    def stop_progress(self) -> None:
        if self.progress is not None:
            self.progress.stop()


class _Running:
    """The boards running, by name: a name that comes again while its board runs waits for it (one run at a time).

    The event a waiting case needs is made only when one waits: most batches never name a board twice."""

    def __init__(self) -> None:
        self._boards: dict[str, anyio.Event | None] = {}

    async def claim(self, name: str) -> None:
        while name in self._boards:
            busy = self._boards[name]
            if busy is None:
                busy = self._boards[name] = anyio.Event()
            await busy.wait()
        self._boards[name] = None

    def release(self, name: str) -> None:
        finished = self._boards.pop(name)
        if finished is not None:
            finished.set()


async def _execute(
    batch: _Batch,
    controller: Controller,
    blackboard: Blackboard,
    cases: Iterable[BatchCase] | AsyncIterable[BatchCase],
    options: _Options,
) -> BatchResult:
    running = _Running()
    failure: list[Exception] = []

    async def work(receive: MemoryObjectReceiveStream[tuple[int, Any]]) -> None:
        async with receive:
            while (taken := await _take(receive)) is not None:
                index, case = taken
                name = _name_of(case, index)
                await running.claim(name)
                try:
                    result = await _run_board(controller, blackboard, case, index=index, name=name, limit=options.limit)
                finally:
                    running.release(name)
                batch.add(result)
                if options.on_result is not None:
                    try:
                        options.on_result(result)
                    except Exception as exc:  # the caller's own code: it stops the batch, and is raised as is
                        failure.append(exc)
                        group.cancel_scope.cancel()

    async def feed(send: MemoryObjectSendStream[tuple[int, Any]]) -> None:
        async with send:
            try:
                if isinstance(cases, AsyncIterable):
                    index = 0
                    async for case in cases:
                        if not await _hand(send, (index, case)):
                            return
                        index += 1
                else:
                    for index, case in enumerate(cases):
                        if not await _hand(send, (index, case)):
                            return
            except Exception as exc:  # the source failed, not a board: let the running boards finish first
                failure.append(exc)

    batch.start_progress(options.progress, len(cases) if isinstance(cases, Sized) else None)
    interrupted = False
    try:
        # Unbuffered: the feeder pulls the next case only when a worker is ready to take it.
        send, receive = anyio.create_memory_object_stream[tuple[int, Any]](0)
        async with anyio.create_task_group() as group:
            for _ in range(options.concurrency):
                group.start_soon(work, receive.clone())
            receive.close()
            await feed(send)
    except BaseException as exc:
        if not _interrupt(exc):
            raise
        interrupted = True  # returned, not re-raised: the caller's cancelled scope raises again at its next await
    finally:
        batch.stop_progress()
    if failure:
        raise failure[0]
    return batch.result(interrupted=interrupted)


async def _take(receive: MemoryObjectReceiveStream[tuple[int, Any]]) -> tuple[int, Any] | None:
    """The next case, or None once the feeder is done: at once when the feeder is waiting with one or has finished
    (a board's run has yielded often enough), else after waiting for it."""
    try:
        return receive.receive_nowait()
    except anyio.WouldBlock:
        try:
            return await receive.receive()
        except anyio.EndOfStream:
            return None
    except anyio.EndOfStream:
        return None


async def _hand(send: MemoryObjectSendStream[tuple[int, Any]], item: tuple[int, Any]) -> bool:
    """Give `item` to an idle worker at once, or wait for one to be free; False if every worker has left (the batch
    is stopping: on trio, Ctrl-C raises in a board's task, whose worker leaves before the feeder is cancelled).

    Not a scheduling round per case: `send` alone yields before every item, so a batch would start one board per
    round of the event loop, and its boards, each needing a dozen rounds, would never be more than a dozen at once
    whatever `concurrency` says. Idle workers take their cases here in one go; only waiting for a busy worker yields.
    """
    try:
        try:
            send.send_nowait(item)
        except anyio.WouldBlock:
            await send.send(item)
    except anyio.BrokenResourceError:
        return False
    return True


async def _run_board(
    controller: Controller, blackboard: Blackboard, case: Any, *, index: int, name: str, limit: float | None
) -> BoardResult:
    started = time.perf_counter()
    outcome: Outcome | None = None
    try:
        board_name, inputs = case
        several = isinstance(inputs, Sequence) and not isinstance(inputs, str | Finding)
        findings = tuple(inputs) if several else (inputs,)  # anything else is refused by the controller, by type
        board = blackboard.board(board_name)  # not `name`: a name that is not a string is refused here
        if limit is None:  # no cancel scope a board when there is no limit to keep
            outcome = await controller.run(board, *findings)
        else:
            with anyio.move_on_after(limit):
                outcome = await controller.run(board, *findings)
    except Exception as exc:  # one board's failure is its own result, never the batch's end
        return _error(index, name, started, type(exc).__name__, str(exc) or repr(exc))
    if outcome is None:
        return _error(index, name, started, "TimeoutError", f"the board's run took longer than {limit} s")
    return BoardResult(
        index=index,
        board=name,
        status=outcome.status,
        reasons=outcome.reasons,
        proposals=len(outcome.proposals),
        commits=len(outcome.commits),
        approvals=len(outcome.approvals),
        seconds=time.perf_counter() - started,
    )


def _error(index: int, name: str, started: float, kind: str, message: str) -> BoardResult:
    text = f"{kind}: {message}"
    return BoardResult(
        index=index,
        board=name,
        status="error",
        reasons=(text,),
        error_type=kind,
        error=message,
        seconds=time.perf_counter() - started,
    )


def _name_of(case: Any, index: int) -> str:
    """The case's board name, or a stand-in that says which case could not be read (its run then fails)."""
    if isinstance(case, tuple | list) and len(case) == 2 and isinstance(case[0], str):
        return case[0]
    return f"<case {index}>"


def _interrupt(exc: BaseException) -> bool:
    """Whether `exc` is only cancellation or Ctrl-C (possibly grouped by a task group)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_interrupt(inner) for inner in exc.exceptions)
    return isinstance(exc, (anyio.get_cancelled_exc_class(), KeyboardInterrupt))
