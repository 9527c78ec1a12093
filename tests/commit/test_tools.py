"""The tool registry: declarations, scopes, schemas, reads with their sources, commits through write tools, dead
letters; and two properties: a retried call never applies twice for one key, and a rate limit is never exceeded."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import pytest
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from slateboard import (
    Blackboard,
    Commit,
    CommitFailure,
    Controller,
    DeadLetter,
    Finding,
    Proposal,
    RateLimit,
    Retry,
    ToolCall,
    ToolRegistry,
    agent,
    policies,
    rules,
)
from slateboard.errors import ConfigurationError, ToolDeniedError, ToolError, ToolRateLimitedError

pytestmark = pytest.mark.anyio


class TicketIn(BaseModel):
    queue: str
    summary: str


class TicketOut(BaseModel):
    id: str
    duplicate: bool = False


class OrderQuery(BaseModel):
    order: str


class OrderOut(BaseModel):
    status: str


class Helpdesk:
    """An outside ticketing system: one ticket per key when `dedupe`, else one per call that lands."""

    def __init__(self, *, dedupe: bool = True) -> None:
        self.dedupe = dedupe
        self.tickets: list[str] = []  # the key of each ticket created
        self.keys: list[str | None] = []  # the key of each call received

    def create(self, key: str | None) -> TicketOut:
        self.keys.append(key)
        if self.dedupe and key in self.tickets:
            return TicketOut(id=f"T-{self.tickets.index(key) + 1}", duplicate=True)
        self.tickets.append(key or "")
        return TicketOut(id=f"T-{len(self.tickets)}")


def ticket_registry(desk: Helpdesk, *, idempotent: bool = True, attempts: int = 3) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool(
        mode="write",
        target="Ticket/",
        scopes=["action:open_ticket"],
        idempotent=idempotent,
        timeout=5,
        retry=Retry(attempts=attempts, backoff=0),
    )
    async def open_ticket(args: TicketIn, call: ToolCall) -> TicketOut:
        """Opens a ticket in the help desk, under the call's idempotency key."""
        return desk.create(call.key)

    return registry


def ticket(subject: str = "c-1", action: str = "open_ticket", **changes: Any) -> Proposal:
    return Proposal(
        subject=subject,
        action=action,
        target=f"Ticket/{subject}",
        changes=changes or {"queue": "fulfilment", "summary": "replace"},
        confidence=1.0,
    )


# --- declarations --------------------------------------------------------------------------------------------------


def test_a_tool_takes_its_schemas_from_its_annotations_and_refuses_what_cannot_work() -> None:
    registry = ticket_registry(Helpdesk())
    (tool,) = registry.tools
    assert (tool.name, tool.input, tool.output, tool.mode, tool.target) == (
        "open_ticket",
        TicketIn,
        TicketOut,
        "write",
        "Ticket/",
    )
    assert tool.takes_call
    assert tool.is_async
    assert tool.description.startswith("Opens a ticket")
    with pytest.raises(ConfigurationError, match="names the target prefix"):

        @registry.tool(mode="write", scopes=["*"])
        def nowhere(args: TicketIn) -> TicketOut: ...

    with pytest.raises(ConfigurationError, match="first parameter must be annotated with a pydantic model"):

        @registry.tool(scopes=["*"])
        def untyped(args: dict[str, Any]) -> OrderOut: ...

    with pytest.raises(ConfigurationError, match="already has a tool named 'open_ticket'"):

        @registry.tool(name="open_ticket", scopes=["*"])
        def again(args: OrderQuery) -> OrderOut: ...

    with pytest.raises(ConfigurationError, match="both commit to target 'Ticket/'"):

        @registry.tool(mode="write", target="Ticket/", scopes=["*"])
        def second(args: TicketIn) -> TicketOut: ...

    with pytest.raises(ConfigurationError, match="timeout must be a positive number"):

        @registry.tool(scopes=["*"], timeout=0)
        def instant(args: OrderQuery) -> OrderOut: ...


# --- commits through write tools ---------------------------------------------------------------------------------


class Case(Finding):
    summary: str


@agent
async def propose(case: Case) -> Proposal:
    return ticket(case.subject, summary=case.summary, queue="fulfilment")


async def test_a_controller_commits_through_the_write_tool_and_its_output_is_the_receipt(bb: Blackboard) -> None:
    desk = Helpdesk()
    registry = ticket_registry(desk)
    controller = Controller(
        agents=[propose], rules=[rules.sufficient(Proposal)], policy=policies.Policy(policies.allow()), sink=registry
    )
    outcome = await controller.run(bb.board("c-1"), Case(subject="c-1", summary="cracked", confidence=1.0))
    assert outcome.status == "committed"
    (commit,) = outcome.commits
    assert commit.sink == "tool-registry"
    assert commit.receipt == {"id": "T-1", "duplicate": False}
    assert desk.keys == [commit.key]  # the tool was told the key it honours


