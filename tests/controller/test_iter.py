"""Stepping through a run (`Controller.iter`): one `Cycle` per decision, the same log as `run`, resumable."""

import importlib.util
from contextlib import aclosing
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from slateboard import AgentRun, Blackboard, Board, Controller, Decision, Proposal, agent, policies, rules, sinks
from slateboard.controller import Cycle
from tests.controller.kinds import Case, Entitlement, Intake, PolicyCheck, case, crm_entitlement, knowledge, proposer

pytestmark = pytest.mark.anyio
EXAMPLE = Path(__file__).parents[2] / "examples" / "03_step_through_a_run.py"

RULES = [rules.sufficient(Entitlement, min_confidence=0.8), rules.sufficient(PolicyCheck), rules.sufficient(Proposal)]


def controller(**options: Any) -> Controller:
    return Controller([crm_entitlement, knowledge, proposer], RULES, **options)


def logged(history: tuple[Any, ...]) -> list[tuple[int, str, Any]]:
    """What a log says, without the times and hashes that differ between two boards."""
    return [(e.version, e.author, e.payload) for e in history]


async def collect(iterator: Any) -> list[Cycle]:
    return [cycle async for cycle in iterator]


async def test_each_cycle_is_a_decision_with_the_runs_and_findings_that_followed_it() -> None:
    with Blackboard.open("memory://") as bb:
        board = bb.board("c")
        cycles = await collect(controller().iter(board, case("c")))
        history = await board.history()

    assert [c.number for c in cycles] == [1, 2, 3, 4]
    assert [c.decision.status for c in cycles] == ["continue", "continue", "continue", "sufficient"]
    for cycle in cycles:
        assert history[cycle.version - 1].payload == cycle.decision  # `version` is the decision's entry
        written = history[cycle.version : cycle.board_version]
        if cycle.outcome is None:
            assert cycle.runs == tuple(e.payload for e in written if isinstance(e.payload, AgentRun))
            assert cycle.findings == tuple(e for e in written if not isinstance(e.payload, AgentRun))
    assert [r.agent for c in cycles for r in c.runs] == ["crm_entitlement", "knowledge", "proposer"]
    assert [e.author for c in cycles for e in c.findings] == ["crm_entitlement", "knowledge", "proposer"]
    assert [type(e.payload) for e in cycles[0].findings] == [Entitlement]
    assert [c.final for c in cycles] == [False, False, False, True]
    assert cycles[-1].board_version == len(history)
    assert str(cycles[0]) == "cycle 1 (v3, continue): 1 agent run(s), 1 finding(s) -> v5"


async def test_run_is_iter_drained_and_writes_the_same_log() -> None:
    with Blackboard.open("memory://") as bb:
        outcome = await controller().run(bb.board("ran"), case("c"))
        cycles = await collect(controller().iter(bb.board("stepped"), case("c")))
        ran, stepped = await bb.board("ran").history(), await bb.board("stepped").history()
    assert logged(stepped) == logged(ran)
    final = cycles[-1].outcome
    assert final is not None
    assert final.model_dump(exclude={"board"}) == outcome.model_dump(exclude={"board"})
    assert all(c.outcome is None for c in cycles[:-1])


async def test_the_last_cycle_carries_the_outcome_after_the_commits() -> None:
    sink = sinks.Memory()
    stepper = controller(policy=policies.Policy(policies.allow()), sink=sink)
    with Blackboard.open("memory://") as bb:
        board = bb.board("c")
        cycles = await collect(stepper.iter(board, case("c")))
        head = (await board.view()).version
    last = cycles[-1]
    assert last.outcome is not None
    assert last.outcome.status == "committed"
    assert len(sink.applied) == 1
    assert last.board_version == head > last.version  # the verdict and the commit came after the decision


