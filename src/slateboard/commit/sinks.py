"""Sinks: where the commit layer applies proposals. Importable as `from slateboard import sinks`.

A sink is a `Sink` (`apply(proposal, key) -> receipt`, sync or async; the receipt must be JSON) or a
`TransactionalSink` (`apply_in(tx, proposal, key)`, inside the store's own transaction). It may offer:

- `name`: what the log calls it (default: its class name);
- `blocking = False`: its sync `apply` never waits, so it runs inline instead of in a worker thread;
- `compensate(proposal, receipt)`: undo an applied proposal (recorded as a forward entry, never a delete);
- `lookup(key) -> receipt | None`: ask the outside system whether a key was applied, so a commit interrupted
  after the call is settled instead of being left in doubt;
- `idempotent = True`: the outside system itself ignores a key it has seen (an idempotency-key API), so an
  interrupted or timed-out call may be repeated with the same key.

`capabilities_of(sink)` reads these once into `SinkCapabilities`, which is all the commit layer consults.
A sink with neither `lookup` nor `idempotent` that is interrupted between its call and the ledger's record is
marked in doubt and goes to a person: it is never silently called again. `Table` is inside the store's own
database and commits in the same transaction as the ledger: exactly once, with nothing in doubt.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import JsonValue

from slateboard.blackboard.board import Blackboard
from slateboard.blackboard.stores.base import Store
from slateboard.blackboard.stores.tables import TableRow, TableTransaction
from slateboard.errors import ConfigurationError
from slateboard.state.proposal import Proposal

__all__ = (
    "Sink",
    "TransactionalSink",
    "SinkCapabilities",
    "capabilities_of",
    "Applied",
    "Memory",
    "Function",
    "Table",
    "describe",
)


@runtime_checkable
class Sink(Protocol):
    """The commit target: `apply` one proposal under its idempotency key and return a JSON receipt (or an
    awaitable of one). The optional parts are listed in the module docstring."""

    def apply(self, proposal: Proposal, key: str) -> object: ...


@runtime_checkable
class TransactionalSink(Protocol):
    """A sink inside the store's own database: `apply_in` writes through the ledger's transaction, so the change
    and the key's ledger row commit together."""

    name: str

    def apply_in(self, tx: TableTransaction, proposal: Proposal, key: str) -> JsonValue: ...


@dataclass(frozen=True)
class SinkCapabilities:
    """What a sink offers the commit layer, read once (`capabilities_of`) when the layer is built."""

    name: str
    transactional: bool  # apply_in, inside the store's transaction: exactly once
    blocking: bool  # a sync apply, lookup or compensate runs in a worker thread
    idempotent: bool  # the outside system ignores a repeated key: an interrupted call may be repeated
    lookup: Callable[[str], object] | None
    compensate: Callable[[Proposal, Any], object] | None


def describe(sink: object) -> str:
    """A sink's name for the log: its `name` attribute, else its class name."""
    name = getattr(sink, "name", None)
    return name if isinstance(name, str) and name else type(sink).__name__


def capabilities_of(sink: Sink | TransactionalSink) -> SinkCapabilities:
    """Read a sink's optional parts once, refusing ones of the wrong type with a `ConfigurationError`."""
    transactional = isinstance(sink, TransactionalSink)
    if not transactional and not isinstance(sink, Sink):
        raise ConfigurationError(f"sink {sink!r} has no apply(proposal, key) method")
    flags = {}
    for flag, default in (("blocking", True), ("idempotent", False)):
        value = getattr(sink, flag, default)
        if not isinstance(value, bool):
            raise ConfigurationError(f"sink {sink!r}: {flag} must be True or False, got {value!r}")
        flags[flag] = value
    hooks = {}
    for hook in ("lookup", "compensate"):
        function = getattr(sink, hook, None)
        if function is not None and not callable(function):
            raise ConfigurationError(f"sink {sink!r}: {hook} must be a function, got {function!r}")
        hooks[hook] = function
    return SinkCapabilities(
        name=describe(sink),
        transactional=transactional,
        blocking=flags["blocking"],
        idempotent=flags["idempotent"],
        lookup=hooks["lookup"],
        compensate=hooks["compensate"],
    )


