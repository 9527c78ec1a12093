"""Workflow metrics across the boards of a store: how many cases went to a person and why, what each agent's
attempts came to and how long they took, how well findings cite their sources, what people approved or rejected,
and what was committed, dead-lettered, left in doubt or rolled back (docs/metrics.md).

Everything is computed from the stored rows, never from the finding classes: a store written by code that is not
importable here (its kinds unknown) still yields every metric. Only slateboard's own records (agent attempts,
decisions, verdicts, approvals, commits) and proposals (slateboard.observe.rows) are decoded; findings are read as
the JSON they were stored as. Where each idempotency key stands is the controller's own fold
(`slateboard.state.keys.KeyBook`), fed from the rows, so a key counts here as the run's outcome reports it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from slateboard.blackboard.board import Blackboard
from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.records import FrozenModel, Record, decode_record
from slateboard.errors import InvalidFindingError, UnknownFindingKindError
from slateboard.observe.costs import CostMetrics, cost_metrics
from slateboard.observe.rows import board_rows, take
from slateboard.state.keys import KeyBook, KeyState
from slateboard.state.records import (
    COMMIT_LAYER,
    CONTROLLER,
    INPUT_AUTHOR,
    AgentRun,
    ApprovalDecision,
    ApprovalRequest,
    Commit,
    CommitFailure,
    Compensation,
    Decision,
    DoubtResolved,
    Verdict,
)
from slateboard.state.vocabulary import AGENT_RUN_STATUSES

__all__ = (
    "WorkflowMetrics", "BoardMetrics", "AgentMetrics", "CycleTime", "CitationMetrics", "ApprovalMetrics",
    "CommitMetrics", "CostMetrics", "collect", "metrics", "STATUSES",
)  # fmt: skip

STATUSES = AGENT_RUN_STATUSES  # AgentRun.status, in this order
_KINDS: tuple[type[Record], ...] = (
    AgentRun, Decision, Verdict, ApprovalRequest, ApprovalDecision, Commit, CommitFailure, Compensation, DoubtResolved,
)  # fmt: skip
_RECORDS = {cls.kind_name: cls for cls in _KINDS}  # the only rows decoded: slateboard's own, always importable
_NOT_AGENTS = frozenset({INPUT_AUTHOR, CONTROLLER, COMMIT_LAYER})


class BoardMetrics(FrozenModel):
    """The boards counted, and how many a person had to look at.

    A board is routed to a person when its last decision escalated, a verdict escalated one of its proposals, a
    proposal waited for approval, or a commit was in doubt. `last_decision` counts boards by the status of their
    last decision ("none" for a board without one); `escalations` counts the rules behind each escalation.
    """

    total: int
    routed_to_person: int
    routed_share: float | None
    last_decision: dict[str, int]
    escalations: dict[str, int]


class CycleTime(FrozenModel):
    """Seconds from the decision that scheduled a task to the entry recording its attempts, over `measured` tasks.

    An upper bound on the agent's latency: it includes the controller's work between the two entries and, when
    agents run concurrently, the wait for the slowest agent of the same batch.
    """

    measured: int = 0
    mean_seconds: float | None = None
    max_seconds: float | None = None


class AgentMetrics(FrozenModel):
    """One agent's attempts: `by_status` has every status of `STATUSES`; `failures` are the attempts that were not
    "ok"; `timeout_rate` is the retrieval miss rate for a retrieval agent; `retries` the attempts after a first."""

    agent: str
    attempts: int
    by_status: dict[str, int]
    failures: int
    failure_rate: float
    timeouts: int
    timeout_rate: float
    retries: int
    cycle_time: CycleTime
    model_attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    unpriced: int = 0


class CitationMetrics(FrozenModel):
    """Findings written by agents (proposals included): how many cite a source, and an approved one."""

    findings: int
    cited: int
    approved_cited: int
    coverage: float | None
    approved_coverage: float | None


class ApprovalMetrics(FrozenModel):
    """Proposals put to a person, and policy refusals: `pending` are the keys awaiting approval now.

    `approval_rate` is approved / decided; `correction_rate` is approved with edits / approved. `rejection_reasons`
    counts the reasons reviewers gave; `denied_by_rule` counts the deciding rules of the policy's deny verdicts.
    """

    requested: int
    approved: int
    rejected: int
    pending: int
    edited: int
    approval_rate: float | None
    correction_rate: float | None
    rejection_reasons: dict[str, int]
    denied_by_rule: dict[str, int]


class CommitMetrics(FrozenModel):
    """Idempotency keys by where they ended: applied to a sink (ever: a commit, or a person found it applied),
    dead-lettered or in doubt (now), doubted (ever), compensated. `rollback_rate` is compensated / applied; `sinks`
    counts the keys each sink's commits name."""

    applied: int
    dead_lettered: int
    in_doubt: int
    doubted: int
    compensated: int
    rollback_rate: float | None
    sinks: dict[str, int]