async def test_an_action_outside_the_tools_scopes_is_refused_and_nothing_is_called(bb: Blackboard) -> None:
    desk = Helpdesk()
    registry = ticket_registry(desk)
    settled = await registry.commit(bb.board("c-1"), ticket(action="close_ticket"), "k-1", 1)
    assert isinstance(settled, CommitFailure)
    assert settled.status == "dead"
    assert "'action:close_ticket' may not call it; its scopes allow: action:open_ticket" in settled.error
    assert desk.keys == []
    assert registry.dead_letters == [
        DeadLetter(
            tool="open_ticket",
            caller="action:close_ticket",
            key="k-1",
            input={"queue": "fulfilment", "summary": "replace"},
            error=settled.error,
            attempts=1,
        )
    ]


async def test_changes_that_do_not_match_the_input_schema_are_refused_naming_the_field(bb: Blackboard) -> None:
    desk = Helpdesk()
    settled = await ticket_registry(desk).commit(bb.board("c-1"), ticket(queue="q"), "k-1", 1)
    assert isinstance(settled, CommitFailure)
    assert "tool 'open_ticket': input does not match TicketIn" in settled.error
    assert "summary" in settled.error
    assert desk.keys == []


async def test_a_call_that_keeps_failing_is_retried_by_its_policy_then_dead_lettered(bb: Blackboard) -> None:
    registry = ToolRegistry()
    calls: list[int] = []

    @registry.tool(mode="write", target="CRM/", scopes=["action:*"], retry=Retry(attempts=4, backoff=0))
    def update(args: TicketIn, call: ToolCall) -> TicketOut:
        calls.append(call.attempt)
        raise ConnectionError("CRM answered 503")

    proposal = Proposal(
        subject="s", action="update", target="CRM/1", changes={"queue": "q", "summary": "s"}, confidence=1
    )
    settled = await registry.commit(bb.board("s"), proposal, "k-9", 1)
    assert isinstance(settled, CommitFailure)
    assert (settled.status, settled.attempts) == ("dead", 4)
    assert settled.error == "ConnectionError: CRM answered 503"
    assert len(calls) == 4
    assert [d.key for d in registry.dead_letters] == ["k-9"]


# --- reads ------------------------------------------------------------------------------------------------------------


def read_registry(log: list[str]) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool(scopes=["agent:crm", "agent:support-*"], approved=True)
    async def crm_order(args: OrderQuery) -> OrderOut:
        log.append(args.order)
        return OrderOut(status="delivered")

    @registry.tool(scopes=["agent:crm"])
    def web_search(args: OrderQuery) -> OrderOut:  # sync: runs in a worker thread
        log.append(f"web:{args.order}")
        return OrderOut(status="unknown")

    return registry


async def test_a_reader_cites_exactly_what_it_read_and_approval_comes_from_the_tool_not_the_caller() -> None:
    log: list[str] = []
    reader = read_registry(log).reader("crm")
    assert [t.name for t in reader.tools] == ["crm_order", "web_search"]
    assert await reader.read("crm_order", {"order": "SO-1"}) == OrderOut(status="delivered")
    assert await reader.read("web_search", OrderQuery(order="SO-1")) == OrderOut(status="unknown")
    await reader.read("crm_order", {"order": "SO-1"})  # the same source again: cited once
    assert log == ["SO-1", "web:SO-1", "SO-1"]
    (order, web) = reader.citations
    assert (order.source, order.locator, order.approved) == ("tool:crm_order", '{"order":"SO-1"}', True)
    assert (web.source, web.approved) == ("tool:web_search", False)
    assert reader.cites([order])
    assert not reader.cites([order.model_copy(update={"locator": "SO-2"})])


async def test_a_reader_outside_a_tools_scope_is_refused_and_a_write_tool_cannot_be_read() -> None:
    log: list[str] = []
    registry = read_registry(log)
    assert [t.name for t in registry.reader("support-router").tools] == ["crm_order"]
    with pytest.raises(ToolDeniedError, match="'agent:support-router' may not call it"):
        await registry.reader("support-router").read("web_search", {"order": "SO-1"})
    with pytest.raises(ToolError, match="no such tool; registered: crm_order, web_search"):
        await registry.read("nope", {}, caller="agent:crm")
    assert log == []
    writes = ticket_registry(Helpdesk())
    with pytest.raises(ToolError, match="it is a write tool"):
        await writes.read("open_ticket", {"queue": "q", "summary": "s"}, caller="agent:crm")


async def test_a_read_that_keeps_timing_out_is_retried_then_dead_lettered() -> None:
    registry = ToolRegistry()
    started = 0

    @registry.tool(scopes=["*"], timeout=0.01, retry=Retry(attempts=3, backoff=0))
    async def slow(args: OrderQuery) -> OrderOut:
        nonlocal started
        started += 1
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    with pytest.raises(ToolError, match=r"gave up after 3 attempt\(s\): TimeoutError: tool 'slow': no answer within"):
        await registry.read("slow", {"order": "SO-1"}, caller="agent:a")
    assert started == 3
    assert registry.dead_letters[0].input == {"order": "SO-1"}