async def test_a_finished_board_yields_one_resumed_cycle_and_writes_nothing() -> None:
    with Blackboard.open("memory://") as bb:
        board = bb.board("c")
        first = await controller().run(board, case("c"))
        before = (await board.view()).version
        (again,) = await collect(controller().iter(board, case("c")))
        assert (await board.view()).version == before
    assert again.resumed
    assert again.decision == first.decision
    assert again.version == first.version
    assert (again.runs, again.findings) == ((), ())
    assert again.outcome is not None
    assert again.outcome.status == first.status
    assert "resumed" in str(again)


async def test_leaving_the_loop_early_leaves_a_board_that_resumes_without_rerunning_anything() -> None:
    with Blackboard.open("memory://") as bb:
        board = bb.board("c")
        async with aclosing(controller().iter(board, case("c"))) as steps:
            async for cycle in steps:
                assert cycle.number == 1
                break
        outcome = await controller().run(board, case("c"))
        history = await board.history()
    assert outcome.status == "sufficient"
    runs = [e.payload.agent for e in history if isinstance(e.payload, AgentRun)]
    assert runs == ["crm_entitlement", "knowledge", "proposer"]  # each once, across the two calls


async def test_a_cycle_whose_board_moved_on_is_discarded_and_its_agent_runs_again() -> None:
    calls: list[int] = []
    boards: dict[str, Board] = {}

    @agent(name="intake")
    async def intake(case: Case) -> Intake:
        calls.append(len(calls) + 1)
        if len(calls) == 1:  # another writer gets in while this agent works
            await boards["c"].write(Intake(subject="other", category="x", confidence=1.0), author="someone")
        return Intake(subject=case.subject, category="warranty", confidence=1.0)

    with Blackboard.open("memory://") as bb:
        boards["c"] = bb.board("c")
        cycles = await collect(Controller([intake], [rules.sufficient(Intake)]).iter(boards["c"], case("c")))
        history = await boards["c"].history()
    first, second = cycles[0], cycles[1]
    assert first.discarded
    assert (first.runs, first.findings) == ((), ())
    assert first.board_version == first.version + 1  # only the other writer's entry
    assert "discarded" in str(first)
    assert not second.discarded
    assert [r.status for r in second.runs] == ["ok"]
    assert len(calls) == 2
    assert sum(isinstance(e.payload, AgentRun) for e in history) == 1  # the discarded attempt left no trace


async def test_iter_sync_steps_through_a_run_from_sync_code() -> None:
    def steps(board: Board) -> list[Cycle]:
        return list(controller().iter_sync(board, case("c")))

    with Blackboard.open("memory://") as bb:
        board = bb.board("c")
        cycles = await anyio.to_thread.run_sync(steps, board)  # a thread without an event loop
        decisions = [e.payload for e in await board.history() if isinstance(e.payload, Decision)]
    assert [c.decision for c in cycles] == decisions
    assert cycles[-1].outcome is not None


def test_iter_sync_can_stop_early_and_resume() -> None:
    with Blackboard.open("memory://") as bb:
        board = bb.board("c")
        for cycle in controller().iter_sync(board, case("c")):
            first = cycle
            break
        assert first.number == 1
        outcome = controller().run_sync(board, case("c"))
        runs = [e.payload for e in board.history_sync() if isinstance(e.payload, AgentRun)]
    assert outcome.status == "sufficient"
    assert len(runs) == 3


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("step_through_a_run", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_notebook_example_steps_a_scenario_inside_a_running_event_loop() -> None:
    example = load_example()
    with Blackboard.open("memory://") as bb:
        outcome = await example.step_through(bb)  # what a notebook's cells do with top-level await
        assert outcome.status == "committed"
        # A notebook already runs an event loop in this thread: run_sync cannot start one, iter_sync still works.
        cycles = example.step_through_sync(bb)
        with pytest.raises(RuntimeError):
            controller().run_sync(bb.board("other"), case("other"))
    assert [c.decision.status for c in cycles][-1] == "sufficient"
    assert cycles[-1].outcome is not None
    assert cycles[-1].outcome.status == "awaiting_approval"
