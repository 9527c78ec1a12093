"""A batch of boards in its own OS process, for the group-commit crash test.

    python -m tests.blackboard.group_process DB BOARDS [KILL_AT [DURABILITY]]

Runs boards `g-0` ... `g-<BOARDS-1>` through `run_many` (all at once, so their appends share transactions) on the
SQLite file DB, committing each board's proposal to `sinks.Table("tickets")` in the same database. Every append
transaction prints `landed BOARD VERSION HASH` per board it wrote, once the transaction has committed and before
any board is told (what the process reported durable). With KILL_AT = n > 0 the process SIGKILLs itself inside the
n-th insert made in a group of two or more, after that board's rows joined the transaction and before it commits.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from slateboard import Blackboard, Citation, Controller, Finding, Proposal, agent, policies, rules, sinks
from slateboard.blackboard.entries import PendingEntry, StoredEntry
from slateboard.blackboard.stores.base import AppendRequest, AppendResult
from slateboard.blackboard.stores.sqlite import SQLiteStore
from slateboard.testing.faults import sigkill

TABLE = sinks.Table("tickets")


class Ticket(Finding):
    kind_name = "tests.group.Ticket"
    n: int


class Triage(Finding):
    kind_name = "tests.group.Triage"
    n: int
    urgent: bool


@agent
async def triage(ticket: Ticket) -> Triage:
    return Triage(subject=ticket.subject, n=ticket.n, urgent=ticket.n % 2 == 0, confidence=0.9)


@agent
async def propose(ticket: Ticket, found: Triage) -> Proposal:
    return Proposal(
        subject=ticket.subject,
        action="update",
        target=f"Ticket/{ticket.n}",
        changes={"urgent": found.urgent},
        confidence=0.9,
        citations=(Citation(source="kb/triage", approved=True),),
    )


CONTROLLER = Controller(
    [triage, propose], [rules.sufficient(Proposal)], policy=policies.Policy(policies.allow()), sink=TABLE
)


def report(stored: list[StoredEntry]) -> None:
    if stored:
        last = stored[-1]
        print(f"landed {last.board} {last.version} {last.hash}", flush=True)


class KillingStore(SQLiteStore):
    """The SQLite store, telling what landed, and killing the process inside a group when asked."""

    kill_at = 0
    inserted = 0
    grouping = False

    def append(
        self, board: str, entries: Sequence[PendingEntry], *, expected_version: int | None, wait: bool
    ) -> list[StoredEntry]:
        stored = super().append(board, entries, expected_version=expected_version, wait=wait)
        report(stored)
        return stored

    def append_group(self, requests: Sequence[AppendRequest], *, wait: bool) -> list[AppendResult]:
        self.grouping = True
        try:
            results = super().append_group(requests, wait=wait)
        finally:
            self.grouping = False
        for result in results:
            if isinstance(result, list):
                report(result)
        return results

    def _insert(self, conn: sqlite3.Connection, request: AppendRequest) -> list[StoredEntry]:
        stored = super()._insert(conn, request)
        if self.grouping:
            self.inserted += 1
            if self.inserted == self.kill_at:
                sigkill()
        return stored


def main(argv: list[str]) -> None:
    path, boards = Path(argv[0]), int(argv[1])
    kill_at = int(argv[2]) if len(argv) > 2 else 0
    durability = argv[3] if len(argv) > 3 else "cycle"
    store = KillingStore(path, url=f"sqlite:///{path}", durability="relaxed" if durability == "relaxed" else "cycle")
    store.kill_at = kill_at
    with Blackboard(store) as bb:
        cases = [(f"g-{n}", Ticket(subject=f"ticket-{n}", n=n, confidence=1.0)) for n in range(boards)]
        result = CONTROLLER.run_many_sync(bb, cases, concurrency=boards)
        print("done", dict(result.counts()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
