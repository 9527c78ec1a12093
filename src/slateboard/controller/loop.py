"""The controller: the control loop, outcomes, replay and what-if.

A cycle is: decide (a decision entry on the board), then, on "continue", run the agenda's agents concurrently
and append every attempt and finding, in a deterministic order (rating, then declaration order), together with the
next decision, taken on them, as one atomic batch: one transaction a cycle (`_advance`). Decisions depend only on
the log, so `replay` re-derives each one from the entries before it.

`iter` is the one loop: it yields each cycle as a `Cycle`, the last one with the run's outcome, and `run` drains
it (the same loop, asked for the last cycle only, so it builds no `Cycle` for the others). Every public coroutine
has a blocking `<name>_sync` twin (`iter_sync` is a plain iterator).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import anyio

from slateboard._internal import telemetry
from slateboard._internal.describe import canonical, describe
from slateboard._internal.sync import sync_iter_twin, sync_twin
from slateboard.agents.registry import AgentRegistry
from slateboard.agents.runner import Attempt, run_agent
from slateboard.agents.spec import Agent, AgentContext
from slateboard.blackboard.board import Blackboard, Board
from slateboard.blackboard.entries import Entry
from slateboard.blackboard.records import Finding, Record
from slateboard.blackboard.stores.base import call_store
from slateboard.blackboard.stores.ledger import LedgerRow
from slateboard.blackboard.view import BoardView
from slateboard.commit.layer import CommitLayer, CommitTarget
from slateboard.controller.batch import BatchCase, BatchProgress, BatchResult, BoardResult, run_many, run_many_sync
from slateboard.controller.commits import CommitSteps
from slateboard.controller.cycle import Cycle
from slateboard.controller.decide import Evaluator, RuleSet
from slateboard.controller.graph import flowchart
from slateboard.controller.outcomes import Difference, Outcome, ReplayReport, build_outcome
from slateboard.controller.retraction import record_retractions
from slateboard.controller.rules import Rule
from slateboard.controller.settle import settle
from slateboard.controller.whatif import whatif
from slateboard.controller.whatif_report import WhatIfReport
from slateboard.errors import ConfigurationError, InvalidFindingError, SlateboardError, StaleVersionError
from slateboard.policies.policy import Policy
from slateboard.state.events import log_entries
from slateboard.state.projection import BoardState
from slateboard.state.records import CONTROLLER, INPUT_AUTHOR, AgentRun, Decision, RunStarted, Settlement, Task, Verdict
from slateboard.state.resume import resumed_state

__all__ = ("CommitTarget", "Controller", "INPUT_AUTHOR")

"""What `Controller(sink=...)` takes: a sink, a sink inside the store's database, or a `CommitLayer` wrapping one."""


