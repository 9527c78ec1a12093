"""A board asks its store for a snapshot shelf on every restore; whether the store keeps snapshots is worked out
once per store. A store that keeps none (or cannot be weakly referenced) is asked as before, every time."""

import weakref
from typing import Any

import pytest

from slateboard import Blackboard, Finding
from slateboard.blackboard.snapshots import Restored
from slateboard.errors import ConfigurationError

pytestmark = pytest.mark.anyio


class Note(Finding):
    kind_name = "tests.blackboard.shelf_lookup.Note"


class SlottedShelf:
    """A store with a shelf that cannot be weakly referenced (no `__weakref__` slot): the memory store, forwarded."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class SlottedNoShelf(SlottedShelf):
    """A store that keeps no snapshots (the memory store's log without its shelf), and cannot be weakly referenced."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name == "snapshots":
            raise AttributeError(name)
        return super().__getattr__(name)


class NoShelf(SlottedNoShelf):
    """The same, weakly referenceable."""

    __slots__ = ("__weakref__",)


async def written(bb: Blackboard, name: str) -> None:
    await bb.board(name).write(Note(subject=name, confidence=1.0), author="a")


def test_the_slotted_stores_cannot_be_weakly_referenced() -> None:
    for wrap in (SlottedNoShelf, SlottedShelf):
        with pytest.raises(TypeError):
            weakref.ref(wrap(None))


@pytest.mark.parametrize("wrap", [NoShelf, SlottedNoShelf])
async def test_a_store_without_snapshots_restores_nothing_every_time(wrap: type) -> None:
    with Blackboard.open("memory://") as inner:
        bb = Blackboard(wrap(inner.store), group_commit=False)
        for name in ("one", "two"):
            await written(inner, name)
            assert await bb.board(name).restore() == Restored(0, None)
            with pytest.raises(ConfigurationError, match="keeps no snapshots"):
                await bb.board(name).save_snapshot()
            assert len((await bb.board(name).view()).entries()) == 1


@pytest.mark.parametrize("wrap", [None, SlottedShelf])
async def test_a_store_with_snapshots_restores_each_board_s_own(wrap: type | None) -> None:
    with Blackboard.open("memory://") as inner:
        store = inner.store if wrap is None else wrap(inner.store)
        for name, count in (("one", 2), ("two", 3)):
            board = inner.board(name)
            for _ in range(count):
                await written(inner, name)
            assert await board.save_snapshot() == count
            fresh = Blackboard(store, group_commit=False).board(name)  # a board this process holds nothing of
            restored = await fresh.restore()
            assert restored is not None
            assert restored.version == count
            assert (await fresh.view()).version == count
