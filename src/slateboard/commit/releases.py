"""Wake-ups for commits waiting on a target that a commit of the same thread has just released.

A commit that finds its target locked asks the ledger again and again, with a growing pause (up to a quarter of a
second): the lock lives in the store, and a holder in another process tells no one when it lets go. A holder in
this process can tell its own event loop's waiters: when a commit releases a target, the commits of the same thread
waiting on a target of that name ask the ledger at once instead of at the end of their pause. Only the pause is
cut short: the lock is still taken only through the ledger, and a waiter woken for nothing (a target of the same
name in another store, or another waiter took the lock first) asks once more and waits again.

Waiters of other threads are left to their pause: an event loop's events are set from its own thread only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

__all__ = ("RELEASES", "Releases", "Waiter")


class Waiter:
    """One commit waiting on a target: `arm` before each ask of the ledger, then `pause`; a release of the target in
    this thread between the two ends the pause at once."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self._released = anyio.Event()

    def arm(self) -> None:
        """Forget earlier releases: the next `pause` waits for a release after this call."""
        if self._released.is_set():
            self._released = anyio.Event()

    def wake(self) -> None:
        self._released.set()

    async def pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if the target is released in this thread meanwhile (a checkpoint either way)."""
        with anyio.move_on_after(seconds):
            await self._released.wait()


class Releases:
    """The process's waiters, by target name (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, list[Waiter]] = {}

    @contextmanager
    def waiting(self, target: str) -> Iterator[Waiter]:
        """A waiter on `target`, registered until the block ends (however it ends: a cancelled waiter too)."""
        waiter = Waiter()
        with self._lock:
            self._waiters.setdefault(target, []).append(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                waiters = self._waiters[target]
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[target]

    def released(self, target: str) -> None:
        """A commit of this thread released `target`: wake this thread's waiters on it."""
        thread = threading.get_ident()
        with self._lock:
            waiters = [waiter for waiter in self._waiters.get(target, ()) if waiter.thread == thread]
        for waiter in waiters:
            waiter.wake()

    def waiting_on(self, target: str) -> int:
        """How many commits of this process wait on `target` now."""
        with self._lock:
            return len(self._waiters.get(target, ()))


RELEASES = Releases()
