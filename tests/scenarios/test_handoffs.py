"""The built-in handoffs scenario (seed 004) and its variants, on real boards: each ends as the article says.

The outside systems (CRM, ticketing, warehouse) keep their records beside the store, so a run killed with SIGKILL
in another process is resumed here and checked against what those systems hold: nothing is created twice.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import AgentRun, Blackboard, Commit, Proposal, scenarios
from slateboard.errors import ToolDeniedError
from slateboard.scenarios import handoffs as h
from slateboard.testing.faults import Faults

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = ("crm", "ticketing", "warehouse")
BOARD = "order-2291"


def held(bb: Blackboard) -> dict[str, list[str]]:
    """The keys each outside system holds a record for."""
    return {system: [r["key"] for r in h.records(bb, system)] for system in SYSTEMS}


def calls(bb: Blackboard) -> dict[str, list[str]]:
    """The keys of every call each outside system received."""
    return {system: h.received(bb, system) for system in SYSTEMS}


def agent_runs(history: tuple[Any, ...]) -> Counter[str]:
    return Counter(e.payload.agent for e in history if isinstance(e.payload, AgentRun))


@pytest.mark.parametrize("variant", h.VARIANTS)
async def test_every_variant_ends_as_expected_and_replays_identically(bb: Blackboard, variant: str) -> None:
    run = await scenarios.get("handoffs", variant).run(bb)
    assert run.problems == []
    outcome = run.check()
    if outcome.status != "committed":
        assert outcome.reasons  # invariant 6
    assert (await run.controller.replay(run.board)).identical
    await run.board.verify()
    before = calls(bb)
    again = await scenarios.get("handoffs", variant).run(bb)  # resumed from the log: nothing new happens
    assert again.outcome.status == outcome.status
    assert len(await again.board.history()) == len(await run.board.history())
    assert calls(bb) == before  # and no outside system is called again


async def test_the_happy_path_updates_the_crm_opens_one_ticket_and_records_in_the_warehouse(bb: Blackboard) -> None:
    run = await scenarios.get("handoffs").run(bb, board=BOARD)
    keys = {c.target: c.key for c in run.outcome.commits}
    assert held(bb) == {
        "crm": [keys[f"CRM/Case/{BOARD}"]],
        "ticketing": [keys[f"Ticket/{BOARD}"]],
        "warehouse": [keys[f"Warehouse/handoffs/{BOARD}"]],
    }
    (ticket,) = h.records(bb, "ticketing")
    assert ticket["changes"] == {"Queue": "fulfilment", "Priority": "high", "Summary": "Replace damaged order SO-2291"}
    receipts = {c.receipt["system"]: c.receipt for c in run.outcome.commits}  # type: ignore[index]
    assert receipts["ticketing"]["id"] == ticket["id"]
    assert not any(r["duplicate"] for r in receipts.values())
    assert agent_runs(await run.board.history()) == {"triage": 1, "crm": 1, "warehouse": 1, "handoff": 1}


async def test_a_timed_out_ticket_call_is_retried_with_the_same_key_and_opens_one_ticket(bb: Blackboard) -> None:
    run = await scenarios.get("handoffs", "timeout").run(bb, board=BOARD)
    (commit,) = [c for c in run.outcome.commits if c.target == f"Ticket/{BOARD}"]
    assert h.received(bb, "ticketing") == [commit.key, commit.key]  # the call landed, timed out, and was repeated
    assert [r["key"] for r in h.records(bb, "ticketing")] == [commit.key]  # yet there is one ticket
    assert commit.attempts == 2
    assert commit.receipt == {"system": "ticketing", "id": "TCK-1", "target": f"Ticket/{BOARD}", "duplicate": True}
    assert calls(bb)["crm"] == held(bb)["crm"]  # the tools that answered were called once


async def test_two_agents_that_disagree_about_the_order_go_to_a_person_and_nothing_is_called(bb: Blackboard) -> None:
    run = await scenarios.get("handoffs", "stale-state").run(bb)
    assert "crm='in_transit'" in run.outcome.reasons[0]
    assert "warehouse='delivered'" in run.outcome.reasons[0]
    assert "handoff" not in agent_runs(await run.board.history())
    assert calls(bb) == {system: [] for system in SYSTEMS}


async def test_a_dead_lettered_warehouse_call_is_retried_once_the_warehouse_is_back(bb: Blackboard) -> None:
    run = await scenarios.get("handoffs", "warehouse-down").run(bb, board=BOARD)
    (dead,) = await run.controller.dead_letters(run.board)
    assert dead.target == f"Warehouse/handoffs/{BOARD}"
    assert held(bb)["warehouse"] == []
    healthy = scenarios.get("handoffs").controller()  # the same definition; the warehouse answers again
    outcome = await healthy.retry(run.board, dead.key)
    assert outcome.status == "committed"
    assert held(bb)["warehouse"] == [dead.key]
    assert calls(bb)["crm"] == held(bb)["crm"]  # the steps that had succeeded were not repeated
    assert calls(bb)["ticketing"] == held(bb)["ticketing"]


def test_the_registry_refuses_a_target_no_tool_is_registered_for() -> None:
    async def main() -> Any:
        with Blackboard.open("memory://") as bb:
            board = bb.board("b")
            controller = scenarios.get("handoffs").controller()
            proposal = Proposal(subject="b", action="update", target="ERP/Order/1", changes={"x": 1}, confidence=1)
            return await controller.committer.commit(board, proposal, "k-1", 1)  # type: ignore[union-attr]

    failure = anyio.run(main)
    assert failure.status == "dead"
    assert "no tool is registered for target 'ERP/Order/1'" in failure.error


@settings(max_examples=8, deadline=None)
@given(hanging=st.sets(st.sampled_from(SYSTEMS)))
def test_whichever_tools_time_out_each_system_holds_one_record_per_call(hanging: set[str]) -> None:
    scenario = h.handoffs()

    async def main() -> tuple[Any, dict[str, list[str]], dict[str, list[str]]]:
        with Blackboard.open("memory://") as bb:
            # The scenario's own wait: a shorter one could also cut short a call that merely started late under load.
            registry = h.ToolRegistry(h.Systems(hang=sorted(hanging)))
            controller = scenario.controller(sink=registry)
            outcome = await controller.run(bb.board(BOARD), *scenario.inputs(BOARD))
            return outcome, held(bb), calls(bb)

    outcome, records, received = anyio.run(main)
    assert outcome.status == "committed"
    for system in SYSTEMS:
        assert len(records[system]) == 1
        assert received[system] == records[system] * (2 if system in hanging else 1)


# --- a run killed with SIGKILL in another process, then resumed here ---------------------------------------------

KILLED_RUN = """
import json, os, sys, traceback
from slateboard import Blackboard
from slateboard.blackboard.stores.base import open_store
from slateboard.scenarios.handoffs import Systems, ToolRegistry, handoffs
from slateboard.errors import ToolDeniedError
from slateboard.testing.faults import Faults

