"""A batch of boards in its own OS process on PostgreSQL, for the group-commit crash test.

    python -m tests.postgres.group_process URL BOARDS [KILL_AT [DURABILITY]]
    python -m tests.postgres.group_process serve

The SQLite crash process (tests.blackboard.group_process) on the PostgreSQL store at URL: boards `g-0` ...
`g-<BOARDS-1>` through `run_many` (all at once, so their appends share transactions), each board's proposal
committed to `sinks.Table("tickets")` in the same schema. Every append transaction prints `landed BOARD VERSION
HASH` per board it wrote, once it has committed and before any board is told. With KILL_AT = n > 0 the process
SIGKILLs itself in the n-th group transaction that writes two boards or more, after the group's rows were inserted and
before its COMMIT (between statements of the transaction). `serve` forks a process a run, as the SQLite one's does.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any

import psycopg

from slateboard import Blackboard
from slateboard.blackboard.entries import PendingEntry, StoredEntry
from slateboard.blackboard.stores.base import AppendRequest, AppendResult
from slateboard.blackboard.stores.postgres import PostgresStore
from slateboard.testing.faults import sigkill
from tests.blackboard.group_process import CONTROLLER, Ticket, serve
from tests.blackboard.group_process import report as report_alone

_PRINTING = threading.Lock()  # groups are written from worker threads: one line at a time


def report(stored: list[StoredEntry]) -> None:
    with _PRINTING:
        report_alone(stored)


class KillingStore(PostgresStore):
    """The PostgreSQL store, telling what landed, and killing the process inside a group when asked."""

    kill_at = 0
    groups = 0

    def append(
        self, board: str, entries: Sequence[PendingEntry], *, expected_version: int | None, wait: bool, **more: Any
    ) -> list[StoredEntry]:
        stored = super().append(board, entries, expected_version=expected_version, wait=wait, **more)
        report(stored)
        return stored

    def append_group(self, requests: Sequence[AppendRequest], *, wait: bool) -> list[AppendResult]:
        results = super().append_group(requests, wait=wait)
        for result in results:
            if isinstance(result, list):
                report(result)
        return results

    def _insert_group(
        self, cursor: psycopg.Cursor[tuple[Any, ...]], rows: list[tuple[Any, ...]]
    ) -> dict[tuple[str, int], int]:
        seqs = super()._insert_group(cursor, rows)
        if len({row[0] for row in rows}) > 1:
            self.groups += 1
            if self.groups == self.kill_at:
                sigkill()
        return seqs


def main(argv: list[str]) -> None:
    url, boards = argv[0], int(argv[1])
    kill_at = int(argv[2]) if len(argv) > 2 else 0
    durability = "relaxed" if len(argv) > 3 and argv[3] == "relaxed" else "cycle"
    plain = PostgresStore.from_url(url, durability=durability)
    plain.close()
    store = KillingStore(plain.conninfo, url=url, schema=plain.schema, durability=durability)
    store.kill_at = kill_at
    with Blackboard(store) as bb:
        cases = [(f"g-{n}", Ticket(subject=f"ticket-{n}", n=n, confidence=1.0)) for n in range(boards)]
        result = CONTROLLER.run_many_sync(bb, cases, concurrency=boards)
        print("done", dict(result.counts()), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve(main, warm="postgresql://localhost/warm")
    else:
        main(sys.argv[1:])