class WorkflowMetrics(FrozenModel):
    """The workflow metrics of a set of boards (`collect`, `metrics`); `unreadable` counts slateboard records whose
    payload did not validate, which every metric skips."""

    entries: int
    unreadable: int
    boards: BoardMetrics
    agents: tuple[AgentMetrics, ...]
    citations: CitationMetrics
    approvals: ApprovalMetrics
    commits: CommitMetrics
    cost: CostMetrics = CostMetrics()


@dataclass
class _Agent:
    statuses: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    model_attempts: int = 0
    tokens: tuple[int, int] = (0, 0)
    cost: float | None = None
    unpriced: int = 0
    measured: int = 0
    seconds: float = 0.0  # summed, with the longest: a mean and a max need no list of every task
    longest: float | None = None


@dataclass
class _Tally:
    """Running totals, one board at a time (so a large store is never held in memory at once)."""

    entries: int = 0
    unreadable: int = 0
    boards: int = 0
    routed: int = 0
    last_decision: Counter[str] = field(default_factory=Counter)
    escalations: Counter[str] = field(default_factory=Counter)
    agents: dict[str, _Agent] = field(default_factory=dict)
    findings: int = 0
    cited: int = 0
    approved_cited: int = 0
    keys: Counter[str] = field(default_factory=Counter)  # idempotency keys by what happened to them
    sinks: Counter[str] = field(default_factory=Counter)
    rejection_reasons: Counter[str] = field(default_factory=Counter)
    denied_by_rule: Counter[str] = field(default_factory=Counter)
    completed: int = 0
    completed_cost: float = 0.0
    board_cost: float = 0.0

    def add(self, rows: Sequence[StoredEntry]) -> None:
        """Count one board's rows (all of them, in version order)."""
        self.entries += len(rows)
        self.boards += 1
        book = KeyBook()
        last: Decision | None = None
        scheduled: dict[tuple[str, str], datetime] = {}
        runners: set[str] = set()
        reviewers: set[str] = set()
        self.board_cost = 0.0
        for row in rows:
            record = self._decode(row) if row.kind in _RECORDS else None
            if isinstance(record, Decision):
                last = record
                self._schedule(scheduled, record, row)
            elif isinstance(record, AgentRun):
                runners.add(record.agent)
                self._attempt(scheduled, record, row)
            else:
                take(book, row, record)
                reviewers.update({str(getattr(record, "reviewer", ""))} - {""})
        self._cite(rows, runners - reviewers - _NOT_AGENTS)
        keys = book.keys.values()
        self._route(last, keys)
        self._count(keys)
        if last is not None and last.status != "continue":
            self.completed += 1
            self.completed_cost += self.board_cost

    def _decode(self, row: StoredEntry) -> Record | None:
        try:
            return decode_record(row.kind, row.schema_version, row.payload, where=f"{row.board} v{row.version}")
        except (UnknownFindingKindError, InvalidFindingError):
            self.unreadable += 1
            return None

    @staticmethod
    def _schedule(scheduled: dict[tuple[str, str], datetime], decision: Decision, row: StoredEntry) -> None:
        at = _time(row.recorded_at)
        if decision.status == "continue" and at is not None:
            scheduled.update({(task.agent, task.subject): at for task in decision.agenda})

    def _attempt(self, scheduled: dict[tuple[str, str], datetime], run: AgentRun, row: StoredEntry) -> None:
        found = self.agents.setdefault(run.agent, _Agent())
        found.statuses[run.status] += 1
        found.retries += run.attempt > 1
        if run.usage is not None:
            usage = run.usage
            found.model_attempts += 1
            found.tokens = (found.tokens[0] + usage.input_tokens, found.tokens[1] + usage.output_tokens)
            if usage.cost is None:
                found.unpriced += 1
            else:
                found.cost = (found.cost or 0.0) + usage.cost
                self.board_cost += usage.cost
        # One measurement per scheduled task: its retries are in the same batch, so the first attempt's entry
        # already covers them all.
        start, end = scheduled.pop((run.agent, run.subject), None), _time(row.recorded_at)
        if start is not None and end is not None and end >= start:
            took = (end - start).total_seconds()
            found.measured += 1
            found.seconds += took
            found.longest = took if found.longest is None else max(found.longest, took)

    def _cite(self, rows: Sequence[StoredEntry], agents: set[str]) -> None:
        for row in rows:
            if row.author not in agents or row.kind in _RECORDS:
                continue
            try:
                payload = json.loads(row.payload)
            except json.JSONDecodeError:
                continue
            citations = payload.get("citations") if isinstance(payload, dict) else None
            if not isinstance(citations, list):
                continue
            self.findings += 1
            self.cited += bool(citations)
            self.approved_cited += any(isinstance(c, dict) and c.get("approved") is True for c in citations)

    def _route(self, last: Decision | None, keys: Iterable[KeyState]) -> None:
        self.last_decision[last.status if last is not None else "none"] += 1
        escalated = last is not None and last.status == "escalate"
        if last is not None and escalated:
            self.escalations.update(r.rule for r in last.reasons if r.rule != "agenda")
        routed = False
        for key in keys:
            verdict = key.verdict
            if verdict is not None and verdict.outcome == "escalate":
                escalated = True
                self.escalations.update(v.rule for v in verdict.reasons if v.effect == "escalate")
            if verdict is not None and verdict.outcome == "deny":
                self.denied_by_rule.update(v.rule for v in verdict.reasons if v.effect == "deny")
            if key.decision is not None and key.decision.decision == "rejected":
                self.rejection_reasons[key.decision.reason] += 1
            routed |= key.request is not None or key.doubted
        self.routed += escalated or routed

    def _count(self, keys: Iterable[KeyState]) -> None:
        for key in keys:
            decided = key.decision.decision if key.decision is not None else None
            status, applied = key.status, key.applied
            edited = key.decision is not None and decided == "approved" and bool(key.decision.edits)
            self.keys.update(
                requested=key.request is not None, approved=decided == "approved", rejected=decided == "rejected",
                pending=status == "awaiting_approval", edited=edited, applied=applied, dead=status == "failed",
                in_doubt=status == "in_doubt", doubted=key.doubted,
                compensated=applied and key.compensated,  # an undo of nothing applied is no rollback
            )  # fmt: skip
            self.sinks.update(key.sinks)

    def result(self) -> WorkflowMetrics:
        """The metrics of every board added so far."""
        k = self.keys
        return WorkflowMetrics(
            entries=self.entries,
            unreadable=self.unreadable,
            boards=BoardMetrics(
                total=self.boards,
                routed_to_person=self.routed,
                routed_share=_share(self.routed, self.boards),
                last_decision=_sorted(self.last_decision),
                escalations=_sorted(self.escalations),
            ),
            agents=tuple(_agent(name, found) for name, found in sorted(self.agents.items())),
            citations=CitationMetrics(
                findings=self.findings,
                cited=self.cited,
                approved_cited=self.approved_cited,
                coverage=_share(self.cited, self.findings),
                approved_coverage=_share(self.approved_cited, self.findings),
            ),
            approvals=ApprovalMetrics(
                requested=k["requested"],
                approved=k["approved"],
                rejected=k["rejected"],
                pending=k["pending"],
                edited=k["edited"],
                approval_rate=_share(k["approved"], k["approved"] + k["rejected"]),
                correction_rate=_share(k["edited"], k["approved"]),
                rejection_reasons=_sorted(self.rejection_reasons),
                denied_by_rule=_sorted(self.denied_by_rule),
            ),
            commits=CommitMetrics(
                applied=k["applied"],
                dead_lettered=k["dead"],
                in_doubt=k["in_doubt"],
                doubted=k["doubted"],
                compensated=k["compensated"],
                rollback_rate=_share(k["compensated"], k["applied"]),
                sinks=_sorted(self.sinks),
            ),
            cost=cost_metrics(
                [(a.model_attempts, a.unpriced, a.tokens, a.cost) for a in self.agents.values()],
                completed=self.completed,
                completed_cost=self.completed_cost,
            ),
        )