directory, board, points = sys.argv[1], sys.argv[2], sys.argv[3:]
scenario = handoffs("crash")
for point in points:  # one forked child per kill point: imports are paid once
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            faults = Faults(kill_after=int(point))
            with Blackboard(faults.store(open_store(f"sqlite:///{directory}/{point}.db"))) as bb:
                controller = scenario.controller(sink=ToolRegistry(faults.sink(Systems())))
                controller.run_sync(bb.board(board), *scenario.inputs(board))
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"point": point, "returncode": os.waitstatus_to_exitcode(status)}), flush=True)
"""


async def _boundaries(tmp_path: Path) -> list[str]:
    """The write boundaries of an uninterrupted run of the crash variant, in order."""
    scenario = h.handoffs("crash")
    faults = Faults()
    from slateboard.blackboard.stores.base import open_store  # noqa: PLC0415 - only this test opens a store by hand

    with Blackboard(faults.store(open_store(f"sqlite:///{tmp_path / 'reference.db'}"))) as bb:
        controller = scenario.controller(sink=h.ToolRegistry(faults.sink(h.Systems())))
        await controller.run(bb.board(BOARD), *scenario.inputs(BOARD))
    return faults.boundaries


@pytest.mark.slow
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_run_killed_mid_way_resumes_instead_of_restarting_and_creates_nothing_twice(tmp_path: Path) -> None:
    boundaries = await _boundaries(tmp_path)
    applies = [k for k, name in enumerate(boundaries, 1) if name == "sink.apply"]
    assert len(applies) == 3  # CRM, ticket, warehouse, in that order
    ticket_claim = max(k for k, name in enumerate(boundaries[: applies[1]], 1) if name == "ledger.claim")
    points = {
        "agents": 3,  # mid-way through the agents' work, before any tool was called
        "ticket-claimed": ticket_claim,  # the ticket's key is claimed; the ticketing system was not called
        "ticket-opened": applies[1],  # the ticket exists; the registry never heard back
        "last-entry": len(boundaries) - 1,  # everything applied; the final commit entry is not written
    }
    with anyio.fail_after(120):
        command = [sys.executable, "-c", KILLED_RUN, str(tmp_path), BOARD, *map(str, points.values())]
        done = await anyio.run_process(command, cwd=ROOT, check=True)
    codes = {line["point"]: line["returncode"] for line in map(json.loads, done.stdout.decode().splitlines())}
    assert codes == {str(k): -9 for k in points.values()}, done.stderr.decode()[-2000:]

    for name, point in points.items():
        with Blackboard.open(f"sqlite:///{tmp_path / f'{point}.db'}") as bb:
            killed = await bb.board(BOARD).history()
            run = await scenarios.get("handoffs/crash").run(bb, board=BOARD)
            assert run.problems == [], name
            history = await run.board.history()
            assert [e.hash for e in history[: len(killed)]] == [e.hash for e in killed], name  # resumed, not redone
            assert agent_runs(history) == {"triage": 1, "crm": 1, "warehouse": 1, "handoff": 1}, name
            keys = {c.target: c.key for c in run.outcome.commits}
            assert held(bb) == {
                "crm": [keys[f"CRM/Case/{BOARD}"]],
                "ticketing": [keys[f"Ticket/{BOARD}"]],
                "warehouse": [keys[f"Warehouse/handoffs/{BOARD}"]],
            }, name
            commits = [e.payload for e in history if isinstance(e.payload, Commit)]
            assert sorted(c.key for c in commits) == sorted(keys.values()), name  # one Commit entry per key
            assert (await run.controller.replay(run.board)).identical, name
            await run.board.verify()
            if name == "ticket-opened":  # the resumed run repeated the call with the same key: still one ticket
                assert h.received(bb, "ticketing") == [keys[f"Ticket/{BOARD}"]] * 2
                (ticket,) = [c for c in run.outcome.commits if c.target == f"Ticket/{BOARD}"]
                assert ticket.receipt["duplicate"] is True  # type: ignore[index]


async def test_the_read_agents_read_through_the_registry_and_cite_exactly_what_they_read(bb: Blackboard) -> None:
    run = await scenarios.get("handoffs").run(bb, board=BOARD)
    statuses = (await run.board.view()).findings(h.OrderStatus)
    cited = {s.source: [(c.source, c.locator) for c in s.citations] for s in statuses}
    assert cited == {
        "crm": [("tool:crm.order", '{"order":"SO-2291"}')],
        "warehouse": [("tool:warehouse.shipments", '{"order":"SO-2291"}')],
    }
    reads = h.read_tools()
    with pytest.raises(ToolDeniedError, match="'agent:warehouse' may not call it"):
        await reads.reader("warehouse").read("crm.order", {"order": "SO-2291"})
