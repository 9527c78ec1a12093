"""`board.view(at=...)`: a version this process holds is answered from its index without reading the store; any
other `at` reads first, then answers or names the versions the board has. Whatever the path, the answer is the one
the rule gives: None is the head, an int (not a bool) in 0..head is that version, anything else is refused."""

import enum
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Finding
from slateboard.errors import UnknownVersionError


class Note(Finding):
    kind_name = "tests.blackboard.view_versions.Note"


class Level(enum.IntEnum):
    ONE = 1


def expected(at: Any, head: int) -> int | None:
    """The version the rule gives for `at` on a board at `head`, or None for a refusal."""
    if at is None:
        return head
    if isinstance(at, int) and not isinstance(at, bool) and 0 <= at <= head:
        return int(at)
    return None


ASKS = st.one_of(
    st.none(), st.integers(-3, 8), st.booleans(), st.floats(-1, 8), st.just(Level.ONE), st.just("1"), st.just(2.0)
)


@settings(max_examples=60, deadline=None)
@given(held=st.integers(0, 4), more=st.integers(0, 3), asks=st.lists(ASKS, min_size=1, max_size=6))
def test_a_view_at_any_version_answers_by_the_rule(held: int, more: int, asks: list[Any]) -> None:
    async def main() -> None:
        with Blackboard.open("memory://") as bb:
            mine = bb.board("b")
            for _ in range(held):
                await mine.write(Note(subject="s", confidence=1.0), author="a")
            other = Blackboard(bb.store).board("b")  # another writer, unknown to `mine`
            await other.view()
            for _ in range(more):
                await other.write(Note(subject="s", confidence=1.0), author="z")
            loaded = mine.cache_info().rows_loaded
            for at in asks:
                head = mine.cache_info().entries
                reads = expected(at, head) is None or at is None  # a held version needs no read
                want = expected(at, held + more if reads else head)
                if want is None:
                    with pytest.raises(UnknownVersionError):
                        await mine.view(at=at)
                else:
                    view = await mine.view(at=at)
                    assert view.version == want
                    assert [e.author for e in view.entries()] == (["a"] * held + ["z"] * more)[:want]
                if reads:
                    assert mine.cache_info().entries == held + more  # it read the other writer's entries
                    loaded = mine.cache_info().rows_loaded
                else:
                    assert mine.cache_info().rows_loaded == loaded  # nothing read

    anyio.run(main)
