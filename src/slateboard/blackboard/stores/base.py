"""The store plug point: the `Store` protocol, and `call_store` (how async code reaches a synchronous store).

Stores are synchronous: their drivers are. `Board` reaches them from async code through `call_store`,
which runs an operation inline when the store can do it without waiting and moves it to a worker thread
only when it would block (another writer holds the lock), so the event loop never waits on a lock.
`open_store` (a store from its URL) lives in `registry` and is re-exported here for its callers.

`feed` (every board's entries in one order a reader can follow) returns opaque positions; `encode_position` and
`decode_position` are the format slateboard's own stores use: numbers, zero-padded, so that positions also
compare as strings in feed order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import Protocol, TypeVar, runtime_checkable

import anyio
import anyio.lowlevel
import anyio.to_thread

from slateboard.blackboard.entries import PendingEntry, StoredEntry, seal_run
from slateboard.blackboard.stores.ledger import Ledger
from slateboard.blackboard.stores.registry import open_store
from slateboard.errors import ConfigurationError, SlateboardError, StaleVersionError

__all__ = (
    "Store",
    "GroupStore",
    "AppendRequest",
    "AppendResult",
    "WouldBlock",
    "FeedRow",
    "open_store",
    "call_store",
    "call_append",
    "append_to",
    "call_read",
    "chain",
    "check_head",
    "encode_position",
    "decode_position",
)

T = TypeVar("T")
FeedRow = tuple[str, StoredEntry]
"""One entry of a store's feed, with its position."""
_DIGITS = 20  # a PostgreSQL xid8 or a 64-bit seq fits in 20 decimal digits


class WouldBlock(Exception):
    """Raised by a store called with `wait=False` when the operation would have to wait for a lock."""


@runtime_checkable
class Store(Protocol):
    """Where a blackboard's entry log lives. One suite (slateboard.testing.conformance) checks every store.

    `append` must be atomic: all of `entries` get the next versions of `board` with chained hashes, or
    nothing is written. With `expected_version`, a board at any other version raises `StaleVersionError`.
    With `wait=False` an operation that would block on a lock raises `WouldBlock` instead.
    """

    url: str

    @property
    def ledger(self) -> Ledger:
        """The idempotency ledger and target locks that live beside this store's log."""
        ...

    def append(
        self, board: str, entries: Sequence[PendingEntry], *, expected_version: int | None, wait: bool
    ) -> list[StoredEntry]: ...

    def read(self, board: str, *, after: int, upto: int | None, wait: bool) -> list[StoredEntry]: ...

    def head(self, board: str, *, wait: bool) -> tuple[int, str]: ...

    def boards(self) -> list[str]: ...

    def feed(self, after: str | None, limit: int, *, wait: bool) -> list[FeedRow]:
        """Up to `limit` entries of every board, in one order, after the position `after` (None: from the start).

        The order is the store's to choose, but it must be one a reader can follow: every entry comes out exactly
        once, and an entry committed later never gets a position before one already returned (a transaction that
        commits late must not be skipped). Positions are opaque strings of this store, increasing in feed order;
        a position the store did not give raises `ConfigurationError`.
        """
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class AppendRequest:
    """One board's atomic append, as `Store.append` takes it; `GroupStore.append_group` takes several."""

    board: str
    entries: Sequence[PendingEntry]
    expected_version: int | None


AppendResult = list[StoredEntry] | SlateboardError
"""What one request of a group came to: its stored entries, or the error that refused it (and it alone)."""


@runtime_checkable
class GroupStore(Store, Protocol):
    """A store that can commit several boards' appends in one transaction (group commit; an optional plug point).

    `append_group` must keep each request atomic on its own: a request refused (a stale expected version) is
    rolled back alone and its error returned in its place, while the others commit. An error raised instead
    (the database locked, the disk full) means that none of the requests was written.
    """

    def append_group(self, requests: Sequence[AppendRequest], *, wait: bool) -> list[AppendResult]: ...

    @property
    def group_off_loop(self) -> bool:
        """Whether a group is written from a worker thread while the event loop goes on (a database server, where
        the commit is a round trip), rather than on the loop (an embedded database, whose one connection the
        loop's other boards would otherwise wait for in threads while the group commits)."""
        ...


