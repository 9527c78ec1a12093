"""Following every board of a store in one order: `FeedItem`, and the reads behind `Blackboard.feed` and `follow`.

A store's feed gives each entry a position, an opaque string that increases in feed order, such that a reader
that remembers the last position it handled and asks for what comes after it sees every entry exactly once, even
when writers commit out of order (on PostgreSQL a transaction may commit after one that started later; the feed
waits for it instead of skipping it). How each store keeps that promise: docs/blackboard.md, "Following every
board in one order".
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractContextManager

import anyio
from pydantic import BaseModel, ConfigDict

from slateboard.blackboard.entries import Entry, StoredEntry
from slateboard.blackboard.records import decode_record
from slateboard.blackboard.stores.base import Store, call_store
from slateboard.errors import ConfigurationError

__all__ = ("FeedItem", "DEFAULT_FEED_LIMIT", "read_feed", "follow_feed")

DEFAULT_FEED_LIMIT = 500
_MAX_FEED_LIMIT = 100_000


class FeedItem(BaseModel):
    """One entry of the feed across boards: where it stands (`position`, pass it as `after` to resume), its board,
    and the entry itself."""

    model_config = ConfigDict(frozen=True)

    position: str
    board: str
    entry: Entry


def _check(after: object, limit: object) -> None:
    if after is not None and not isinstance(after, str):
        raise ConfigurationError(
            f"feed: after must be a position string from an earlier FeedItem, or None, got {after!r}"
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_FEED_LIMIT:
        raise ConfigurationError(f"feed: limit must be a whole number from 1 to {_MAX_FEED_LIMIT}, got {limit!r}")


def _item(position: str, row: StoredEntry) -> FeedItem:
    where = f"board {row.board!r} version {row.version}"
    entry = Entry.from_stored(row, decode_record(row.kind, row.schema_version, row.payload, where=where))
    return FeedItem.model_construct(position=position, board=row.board, entry=entry)


async def read_feed(store: Store, after: str | None, limit: int) -> tuple[FeedItem, ...]:
    """Up to `limit` entries of every board after position `after` (None: from the first), in feed order."""
    _check(after, limit)
    rows = await call_store(store.feed, after, limit)
    return tuple(_item(position, row) for position, row in rows)


async def follow_feed(
    store: Store,
    after: str | None,
    poll_interval: float,
    arm: Callable[[], AbstractContextManager[anyio.Event]],
) -> AsyncGenerator[FeedItem, None]:
    """Every entry after `after`, in feed order, forever: read a page, and when none is left wait for `arm()`'s
    event (a write through this process's blackboard) or `poll_interval` (other processes' writes)."""
    _check(after, DEFAULT_FEED_LIMIT)
    if not poll_interval > 0:
        raise ConfigurationError(f"follow: poll_interval must be a positive number of seconds, got {poll_interval!r}")
    position = after
    while True:
        with arm() as changed:  # armed before reading, so a write between the read and the wait is not missed
            page = await read_feed(store, position, DEFAULT_FEED_LIMIT)
            for item in page:
                yield item
                position = item.position
            if page:
                continue
            with anyio.move_on_after(poll_interval):
                await changed.wait()
