"""A batch of boards in its own OS process, for the group-commit crash test.

    python -m tests.blackboard.group_process DB BOARDS [KILL_AT [DURABILITY]]
    python -m tests.blackboard.group_process serve

Runs boards `g-0` ... `g-<BOARDS-1>` through `run_many` (all at once, so their appends share transactions) on the
SQLite file DB, committing each board's proposal to `sinks.Table("tickets")` in the same database. Every append
transaction prints `landed BOARD VERSION HASH` per board it wrote, once the transaction has committed and before
any board is told (what the process reported durable). With KILL_AT = n > 0 the process SIGKILLs itself inside the
n-th insert made in a group of two or more, after that board's rows joined the transaction and before it commits.

`serve` reads one JSON request a line on stdin, `{"argv": [DB, BOARDS, ...], "stdout": PATH, "stderr": PATH}`, runs
each in a process forked from this one (the imports done, the SQLite backend loaded, nothing opened) with its output
in those files, and answers each with a line `{"returncode": N}` (-9 when SIGKILL ended it, as `subprocess` says).
A fork costs the test a run instead of an interpreter start and the imports (about 1.5 s of CPU each).
"""

from __future__ import annotations

import faulthandler
import json
import os
import sqlite3
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from slateboard import Blackboard, Citation, Controller, Finding, Proposal, agent, policies, rules, sinks
from slateboard.blackboard.entries import PendingEntry, StoredEntry
from slateboard.blackboard.stores.base import AppendRequest, AppendResult
from slateboard.blackboard.stores.registry import backend_for
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


TIMEOUT = 120  # seconds a run may take before it is ended (the test then fails on its exit code)


def serve(run: Callable[[list[str]], None] = main, warm: str = "sqlite:///warm.db") -> None:
    """Run each request read from stdin in a forked child (`run` with the request's argv), one after another; answer
    each with its exit code. `warm`: a URL of the store's scheme, whose modules are loaded before any fork."""
    backend_for(warm)  # loads the store's modules once, for every child; opens nothing
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()  # a forked child must not print the parent's buffered lines again
        pid = os.fork()
        if pid == 0:  # the child: output to the request's files, and leave without the parent's atexit handlers
            code = 0
            try:
                for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
                    os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
                # A hung run ends with its threads' tracebacks on stderr and exit code 1 (a thread of faulthandler's
                # own, not SIGALRM, which the agents' watchdog arms and disarms).
                faulthandler.dump_traceback_later(TIMEOUT, exit=True)
                run(request["argv"])
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)  # reaped: the next run starts after this one ended, as a new process would
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        main(sys.argv[1:])