def _agent(name: str, found: _Agent) -> AgentMetrics:
    attempts = sum(found.statuses.values())
    failures = attempts - found.statuses["ok"]
    return AgentMetrics(
        agent=name,
        attempts=attempts,
        by_status={status: found.statuses[status] for status in STATUSES},
        failures=failures,
        failure_rate=failures / attempts,
        timeouts=found.statuses["timeout"],
        timeout_rate=found.statuses["timeout"] / attempts,
        retries=found.retries,
        cycle_time=CycleTime(
            measured=found.measured,
            mean_seconds=found.seconds / found.measured if found.measured else None,
            max_seconds=found.longest,
        ),
        model_attempts=found.model_attempts,
        input_tokens=found.tokens[0],
        output_tokens=found.tokens[1],
        cost=None if found.cost is None else round(found.cost, 10),
        unpriced=found.unpriced,
    )


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None  # a row written by hand, or by a store that records no time: not measured


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _sorted(counts: Counter[str]) -> dict[str, int]:
    """Most frequent first, then by name, so the text and the JSON list them in the same stable order."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def collect(rows_by_board: Mapping[str, Sequence[StoredEntry]]) -> WorkflowMetrics:
    """The workflow metrics of the boards in `rows_by_board` (board name -> its stored rows, in version order)."""
    tally = _Tally()
    for rows in rows_by_board.values():
        tally.add(rows)
    return tally.result()


def metrics(blackboard: Blackboard, boards: Sequence[str] | None = None) -> WorkflowMetrics:
    """The workflow metrics of every board of `blackboard`'s store, or of the named `boards` (each must have
    entries: `SlateboardError` otherwise). Boards are read one at a time."""
    names = list(dict.fromkeys(boards)) if boards else blackboard.boards()
    tally = _Tally()
    for name in names:
        tally.add(board_rows(blackboard, name))
    return tally.result()
