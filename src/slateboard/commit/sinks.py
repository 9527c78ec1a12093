"""Sinks: where the commit layer applies proposals. Importable as `from slateboard import sinks`.

A sink has `apply(proposal, key) -> receipt` (sync or async; the receipt must be JSON) and may offer:

- `compensate(proposal, receipt)`: undo an applied proposal (recorded as a forward entry, never a delete);
- `lookup(key) -> receipt | None`: ask the outside system whether a key was applied, so a commit interrupted
  after the call is settled instead of being left in doubt;
- `idempotent = True`: the outside system itself ignores a key it has seen (an idempotency-key API), so an
  interrupted or timed-out call may be repeated with the same key.

A sink with neither that is interrupted between its call and the ledger's record is marked in doubt and goes
to a person: it is never silently called again. `Table` is inside the store's own database and commits in the
same transaction as the ledger: exactly once, with nothing in doubt.
"""

from __future__ import annotations

import inspect
import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import JsonValue

from slateboard.blackboard.stores.memory import MemoryTables
from slateboard.errors import CommitError, ConfigurationError
from slateboard.state.proposal import Proposal

__all__ = ("Sink", "TransactionalSink", "Applied", "Memory", "Callable_", "Table", "describe")


@runtime_checkable
class Sink(Protocol):
    """The commit target: `apply` one proposal under its idempotency key and return a JSON receipt."""

    def apply(self, proposal: Proposal, key: str) -> Any: ...


@runtime_checkable
class TransactionalSink(Protocol):
    """A sink inside the store's own database: `apply_in` runs in the ledger's transaction."""

    name: str

    def apply_in(self, tx: Any, proposal: Proposal, key: str) -> JsonValue: ...


def describe(sink: object) -> str:
    """A sink's name for the log: its `name` attribute, else its class name."""
    name = getattr(sink, "name", None)
    return name if isinstance(name, str) and name else type(sink).__name__


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


class Callable_:
    """A sink from a function `fn(proposal, key) -> receipt` (sync functions run in a worker thread).

    `idempotent=True` says the function's target ignores a repeated key; `lookup(key)` and
    `compensate(proposal, receipt)` are passed through when given.
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
            raise ConfigurationError(f"sinks.Callable needs a function, got {fn!r}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "callable")
        self.idempotent = idempotent
        if lookup is not None:
            self.lookup = lookup
        if compensate is not None:
            self.compensate = compensate

    def apply(self, proposal: Proposal, key: str) -> Any:
        return self.fn(proposal, key)

    @property
    def blocking(self) -> bool:
        return not inspect.iscoroutinefunction(self.fn)


class Table:
    """A table in the store's own database, one row per target: changes merge into the row's JSON `data`.

    The change and its ledger row commit in one transaction, so a proposal is applied exactly once whatever
    crashes. Read it back with `sink.rows(blackboard)`. Works on SQLite and memory stores.
    """

    def __init__(self, name: str) -> None:
        if not name.isidentifier():
            raise ConfigurationError(f"sinks.Table: table name must be an identifier, got {name!r}")
        self.name = name
        self._table = f"sink_{name}"

    def apply_in(self, tx: Any, proposal: Proposal, key: str) -> JsonValue:
        if isinstance(tx, MemoryTables):
            return self._apply_memory(tx, proposal, key)
        if isinstance(tx, sqlite3.Connection):
            return self._apply_sqlite(tx, proposal, key)
        raise CommitError(f"sinks.Table {self.name!r} cannot write to a {type(tx).__name__} store")

    def _apply_memory(self, tx: MemoryTables, proposal: Proposal, key: str) -> JsonValue:
        data, revision, _ = tx.get(self._table, proposal.target) or ({}, 0, "")
        tx.put(self._table, proposal.target, ({**data, **proposal.changes}, revision + 1, key))
        return {"table": self.name, "target": proposal.target, "revision": revision + 1}

    def _apply_sqlite(self, conn: sqlite3.Connection, proposal: Proposal, key: str) -> JsonValue:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} "
            "(target TEXT PRIMARY KEY, data TEXT NOT NULL, revision INTEGER NOT NULL, last_key TEXT NOT NULL)"
        )
        query = f"SELECT data, revision FROM {self._table} WHERE target = ?"  # noqa: S608 - the name is an identifier
        found = conn.execute(query, (proposal.target,)).fetchone()
        data, revision = (json.loads(found[0]), found[1]) if found else ({}, 0)
        data.update(proposal.changes)
        conn.execute(
            f"INSERT OR REPLACE INTO {self._table} (target, data, revision, last_key) VALUES (?, ?, ?, ?)",  # noqa: S608 - the name is an identifier
            (proposal.target, json.dumps(data, sort_keys=True), revision + 1, key),
        )
        return {"table": self.name, "target": proposal.target, "revision": revision + 1}

    def rows(self, store: Any) -> dict[str, dict[str, Any]]:
        """Every row of the table in `store` (a `Blackboard` or its `store`): target -> fields and revision."""
        store = getattr(store, "store", store)
        tables = getattr(store.ledger, "tables", None)
        if isinstance(tables, MemoryTables):
            table = tables.tables.get(self._table, {})
            return {t: {"data": d, "revision": r, "last_key": k} for t, (d, r, k) in sorted(table.items())}

        def read(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (self._table,)
            ).fetchone()
            if not exists:
                return {}
            query = f"SELECT target, data, revision, last_key FROM {self._table} ORDER BY target"  # noqa: S608
            return {t: {"data": json.loads(d), "revision": r, "last_key": k} for t, d, r, k in conn.execute(query)}

        return store.query(read, wait=True)  # type: ignore[no-any-return]
