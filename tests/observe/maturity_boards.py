"""Four SQLite boards whose maturity signals are counted by hand (tests/observe/test_maturity.py says the
figures); the CLI's tests read the same file."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from slateboard import AgentRun, Blackboard, Decision, Proposal
from slateboard.commit import CommitLayer
from slateboard.state.records import COMMIT_LAYER, CONTROLLER, Commit, CommitFailure
from tests.controller.commit_kinds import DownCRM

__all__ = ("make_store",)


def attempt(agent: str, number: int, status: str) -> AgentRun:
    return AgentRun(agent=agent, subject="s", inputs=((1,),), attempt=number, status=status)  # type: ignore[arg-type]


def decision(status: str) -> Decision:
    return Decision(cycle=1, status=status, reasons=())  # type: ignore[arg-type]


def ticket(key: str) -> Proposal:
    return Proposal(
        subject="s",
        confidence=0.9,
        action="create",
        target="Ticket/7",
        changes={"title": "broken"},
        idempotency_key=key,
    )


class FirstCallFails(DownCRM):
    def apply(self, proposal: Proposal, key: str) -> Any:
        self.down = self.calls == 0
        return super().apply(proposal, key)


async def later(board: Any, records: list[Any], author: str) -> datetime:
    """Write `records` in one batch after the clock has moved on; the batch's recorded time."""
    await anyio.sleep(0.01)  # only so two batches get distinct times: no figure depends on how long this is
    (first, *_) = await board.write_many(records, author=author)
    return first.recorded_at  # type: ignore[no-any-return]


async def fill(bb: Blackboard) -> dict[str, float]:
    """Four boards; returns the recovery times the signals must average."""
    # "recovers": the reader's task fails for good (timeout then error), a later task of it succeeds; a key is
    # dead-lettered, then committed. Handoffs: router ok, reader failed, reader ok, key ok: 3 of 4.
    a = bb.board("recovers")
    failed_at = await later(
        a,
        [
            attempt("router", 1, "ok"),
            attempt("reader", 1, "timeout"),
            attempt("reader", 2, "error"),
            decision("continue"),
        ],
        CONTROLLER,
    )
    recovered_at = await later(a, [attempt("reader", 1, "ok"), decision("sufficient")], CONTROLLER)
    dead_at = await later(
        a, [CommitFailure(key="k-a", proposal=1, target="T/1", status="dead", error="down")], COMMIT_LAYER
    )
    commit = Commit(key="k-a", proposal=1, action="update", target="T/1", changes={}, sink="crm")
    committed_at = await later(a, [commit], COMMIT_LAYER)

    # "stuck": a conflict is handed on (ok); an invalid finding fails for good; the run's decision failed and never
    # recovered. Handoffs: 1 of 2. Open incidents: the agent's and the run's.
    b = bb.board("stuck")
    await later(b, [attempt("checker", 1, "conflict"), attempt("writer", 1, "invalid"), decision("failed")], CONTROLLER)

    # "ledgered": the same ticket proposed under two keys; the first key's call fails once and is retried; both
    # keys are applied, only the first is recorded on the board. Handoffs: the first key, ok.
    c = bb.board("ledgered")
    first, second = await c.write_many([ticket("k-1"), ticket("k-2")], author="agent")
    layer = CommitLayer(FirstCallFails(), backoff=0)
    recorded = await layer.commit(c, first.payload, "k-1", first.version)  # type: ignore[arg-type]
    assert isinstance(recorded, Commit)
    assert recorded.attempts == 2
    await layer.commit(c, second.payload, "k-2", second.version)  # type: ignore[arg-type]
    await c.write_many([recorded], author=COMMIT_LAYER)

    # "tampered": fine, until its row is edited below.
    await bb.board("tampered").write_many([attempt("router", 1, "ok")], author=CONTROLLER)
    return {
        "agent": (recovered_at - failed_at).total_seconds(),
        "key": (committed_at - dead_at).total_seconds(),
    }


def tamper(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS slateboard_entries_no_update")
    conn.execute("UPDATE slateboard_entries SET author = 'someone' WHERE board = 'tampered'")
    conn.close()


async def make_store(path: Path) -> tuple[str, dict[str, float]]:
    """The four boards in a SQLite file at `path` (one of them tampered with): its URL and the recovery times."""
    with Blackboard.open(f"sqlite:///{path}") as bb:
        recoveries = await fill(bb)
    tamper(path)
    return f"sqlite:///{path}", recoveries
