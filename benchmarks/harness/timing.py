"""Clocks, and keeping the garbage collector out of a timed run."""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager


def now() -> int:
    """The clock every benchmark reads: `time.perf_counter_ns`, whole nanoseconds (no float drift on long runs)."""
    return time.perf_counter_ns()


def since(start: int) -> float:
    """Seconds since `start`, a reading of `now()`."""
    return (time.perf_counter_ns() - start) / 1e9


@contextmanager
def quiet_gc(*, keep_gc: bool = False) -> Iterator[None]:
    """A full collection first; then, unless `keep_gc`, no collection until the block ends.

    A collection that lands inside a timed run costs whatever the whole heap costs to scan, at a moment set by
    earlier allocations, so it decides a short figure alone. `keep_gc` is for figures that mean to include the
    collector (a whole run's throughput, where its share grows with the heap and is itself the finding).
    """
    gc.collect()
    was_enabled = gc.isenabled()
    if not keep_gc:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:  # a block nested in another quiet one leaves the collector as the outer one wants it
            gc.enable()


def timed(fn: Callable[[], object], *, keep_gc: bool = False) -> float:
    """Seconds `fn()` takes, inside `quiet_gc`."""
    with quiet_gc(keep_gc=keep_gc):
        start = now()
        fn()
        return since(start)


async def timed_async(fn: Callable[[], Awaitable[object]], *, keep_gc: bool = False) -> float:
    """Seconds `await fn()` takes, inside `quiet_gc`."""
    with quiet_gc(keep_gc=keep_gc):
        start = now()
        await fn()
        return since(start)


def freeze() -> None:
    """Move every object alive now (modules, classes, caches) out of the collector's sight.

    Each full collection before a timed run then scans only what the measurements made, not the whole
    interpreter (about 80 ms a collection on a loaded 2-core VM, which can be half of a --quick run).
    """
    gc.collect()
    gc.freeze()
