"""The controller: the control loop, outcomes, and replay.

A cycle is: decide (a decision entry on the board), then, on "continue", run the agenda's agents concurrently
and append every attempt and finding as one atomic batch, in a deterministic order (rating, then declaration
order). Decisions depend only on the log, so `replay` re-derives each one from the entries before it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, Literal

import anyio

from slateboard._sync import run_sync
from slateboard.agents.registry import AgentRegistry
from slateboard.agents.runner import Attempt, run_agent
from slateboard.agents.spec import Agent, AgentContext
from slateboard.blackboard.board import Board
from slateboard.blackboard.records import Finding, FrozenModel, Record
from slateboard.blackboard.view import BoardView
from slateboard.commit.proposal import Proposal
from slateboard.controller.decide import Evaluator, split_rules
from slateboard.controller.records import CONTROLLER, AgentRun, Decision, RunStarted, Task
from slateboard.controller.state import INPUT_AUTHOR, BoardState
from slateboard.errors import InvalidFindingError, StaleVersionError

__all__ = ("Controller", "Outcome", "OutcomeStatus", "ReplayReport", "Difference", "INPUT_AUTHOR")

OutcomeStatus = Literal[
    "committed", "awaiting_approval", "escalated", "rejected", "insufficient", "failed", "sufficient"
]
_STATUS: dict[str, OutcomeStatus] = {
    "sufficient": "sufficient",
    "escalate": "escalated",
    "insufficient": "insufficient",
    "failed": "failed",
}


class Outcome(FrozenModel):
    """How a run ended: `status`, the `reasons` (rule: sentence), the deciding entry, and the proposals."""

    board: str
    status: OutcomeStatus
    reasons: tuple[str, ...]
    decision: Decision
    version: int
    proposals: tuple[Proposal, ...] = ()
    commits: tuple[Record, ...] = ()
    approvals: tuple[Record, ...] = ()


class Difference(FrozenModel):
    """A decision whose replay differs from what was recorded."""

    version: int
    recorded: Decision
    derived: Decision


class ReplayReport(FrozenModel):
    """What `Controller.replay` found: `identical` when every decision re-derives to what was recorded."""

    board: str
    decisions: int
    identical: bool
    differences: tuple[Difference, ...]
    same_controller: bool

    def __str__(self) -> str:
        if self.identical:
            return f"replay of {self.board!r}: {self.decisions} decision(s), all identical"
        first = self.differences[0]
        return (
            f"replay of {self.board!r}: {len(self.differences)} of {self.decisions} decision(s) differ; first at "
            f"v{first.version}: recorded {first.recorded.status}, derived {first.derived.status}"
        )


class Controller:
    """Runs agents on a board until the rules say the evidence suffices, a person must decide, or it cannot go on."""

    def __init__(
        self,
        agents: Iterable[Agent],
        rules: Sequence[object] = (),
        *,
        inputs: Sequence[type[Finding]] | None = None,
    ) -> None:
        self.registry = AgentRegistry(agents)
        self.registry.validate(inputs)
        self.rules = tuple(rules)
        split_rules(self.rules)  # refuse what is not a rule now, not at the first run
        self.fingerprint = _fingerprint(self.registry.agents, self.rules)

    @property
    def agents(self) -> tuple[Agent, ...]:
        return self.registry.agents

    def mermaid(self) -> str:
        """The agents and kinds as a Mermaid flowchart."""
        return self.registry.mermaid()

    async def run(self, board: Board, *inputs: Finding) -> Outcome:
        """Write new `inputs` (ones already on the board are skipped) and run cycles until a final decision.

        A board with entries is resumed from its log: agents never run twice on the same input versions.
        """
        state, evaluator = await self._load(board)
        started = RunStarted(
            controller=self.fingerprint,
            agents=tuple(a.name for a in self.agents),
            rules=tuple(getattr(r, "id", "budget") for r in self.rules),
        )
        while True:  # until the inputs land; another writer may move the board on first
            fresh = await self._new_inputs(board, inputs)
            last = state.last_decision
            finished = last is not None and last.status != "continue"
            if not fresh and finished and last is not None and state.version == state.last_decision_version:
                return self._outcome(board.name, state, last, state.last_decision_version)
            if await self._append(board, state, [(i, INPUT_AUTHOR) for i in fresh] + [(started, CONTROLLER)]):
                break
        while True:
            decision = evaluator.decide(state)
            if not await self._append(board, state, [(decision, CONTROLLER)]):
                continue  # another writer moved the board on: decide again on what it wrote
            if decision.status != "continue":
                return self._outcome(board.name, state, decision, state.version)
            view = await board.view()
            # If another writer got in first, the cycle's results are dropped and its agents run again after
            # the next decision: they are safe to re-run, and a batch must follow the state it was decided on.
            await self._append(board, state, await self._run_agenda(view, decision.agenda))

    def run_sync(self, board: Board, *inputs: Finding) -> Outcome:
        """`run` for scripts and notebooks without an event loop."""
        return run_sync(self.run, board, *inputs)

    async def replay(self, board: Board) -> ReplayReport:
        """Re-derive every decision from the entries before it, without running any agent, and compare."""
        view = await board.view()
        state, evaluator = BoardState(self.agents), Evaluator(self.agents, self.rules)
        differences, decisions, same = [], 0, True
        for entry in view.entries():
            record = entry.payload
            if isinstance(record, Decision):
                decisions += 1
                derived = evaluator.decide(state)
                if derived != record:
                    differences.append(Difference(version=entry.version, recorded=record, derived=derived))
            elif isinstance(record, RunStarted):
                same = same and record.controller == self.fingerprint
            state.ingest(entry)
        return ReplayReport(
            board=board.name,
            decisions=decisions,
            identical=not differences,
            differences=tuple(differences),
            same_controller=same,
        )

    async def _load(self, board: Board) -> tuple[BoardState, Evaluator]:
        state, evaluator = BoardState(self.agents), Evaluator(self.agents, self.rules)
        view = await board.view()
        for entry in view.entries():
            state.ingest(entry)
        return state, evaluator

    @staticmethod
    async def _new_inputs(board: Board, inputs: Sequence[Finding]) -> list[Finding]:
        view = await board.view()
        fresh: list[Finding] = []
        for item in inputs:
            if not isinstance(item, Finding):
                raise InvalidFindingError(type(item).__name__, [("", "controller.run takes findings as inputs")])
            if item not in view.findings(type(item), subject=item.subject) and item not in fresh:
                fresh.append(item)
        return fresh

    @staticmethod
    async def _append(board: Board, state: BoardState, records: list[tuple[Record, str]]) -> bool:
        """Append after the state's version; on a stale board, take in the other writer's entries and say so."""
        try:
            entries = await board.write_each(records, expected_version=state.version)
        except StaleVersionError:
            view = await board.view()
            for entry in view.since(state.version):
                state.ingest(entry)
            return False
        for entry in entries:
            state.ingest(entry)
        return True

    async def _run_agenda(self, view: BoardView, agenda: Sequence[Task]) -> list[tuple[Record, str]]:
        results: list[list[Attempt]] = [[] for _ in agenda]

        async def run_one(position: int, task: Task) -> None:
            agent = self.registry.get(task.agent)
            results[position] = await run_agent(agent, partial(_arguments, agent, task, view))

        async with anyio.create_task_group() as group:
            for position, task in enumerate(agenda):
                group.start_soon(run_one, position, task)
        records: list[tuple[Record, str]] = []
        for task, attempts in zip(agenda, results, strict=True):  # the agenda's order, not completion order
            for attempt in attempts:
                run = AgentRun(
                    agent=task.agent,
                    subject=task.subject,
                    inputs=task.inputs,
                    attempt=attempt.number,
                    status=attempt.status,
                    error=attempt.error,
                    outputs=len(attempt.outputs),
                )
                records.append((run, CONTROLLER))
                records += [(finding, task.agent) for finding in attempt.outputs]
        return records

    @staticmethod
    def _outcome(board: str, state: BoardState, decision: Decision, version: int) -> Outcome:
        proposals = tuple(p for v in state.proposals if isinstance(p := state.findings[v], Proposal))
        return Outcome(
            board=board,
            status=_STATUS[decision.status],
            reasons=tuple(map(str, decision.reasons)),
            decision=decision,
            version=version,
            proposals=proposals,
        )


def _arguments(agent: Agent, task: Task, view: BoardView, attempt: int) -> dict[str, Any]:
    versions = iter(task.inputs)
    arguments: dict[str, Any] = {}
    for param in agent.params:
        if param.role == "view":
            arguments[param.name] = view
        elif param.role == "context":
            arguments[param.name] = AgentContext(agent=agent.name, subject=task.subject, attempt=attempt, view=view)
        else:
            found = [view.entry(v).payload for v in next(versions)]
            arguments[param.name] = found[0] if param.role == "one" else found
    return arguments


def _fingerprint(agents: Sequence[Agent], rules: Sequence[object]) -> str:
    described = [
        [
            a.name,
            [k.kind_name for k in a.inputs],
            [k.kind_name for k in a.outputs],
            a.rating,
            a.retries,
            a.timeout,
            sorted(a.capabilities),
            a.when is not None,
        ]
        for a in agents
    ]
    canonical = json.dumps([described, [_describe(r) for r in rules]], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _describe(rule: object) -> object:
    """A rule's parameters in a form that is the same in every process (functions by name, kinds by kind name)."""
    if not dataclasses.is_dataclass(rule):
        return repr(rule)
    described: dict[str, object] = {"rule": type(rule).__name__}
    for item in dataclasses.fields(rule):
        value = getattr(rule, item.name)
        if isinstance(value, type) and issubclass(value, Record):
            value = value.kind_name
        elif callable(value):
            value = getattr(value, "__qualname__", type(value).__name__)
        described[item.name] = value
    return described
