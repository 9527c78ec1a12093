"""A member of a group commit that is cancelled while its group is open: its append is never abandoned halfway.

The cancellation is delivered once the group is written (its entries landed, as when a task is cancelled during
an inline write), on asyncio and trio alike, whether the group's leader or a member is the one cancelled (on
asyncio, "a" starts first and leads the group; trio's scheduling order varies).
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from slateboard import Blackboard, Finding

pytestmark = pytest.mark.anyio


class Note(Finding):
    kind_name = "tests.group_cancel.Note"
    text: str


def note(text: str) -> Note:
    return Note(subject="s", text=text, confidence=1.0)


@pytest.mark.parametrize("cancelled", ["a", "b"])
async def test_a_write_cancelled_inside_its_group_lands_and_then_raises(tmp_path: Path, cancelled: str) -> None:
    with Blackboard.open(f"sqlite:///{tmp_path / 'cancel.db'}") as bb:
        group = bb.group
        assert group is not None
        scopes = {"a": anyio.CancelScope(), "b": anyio.CancelScope()}
        returned: list[str] = []
        stored_when_cancelled: list[int] = []

        async def write(who: str) -> None:
            with scopes[who]:
                await bb.board(who).write(note(who), author=who)
                returned.append(who)
            if scopes[who].cancelled_caught:  # what the store holds the moment the cancellation reached the writer
                stored_when_cancelled.append(len(bb.store.read(who, after=0, upto=None, wait=True)))

        async def cancel() -> None:  # runs after both joined the group, before the leader writes it
            scopes[cancelled].cancel()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write, "a")
            tasks.start_soon(write, "b")
            tasks.start_soon(cancel)
        assert group.transactions == 1  # both in one group, written once
        assert stored_when_cancelled == [1]  # the cancellation reached the writer only once its entry had landed
        assert returned == [w for w in ("a", "b") if w != cancelled]
        for who in ("a", "b"):  # both landed whole, the cancelled one too
            (entry,) = await bb.board(who).history()
            assert entry.payload == note(who)
        with Blackboard.open(f"sqlite:///{tmp_path / 'cancel.db'}") as other:  # durable: another reader sees it
            assert [len(await other.board(who).history()) for who in ("a", "b")] == [1, 1]
