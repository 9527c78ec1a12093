"""The feed's part of the store conformance suite: every board of a store read in one order, each entry once.

`BlackboardConformance` (conformance.py) includes these tests, so every store that runs the suite runs them.
A store's feed may hold entries back for a while (PostgreSQL waits for older transactions to end), never skip
them, so the tests collect what they expect through `Blackboard.follow` (woken by writes, else polling) instead
of expecting one `feed` call to return everything at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

import anyio
import pytest

from slateboard.blackboard import Blackboard, Entry, FeedItem, Finding
from slateboard.errors import ConfigurationError
from slateboard.testing.registered import check, check_equal

__all__ = ("FeedConformance", "FeedNote", "collect")

_PATIENCE = 30.0  # seconds a test waits for entries a store holds back; generous, for loaded CI machines


async def collect(bb: Blackboard, count: int, *, after: str | None = None) -> list[FeedItem]:
    """The next `count` items of the feed after `after`, waiting (woken by writes, else polling) until they come."""
    items: list[FeedItem] = []
    if count == 0:
        return items
    with anyio.fail_after(_PATIENCE):
        async for item in bb.follow(after=after, poll_interval=0.02):
            items.append(item)
            if len(items) == count:
                break
    return items


class FeedNote(Finding):
    """The finding kind the feed tests write."""

    kind_name = "slateboard.testing.FeedNote"
    text: str


def _keys(entries: Sequence[Entry]) -> list[tuple[str, int]]:
    return [(entry.board, entry.version) for entry in entries]


class FeedConformance(ABC):
    """`Blackboard.feed` and `follow` on a store (mixed into `BlackboardConformance`, which provides `fresh`)."""

    @abstractmethod
    def fresh(self) -> AbstractAsyncContextManager[Blackboard]:
        """A blackboard on a fresh, empty store, closed on exit."""

    @staticmethod
    def note(text: str) -> FeedNote:
        return FeedNote(subject="s", text=text, confidence=0.5)

    async def _write_three_boards(self, bb: Blackboard) -> list[Entry]:
        a, b, c = bb.board("a"), bb.board("b"), bb.board("c")
        written = list(await a.write_many([self.note("a1"), self.note("a2")], author="w"))
        written.append(await b.write(self.note("b1"), author="w"))
        written.append(await a.write(self.note("a3"), author="w"))
        written += await c.write_many([self.note("c1"), self.note("c2"), self.note("c3")], author="w")
        written.append(await b.write(self.note("b2"), author="w"))
        return written

    @pytest.mark.anyio
    async def test_feed_gives_every_board_in_one_order_each_entry_once(self) -> None:
        async with self.fresh() as bb:
            check_equal(await bb.feed(), ())
            written = await self._write_three_boards(bb)
            items = await collect(bb, len(written))
            # One writer, one write after another: each commits before the next starts, so this is feed order.
            check_equal([item.entry for item in items], written)
            check_equal([item.board for item in items], [entry.board for entry in written])
            check_equal(len({item.position for item in items}), len(items))
            check_equal(await bb.feed(after=items[-1].position), ())

    @pytest.mark.anyio
    async def test_feed_resumes_after_a_position(self) -> None:
        async with self.fresh() as bb:
            written = await self._write_three_boards(bb)
            items = await collect(bb, len(written))
            paged: list[FeedItem] = []
            after: str | None = None
            while page := await bb.feed(after=after, limit=3):
                check(len(page) <= 3, "a page holds at most `limit` items")
                paged += page
                after = page[-1].position
            check_equal(paged, items)
            check_equal(await bb.feed(after=items[2].position, limit=2), tuple(items[3:5]))
            later = await bb.board("a").write(self.note("a4"), author="w")
            check_equal(_keys([item.entry for item in await collect(bb, 1, after=items[-1].position)]), _keys([later]))

    @pytest.mark.anyio
    async def test_follow_sees_writes_to_every_board_as_they_land(self) -> None:
        async with self.fresh() as bb:
            before = await bb.board("a").write(self.note("before"), author="w")
            seen: list[FeedItem] = []
            with anyio.fail_after(_PATIENCE):
                async with anyio.create_task_group() as tg:

                    async def consume() -> None:
                        async for item in bb.follow(poll_interval=0.05):
                            seen.append(item)
                            if len(seen) == 4:
                                break

                    tg.start_soon(consume)
                    await anyio.wait_all_tasks_blocked()  # the follower has read what there is and waits
                    later = [await bb.board("b").write(self.note("b1"), author="w")]
                    later += await bb.board("a").write_many([self.note("a2"), self.note("a3")], author="w")
            check_equal(_keys([item.entry for item in seen]), _keys([before, *later]))

    @pytest.mark.anyio
    async def test_feed_refuses_a_bad_position_or_limit(self) -> None:
        async with self.fresh() as bb:
            await bb.board("a").write(self.note("x"), author="w")
            for limit in (0, -1, True, 10**9):
                with pytest.raises(ConfigurationError, match="limit"):
                    await bb.feed(limit=limit)
            for after in ("", "not a position"):
                with pytest.raises(ConfigurationError, match="position"):
                    await bb.feed(after=after)
