"""The four maturity signals of an orchestration layer (seed 004), from stored rows, against the field's targets.

| signal                       | target  | computed from                                                        |
|------------------------------|---------|----------------------------------------------------------------------|
| handoff success rate         | > 99%   | agent tasks and sink handoffs on the boards                          |
| mean time to recover         | < 15min | a failed step's entry to the entry of the same step's next success   |
| non-idempotent retry rate    | < 1%    | the ledger: the same change applied under two keys, per retry        |
| end-to-end audit coverage    | 100%    | boards whose chain verifies and which record every ledger action     |

Definitions (docs/metrics.md says the same):

- A *handoff* is one step passing its work on: an agent task (every attempt of one agent on one scheduled task)
  handing its findings to the board, or an allowed proposal handed to its sink (one idempotency key). A task
  succeeded when its last attempt was "ok" or reported a conflict (an answer, handed on to a person); it failed
  when it ended in a timeout, an error, a denied kind or an invalid finding. A key succeeded when it was applied.
- A *failed step* opens an incident for that step (an agent on a subject, an idempotency key, a board's run); the
  incident closes at the step's next success (a later ok attempt, a commit of the key, a run going on after a
  "failed" decision). Times are the entries' `recorded_at`: a retry that succeeds within the same batch recovers
  in 0 s. Incidents still open are counted, not averaged.
- A *non-idempotent retry* is the same change (board, target, action and changes) applied to a sink under more
  than one idempotency key: what a retry without a stable key does (a second ticket). The rate is over every
  retry: sink calls after a key's first, plus those duplicate applications.
- A board's audit trail is *complete* when its hash chain verifies from the stored rows and every action the
  ledger holds for it (a key applied, compensated, dead-lettered or in doubt) has its commit record on the board.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from slateboard.blackboard.board import Blackboard
from slateboard.blackboard.entries import GENESIS_HASH, StoredEntry, seal
from slateboard.blackboard.records import FrozenModel, Record, decode_record
from slateboard.blackboard.stores.ledger import LedgerRow
from slateboard.errors import InvalidFindingError, UnknownFindingKindError
from slateboard.observe.rows import board_rows
from slateboard.state.records import AgentRun, Commit, CommitFailure, Decision

__all__ = ("Signal", "MaturitySignals", "maturity", "collect_maturity", "TARGETS")

Comparison = Literal[">", "<", ">="]
# name -> (title, comparison, threshold, unit, the target as the article states it)
TARGETS: Mapping[str, tuple[str, Comparison, float, str, str]] = {
    "handoff_success_rate": ("Handoff success rate", ">", 0.99, "ratio", "> 99%"),
    "mean_time_to_recover": ("Mean time to recover", "<", 900.0, "seconds", "< 15 min"),
    "non_idempotent_retry_rate": ("Non-idempotent retry rate", "<", 0.01, "ratio", "< 1%"),
    "audit_coverage": ("End-to-end audit coverage", ">=", 1.0, "ratio", "100%"),
}
_RECORDS = {cls.kind_name: cls for cls in (AgentRun, Decision, Commit, CommitFailure)}
_FAILED = frozenset({"timeout", "error", "denied", "invalid"})
_ACTIONS = frozenset({"applied", "compensated", "dead", "in_doubt"})  # ledger states the sink has been reached in


class Signal(FrozenModel):
    """One signal: its `value` (None when nothing was measured), the article's `target`, whether it is `met`
    (None when unmeasured), over how many items it was `measured`, and a sentence of `detail`."""

    name: str
    title: str
    value: float | None
    unit: str
    target: str
    comparison: Comparison
    threshold: float
    met: bool | None
    measured: int
    detail: str


class MaturitySignals(FrozenModel):
    """The four signals over `boards` boards."""

    boards: int
    handoff_success_rate: Signal
    mean_time_to_recover: Signal
    non_idempotent_retry_rate: Signal
    audit_coverage: Signal

    @property
    def signals(self) -> tuple[Signal, ...]:
        """The four, in the article's order."""
        return (self.handoff_success_rate, self.mean_time_to_recover, self.non_idempotent_retry_rate,
                self.audit_coverage)  # fmt: skip


