"""Handoffs (seed 004): one customer request through CRM, ticketing and warehouse tools behind a tool registry.

The article's three primitives, as slateboard runs them: the board is the shared context store and the workflow
state machine (every step, attempt and result is an entry, so a crashed run resumes instead of restarting); the
`ToolRegistry` is the tool registry: every write to an outside system goes through it with an idempotency key,
a timeout and a retry policy, and it dispatches by the target's prefix (`CRM/`, `Ticket/`, `Warehouse/`) to three
outside systems (`Systems`) that each ignore a key they have already seen. A tool call that times out is retried
with the same key and creates no second ticket; a step that exhausts its retries is dead-lettered. Agents only
read the systems' snapshots and propose; two of them that disagree about the truth go to a person.

The outside systems keep their records where a run in another process finds them again: beside a SQLite store,
one SQLite file per system in the directory `<database>.systems/`; for a memory store, in this process's memory
for as long as the store lives. `records(blackboard, "ticketing")` reads what a system holds.

Variants: happy, timeout, crash, stale-state, warehouse-down.
"""

from __future__ import annotations

import contextlib
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
from pydantic import JsonValue

from slateboard import policies
from slateboard.agents.spec import Agent, agent
from slateboard.blackboard.board import Blackboard, Board
from slateboard.blackboard.records import Citation, Finding
from slateboard.blackboard.stores import Store
from slateboard.blackboard.stores.sqlite import database_file
from slateboard.commit.layer import CommitLayer, Settled
from slateboard.commit.sinks import Sink, TransactionalSink
from slateboard.controller import rules
from slateboard.errors import CommitError, ScenarioError
from slateboard.scenarios.model import Expectation, Scenario
from slateboard.state.proposal import Proposal

__all__ = (
    "VARIANTS",
    "SYSTEMS",
    "handoffs",
    "ToolRegistry",
    "Systems",
    "records",
    "received",
    "Request",
    "Triage",
    "OrderStatus",
)

VARIANTS = ("happy", "timeout", "crash", "stale-state", "warehouse-down")
TOOL_TIMEOUT = 0.25  # seconds the registry waits for one tool call; a staged hang costs this much, not more
SYSTEMS = {"CRM/": "crm", "Ticket/": "ticketing", "Warehouse/": "warehouse"}  # target prefix -> outside system
_IDS = {"crm": "CRM-UPD-{}", "ticketing": "TCK-{}", "warehouse": "WH-ROW-{}"}
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS received (n INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, "
    "action TEXT NOT NULL, target TEXT NOT NULL, changes TEXT NOT NULL)",
)


class Request(Finding):
    """The user's request, as it reached the workflow."""

    kind_name = "handoffs.Request"
    customer: str
    order: str
    message: str


class Triage(Finding):
    """The conditional router's reading of the request: intent, queue and priority."""

    kind_name = "handoffs.Triage"
    intent: str
    queue: str
    priority: Literal["low", "normal", "high"]


class OrderStatus(Finding):
    """An order's status as one system has it (`source`), as of its snapshot."""

    kind_name = "handoffs.OrderStatus"
    order: str
    status: Literal["processing", "in_transit", "delivered", "returned"]
    source: Literal["crm", "warehouse"]
    as_of: str


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


class ToolRegistry(CommitLayer):
    """The article's tool registry: a `CommitLayer` (idempotency keys, timeout, bounded retries, dead letters)
    whose outside systems keep their records beside the board's store (see the module docstring)."""

    def __init__(
        self, sink: Sink | TransactionalSink, *, attempts: int = 3, backoff: float = 0.05, timeout: float = TOOL_TIMEOUT
    ) -> None:
        super().__init__(sink, attempts=attempts, backoff=backoff, timeout=timeout)

    async def commit(self, board: Board, proposal: Proposal, key: str, version: int) -> Settled:
        """Apply `proposal` under `key` to the system its target names, with the systems of `board`'s store."""
        token = _PLACE.set(_place_of(board.store))  # a context variable: concurrent runs on other stores stay apart
        try:
            return await super().commit(board, proposal, key, version)
        finally:
            _PLACE.reset(token)


