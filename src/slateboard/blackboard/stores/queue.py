"""The work queue plug point: which boards have work, and which worker holds each one (`WorkQueue`).

A store that many worker processes share (PostgreSQL) offers a queue beside its log: one row per board submitted
for work, naming the scenario that runs it. A worker claims a board with a lease, a deadline it keeps pushing back
with heartbeats; a worker that stops heart-beating loses the lease when it runs out and another worker claims the
board and resumes it from the log. Each claim raises the board's fencing token, and the store the worker writes
through (`fenced`) checks that token inside every write transaction: a stale worker's late write fails with
`LeaseLostError` and writes nothing.

States of a board's row: "queued" (ready to claim), "leased" (a worker holds it), "waiting" (the run stopped for a
person: an approval or an escalation; an answer puts it back to "queued"), "done" (a final outcome) and "failed"
(the run raised, or it was claimed `max_claims` times without finishing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

from slateboard.blackboard.stores.base import Store

__all__ = (
    "WorkState",
    "WORK_STATES",
    "Lease",
    "WorkItem",
    "WorkQueue",
    "Wakeup",
    "QueueStore",
)

WorkState = Literal["queued", "leased", "waiting", "done", "failed"]
"""Where a board submitted for work stands in the queue."""
WORK_STATES: tuple[WorkState, ...] = get_args(WorkState)


@dataclass(frozen=True)
class Lease:
    """A worker's claim on one board: `token` is the fencing token its writes carry; `claims` counts every claim of
    the board so far, this one included."""

    board: str
    scenario: str
    variant: str | None
    owner: str
    token: int
    claims: int


@dataclass(frozen=True)
class WorkItem:
    """One board's row in the queue, as `slateboard boards` shows it. `expires_in` is the seconds left on a lease
    (negative once it has run out), None when no worker holds the board."""

    board: str
    scenario: str
    variant: str | None
    state: WorkState
    status: str | None
    owner: str | None
    token: int
    claims: int
    expires_in: float | None
    error: str


class Wakeup(Protocol):
    """A listening connection: `wait` blocks until new work is announced or `timeout` passes."""

    def wait(self, timeout: float) -> bool:
        """True when work was announced within `timeout` seconds."""
        ...

    def close(self) -> None: ...


class WorkQueue(Protocol):
    """The queue beside a store's log. Every method is synchronous (a database round trip); workers call them from
    a worker thread."""

    def enqueue(self, boards: Sequence[str], scenario: str, variant: str | None) -> list[str]:
        """Queue `boards` for `scenario` (and `variant`); returns the ones newly queued (others were already)."""
        ...

    def claim(
        self, owner: str, scenario: str | None, *, limit: int, lease_seconds: float, max_claims: int
    ) -> list[Lease]:
        """Lease up to `limit` queued boards (of `scenario`, or any), or ones whose lease ran out; boards claimed
        `max_claims` times already become "failed" instead."""
        ...

    def heartbeat(self, lease: Lease, lease_seconds: float) -> bool:
        """Push the lease's deadline back; False when the lease was lost (another worker claimed the board)."""
        ...

    def finish(self, lease: Lease, state: WorkState, status: str, error: str = "") -> WorkState | None:
        """End the lease with the run's `state` and outcome `status`; returns the state the row took ("queued" when
        a person answered during the run), or None when the lease was lost."""
        ...

    def release(self, lease: Lease) -> bool:
        """Give the board back unfinished, queued for the next worker; False when the lease was already lost."""
        ...

    def items(self, boards: Sequence[str] | None = None) -> list[WorkItem]:
        """The queue's rows (of `boards`, or all), by board name."""
        ...

    def outstanding(self) -> int:
        """How many boards are queued or leased (a worker run `until_idle` stops at 0)."""
        ...

    def fenced(self, lease: Lease) -> Store:
        """The store as the lease holder writes to it: the same log, ledger and tables, with every write
        transaction checking the lease's fencing token first."""
        ...

    def wakeup(self) -> Wakeup:
        """A new listening connection for announcements of new work."""
        ...


@runtime_checkable
class QueueStore(Protocol):
    """A store with a work queue beside its log (PostgreSQL)."""

    @property
    def queue(self) -> WorkQueue: ...
