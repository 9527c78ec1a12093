"""Fault injection for crash tests: count a run's write boundaries and SIGKILL the process at one of them.

A *write boundary* is a call that changes durable state and returned: `store.append`, the ledger's `claim`,
`transition`, `apply_atomically`, `acquire` and `release`, and the sink's call (`sink.apply` for a sink outside
the store, `sink.apply_in` for one inside the store's transaction). Reads (`read`, `head`, `ledger.get`,
`ledger.rows`, a sink's `lookup`) are not boundaries. A call that raised wrote nothing and is not counted.

```python
from slateboard import Blackboard, Controller, sinks
from slateboard.blackboard.stores.base import open_store
from slateboard.testing.faults import Faults

faults = Faults(kill_after=7)          # Faults() only counts; kill_before=7 kills just before boundary 7
bb = Blackboard(faults.store(open_store("sqlite:///crash.db")))
controller = Controller(agents, rules, policy=policy, sink=faults.sink(sinks.Table("cases")))
controller.run_sync(bb.board("case-7"), case)   # the process dies right after the 7th boundary returns
print(faults.count, faults.boundaries)          # when it did not: how many there were, and which
```

Enumerate a run's crash points by running it once with `Faults()`, then once per k in `1..faults.count` (in a
fresh process and database each time) with `Faults(kill_after=k)`, and resume each from what it left behind.
The kill is `os.kill(os.getpid(), SIGKILL)`: no `finally`, no `atexit`, no flush; exactly what the OS keeps.
Without a kill point the wrappers only count: they call through with the same arguments and results, and
pass every other attribute (a store's `path`, a sink's `name`, `lookup`, `idempotent`, ...) through.
"""

from __future__ import annotations

import inspect
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, Literal, TypeVar

import anyio
from pydantic import Field, model_validator

from slateboard.blackboard.entries import PendingEntry, StoredEntry
from slateboard.blackboard.records import Finding, FrozenModel
from slateboard.blackboard.stores.base import AppendRequest, AppendResult, GroupStore, Store
from slateboard.blackboard.stores.ledger import Ledger, LedgerRow, LedgerStatus
from slateboard.blackboard.stores.tables import Apply, TableRow, TableTransaction
from slateboard.commit.sinks import Sink, TransactionalSink
from slateboard.errors import ConfigurationError, ConflictError
from slateboard.state.proposal import Proposal

__all__ = (
    "Faults",
    "FaultyStore",
    "FaultyGroupStore",
    "FaultyLedger",
    "FaultySink",
    "FaultyTransactionalSink",
    "sigkill",
    "Fault",
    "FaultKind",
    "FAULT_KINDS",
)

FaultKind = Literal["none", "timeout", "error", "conflict", "invalid", "crash"]
FAULT_KINDS: tuple[FaultKind, ...] = ("none", "timeout", "error", "conflict", "invalid", "crash")
_STATUS = {"none": "ok", "crash": "ok", "timeout": "timeout", "error": "error", "conflict": "conflict"}
F = TypeVar("F", bound=Finding)

T = TypeVar("T")


def sigkill() -> None:
    """Kill this process the way a power cut or the OOM killer would: SIGKILL, which nothing can catch."""
    os.kill(os.getpid(), signal.SIGKILL)


