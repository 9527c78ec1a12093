"""Handoffs (seed 004): one customer request through CRM, ticketing and warehouse tools behind a tool registry.

The article's three primitives, as slateboard runs them: the board is the shared context store and the workflow
state machine (every step, attempt and result is an entry, so a crashed run resumes instead of restarting); the
`ToolRegistry` is the tool registry: every write to an outside system goes through it with an idempotency key,
a timeout and a retry policy, and it dispatches by the target's prefix (`CRM/`, `Ticket/`, `Warehouse/`) to three
outside systems (`Systems`) that each ignore a key they have already seen. A tool call that times out is retried
with the same key and creates no second ticket; a step that exhausts its retries is dead-lettered. Agents only
read the systems' snapshots, through read tools of a registry too (scoped to each agent, rate-limited, and cited
as what was read), and propose; two of them that disagree about the truth go to a person.

The outside systems keep their records where a run in another process finds them again: beside a SQLite store,
one SQLite file per system in the directory `<database>.systems/`; for a memory store, in this process's memory
for as long as the store lives. `records(blackboard, "ticketing")` reads what a system holds.

Variants: happy, timeout, crash, stale-state, warehouse-down.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Literal

from pydantic import BaseModel, ConfigDict

from slateboard import policies
from slateboard.agents.spec import Agent, agent
from slateboard.blackboard.records import Finding
from slateboard.commit import tools
from slateboard.controller import rules
from slateboard.errors import ScenarioError
from slateboard.scenarios.handoffs_systems import (
    SYSTEMS,
    CrmUpdate,
    Receipt,
    Systems,
    TicketRequest,
    ToolRegistry,
    WarehouseRow,
    received,
    records,
)
from slateboard.scenarios.model import Expectation, Scenario
from slateboard.state.proposal import Proposal

__all__ = (
    "VARIANTS",
    "SYSTEMS",
    "handoffs",
    "ToolRegistry",
    "Systems",
    "CrmUpdate",
    "TicketRequest",
    "WarehouseRow",
    "Receipt",
    "records",
    "received",
    "Request",
    "Triage",
    "OrderStatus",
)

VARIANTS = ("happy", "timeout", "crash", "stale-state", "warehouse-down")


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


ORDER = "SO-2291"
CRM_SYNC = "sync 2026-05-02T06:00"  # when the CRM's copy of the order was last synced
WAREHOUSE_AS_OF = "2026-05-03T09:15"  # the warehouse's shipment facts, as of


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


class OrderQuery(BaseModel):
    """Which order to look up."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    order: str


class OrderRecord(BaseModel):
    """An order's status as one system has it, as of its snapshot."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    status: Literal["processing", "in_transit", "delivered", "returned"]
    as_of: str


def read_tools(variant: str = "happy") -> tools.ToolRegistry:
    """The read side of the registry: the CRM's order API for the crm agent, the warehouse's shipment facts for
    the warehouse agent (each scoped to its agent and rate-limited); what they return is what the agents cite."""
    reads = tools.ToolRegistry(name="handoffs-reads")
    limit = tools.RateLimit(calls=20, per=1.0)

    @reads.tool(name="crm.order", scopes=["agent:crm"], rate=limit, timeout=5)
    async def crm_order(args: OrderQuery) -> OrderRecord:
        """The order as the CRM has it: its copy as of the last sync."""
        # Stale state: the CRM's copy of the order was last synced before the carrier's delivery scan.
        status = "in_transit" if variant == "stale-state" else "delivered"
        return OrderRecord(status=status, as_of=CRM_SYNC)

    @reads.tool(name="warehouse.shipments", scopes=["agent:warehouse"], rate=limit, timeout=5)
    async def shipments(args: OrderQuery) -> OrderRecord:
        """The shipment facts of the data warehouse for the order."""
        return OrderRecord(status="delivered", as_of=WAREHOUSE_AS_OF)

    return reads


def _agents(variant: str) -> tuple[Agent, ...]:
    @agent(name="triage", rating=10)
    async def triage(request: Request) -> Triage:
        """Routes the request: which intent, which queue, how urgent."""
        return Triage(
            subject=request.subject, intent="damaged_delivery", queue="fulfilment", priority="high", confidence=0.95
        )

    reads = read_tools(variant)

    @agent(name="crm", capabilities={"crm"})
    async def crm(request: Request, route: Triage) -> OrderStatus:
        """Reads the order from the CRM (one tool: the CRM's read API, through the registry)."""
        reader = reads.reader("crm")
        order = OrderRecord.model_validate(await reader.read("crm.order", OrderQuery(order=request.order)))
        return OrderStatus(
            subject=request.subject,
            order=request.order,
            status=order.status,
            source="crm",
            as_of=order.as_of,
            confidence=0.9,
            citations=reader.citations,  # what it read, and nothing else
        )

    @agent(name="warehouse", capabilities={"warehouse"})
    async def warehouse(request: Request, route: Triage) -> OrderStatus:
        """Queries the data warehouse's shipment facts for the order (one tool: a read-only query)."""
        reader = reads.reader("warehouse")
        order = OrderRecord.model_validate(await reader.read("warehouse.shipments", OrderQuery(order=request.order)))
        return OrderStatus(
            subject=request.subject,
            order=request.order,
            status=order.status,
            source="warehouse",
            as_of=order.as_of,
            confidence=0.95,
            citations=reader.citations,
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
