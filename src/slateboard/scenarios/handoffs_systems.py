"""The outside systems of the handoffs scenario (seed 004), and the tool registry in front of them.

CRM, ticketing and warehouse each journal every call they receive and keep one record per idempotency key. They
keep their records where a run in another process finds them again: beside a SQLite store, one SQLite file per
system in the directory `<database>.systems/`; for a memory store, in this process's memory for as long as the
store lives. `ToolRegistry` is the public `slateboard.ToolRegistry` with one write tool per system, each honouring
the key; `records(blackboard, "ticketing")` and `received(...)` read what a system holds and was sent.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, JsonValue

from slateboard.blackboard.board import Blackboard, Board
from slateboard.blackboard.stores import Store
from slateboard.blackboard.stores.sqlite import database_file
from slateboard.commit import tools
from slateboard.commit.layer import Settled
from slateboard.commit.sinks import Sink
from slateboard.errors import CommitError, ScenarioError
from slateboard.state.proposal import Proposal

__all__ = (
    "TOOL_TIMEOUT",
    "SYSTEMS",
    "ToolRegistry",
    "Systems",
    "CrmUpdate",
    "TicketRequest",
    "WarehouseRow",
    "Receipt",
    "records",
    "received",
)

TOOL_TIMEOUT = 0.25  # seconds the registry waits for one tool call; a staged hang costs this much, not more
SYSTEMS = {"CRM/": "crm", "Ticket/": "ticketing", "Warehouse/": "warehouse"}  # target prefix -> outside system
_IDS = {"crm": "CRM-UPD-{}", "ticketing": "TCK-{}", "warehouse": "WH-ROW-{}"}
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS received (n INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, "
    "action TEXT NOT NULL, target TEXT NOT NULL, changes TEXT NOT NULL)",
)


class _Place:
    """Where the outside systems keep their records for one store: a directory of SQLite files, or memory."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: dict[str, sqlite3.Connection] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def connect(self, system: str) -> Iterator[sqlite3.Connection]:
        if self.directory is not None:  # a connection per call: another process may use the file between calls
            self.directory.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.directory / f"{system}.sqlite", timeout=10, isolation_level=None)
            try:
                yield conn
            finally:
                conn.close()
            return
        with self._lock:
            shared = self._memory.get(system)
            if shared is None:
                shared = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                self._memory[system] = shared
            yield shared


_MEMORY: weakref.WeakKeyDictionary[Store, _Place] = weakref.WeakKeyDictionary()
_MEMORY_LOCK = threading.Lock()
_PLACE: ContextVar[_Place] = ContextVar("slateboard_handoffs_place")


def _place_of(where: Blackboard | Store) -> _Place:
    store = where.store if isinstance(where, Blackboard) else where
    file = database_file(store.url)
    if file is not None:  # beside the store's file, where another process (a resumed run) finds them too
        return _Place(file.with_name(file.name + ".systems"))
    with _MEMORY_LOCK:
        place = _MEMORY.get(store)
        if place is None:
            place = _MEMORY[store] = _Place(None)
        return place


def _system_of(target: str) -> str:
    for prefix, system in SYSTEMS.items():
        if target.startswith(prefix):
            return system
    raise CommitError(f"no tool is registered for target {target!r}; registered prefixes: {', '.join(SYSTEMS)}")


class CrmUpdate(BaseModel):
    """What the CRM's update tool takes: the case's status and the order's."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    Status: str
    Order_Status: str


class TicketRequest(BaseModel):
    """What the ticketing tool takes to open a ticket."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    Queue: str
    Priority: Literal["low", "normal", "high"]
    Summary: str


class WarehouseRow(BaseModel):
    """What the warehouse tool records for a handoff."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    Order: str
    Intent: str


class Receipt(BaseModel):
    """What every system answers: the record's id, and whether the key had been seen (`duplicate`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    system: str
    id: str
    target: str
    duplicate: bool


# tool name, target prefix, the action it performs, its input schema
_TOOLS: tuple[tuple[str, str, str, type[BaseModel]], ...] = (
    ("crm.update", "CRM/", "update", CrmUpdate),
    ("ticketing.open_ticket", "Ticket/", "open_ticket", TicketRequest),
    ("warehouse.record", "Warehouse/", "record", WarehouseRow),
)


