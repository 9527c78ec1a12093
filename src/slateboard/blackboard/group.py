"""Group commit: the appends that concurrent boards make at about the same moment share one transaction.

On a SQLite file at `synchronous=FULL` every commit costs an fsync, and the fsync, not Python, is what bounds a
batch of boards (`run_many`). Boards that run in one event loop reach their next append within one scheduling
round of each other, so the first append to arrive (the leader) yields once, lets the other boards' tasks run up
to their own appends (members), and writes them all in one transaction: one fsync for the group.

The wait is bounded: the leader yields again only while the group is still growing, never longer than `window`
seconds, and closes the group at `max_entries`; a board that writes alone pays one scheduling point, the one
`call_store` always took. A board that appends again before any other board of its loop has appended (a run
going alone: a script's boards one after another) gathers nobody, so it skips the gathering and writes at once
(`call_append`: five-step runs one after another at NORMAL spent 5% of their CPU gathering groups of one).

One group of an event loop is written at a time. On a database server
(`GroupStore.group_off_loop`: PostgreSQL) a group of more than one request is written from a worker thread: while
it commits (a round trip and the server's WAL flush), the loop goes on running agents, and the appends they make
gather into the next group, which its leader keeps open until the write before it has ended (the larger the load,
the larger the groups, as in a database's own group commit). On SQLite a group is written on the loop: its commit
is one fsync, and written from a thread it would hold the store's one connection while every other board's read
waited for it in a thread of its own (1,000 five-step runs at once, FULL: 139-157 runs/s off the loop against
188-212 on it, alternating on a quiet 2-core machine).

Each request stays atomic on its own inside the group (the store rolls a refused one back alone: `GroupStore`),
and nobody is told an append landed before the group's transaction has committed, so a crash inside a group loses
nothing that was reported written. The leader and the members wait shielded
from cancellation once they have joined: a write that may land is never abandoned halfway (a cancelled task
gets its cancellation once the group is settled, as a task cancelled during `call_store`'s write does).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial

import anyio
import anyio.lowlevel
import anyio.to_thread

from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.stores.base import AppendRequest, AppendResult, GroupStore, WouldBlock, append_to
from slateboard.errors import ConfigurationError

__all__ = ("GroupCommit", "DEFAULT_WINDOW", "DEFAULT_MAX_ENTRIES")

DEFAULT_WINDOW = 0.002
DEFAULT_MAX_ENTRIES = 2048


@dataclass(eq=False)
class _Group:
    requests: list[AppendRequest] = field(default_factory=list)
    entries: int = 0
    done: anyio.Event = field(default_factory=anyio.Event)
    results: list[AppendResult] = field(default_factory=list)
    failure: BaseException | None = None


class GroupCommit:
    """Gathers one store's concurrent appends, per thread (one event loop each), into shared transactions."""

    def __init__(
        self, store: GroupStore, *, window: float = DEFAULT_WINDOW, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        if not window >= 0 or max_entries < 1:
            raise ConfigurationError(
                f"group commit: window must be >= 0 and max_entries >= 1, got {window!r} and {max_entries!r}"
            )
        self._store = store
        self._window = window
        self._max_entries = max_entries
        self._open: dict[int, _Group] = {}  # thread -> the group its event loop is gathering
        self._writing: dict[int, anyio.Event] = {}  # thread -> set when its event loop's group in flight is written
        self._last: dict[int, str] = {}  # thread -> the board its event loop appended to last
        self._off_loop = store.group_off_loop  # read once
        self.transactions = 0  # group transactions written (a request alone counts too): for tests and benchmarks
        self.at_once = 0  # of them, appends written at once, no group gathered (a board appending again alone)

    async def append(self, request: AppendRequest) -> list[StoredEntry]:
        """Append `request` alone or with the requests of other tasks of this event loop, in one transaction."""
        thread = threading.get_ident()
        group = self._open.get(thread)
        last, self._last[thread] = self._last.get(thread), request.board
        if group is None and last == request.board and thread not in self._writing:
            # The board that appended last appends again, and no other board of this loop has since: a run that
            # goes alone (a script's boards one after another) has nobody to wait for, so it is written at once.
            self.transactions += 1
            self.at_once += 1
            return await append_to(self._store, request.board, request.entries, request.expected_version)
        if group is None:
            group = _Group()
            self._open[thread] = group
            leader = True
        else:
            leader = False
        position = len(group.requests)
        group.requests.append(request)
        group.entries += len(request.entries)
        if group.entries >= self._max_entries and self._open.get(thread) is group:
            del self._open[thread]  # full: the next append starts a new group
        if leader:
            with anyio.CancelScope(shield=True):
                await self._lead(thread, group)
        else:
            await _settled(group)
        # A cancellation that came while the group was written is delivered here, at the write, as `call_store`
        # delivers one after a write it did inline: the entries landed, and the caller's state follows the log.
        await anyio.lowlevel.checkpoint_if_cancelled()
        if group.failure is not None:
            raise group.failure
        result = group.results[position]
        if isinstance(result, BaseException):
            raise result
        return result

    async def _lead(self, thread: int, group: _Group) -> None:
        try:
            deadline = anyio.current_time() + self._window
            seen = 0
            # Yield while others keep joining: each round lets every ready task run up to its own append.
            while len(group.requests) != seen and self._open.get(thread) is group:
                seen = len(group.requests)
                await anyio.lowlevel.checkpoint()
                if anyio.current_time() >= deadline:
                    break
            # The group stays open (others keep joining) until this loop's previous group is written.
            while (busy := self._writing.get(thread)) is not None:
                await busy.wait()
            if self._open.get(thread) is group:
                del self._open[thread]
            done = self._writing[thread] = anyio.Event()
            try:
                group.results = await self._write(group.requests)
            finally:
                del self._writing[thread]
                done.set()
        except BaseException as exc:  # every member must hear how its append ended, whatever it was
            group.failure = exc
        finally:
            group.done.set()
        if group.failure is not None and not isinstance(group.failure, Exception):
            raise group.failure

    async def _write(self, requests: list[AppendRequest]) -> list[AppendResult]:
        self.transactions += 1
        store = self._store
        if len(requests) == 1:
            (one,) = requests
            # Alone: the store's plain append (already scheduled once above, so no second checkpoint needed).
            try:
                stored = store.append(one.board, one.entries, expected_version=one.expected_version, wait=False)
            except WouldBlock:
                append = partial(store.append, one.board, one.entries, expected_version=one.expected_version, wait=True)
                stored = await anyio.to_thread.run_sync(append)
            return [stored]
        if not self._off_loop:
            try:
                return store.append_group(requests, wait=False)
            except WouldBlock:
                pass  # another thread holds the store: wait for it in a worker thread, as below
        # Off the event loop: the boards' next cycles run while the group commits.
        return await anyio.to_thread.run_sync(partial(store.append_group, requests, wait=True))


async def _settled(group: _Group) -> None:
    """Wait until `group` is written, whatever cancellation comes meanwhile (a member's request may land: it is
    never abandoned halfway); one that came is raised once the group is settled.

    A member waits unshielded and shields itself only if cancelled: a group holds hundreds of members when
    `run_many` runs a thousand boards, and a cancel scope for each wait cost more than the wait.
    """
    try:
        await group.done.wait()
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True):
            await group.done.wait()
        raise