class Controller:
    """Runs agents on a board until the rules say the evidence suffices, a person must decide, or it cannot go on."""

    def __init__(
        self,
        agents: Iterable[Agent],
        rules: Sequence[Rule] = (),
        *,
        inputs: Sequence[type[Finding]] | None = None,
        policy: Policy | None = None,
        sink: CommitTarget | None = None,
        scenario: str | None = None,
    ) -> None:
        """`policy` judges proposals once the evidence suffices; `sink` (or a `CommitLayer` wrapping one, for its
        retry and timeout options) is where allowed proposals are applied. A sink without a policy gets the
        default-deny `Policy()`; without either, proposals stay recommendations and a run ends "sufficient".

        `scenario` names the scenario that built this controller (see `Scenario.ref`); it is recorded on the board."""
        self.registry = AgentRegistry(agents)
        self.registry.validate(inputs)
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.ruleset = RuleSet.of(self.rules)  # refuses what is not a rule now, not at the first run
        if policy is not None and not isinstance(policy, Policy):
            raise ConfigurationError(f"policy must be a slateboard.policies.Policy, got {policy!r}")
        if policy is not None and sink is None:
            raise ConfigurationError("a policy needs a sink to commit to: pass sink=sinks.Memory() or another sink")
        self.policy = policy if policy is not None or sink is None else Policy()
        self.committer = sink if isinstance(sink, CommitLayer) or sink is None else CommitLayer(sink)
        self.sink = self.committer.sink if self.committer is not None else None
        self.commits = CommitSteps(self.policy, self.committer, self._state)
        self.fingerprint = _fingerprint(self.registry.agents, self.rules, self.policy)
        self.scenario = scenario
        self._started: tuple[tuple[object, ...], RunStarted] | None = None

    @property
    def agents(self) -> tuple[Agent, ...]:
        return self.registry.agents

    def mermaid(self, *, rules: bool = True) -> str:
        """The controller as a Mermaid flowchart: agents and kinds, and (unless `rules=False`) the rules that judge
        the kinds, what each decides, and the policy's gates before the commit (see slateboard.controller.graph)."""
        return flowchart(self) if rules else self.registry.mermaid()

    async def run(self, board: Board, *inputs: Finding) -> Outcome:
        """Write new `inputs` (ones already on the board are skipped) and run cycles until a final decision.

        A board with entries is resumed from its log: agents never run twice on the same input versions.
        `run` is `iter` drained: the outcome is the one its last cycle carries.
        """
        outcome: Outcome | None = None
        # `iter`'s loop, yielding only the last cycle: no `Cycle` built for the others, nor a round trip through
        # the generators for each.
        with telemetry.start("slateboard.run", board=board.name, scenario=self.scenario) as run:
            async with aclosing(self._cycles(board, inputs, run, each=False)) as cycles:
                async for cycle in cycles:
                    outcome = cycle.outcome
        if outcome is None:  # `iter` ends only after the cycle that carries the outcome
            raise SlateboardError(f"the run of board {board.name!r} ended without a final decision")
        return outcome

    async def iter(self, board: Board, *inputs: Finding) -> AsyncGenerator[Cycle, None]:
        """`run`, one `Cycle` at a time: each decision with the agents it ran and what they wrote.

        The last cycle carries the run's `outcome`. The board is written exactly as `run` writes it (`run` is this
        loop, drained). Leaving the loop early stops the run after the cycle in hand; the board stays resumable
        (wrap the iterator in `contextlib.aclosing` to close it at once rather than when it is collected).
        """
        with telemetry.start("slateboard.run", board=board.name, scenario=self.scenario) as run:
            async with aclosing(self._cycles(board, inputs, run)) as cycles:
                async for cycle in cycles:
                    yield cycle

    async def _cycles(
        self, board: Board, inputs: Sequence[Finding], run: telemetry.Span, *, each: bool = True
    ) -> AsyncGenerator[Cycle, None]:
        """The run's cycles: every one (`each`), or only the last (the one with the outcome)."""
        state, evaluator = await self._load(board)
        await record_retractions(board, state)  # every source retracted so far, before anything is decided
        started = self._run_started()
        while True:  # until the inputs land; another writer may move the board on first
            fresh = await self._new_inputs(board, inputs, state.version)
            last = state.last_decision
            finished = last is not None and last.status != "continue"
            # Nothing new (a finding or a settlement) since a final decision: finish what it began.
            news = max(state.last_finding_version, state.last_answer_version)
            if not fresh and finished and last is not None and news < state.last_decision_version:
                with _cycle_span(run, last, state.last_decision_version) as span:
                    final = await self._final(board, state, last, state.last_decision_version, resumed=True)
                    _ended(span, final, run)
                yield final
                return
            records: list[tuple[Record, str]] = [(i, INPUT_AUTHOR) for i in fresh]
            decision = await self._advance(board, state, evaluator, [*records, (started, CONTROLLER)])
            if decision is not None:
                break
            state, evaluator = await self._load(board)
        step = _Step(state, evaluator, decision)
        while decision.status == "continue":
            version = state.version
            with _cycle_span(run, decision, version) as span:
                landed = await self._work(board, step)
                board_version = step.state.version - 1  # before the decision that follows
                span.set(board_version=board_version, discarded=not landed or None)
            if each:
                yield self._cycle(board, decision, version, await board.view(at=board_version), landed=landed)
            state, decision = step.state, step.decision
        with _cycle_span(run, decision, state.version) as span:
            final = await self._final(board, state, decision, state.version)
            _ended(span, final, run)
        yield final

    async def _work(self, board: Board, step: _Step) -> bool:
        """Run a "continue" decision's agenda; append what the agents did with the next decision (one append).
        Whether what they did landed (False: another writer moved the board on first, and it was dropped)."""
        decision, version = step.decision, step.state.version
        view = await board.view(at=version)  # what the decision was taken on: held in memory, no read
        results = await self._run_agenda(view, decision.agenda, self._left(step.state))
        following = await self._advance(board, step.state, step.evaluator, results)
        landed = following is not None
        while following is None:
            # Another writer got in first: the cycle's results are dropped and its agents run again after the
            # next decision (they are safe to re-run, and a batch must follow the state it was decided on).
            step.state, step.evaluator = await self._load(board)
            following = await self._advance(board, step.state, step.evaluator, [])
        step.decision = following
        return landed

    async def _advance(
        self, board: Board, state: BoardState, evaluator: Evaluator, records: list[tuple[Record, str]]
    ) -> Decision | None:
        """Append `records` and the decision that follows them as one atomic batch (one transaction); None when
        another writer moved the board on first (nothing was written, and `state` is spoilt: load it again).

        The decision is taken on the entries the batch will have (the draft's), exactly as `replay` takes it on
        the entries the log has; it is durable before any agent acts on it.
        """
        draft = board.draft(records, after=state.version)
        for entry in draft.entries:
            state.ingest(entry)
        decision = evaluator.decide(state)
        decided = draft.add(decision, CONTROLLER)
        if decided is None:  # a draft with a known `after` gives every entry
            raise SlateboardError(f"board {board.name!r}: the draft of a cycle has no versions")
        state.ingest(decided)
        try:
            entries = await board.write_draft(draft)
        except StaleVersionError:
            return None
        log_entries(entries)  # one log event per decision, once it is on the board
        return decision

    @staticmethod
    def _cycle(board: Board, decision: Decision, version: int, view: BoardView, *, landed: bool) -> Cycle:
        runs: list[AgentRun] = []
        findings: list[Entry] = []
        for entry in view.since(version) if landed else ():
            if isinstance(entry.payload, AgentRun):
                runs.append(entry.payload)
            else:
                findings.append(entry)
        return Cycle.trusted(
            board.name, decision, version, tuple(runs), tuple(findings), view.version, discarded=not landed
        )

    async def _final(
        self, board: Board, state: BoardState, decision: Decision, version: int, *, resumed: bool = False
    ) -> Cycle:
        outcome = await self._finish(board, state, decision, version)
        return Cycle(
            board=board.name,
            number=decision.cycle,
            decision=decision,
            version=version,
            board_version=state.version,
            resumed=resumed,
            outcome=outcome,
        )

    async def run_many(
        self,
        blackboard: Blackboard,
        cases: Iterable[BatchCase] | AsyncIterable[BatchCase],
        *,
        concurrency: int = 8,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-board limit, not this call's
        progress: bool | BatchProgress = False,
        on_result: Callable[[BoardResult], object] | None = None,
    ) -> BatchResult:
        """Run many boards, at most `concurrency` at once: `cases` are (board name, inputs) pairs, read lazily.

        One board's error or `timeout` is recorded and never stops the others; see slateboard.controller.batch.
        """
        return await run_many(
            self, blackboard, cases, concurrency=concurrency, timeout=timeout, progress=progress, on_result=on_result
        )

    def run_many_sync(
        self,
        blackboard: Blackboard,
        cases: Iterable[BatchCase] | AsyncIterable[BatchCase],
        *,
        concurrency: int = 8,
        timeout: float | None = None,
        progress: bool | BatchProgress = False,
        on_result: Callable[[BoardResult], object] | None = None,
    ) -> BatchResult:
        """`run_many` for scripts and notebooks (Ctrl-C returns what finished)."""
        return run_many_sync(
            self, blackboard, cases, concurrency=concurrency, timeout=timeout, progress=progress, on_result=on_result
        )

    async def approve(
        self, board: Board, key: str, *, reviewer: str, edits: dict[str, Any] | None = None, note: str = ""
    ) -> Outcome:
        """Approve the proposal waiting under `key` (with `edits` to its changes) and commit it, once.

        `ApprovalError` if the key is unknown or already decided; `PolicyError` if a deny rule refuses it now.
        """
        await self.commits.decide(board, key, reviewer=reviewer, approve=True, edits=edits, reason=note)
        return await self.outcome(board)

    async def reject(self, board: Board, key: str, *, reviewer: str, reason: str) -> Outcome:
        """Reject the proposal waiting under `key`, recording `reason`."""
        await self.commits.decide(board, key, reviewer=reviewer, approve=False, reason=reason)
        return await self.outcome(board)

    async def resolve(
        self, board: Board, key: str, *, reviewer: str, applied: bool, receipt: Any = None, note: str = ""
    ) -> Outcome:
        """Settle an in-doubt commit after checking the target: `applied=True` records it (with the `receipt`
        found there); `applied=False` commits it now."""
        await self.commits.resolve(board, key, reviewer=reviewer, applied=applied, receipt=receipt, note=note)
        return await self.outcome(board)

    async def compensate(self, board: Board, key: str, *, reviewer: str, reason: str) -> Outcome:
        """Undo a committed key through the sink's `compensate` (a forward entry; nothing is deleted)."""
        await self.commits.compensate(board, key, reviewer=reviewer, reason=reason)
        return await self.outcome(board)

    async def retry(self, board: Board, key: str) -> Outcome:
        """Commit a dead-lettered key again, with a fresh set of attempts."""
        await self.commits.retry(board, key)
        return await self.outcome(board)

    async def settle(
        self,
        board: Board,
        *,
        reviewer: str,
        choose: int | None = None,
        close: str | None = None,
        finding: Finding | None = None,
        note: str = "",
    ) -> Settlement:
        """Answer the board's escalation: `choose` a finding's version (the conflict's others are set aside), give
        a corrected `finding`, or `close` the case with a reason. The next `run` goes on from the answer."""
        return await settle(board, reviewer=reviewer, choose=choose, close=close, finding=finding, note=note)

    async def dead_letters(self, board: Board) -> list[LedgerRow]:
        """The keys of `board` whose commits failed for good, with their errors (from the store's ledger)."""
        rows = await call_store(board.store.ledger.rows, "dead")
        return [row for row in rows if row.board == board.name]

    async def outcome(self, board: Board) -> Outcome:
        """The board's outcome as the log has it now, without running anything."""
        state = await self._state(board)
        if state.last_decision is None:
            raise ConfigurationError(f"board {board.name!r} has no decision yet: run the controller on it first")
        version = state.last_decision_version
        return build_outcome(board.name, state, state.last_decision, version=version, policy=self.policy)

    async def replay(self, board: Board) -> ReplayReport:
        """Re-derive every decision and verdict from the entries before it, without running anything, and compare."""
        view = await board.view()
        state, evaluator = BoardState(self.agents), Evaluator(self.agents, self.ruleset)
        differences: list[Difference] = []
        decisions, verdicts, same = 0, 0, True
        for entry in view.entries():
            record = entry.payload
            derived: Decision | Verdict | None = None
            if isinstance(record, Decision):
                derived = evaluator.decide(state)
            elif isinstance(record, Verdict):
                derived = await self._rejudge(board, state, record)
                same = same and self.policy is not None and record.policy == self.policy.version
            elif isinstance(record, RunStarted):
                same = same and record.controller == self.fingerprint
            if derived is not None:
                decisions += isinstance(record, Decision)
                verdicts += isinstance(record, Verdict)
                if derived != record:
                    differences.append(Difference(version=entry.version, recorded=record, derived=derived))
            state.ingest(entry)
        return ReplayReport(
            board=board.name,
            decisions=decisions,
            verdicts=verdicts,
            identical=not differences,
            differences=tuple(differences),
            same_controller=same,
        )

    async def whatif(
        self, board: Board, *, policy: Policy | None = None, rules: Sequence[Rule] | None = None
    ) -> WhatIfReport:
        """Re-judge `board` as if it had run under `policy` and/or `rules` (each defaults to this controller's),
        without running any agent or sink and without writing: per decision and per proposal, the recorded and the
        would-be answer, which changed and why (see slateboard.controller.whatif)."""
        return await whatif(self, board, policy=policy, rules=rules)

    # The blocking twins, for scripts and notebooks without an event loop (`iter_sync` is a plain iterator).
    run_sync = sync_twin(run)
    iter_sync = sync_iter_twin(iter)
    approve_sync = sync_twin(approve)
    reject_sync = sync_twin(reject)
    resolve_sync = sync_twin(resolve)
    compensate_sync = sync_twin(compensate)
    retry_sync = sync_twin(retry)
    settle_sync = sync_twin(settle)
    dead_letters_sync = sync_twin(dead_letters)
    outcome_sync = sync_twin(outcome)
    replay_sync = sync_twin(replay)
    whatif_sync = sync_twin(whatif)

    async def _rejudge(self, board: Board, state: BoardState, verdict: Verdict) -> Verdict | None:
        if self.policy is None:
            return None
        return self.policy.evaluate(await board.view(at=verdict.at), verdict.proposal, state=state)

    async def _state(self, board: Board) -> BoardState:
        return await resumed_state(board, self.agents)

    async def _load(self, board: Board) -> tuple[BoardState, Evaluator]:
        return await self._state(board), Evaluator(self.agents, self.ruleset)

    async def _finish(self, board: Board, state: BoardState, decision: Decision, version: int) -> Outcome:
        if decision.status == "sufficient":
            await self.commits.settle(board, state)
        return build_outcome(board.name, state, decision, version=version, policy=self.policy)

    @staticmethod
    async def _new_inputs(board: Board, inputs: Sequence[Finding], version: int) -> list[Finding]:
        # The state's version, which this process holds (no read): had another writer moved the board on since,
        # the append after it fails as stale and the run loads the board again.
        view = await board.view(at=version)
        fresh: list[Finding] = []
        for item in inputs:
            if not isinstance(item, Finding):
                raise InvalidFindingError(type(item).__name__, [("", "controller.run takes findings as inputs")])
            if item not in view.findings(type(item), subject=item.subject) and item not in fresh:
                fresh.append(item)
        return fresh

    def _run_started(self) -> RunStarted:
        """The run start this controller records: the same every run (a frozen record, validated once), unless its
        scenario, agents or rules were set anew since."""
        made = self._started
        if made is not None and made[0] == (self.fingerprint, self.scenario, self.agents, self.rules):
            return made[1]
        started = RunStarted(
            controller=self.fingerprint,
            agents=tuple(a.name for a in self.agents),
            rules=tuple(rule.id for rule in self.rules),
            scenario=self.scenario,
        )
        self._started = ((self.fingerprint, self.scenario, self.agents, self.rules), started)
        return started

    def _left(self, state: BoardState) -> float | None:
        """Seconds before the run's deadline (`rules.budget(deadline=)`), by the log's clock; None without one. The
        runner's watchdog holds every agent to it, so a hung agent cannot keep the run past it."""
        deadline = self.ruleset.budget.deadline
        if deadline is None or state.started_at is None:
            return None
        return deadline - (datetime.now(state.started_at.tzinfo) - state.started_at).total_seconds()

    async def _run_agenda(
        self, view: BoardView, agenda: Sequence[Task], left: float | None = None
    ) -> list[tuple[Record, str]]:
        results: list[list[Attempt]] = [[] for _ in agenda]

        async def run_one(position: int, task: Task) -> None:
            agent = self.registry.get(task.agent)
            results[position] = await run_agent(agent, partial(_arguments, agent, task, view), limit=left)

        if len(agenda) == 1:  # nothing to run beside it: no task group (a task and a cancel scope fewer per cycle)
            task = agenda[0]
            agent = self.registry.get(task.agent)
            results[0] = await run_agent(agent, partial(_arguments, agent, task, view), limit=left)
        else:
            async with anyio.create_task_group() as group:
                for position, task in enumerate(agenda):
                    group.start_soon(run_one, position, task)
        records: list[tuple[Record, str]] = []
        for task, attempts in zip(agenda, results, strict=True):  # the agenda's order, not completion order
            for attempt in attempts:
                run = AgentRun.trusted(
                    task.agent,
                    task.subject,
                    task.inputs,
                    attempt.number,
                    attempt.status,
                    attempt.error,
                    len(attempt.outputs),
                    attempt.usage,
                )
                records.append((run, CONTROLLER))
                records += [(finding, task.agent) for finding in attempt.outputs]
        return records


def _cycle_span(run: telemetry.Span, decision: Decision, version: int) -> telemetry.Span:
    """The span of a cycle's work after its decision at `version`, under the run's."""
    return run.child("slateboard.cycle", version=version, cycle=decision.cycle, decision=decision.status)


def _ended(span: telemetry.Span, cycle: Cycle, run: telemetry.Span) -> None:
    """What the last cycle's span, and the run's, record once it is done."""
    span.set(board_version=cycle.board_version, discarded=cycle.discarded or None)
    if cycle.outcome is not None:
        run.set(outcome=cycle.outcome.status, version=cycle.board_version)


@dataclass
class _Step:
    """Where a run stands between cycles: its state, evaluator and current decision (reloaded after a stale write)."""

    state: BoardState
    evaluator: Evaluator
    decision: Decision


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


def _fingerprint(agents: Sequence[Agent], rules: Sequence[Rule], policy: Policy | None = None) -> str:
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
    parts: list[object] = [described, [describe(r) for r in rules]]
    if policy is not None:
        parts.append(policy.version)
    return hashlib.sha256(canonical(parts).encode()).hexdigest()[:16]
