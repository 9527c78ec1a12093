"""Run starts read only the store-wide notices after the ones this process knows (the retraction board is
append-only), and still see every notice retracted before they start: by this process or by another one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slateboard import Blackboard, Retraction, retract
from slateboard.blackboard.stores.sqlite import SQLiteStore
from slateboard.state.projection import BoardState
from slateboard.state.retractions import RETRACTIONS_BOARD
from tests.controller import retraction_kinds as kinds
from tests.controller.retraction_kinds import controller, ticket

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def kb_at_v7() -> Iterator[None]:
    kinds.KB["version"] = "v7"
    yield
    kinds.KB["version"] = "v7"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Each read of the retraction board on SQLite: (after, rows returned)."""
    seen: list[tuple[int, int]] = []
    real = SQLiteStore.read

    def read(self: SQLiteStore, board: str, *, after: int, upto: int | None, wait: bool) -> list:  # type: ignore[type-arg]
        rows = real(self, board, after=after, upto=upto, wait=wait)
        if board == RETRACTIONS_BOARD:
            seen.append((after, len(rows)))
        return rows

    monkeypatch.setattr(SQLiteStore, "read", read)
    return seen


async def notices_on(bb: Blackboard, name: str) -> list[int]:
    return [e.payload.notice for e in await bb.board(name).history() if isinstance(e.payload, Retraction)]


async def test_each_run_start_reads_only_the_notices_after_the_last_known(
    tmp_path: Path, reads: list[tuple[int, int]]
) -> None:
    flow = controller(approval=True)
    with Blackboard.open(f"sqlite:///{tmp_path / 'notices.db'}") as bb:
        first = await retract(bb, "kb:warranty", version="v7", reason="outdated", by="ana")
        second = await retract(bb, "kb:returns", reason="withdrawn", by="ana")
        await flow.run(bb.board("a"), ticket("a"))
        await flow.run(bb.board("b"), ticket("b"))
        third = await retract(bb, "kb:pricing", reason="wrong table", by="bo")
        await flow.run(bb.board("c"), ticket("c"))
        # Every board recorded every notice made before its run started, whichever read brought it.
        assert await notices_on(bb, "a") == await notices_on(bb, "b") == [first.notice, second.notice]
        assert await notices_on(bb, "c") == [first.notice, second.notice, third.notice]
    # The first run read the two notices, the second found none after them, the third only the new one.
    assert reads == [(0, 2), (2, 0), (2, 1)]


async def test_a_notice_another_process_writes_is_seen_at_the_next_run_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    flow = controller(approval=False)
    with Blackboard.open(url) as bb, Blackboard.open(url) as other:  # `other` stands for another process's store
        before = await flow.run(bb.board("early"), ticket("early"))
        assert before.status == "committed", before.reasons
        report = await retract(other, "kb:warranty", version="v7", reason="outdated", by="ana")
        late = bb.board("late")
        outcome = await flow.run(late, ticket("late"))  # v7 is still what retrieval returns: stale on arrival
        assert outcome.status == "insufficient", outcome.reasons
        state = BoardState.of(await late.view())
        assert state.staleness.notices == {report.notice}
        assert await notices_on(bb, "late") == [report.notice]