def _signal(name: str, value: float | None, measured: int, detail: str) -> Signal:
    title, comparison, threshold, unit, target = TARGETS[name]
    met = None
    if value is not None:
        met = {">": value > threshold, "<": value < threshold, ">=": value >= threshold}[comparison]
    return Signal(name=name, title=title, value=value, unit=unit, target=target, comparison=comparison,
                  threshold=threshold, met=met, measured=measured, detail=detail)  # fmt: skip


@dataclass
class _Tally:
    boards: int = 0
    handoffs: Counter[str] = field(default_factory=Counter)  # "ok" / "failed", by kind
    recovered: list[float] = field(default_factory=list)
    unrecovered: int = 0
    complete: int = 0
    chain_broken: int = 0
    unrecorded: int = 0

    def add(self, rows: Sequence[StoredEntry], ledger: Sequence[LedgerRow]) -> None:
        self.boards += 1
        records = [(row, _decode(row)) for row in rows]
        self._handoffs(records)
        self._incidents(records)
        self._audit(rows, records, ledger)

    def _handoffs(self, records: Sequence[tuple[StoredEntry, Record | None]]) -> None:
        tasks: dict[tuple[str, str, str], str] = {}  # the task's last attempt's status, by task, in order
        keys: dict[str, bool] = {}
        for _, record in records:
            if isinstance(record, AgentRun):
                task = (record.agent, record.subject, json.dumps(record.inputs))
                if record.attempt == 1:  # a new task of the same agent on the same inputs: the last one ended
                    self._close_task(tasks, task)
                tasks[task] = record.status
            elif isinstance(record, Commit):
                keys[record.key] = True
            elif isinstance(record, CommitFailure):
                keys.setdefault(record.key, False)
        for task in list(tasks):
            self._close_task(tasks, task)
        for applied in keys.values():
            self.handoffs["ok" if applied else "failed"] += 1

    def _close_task(self, tasks: dict[tuple[str, str, str], str], task: tuple[str, str, str]) -> None:
        status = tasks.pop(task, None)
        if status is not None:
            self.handoffs["failed" if status in _FAILED else "ok"] += 1

    def _incidents(self, records: Sequence[tuple[StoredEntry, Record | None]]) -> None:
        opened: dict[tuple[str, ...], datetime] = {}
        for row, record in records:
            step, failed = _step(record)
            at = _time(row.recorded_at)
            if step is None or at is None:
                continue
            if failed:
                opened.setdefault(step, at)
            elif step in opened:
                self.recovered.append(max((at - opened.pop(step)).total_seconds(), 0.0))
        self.unrecovered += len(opened)

    def _audit(
        self,
        rows: Sequence[StoredEntry],
        records: Sequence[tuple[StoredEntry, Record | None]],
        ledger: Sequence[LedgerRow],
    ) -> None:
        verified = _chain_verifies(rows)
        recorded = {r.key for _, r in records if isinstance(r, Commit | CommitFailure)}
        missing = sum(row.status in _ACTIONS and row.key not in recorded for row in ledger)
        self.chain_broken += not verified
        self.unrecorded += missing
        self.complete += verified and not missing


def _step(record: Record | None) -> tuple[tuple[str, ...] | None, bool]:
    """The step a record says failed (True) or succeeded (False), if it speaks of one."""
    if isinstance(record, AgentRun):
        return ("agent", record.agent, record.subject), record.status in _FAILED
    if isinstance(record, Commit):
        return ("key", record.key), False
    if isinstance(record, CommitFailure):
        return ("key", record.key), True
    if isinstance(record, Decision):
        return ("run",), record.status == "failed"
    return None, False