def _check_point(name: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(f"Faults: {name} must be a boundary number >= 1 or None, got {value!r}")
    return value


class Faults:
    """Counts write boundaries across the wrapped store, ledger and sinks, and kills at the chosen one.

    `kill_after=N` kills right after the N-th boundary returns (its write is durable, nothing after it ran);
    `kill_before=N` kills right before the N-th boundary starts. With neither, nothing is killed: read `count`
    and `boundaries` (the name of each boundary, in order) after the run. `kill` is what killing does
    (`sigkill` unless given: a test of the wrappers themselves can pass a function that records instead).
    Thread-safe: store operations may run in worker threads.
    """

    def __init__(
        self,
        *,
        kill_after: int | None = None,
        kill_before: int | None = None,
        kill: Callable[[], None] = sigkill,
    ) -> None:
        self.kill_after = _check_point("kill_after", kill_after)
        self.kill_before = _check_point("kill_before", kill_before)
        self.boundaries: list[str] = []
        self._kill = kill
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        """How many write boundaries have returned so far."""
        with self._lock:
            return len(self.boundaries)

    def store(self, store: Store) -> FaultyStore:
        """`store` with its appends and its ledger's writes counted; build `Blackboard(faults.store(...))`."""
        return FaultyGroupStore(store, self) if isinstance(store, GroupStore) else FaultyStore(store, self)

    def sink(self, sink: Sink | TransactionalSink) -> FaultySink | FaultyTransactionalSink:
        """`sink` with its call counted: `FaultyTransactionalSink` for a sink inside the store, else `FaultySink`."""
        if isinstance(sink, TransactionalSink):
            return FaultyTransactionalSink(sink, self)
        return FaultySink(sink, self)

    def call(self, name: str, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one write boundary called `name`: maybe kill before it, run it, count it, maybe kill after it."""
        self._before()
        result = operation(*args, **kwargs)  # one that raises (WouldBlock included) wrote nothing: not counted
        self._after(name)
        return result

    async def acall(self, name: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`call` for a coroutine function (an async sink)."""
        self._before()
        result = await operation(*args, **kwargs)
        self._after(name)
        return result

    def _before(self) -> None:
        with self._lock:
            due = self.kill_before is not None and len(self.boundaries) + 1 == self.kill_before
        if due:
            self._kill()

    def _after(self, name: str) -> None:
        with self._lock:
            self.boundaries.append(name)
            due = self.kill_after is not None and len(self.boundaries) == self.kill_after
        if due:
            self._kill()


class FaultyLedger:
    """A ledger whose writes (claim, transition, apply_atomically, acquire, release) are boundaries."""

    def __init__(self, ledger: Ledger, faults: Faults) -> None:
        self.inner = ledger
        self.faults = faults

    def get(self, key: str, *, wait: bool) -> LedgerRow | None:
        return self.inner.get(key, wait=wait)

    def rows(self, status: LedgerStatus | None, *, wait: bool) -> list[LedgerRow]:
        return self.inner.rows(status, wait=wait)

    def table_rows(self, table: str, *, wait: bool) -> dict[str, TableRow]:
        return self.inner.table_rows(table, wait=wait)

    def claim(self, row: LedgerRow, *, wait: bool) -> tuple[LedgerRow, bool]:
        return self.faults.call("ledger.claim", self.inner.claim, row, wait=wait)

    def transition(self, key: str, expect: Collection[str], changes: dict[str, Any], *, wait: bool) -> LedgerRow | None:
        return self.faults.call("ledger.transition", self.inner.transition, key, expect, changes, wait=wait)

    def apply_atomically(self, row: LedgerRow, apply: Apply, *, holder: str = "", wait: bool) -> tuple[LedgerRow, bool]:
        call = self.inner.apply_atomically
        return self.faults.call("ledger.apply_atomically", call, row, apply, holder=holder, wait=wait)

    def acquire(self, target: str, holder: str, lease: float, steal: str, *, wait: bool) -> tuple[int, str]:
        return self.faults.call("ledger.acquire", self.inner.acquire, target, holder, lease, steal, wait=wait)

    def release(self, target: str, token: int, *, wait: bool) -> None:
        self.faults.call("ledger.release", self.inner.release, target, token, wait=wait)

    def __getattr__(self, name: str) -> Any:
        # Store-specific extras (the memory store's `tables`) stay reachable; `inner` itself is never delegated.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


class FaultyStore:
    """A `Store` whose appends and ledger writes are counted write boundaries; everything else passes through."""

    def __init__(self, store: Store, faults: Faults) -> None:
        self.inner = store
        self.faults = faults
        self.url = store.url
        self._ledger = FaultyLedger(store.ledger, faults)

    @property
    def ledger(self) -> FaultyLedger:
        """The wrapped store's ledger, its writes counted."""
        return self._ledger

    def append(
        self, board: str, entries: Sequence[PendingEntry], *, expected_version: int | None, wait: bool
    ) -> list[StoredEntry]:
        return self.faults.call(
            "store.append", self.inner.append, board, entries, expected_version=expected_version, wait=wait
        )

    def read(self, board: str, *, after: int, upto: int | None, wait: bool) -> list[StoredEntry]:
        return self.inner.read(board, after=after, upto=upto, wait=wait)

    def head(self, board: str, *, wait: bool) -> tuple[int, str]:
        return self.inner.head(board, wait=wait)

    def boards(self) -> list[str]:
        return self.inner.boards()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # Store-specific extras (SQLiteStore.path) stay reachable; `inner` itself is never delegated.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


class FaultyGroupStore(FaultyStore):
    """A `FaultyStore` over a store that commits several boards' appends in one transaction (`GroupStore`): each
    group is one boundary, `store.append_group` (a request alone is still a `store.append`)."""

    inner: GroupStore

    def __init__(self, store: GroupStore, faults: Faults) -> None:
        super().__init__(store, faults)
        self.inner = store

    def append_group(self, requests: Sequence[AppendRequest], *, wait: bool) -> list[AppendResult]:
        return self.faults.call("store.append_group", self.inner.append_group, requests, wait=wait)

    @property
    def group_off_loop(self) -> bool:
        return self.inner.group_off_loop


class FaultySink:
    """An outside sink whose `apply` is a counted boundary (async when the sink's is); other attributes pass through.

    Optional parts (`lookup`, `compensate`, `idempotent`, `blocking`, `name`) are only present when the wrapped
    sink has them, so the commit layer treats the wrapper exactly as it treats the sink.
    """

    apply: Callable[[Proposal, str], Any]

    def __init__(self, sink: Any, faults: Faults) -> None:
        apply = getattr(sink, "apply", None)
        if not callable(apply):
            raise ConfigurationError(f"sink {sink!r} has no apply(proposal, key) method")
        self.inner = sink
        self.faults = faults
        if inspect.iscoroutinefunction(apply):

            async def counted_async(proposal: Proposal, key: str) -> Any:
                return await faults.acall("sink.apply", apply, proposal, key)

            self.apply = counted_async
        else:

            def counted(proposal: Proposal, key: str) -> Any:
                faults._before()
                result = apply(proposal, key)
                if inspect.isawaitable(result):
                    # A plain method returning a coroutine (sinks.Function around an async function): the call
                    # has not happened until the commit layer awaits it, so neither has the boundary.
                    return _count_when_done("sink.apply", result, faults)
                faults._after("sink.apply")
                return result

            self.apply = counted

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


async def _count_when_done(name: str, pending: Awaitable[T], faults: Faults) -> T:
    result = await pending
    faults._after(name)
    return result


class FaultyTransactionalSink:
    """A sink inside the store (like `sinks.Table`) whose `apply_in` is a counted boundary.

    `apply_in` runs inside the ledger's transaction, so a kill right after it dies before that transaction
    commits: the point that checks the change and its ledger row are rolled back together.
    """

    def __init__(self, sink: TransactionalSink, faults: Faults) -> None:
        self.inner = sink
        self.faults = faults

    @property
    def name(self) -> str:
        """The wrapped sink's name (the commit entries name it)."""
        return self.inner.name

    def apply_in(self, tx: TableTransaction, proposal: Proposal, key: str) -> Any:
        return self.faults.call("sink.apply_in", self.inner.apply_in, tx, proposal, key)

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


class Fault(FrozenModel):
    """A fault to inject: what an agent does on the attempts it strikes (`times`: the first n; None: all).

    In an async agent with a short `timeout`: `return await fault.inject(finding, attempt=context.attempt)`:
    `none` returns the finding; `timeout` sleeps past the agent's timeout; `error` raises `RuntimeError` (retried);
    `conflict` raises `ConflictError` (escalates); `invalid` returns the finding with an out-of-range confidence
    (refused). `crash` (`at`: a write boundary) is for a subprocess: `fault.faults()` is
    `Faults(kill_after=at)`, whose store and sink wrappers SIGKILL the process there; `inject` ignores it.
    """

    kind: FaultKind
    at: int | None = Field(default=None, ge=1)
    times: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _crash_has_a_boundary(self) -> Fault:
        if (self.kind == "crash") != (self.at is not None):
            raise ValueError("a crash needs at= (the write boundary); other faults take no at=")
        return self

    def strikes(self, attempt: int) -> bool:
        """Whether the fault fires on this attempt (1, 2, ...)."""
        return self.kind not in ("none", "crash") and (self.times is None or attempt <= self.times)

    def status(self, attempt: int = 1) -> str:
        """The `AgentRun.status` the attempt records: ok, timeout, error, conflict or invalid."""
        return _STATUS.get(self.kind, "invalid") if self.strikes(attempt) else "ok"

    async def inject(self, finding: F, *, attempt: int = 1) -> F:
        """Inside an agent: do what the fault says on this attempt, else return `finding`."""
        if not self.strikes(attempt):
            return finding
        if self.kind == "timeout":
            await anyio.sleep(3600)  # the agent's timeout cancels this; give the agent a short one
        if self.kind == "error":
            raise RuntimeError(f"injected error on attempt {attempt}")
        if self.kind == "conflict":
            raise ConflictError(f"injected conflict on attempt {attempt}")
        # model_copy does not validate, so the runner's check finds the bad value, as with a buggy agent.
        return finding.model_copy(update={"confidence": 2.0})

    def faults(self, **options: Any) -> Faults:
        """The kill switch for this fault: `Faults(kill_after=at)` for a crash, a counting `Faults()` otherwise."""
        return Faults(kill_after=self.at, **options) if self.kind == "crash" else Faults(**options)

    def __str__(self) -> str:
        where = f"@{self.at}" if self.at is not None else ""
        return f"{self.kind}{where}" + (f" x{self.times}" if self.times is not None else "")