class ToolRegistry(tools.ToolRegistry):
    """The scenario's registry (the public `slateboard.ToolRegistry`): one write tool per outside system,
    each honouring the idempotency key, behind `sink` (`Systems`, or a test's wrapper of it), whose records are
    kept beside the board's store (see the module docstring)."""

    def __init__(self, sink: Sink, *, attempts: int = 3, backoff: float = 0.05, timeout: float = TOOL_TIMEOUT) -> None:
        super().__init__()
        retry = tools.Retry(attempts=attempts, backoff=backoff)
        for name, prefix, action, schema in _TOOLS:
            self.add(
                tools.Tool(
                    name,
                    partial(_forward, sink),
                    input=schema,
                    output=Receipt,
                    mode="write",
                    target=prefix,
                    scopes=(f"action:{action}",),
                    idempotent=True,
                    timeout=timeout,
                    retry=retry,
                )
            )

    async def commit(self, board: Board, proposal: Proposal, key: str, version: int) -> Settled:
        """Apply `proposal` under `key` to the system its target names, with the systems of `board`'s store."""
        token = _PLACE.set(_place_of(board.store))  # a context variable: concurrent runs on other stores stay apart
        try:
            return await super().commit(board, proposal, key, version)
        finally:
            _PLACE.reset(token)


async def _forward(sink: Sink, args: BaseModel, call: tools.ToolCall) -> Any:
    """A tool's call, made by the system the proposal's target names."""
    if call.proposal is None or call.key is None:
        raise CommitError(f"tool {call.tool!r} only commits proposals")
    result = sink.apply(call.proposal, call.key)
    return await result if inspect.isawaitable(result) else result


class Systems:
    """The outside systems behind the registry's tools: CRM, ticketing and warehouse, chosen by the target's prefix.

    Each system journals every call it receives and keeps one record per idempotency key: a key it has seen
    returns the first record's receipt (`"duplicate": true`), so the registry may repeat a call (`idempotent`).
    `hang`: systems whose first call for a key lands but never answers (the response is lost); `down`: systems
    that answer 504 to every call (nothing lands).
    """

    name = "tool-registry"
    idempotent = True
    blocking = False  # apply is a coroutine: a timed-out call is cancelled, not left running in a thread

    def __init__(self, *, hang: Sequence[str] = (), down: Sequence[str] = ()) -> None:
        self.hang = frozenset(hang)
        self.down = frozenset(down)

    async def apply(self, proposal: Proposal, key: str) -> JsonValue:
        """Call the system `proposal.target` names with `key`; its receipt (the record's id)."""
        system = _system_of(proposal.target)
        if system in self.down:
            raise ConnectionError(f"{system} answered 504 Gateway Timeout")
        place = _PLACE.get(None)
        if place is None:
            raise CommitError("handoffs.Systems is a sink for a ToolRegistry: pass sink=ToolRegistry(Systems())")
        seq, new = _call(place, system, proposal, key)
        if new and system in self.hang:
            await anyio.sleep(TOOL_TIMEOUT * 40)  # it landed; the answer never comes back
        receipt: JsonValue = {
            "system": system,
            "id": _IDS[system].format(seq),
            "target": proposal.target,
            "duplicate": not new,
        }
        return receipt


def _call(place: _Place, system: str, proposal: Proposal, key: str) -> tuple[int, bool]:
    """Journal the call and keep its record unless the key was seen: (the record's number, whether it is new)."""
    with place.connect(system) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("INSERT INTO received (key) VALUES (?)", (key,))
            found = conn.execute("SELECT seq FROM records WHERE key = ?", (key,)).fetchone()
            new = found is None
            if found is None:
                changes = json.dumps(proposal.changes, sort_keys=True)
                cursor = conn.execute(
                    "INSERT INTO records (key, action, target, changes) VALUES (?, ?, ?, ?)",
                    (key, proposal.action, proposal.target, changes),
                )
                found = (cursor.lastrowid,)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return int(found[0]), new


def _read(store: Blackboard | Store, system: str, query: str) -> list[tuple[Any, ...]]:
    if system not in _IDS:
        raise ScenarioError(f"no outside system {system!r}; systems: {', '.join(_IDS)}")
    with _place_of(store).connect(system) as conn:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'records'").fetchone()
        return conn.execute(query).fetchall() if exists else []


def records(store: Blackboard | Store, system: str) -> list[dict[str, Any]]:
    """What `system` ("crm", "ticketing" or "warehouse") holds for `store` (a Blackboard or its store): one record
    per idempotency key, in the order they were created, each with its `id`, `key`, `action`, `target`, `changes`."""
    rows = _read(store, system, "SELECT seq, key, action, target, changes FROM records ORDER BY seq")
    return [
        {"id": _IDS[system].format(s), "key": k, "action": a, "target": t, "changes": json.loads(c)}
        for s, k, a, t, c in rows
    ]


def received(store: Blackboard | Store, system: str) -> list[str]:
    """The key of every call `system` received for `store`, in order (a repeated call shows its key again)."""
    return [key for (key,) in _read(store, system, "SELECT key FROM received ORDER BY n")]