def _decode(row: StoredEntry) -> Record | None:
    if row.kind not in _RECORDS:
        return None
    try:
        return decode_record(row.kind, row.schema_version, row.payload, where=f"{row.board} v{row.version}")
    except (UnknownFindingKindError, InvalidFindingError):
        return None  # an unreadable record speaks of no step; the chain check still covers its row


def _chain_verifies(rows: Sequence[StoredEntry]) -> bool:
    prev = GENESIS_HASH
    for number, row in enumerate(rows, 1):
        if row.version != number or seal(prev, row.board, number, row) != row.hash:
            return False
        prev = row.hash
    return True


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _duplicates(ledger: Sequence[LedgerRow]) -> tuple[int, int]:
    """(changes applied under more than one key, sink calls after a key's first)."""
    applied = Counter(
        (row.board, row.target, row.params_hash) for row in ledger if row.status in {"applied", "compensated"}
    )
    retries = sum(max(row.attempts - 1, 0) for row in ledger)
    return sum(n - 1 for n in applied.values()), retries


def collect_maturity(boards: Mapping[str, tuple[Sequence[StoredEntry], Sequence[LedgerRow]]]) -> MaturitySignals:
    """The signals of the boards in `boards` (name -> its stored rows in version order, and its ledger rows)."""
    tally = _Tally()
    for rows, ledger in boards.values():
        tally.add(rows, ledger)
    every_ledger = [row for _, ledger in boards.values() for row in ledger]
    return _result(tally, every_ledger)


def _result(tally: _Tally, ledger: Sequence[LedgerRow]) -> MaturitySignals:
    ok, failed = tally.handoffs["ok"], tally.handoffs["failed"]
    handoffs = ok + failed
    recovered = tally.recovered
    duplicates, retries = _duplicates(ledger)
    doubted = sum(row.status == "in_doubt" for row in ledger)
    incidents = len(recovered) + tally.unrecovered
    mean = sum(recovered) / len(recovered) if recovered else None
    return MaturitySignals(
        boards=tally.boards,
        handoff_success_rate=_signal(
            "handoff_success_rate", ok / handoffs if handoffs else None, handoffs,
            f"{ok} of {handoffs} handoff(s) succeeded, {failed} failed for good",
        ),
        mean_time_to_recover=_signal(
            "mean_time_to_recover", mean, len(recovered),
            f"{len(recovered)} of {incidents} failed step(s) recovered"
            + (f", the longest in {max(recovered):.1f} s" if recovered else "")
            + f"; {tally.unrecovered} not yet",
        ),
        non_idempotent_retry_rate=_signal(
            "non_idempotent_retry_rate",
            duplicates / (retries + duplicates) if retries + duplicates else None,
            retries + duplicates,
            f"{duplicates} change(s) applied under more than one key, over {retries} keyed sink retr"
            + ("y" if retries == 1 else "ies") + f"; {doubted} call(s) held in doubt rather than repeated",
        ),
        audit_coverage=_signal(
            "audit_coverage", tally.complete / tally.boards if tally.boards else None, tally.boards,
            f"{tally.complete} of {tally.boards} board(s) reconstructable end to end; {tally.chain_broken} with a "
            f"broken chain, {tally.unrecorded} ledger action(s) missing from their board",
        ),
    )  # fmt: skip


def maturity(blackboard: Blackboard, boards: Sequence[str] | None = None) -> MaturitySignals:
    """The maturity signals of every board of `blackboard`'s store, or of the named `boards`; with every board,
    a board the ledger names that has no entries counts too (as an audit trail that is missing)."""
    ledger: dict[str, list[LedgerRow]] = defaultdict(list)
    for row in blackboard.store.ledger.rows(None, wait=True):
        ledger[row.board].append(row)
    names = list(dict.fromkeys(boards)) if boards else blackboard.boards()
    found: dict[str, tuple[Sequence[StoredEntry], Sequence[LedgerRow]]] = {}
    for name in names:
        found[name] = (board_rows(blackboard, name), ledger.get(name, []))
    if not boards:
        for name in ledger.keys() - found.keys():
            found[name] = ((), ledger[name])
    return collect_maturity(found)