def chain(
    board: str, head: tuple[int, str], entries: Sequence[PendingEntry], expected_version: int | None
) -> list[tuple[int, str]]:
    """The (version, hash) each of `entries` gets after `head`; checks the expected version first."""
    version = check_head(board, head[0], expected_version)
    digests = seal_run(head[1], board, version, entries)
    return list(zip(range(version + 1, version + len(digests) + 1), digests, strict=True))


def check_head(board: str, version: int, expected_version: int | None) -> int:
    """`version`, the board's head, when an append expecting `expected_version` may follow it; else
    `StaleVersionError`."""
    if expected_version is not None and expected_version != version:
        raise StaleVersionError(board, expected_version, version)
    return version


def encode_position(*numbers: int) -> str:
    """A feed position made of whole numbers >= 0, zero-padded so that positions compare as strings too."""
    return ".".join(f"{number:0{_DIGITS}d}" for number in numbers)


def decode_position(position: str, parts: int, *, url: str) -> tuple[int, ...]:
    """The numbers of a position `encode_position` made with `parts` numbers; `ConfigurationError` otherwise."""
    pieces = position.split(".") if isinstance(position, str) else []
    if len(pieces) != parts or not all(len(p) == _DIGITS and p.isascii() and p.isdigit() for p in pieces):
        raise ConfigurationError(f"feed position {position!r} is not a position of the store {url}")
    return tuple(int(piece) for piece in pieces)


async def call_store(operation: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run a store operation from async code: inline when it need not wait, else in a worker thread."""
    try:
        result = operation(*args, wait=False, **kwargs)
    except WouldBlock:
        return await anyio.to_thread.run_sync(partial(operation, *args, wait=True, **kwargs))
    # Every store call is a scheduling point, even when it finished inline.
    await anyio.lowlevel.checkpoint()
    return result


async def call_append(operation: Callable[..., T], *args: object, **kwargs: object) -> T:
    """`call_store` for the calls on every run's path, whose inline calls take microseconds: a board's appends (a
    scheduling round after each one cost a fifth of a write to memory), and the reads a run starts with (its
    snapshot, its entries, the retraction notices: `call_read`).

    Still a checkpoint, as anyio's convention asks of a library's async calls: a cancelled caller gets its
    cancellation here (after the call, as from `call_store`). The event loop runs the other tasks here unless
    this thread's calls let it do so less than `SLICE` seconds ago: a loop of writes yields at least every
    `SLICE`, so no task waits longer than that on it.
    """
    try:
        result = operation(*args, wait=False, **kwargs)
    except WouldBlock:
        return await anyio.to_thread.run_sync(partial(operation, *args, wait=True, **kwargs))
    await _sliced_checkpoint()
    return result


async def append_to(
    store: Store, board: str, entries: Sequence[PendingEntry], expected_version: int | None
) -> list[StoredEntry]:
    """`call_append(store.append, board, entries, expected_version=...)`, spelled out for the write path of every
    append (no arguments packed and unpacked on the way, one frame fewer): the same checkpoint."""
    try:
        stored = store.append(board, entries, expected_version=expected_version, wait=False)
    except WouldBlock:
        append = partial(store.append, board, entries, expected_version=expected_version, wait=True)
        return await anyio.to_thread.run_sync(append)
    await _sliced_checkpoint()
    return stored


async def _sliced_checkpoint() -> None:
    """The checkpoint after an inline call of `call_append` or `append_to`: a scheduling round once this thread's
    calls last gave one `SLICE` ago or more, else a check for cancellation alone."""
    if perf_counter() - getattr(_last_yield, "at", 0.0) >= SLICE:
        await anyio.lowlevel.checkpoint()
        _last_yield.at = perf_counter()
    else:
        await anyio.lowlevel.checkpoint_if_cancelled()


call_read = call_append
"""`call_append` for the reads every run starts with (see there)."""

SLICE = 0.001
"""Seconds a thread's appends and run-start reads may run between scheduling points (see `call_append`)."""
_last_yield = threading.local()  # per thread: each runs its own event loop
