"""A commit cancelled from outside while the sink's call is under way leaves its key in doubt, never free."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from slateboard import Blackboard, CommitFailure, CommitLayer, Proposal, sinks
from slateboard.testing.faults import Faults

pytestmark = pytest.mark.anyio


class SlowOutside:
    """An outside system whose first call blocks until released; it knows which keys it applied."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.finished = threading.Event()
        self.applied: list[str] = []

    def apply(self, proposal: Proposal, key: str) -> dict[str, Any]:
        self.started.set()
        self.release.wait(10)
        if key not in self.applied:  # the outside system itself ignores a key it has seen
            self.applied.append(key)
        self.finished.set()
        return {"ticket": self.applied.index(key) + 1}

    def lookup(self, key: str) -> dict[str, Any] | None:
        return {"ticket": self.applied.index(key) + 1} if key in self.applied else None


async def _cancelled_commit(bb: Blackboard, layer: CommitLayer, outside: SlowOutside) -> tuple[Proposal, str, int]:
    board = bb.board("b1")
    proposal = Proposal(subject="c1", confidence=1.0, action="open_ticket", target="Ticket/c1", changes={"P": 1})
    entry = await board.write(proposal, author="agent")
    key = proposal.key("b1")
    with anyio.move_on_after(10) as scope:
        async with anyio.create_task_group() as group:

            async def commit() -> None:
                await layer.commit(board, proposal, key, entry.version)

            group.start_soon(commit)
            await anyio.to_thread.run_sync(outside.started.wait, 10)
            group.cancel_scope.cancel()  # the caller gives up while the sink's thread is still running
    assert not scope.cancelled_caught
    return proposal, key, entry.version


async def test_a_cancelled_call_is_in_doubt_and_a_lookup_does_not_call_again(bb: Blackboard) -> None:
    outside = SlowOutside()
    layer = CommitLayer(sinks.Callable(outside.apply, lookup=outside.lookup), timeout=30)
    proposal, key, version = await _cancelled_commit(bb, layer, outside)
    row = bb.store.ledger.get(key, wait=True)
    assert row is not None
    assert row.status == "in_doubt"
    assert "cancelled during the sink's call" in row.error
    outside.release.set()  # the abandoned thread now lands its call
    assert await anyio.to_thread.run_sync(outside.finished.wait, 10)
    again = await layer.commit(bb.board("b1"), proposal, key, version)
    assert isinstance(again, CommitFailure)
    assert again.status == "in_doubt"
    assert outside.applied == [key]  # once: the second commit did not call the sink


async def test_a_cancelled_call_to_an_idempotent_sink_is_retried_with_the_same_key(bb: Blackboard) -> None:
    outside = SlowOutside()
    layer = CommitLayer(sinks.Callable(outside.apply, idempotent=True), timeout=30)
    proposal, key, version = await _cancelled_commit(bb, layer, outside)
    row = bb.store.ledger.get(key, wait=True)
    assert row is not None
    assert row.status == "failed"
    outside.release.set()
    again = await layer.commit(bb.board("b1"), proposal, key, version)
    assert again.receipt == {"ticket": 1}  # type: ignore[union-attr]
    assert outside.applied == [key]


async def test_a_call_that_times_out_before_its_thread_starts_is_a_plain_failure_and_retried(
    bb: Blackboard,
) -> None:
    outside = SlowOutside()
    outside.release.set()  # answers at once, once it runs
    limiter = anyio.to_thread.current_default_thread_limiter()
    tokens, limiter.total_tokens = limiter.total_tokens, 1
    gate = threading.Event()
    # The first attempt timed out once the layer marks the key failed: the fourth write boundary (after the
    # proposal's append, the target's lock and the key's claim). Faults calls `kill` there: it frees the thread.
    faults = Faults(kill_after=4, kill=gate.set)
    watched = Blackboard(faults.store(bb.store))
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync, gate.wait, 10)  # holds the only worker thread
            await anyio.wait_all_tasks_blocked()
            board = watched.board("b1")
            proposal = Proposal(subject="c1", confidence=1.0, action="open", target="Ticket/c1", changes={"P": 1})
            entry = await board.write(proposal, author="agent")
            # A timeout long enough for the second attempt's thread to start even on a loaded machine.
            layer = CommitLayer(sinks.Function(outside.apply), timeout=0.5, backoff=0.01, attempts=2)
            result = await layer.commit(board, proposal, proposal.key("b1"), entry.version)
    finally:
        limiter.total_tokens = tokens
    assert faults.boundaries[1:4] == ["ledger.acquire", "ledger.claim", "ledger.transition"]
    assert result.receipt == {"ticket": 1}  # type: ignore[union-attr]
    assert result.attempts == 2  # type: ignore[union-attr]
    assert outside.applied == [proposal.key("b1")]  # the first call never ran: no doubt, no second application