@dataclass(frozen=True, eq=False)
class Applied:
    """One application recorded by `Memory`: the `key`, the `proposal` and the `receipt`.

    It reads and compares as the proposal it applied, so `sink.applied == [proposal]` and
    `sink.applied[0].target` work as well as `sink.applied[0].key`.
    """

    key: str
    proposal: Proposal
    receipt: JsonValue

    def __getattr__(self, name: str) -> Any:
        return getattr(self.proposal, name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Applied):
            return (self.key, self.proposal, self.receipt) == (other.key, other.proposal, other.receipt)
        return isinstance(other, Proposal) and self.proposal == other

    __hash__ = None  # type: ignore[assignment]


class Memory:
    """Records what was applied, in this process: `applied` (every call, in order) and `records` (the state).

    `records[target]` holds the fields the applied changes set. Tests read `sink.applied` to count applications.
    """

    blocking = False  # applied inline: nothing here waits

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.applied: list[Applied] = []
        self.compensated: list[Applied] = []
        self.records: dict[str, dict[str, JsonValue]] = {}
        self._lock = threading.Lock()

    def apply(self, proposal: Proposal, key: str) -> JsonValue:
        with self._lock:
            record = self.records.setdefault(proposal.target, {})
            record.update(proposal.changes)
            receipt: JsonValue = {"sink": self.name, "target": proposal.target, "sequence": len(self.applied) + 1}
            self.applied.append(Applied(key, proposal, receipt))
            return receipt

    def compensate(self, proposal: Proposal, receipt: JsonValue) -> JsonValue:
        with self._lock:
            record = self.records.get(proposal.target, {})
            for field in proposal.changes:
                record.pop(field, None)
            self.compensated.append(Applied(str(receipt), proposal, receipt))
            return {"undone": receipt}

    def keys(self) -> list[str]:
        """The keys applied, in order (a key appears twice only if it was applied twice)."""
        return [a.key for a in self.applied]


class Function:
    """A sink from a function `fn(proposal, key) -> receipt` (sync functions run in a worker thread).

    `idempotent=True` says the function's target ignores a repeated key; `lookup(key)` and
    `compensate(proposal, receipt)` are passed through when given. Also reachable as `sinks.Callable`, its first
    name, which shadows `typing.Callable` in a module that imports it unqualified.
    """

    def __init__(
        self,
        fn: Callable[[Proposal, str], Any],
        *,
        name: str | None = None,
        idempotent: bool = False,
        lookup: Callable[[str], Any] | None = None,
        compensate: Callable[[Proposal, Any], Any] | None = None,
    ) -> None:
        if not callable(fn):
            raise ConfigurationError(f"sinks.Function needs a function, got {fn!r}")
        self.fn = fn
        # "callable", not "function": the name goes into commit entries, and logs written before the rename use it.
        self.name = name or getattr(fn, "__name__", "callable")
        self.idempotent = idempotent
        self.lookup = lookup
        self.compensate = compensate

    def apply(self, proposal: Proposal, key: str) -> Any:
        return self.fn(proposal, key)

    @property
    def blocking(self) -> bool:
        return not inspect.iscoroutinefunction(self.fn)


class Table:
    """A table in the store's own database, one row per target: changes merge into the row's fields.

    The change and its ledger row commit in one transaction, so a proposal is applied exactly once whatever
    crashes. It works on every store, through the store's `TableTransaction`; read it back with
    `sink.rows(blackboard)`.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigurationError(f"sinks.Table: table name must be an identifier, got {name!r}")
        self.name = name

    def apply_in(self, tx: TableTransaction, proposal: Proposal, key: str) -> JsonValue:
        """Merge the proposal's changes into its target's row, in the ledger's transaction `tx`."""
        found = tx.read_row(self.name, proposal.target)
        data, revision = (found.data, found.revision) if found is not None else ({}, 0)
        tx.write_row(self.name, proposal.target, TableRow({**data, **proposal.changes}, revision + 1, key))
        return {"table": self.name, "target": proposal.target, "revision": revision + 1}

    def rows(self, store: Blackboard | Store) -> dict[str, dict[str, Any]]:
        """Every row of the table in `store` (a `Blackboard` or its `store`): target -> fields and revision."""
        ledger = (store.store if isinstance(store, Blackboard) else store).ledger
        rows = ledger.table_rows(self.name, wait=True)
        return {target: {"data": r.data, "revision": r.revision, "last_key": r.last_key} for target, r in rows.items()}