class Systems:
    """The sink behind the registry: CRM, ticketing and warehouse, chosen by the target's prefix.

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


ORDER = "SO-2291"
CRM_SNAPSHOT = Citation(source=f"crm:Order/{ORDER}", version="sync 2026-05-02T06:00")
WAREHOUSE_SNAPSHOT = Citation(source="warehouse:analytics.shipments", version="2026-05-03T09:15")


def handoffs(variant: str = "happy") -> Scenario:
    """The handoffs scenario, or one of its failure `VARIANTS`.

    `crash` is the happy workflow meant to be killed from outside, as a real crash is: run it under
    `slateboard.testing.faults.Faults(kill_after=k)` (the test kills it right after the ticketing system opened
    the ticket, before the registry recorded it), then run it again: it resumes, and nothing is created twice.
    """
    if variant not in VARIANTS:
        raise ScenarioError(f"handoffs has no variant {variant!r}; variants: {', '.join(VARIANTS)}", file=__name__)
    hang = ("ticketing",) if variant == "timeout" else ()
    down = ("warehouse",) if variant == "warehouse-down" else ()
    return Scenario(
        name="handoffs",
        variant=variant,
        description=__doc__.split("\n\n")[0].replace("\n", " ") if __doc__ else "",
        agents=_agents(variant),
        rules=(
            rules.disagreement(OrderStatus, field="status"),
            rules.sufficient(OrderStatus, min_confidence=0.8),
            rules.sufficient(Proposal),
        ),
        policy=policies.Policy(policies.min_confidence(0.8), policies.escalate_on_conflict()),
        sink=lambda: ToolRegistry(Systems(hang=hang, down=down)),
        inputs=_inputs,
        expect=_EXPECT[variant],
        kinds=(Request, Triage, OrderStatus, Proposal),
        source=__name__,
        variants={v: partial(handoffs, v) for v in VARIANTS},  # so module:handoffs --variant V works too
    )


def _inputs(board: str) -> Sequence[Finding]:
    message = f"Order {ORDER} arrived with a cracked housing. Please send a replacement."
    return (Request(subject=board, customer="ACME Distribution", order=ORDER, message=message, confidence=1.0),)


_EXPECT = {
    "happy": Expectation(status="committed", commits=3),
    "timeout": Expectation(status="committed", commits=3),
    "crash": Expectation(status="committed", commits=3),
    "stale-state": Expectation(status="escalated", reasons=("disagreement(handoffs.OrderStatus.status)",), commits=0),
    "warehouse-down": Expectation(status="failed", reasons=("504 Gateway Timeout",), commits=2),
}


def _agents(variant: str) -> tuple[Agent, ...]:
    @agent(name="triage", rating=10)
    async def triage(request: Request) -> Triage:
        """Routes the request: which intent, which queue, how urgent."""
        return Triage(
            subject=request.subject, intent="damaged_delivery", queue="fulfilment", priority="high", confidence=0.95
        )

    @agent(name="crm", capabilities={"crm"})
    async def crm(request: Request, route: Triage) -> OrderStatus:
        """Reads the order from the CRM (one tool: the CRM's read API)."""
        # Stale state: the CRM's copy of the order was last synced before the carrier's delivery scan.
        status = "in_transit" if variant == "stale-state" else "delivered"
        return OrderStatus(
            subject=request.subject,
            order=request.order,
            status=status,
            source="crm",
            as_of=CRM_SNAPSHOT.version or "",
            confidence=0.9,
            citations=(CRM_SNAPSHOT,),
        )

    @agent(name="warehouse", capabilities={"warehouse"})
    async def warehouse(request: Request, route: Triage) -> OrderStatus:
        """Queries the data warehouse's shipment facts for the order (one tool: a read-only SQL query)."""
        return OrderStatus(
            subject=request.subject,
            order=request.order,
            status="delivered",
            source="warehouse",
            as_of=WAREHOUSE_SNAPSHOT.version or "",
            confidence=0.95,
            citations=(WAREHOUSE_SNAPSHOT,),
        )

    @agent(name="handoff", rating=-10)
    async def handoff(request: Request, route: Triage, statuses: list[OrderStatus]) -> list[Proposal]:
        """Joins the fan-out and proposes one call per tool; the registry makes them, each under its key."""
        status = statuses[-1].status
        cited = tuple(c for s in statuses for c in s.citations)
        confidence = min(s.confidence for s in statuses)
        calls = (
            ("update", f"CRM/Case/{request.subject}", {"Status": "Replacement in progress", "Order_Status": status}),
            (
                "open_ticket",
                f"Ticket/{request.subject}",
                {"Queue": route.queue, "Priority": route.priority, "Summary": f"Replace damaged order {request.order}"},
            ),
            ("record", f"Warehouse/handoffs/{request.subject}", {"Order": request.order, "Intent": route.intent}),
        )
        return [
            Proposal(
                subject=request.subject,
                action=action,
                target=target,
                changes=dict(changes),
                confidence=confidence,
                citations=cited,
            )
            for action, target, changes in calls
        ]

    return (triage, crm, warehouse, handoff)
