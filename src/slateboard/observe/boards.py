"""Where each board of a store stands, in one row per board: what `slateboard boards` lists.

A board's status is the outcome its log shows: the last decision's, or, when the evidence sufficed, the most
pressing state of its keys (`KeyBook.run_status`), as the controller's own outcome reads it. On a store with a work
queue each row also carries the board's queue row: its state, the worker holding it and the lease left.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from slateboard.blackboard.board import Blackboard
from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.records import FrozenModel
from slateboard.blackboard.stores.queue import QueueStore, WorkItem
from slateboard.observe.rows import key_book
from slateboard.state.records import Decision, RunStarted
from slateboard.state.vocabulary import DECISION_OUTCOMES

__all__ = ("BoardSummary", "QueueRow", "board_summaries", "summarize")


class QueueRow(FrozenModel):
    """A board's row in the work queue (`slateboard.workers`)."""

    state: str
    status: str | None
    owner: str | None
    token: int
    claims: int
    lease_left: float | None
    error: str

    @classmethod
    def of(cls, item: WorkItem) -> QueueRow:
        return cls(
            state=item.state,
            status=item.status,
            owner=item.owner,
            token=item.token,
            claims=item.claims,
            lease_left=None if item.expires_in is None else round(item.expires_in, 3),
            error=item.error,
        )


class BoardSummary(FrozenModel):
    """One board: its entries, the scenario that ran it, its status ("new" before any decision), the keys waiting
    for a person and those committed; `queue` when the store has a work queue and the board is in it."""

    board: str
    entries: int
    scenario: str | None
    status: str
    waiting: int
    committed: int
    queue: QueueRow | None = None


def summarize(board: str, rows: Sequence[StoredEntry]) -> BoardSummary:
    """The summary of one board from its rows (all of them, in version order)."""
    scenario, decision = None, None
    for row in rows:
        if row.kind == RunStarted.kind_name:
            scenario = json.loads(row.payload).get("scenario")
        elif row.kind == Decision.kind_name:
            decision = json.loads(row.payload).get("status")
    book = key_book(rows)
    status = "new" if decision is None else DECISION_OUTCOMES.get(decision, decision)
    if decision == "sufficient":
        status = book.run_status() or status
    keys = [state.status for state in book.live()]
    return BoardSummary(
        board=board,
        entries=len(rows),
        scenario=scenario,
        status=status,
        waiting=keys.count("awaiting_approval"),
        committed=keys.count("committed"),
    )


def board_summaries(blackboard: Blackboard, boards: Sequence[str] | None = None) -> list[BoardSummary]:
    """A summary of each of `boards` (default: every board with entries, and every board in the work queue)."""
    store = blackboard.store
    queue = {item.board: QueueRow.of(item) for item in store.queue.items()} if isinstance(store, QueueStore) else {}
    names = list(boards) if boards is not None else sorted({*blackboard.boards(), *queue})
    found = []
    for name in names:
        rows = store.read(name, after=0, upto=None, wait=True)
        summary = summarize(name, rows)
        found.append(summary.model_copy(update={"queue": queue.get(name)}))
    return found