def test_a_caller_that_would_wait_longer_than_max_wait_is_refused() -> None:
    registry = ToolRegistry()

    @registry.tool(scopes=["*"], rate=RateLimit(calls=1, per=60, max_wait=1))
    def lookup(args: OrderQuery) -> OrderOut:
        return OrderOut(status="ok")

    async def main() -> None:
        await registry.read("lookup", {"order": "1"}, caller="agent:a")
        with pytest.raises(ToolRateLimitedError, match="no call slot within 1 s"):
            await registry.read("lookup", {"order": "2"}, caller="agent:a")

    anyio.run(main)


# --- properties -----------------------------------------------------------------------------------------------------

# What one call of the tool does: lands and answers; refuses (nothing lands); lands but never answers; hangs
# before landing. The last two look the same to the registry: a timeout whose outcome is unknown.
Behaviour = st.sampled_from(["ok", "refuse", "lost", "hang"])


@settings(max_examples=40, deadline=None)
@given(pattern=st.lists(Behaviour, min_size=1, max_size=5), idempotent=st.booleans(), attempts=st.integers(1, 4))
def test_whatever_the_failure_pattern_a_key_is_applied_at_most_once(
    pattern: list[str], idempotent: bool, attempts: int
) -> None:
    desk = Helpdesk(dedupe=idempotent)  # only a system that honours keys may be called again after a timeout
    behaviours = iter(pattern)
    invoked: list[str] = []
    registry = ToolRegistry()

    @registry.tool(
        mode="write",
        target="Ticket/",
        scopes=["action:*"],
        idempotent=idempotent,
        timeout=0.01,
        retry=Retry(attempts=attempts, backoff=0),
    )
    async def open_ticket(args: TicketIn, call: ToolCall) -> TicketOut:
        behaviour = next(behaviours, "ok")
        invoked.append(behaviour)
        if behaviour == "refuse":
            raise ConnectionError("503")
        if behaviour == "hang":
            await anyio.sleep_forever()
        created = desk.create(call.key)
        if behaviour == "lost":
            await anyio.sleep_forever()
        return created

    async def main() -> Commit | CommitFailure:
        with Blackboard.open("memory://") as bb:
            board = bb.board("c-1")
            first = await registry.commit(board, ticket(), "k-1", 1)
            again = await registry.commit(board, ticket(), "k-1", 1)  # a second commit of the key changes nothing
            assert again == first
            return first

    settled = anyio.run(main)
    assert Counter(desk.tickets)["k-1"] <= 1  # the invariant: never two tickets for one key
    assert set(desk.keys) <= {"k-1"}  # every call carried the same key
    assert len(invoked) <= attempts
    if isinstance(settled, Commit):
        assert desk.tickets == ["k-1"]
    elif not idempotent and settled.status == "in_doubt":
        # An unknown outcome on a tool that does not honour keys stops the calls: a person must check.
        assert invoked[-1] in ("lost", "hang")
        assert set(invoked[:-1]) <= {"refuse"}
    else:
        assert settled.status == "dead"
        assert registry.dead_letters[0].key == "k-1"


@settings(max_examples=30, deadline=None)
@given(
    calls=st.integers(1, 4),
    per=st.sampled_from([0.5, 1.0, 3.0]),
    arrivals=st.lists(st.floats(0, 5), min_size=1, max_size=25),
    durations=st.lists(st.floats(0, 2), min_size=1, max_size=5),
)
def test_a_rate_limit_is_never_exceeded_whatever_the_arrivals(
    calls: int, per: float, arrivals: list[float], durations: list[float]
) -> None:
    registry = ToolRegistry()
    starts: list[float] = []

    @registry.tool(scopes=["*"], rate=RateLimit(calls=calls, per=per), timeout=60)
    async def search(args: OrderQuery) -> OrderOut:
        starts.append(anyio.current_time())
        await anyio.sleep(durations[len(starts) % len(durations)])
        return OrderOut(status="ok")

    async def caller(delay: float, n: int) -> None:
        await anyio.sleep(delay)
        await registry.read("search", {"order": str(n)}, caller="agent:a")

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for n, delay in enumerate(arrivals):
                group.start_soon(caller, delay, n)

    # trio's mock clock jumps ahead whenever every task sleeps: hours of waiting take no time.
    anyio.run(main, backend="trio", backend_options={"clock": trio.testing.MockClock(autojump_threshold=0)})
    assert len(starts) == len(arrivals)  # every caller got its turn
    starts.sort()
    for i in range(len(starts) - calls):
        assert starts[i + calls] - starts[i] >= per - 1e-9, (i, starts)
