"""Rules the controller evaluates after every change: when evidence suffices, and when a person must decide.

- `sufficient(Kind, min_confidence=, min_sources=, min_source_confidence=)`: enough independent sources agree,
  their confidence pooled (see `pooling`). Two findings are not independent when one agent wrote both, when one
  derives from the other or both from the same agent-written finding, or when each cites one single source and it
  is the same one. With `min_source_confidence`, a source below it is left out (named in the reason).
- `quorum(Kind, agents=, min_answers=)`: at least `min_answers` of the named agents have answered (see `quorum`).
- `contradiction(A, B, when=, reason=)`: the newest A and B on a subject contradict each other.
- `disagreement(Kind, field=)`: agents' newest findings of a kind on a subject differ in a field.
- `escalate_below(Kind, confidence=)`: the newest finding of a kind is below a confidence gate.
- `budget(max_cycles=, max_agent_runs=, deadline=)`: limits on a run; `budget(max_cost=)`: a spending limit on
  its model-backed agents, which escalates (a person decides whether to spend more) rather than fails.

A `Controller` takes any mix of them as `Sequence[Rule]`: a `SufficiencyRule` or a `ConflictRule` (protocols, so a
rule of one's own needs only an `id` and an `assess` or a `check`) or the `Budget`.

Conflicts and gates escalate before sufficiency is even looked at: a conflict is never resolved silently.
Rules see the controller's state (newest findings per subject and author), never the whole log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from slateboard.blackboard.records import Finding
from slateboard.controller.pooling import pool
from slateboard.controller.quorum import quorum
from slateboard.errors import ConfigurationError
from slateboard.state.projection import BoardState
from slateboard.state.records import Reason
from slateboard.state.rules import Assessment, ConflictRule, SufficiencyRule

__all__ = (
    "Assessment",
    "Budget",
    "ConflictRule",
    "OwnSubject",
    "Rule",
    "SufficiencyRule",
    "budget",
    "contradiction",
    "disagreement",
    "escalate_below",
    "quorum",
    "sufficient",
)

A = TypeVar("A", bound=Finding)
B = TypeVar("B", bound=Finding)


@dataclass(frozen=True)
class Budget:
    """Limits on a run; exceeding one fails the run with a reason that names it."""

    max_cycles: int = 100
    max_agent_runs: int = 1000
    deadline: float | None = None  # seconds since the run (or resume) started, by the log's own timestamps

    id: str = "budget"


Rule = SufficiencyRule | ConflictRule | Budget
"""What `Controller(rules=...)` takes: sufficiency rules, conflict rules, and at most one budget."""


@runtime_checkable
class OwnSubject(Protocol):
    """A sufficiency rule that is judged on a subject of its own (`subject=`), not on the subjects of the inputs.

    The controller reads it once, when it is built; a rule without it (or with None) follows the inputs.
    """

    @property
    def subject(self) -> str | None: ...


def _positive(name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigurationError(f"{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class _CostLimit:
    """Escalates once the run's model-backed attempts have cost `max_cost` dollars or more (`AgentRun.usage`)."""

    max_cost: float
    id: str

    def check(self, state: BoardState, subject: str) -> Reason | None:
        spent = state.model_cost
        if spent < self.max_cost:
            return None
        message = (
            f"the run's model calls cost ${spent:.4f}, reaching its limit of ${self.max_cost:.4f}; "
            "a person decides whether to spend more"
        )
        return Reason(rule=self.id, message=message)


def budget(
    *,
    max_cycles: int = 100,
    max_agent_runs: int = 1000,
    deadline: float | None = None,
    max_cost: float | None = None,
) -> Budget | ConflictRule:
    """Limits on cycles, agent attempts and seconds (measured between the log's own timestamps, so replayable); or,
    with `max_cost` alone, a spending limit in dollars on the model-backed attempts, priced by their agents' price
    tables, that escalates the run once reached (the attempt that reached it has run: a model's price is known only
    after it answered)."""
    if max_cost is not None:
        _positive("budget max_cost", max_cost)
        if (max_cycles, max_agent_runs, deadline) != (100, 1000, None):
            raise ConfigurationError(
                "give max_cost in a budget of its own: rules=[rules.budget(max_cycles=...), rules.budget(max_cost=...)]"
            )
        return _CostLimit(float(max_cost), f"budget(max_cost={max_cost:g})")
    _positive("budget max_cycles", max_cycles)
    _positive("budget max_agent_runs", max_agent_runs)
    _positive("budget deadline", deadline, allow_none=True)
    return Budget(max_cycles, max_agent_runs, deadline)


def _check_kind(rule: str, kind: object) -> None:
    if not (isinstance(kind, type) and issubclass(kind, Finding)):
        raise ConfigurationError(f"rules.{rule}: {kind!r} is not a Finding kind")


def _check_confidence(rule: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ConfigurationError(f"rules.{rule}: confidence must be in [0, 1], got {value!r}")


@dataclass(frozen=True)
class _Sufficient:
    kind: type[Finding]
    min_confidence: float
    min_sources: int
    subject: str | None
    id: str

    def assess(self, state: BoardState, subject: str) -> Assessment | None:
        if self.subject is not None and subject != self.subject:
            return None
        newest = state.newest_per_author(self.kind, subject)
        if not newest:
            return None
        counted, note = self._eligible(state, sorted(newest.values()))
        chosen = state.independent(counted)
        pooled = pool(state.finding(v).confidence for v in chosen)
        met = len(chosen) >= self.min_sources and pooled >= self.min_confidence
        message = (
            f"{len(chosen)} independent source(s) of {self.kind.kind_name} on {subject!r} (needs {self.min_sources}), "
            f"pooled confidence {pooled:.3f} (needs {self.min_confidence:.2f}){note}"
        )
        agents = tuple(state.author(v) for v in chosen)
        return Assessment(met, Reason(rule=self.id, message=message, findings=tuple(chosen), agents=agents))

    def _eligible(self, state: BoardState, versions: list[int]) -> tuple[list[int], str]:
        """The findings that may count as sources, and a note on any left out (for the reason)."""
        return versions, ""


@dataclass(frozen=True)
class _SufficientPerSource(_Sufficient):
    """`sufficient` with a per-source minimum confidence. A class of its own, so that the plain rule describes (and
    fingerprints) exactly as it did before the option existed."""

    min_source_confidence: float = 0.0

    def _eligible(self, state: BoardState, versions: list[int]) -> tuple[list[int], str]:
        kept = [v for v in versions if state.finding(v).confidence >= self.min_source_confidence]
        below = [v for v in versions if v not in kept]
        if not below:
            return kept, f"; every source reaches the per-source minimum of {self.min_source_confidence:.2f}"
        named = ", ".join(f"{state.author(v)} ({state.finding(v).confidence:.2f}, v{v})" for v in below)
        return kept, f"; left out below the per-source minimum of {self.min_source_confidence:.2f}: {named}"


def sufficient(
    kind: type[Finding],
    *,
    min_confidence: float = 0.0,
    min_sources: int = 1,
    subject: str | None = None,
    id: str | None = None,
    min_source_confidence: float | None = None,
) -> SufficiencyRule:
    """Evidence of `kind` suffices on a subject with `min_sources` independent sources whose pooled confidence
    reaches `min_confidence`. All sufficiency rules must be met (on some subject, or on `subject`).

    `min_source_confidence`: a source whose own confidence is below it does not count (neither toward
    `min_sources` nor in the pooled confidence); the reason names every source left out."""
    _check_kind("sufficient", kind)
    _check_confidence("sufficient", min_confidence)
    if isinstance(min_sources, bool) or not isinstance(min_sources, int) or min_sources < 1:
        raise ConfigurationError(f"rules.sufficient: min_sources must be an int >= 1, got {min_sources!r}")
    rule_id = id or f"sufficient({kind.kind_name})"
    if min_source_confidence is None:
        return _Sufficient(kind, min_confidence, min_sources, subject, rule_id)
    if isinstance(min_source_confidence, bool) or not isinstance(min_source_confidence, int | float):
        raise ConfigurationError(
            f"rules.sufficient: min_source_confidence must be a number in [0, 1], got {min_source_confidence!r}"
        )
    if not 0.0 <= min_source_confidence <= 1.0:
        raise ConfigurationError(
            f"rules.sufficient: min_source_confidence must be in [0, 1], got {min_source_confidence!r}"
        )
    return _SufficientPerSource(kind, min_confidence, min_sources, subject, rule_id, float(min_source_confidence))


@dataclass(frozen=True)
class _Contradiction:
    first: type[Finding]
    second: type[Finding]
    when: Callable[[Any, Any], bool]
    reason: str
    id: str

    def check(self, state: BoardState, subject: str) -> Reason | None:
        a, b = state.newest(self.first, subject), state.newest(self.second, subject)
        if not a or not b:
            return None
        try:
            contradicts = bool(self.when(state.finding(a), state.finding(b)))
        except Exception as exc:  # a rule that cannot be evaluated must not be read as "no conflict"
            message = f"the rule could not be evaluated on {subject!r} ({type(exc).__name__}: {exc}); a person decides"
            return Reason(rule=self.id, message=message, findings=(a, b))
        if not contradicts:
            return None
        message = (
            f"{self.reason}: {self.first.kind_name} v{a} by {state.author(a)} vs "
            f"{self.second.kind_name} v{b} by {state.author(b)} on {subject!r}"
        )
        return Reason(rule=self.id, message=message, findings=(a, b), agents=(state.author(a), state.author(b)))


def contradiction(
    first: type[A],
    second: type[B],
    *,
    when: Callable[[A, B], bool],
    reason: str,
    id: str | None = None,
) -> ConflictRule:
    """Escalate a subject when its newest `first` and `second` findings satisfy `when(first, second)`."""
    _check_kind("contradiction", first)
    _check_kind("contradiction", second)
    if not callable(when) or not reason:
        raise ConfigurationError("rules.contradiction needs a callable when= and a reason= sentence")
    rule_id = id or f"contradiction({first.kind_name}, {second.kind_name})"
    return _Contradiction(first, second, when, reason, rule_id)


@dataclass(frozen=True)
class _Disagreement:
    kind: type[Finding]
    field: str
    id: str

    def check(self, state: BoardState, subject: str) -> Reason | None:
        newest = state.newest_per_author(self.kind, subject)
        values = [(author, v, getattr(state.finding(v), self.field)) for author, v in sorted(newest.items())]
        if len(values) < 2 or all(value == values[0][2] for _, _, value in values):
            return None
        said = ", ".join(f"{author}={value!r} (v{v})" for author, v, value in values)
        message = f"{self.kind.kind_name}.{self.field} differs between agents on {subject!r}: {said}"
        versions = tuple(sorted(v for _, v, _ in values))
        return Reason(rule=self.id, message=message, findings=versions, agents=tuple(a for a, _, _ in values))


def disagreement(kind: type[Finding], *, field: str, id: str | None = None) -> ConflictRule:
    """Escalate a subject when agents' newest findings of `kind` hold different values of `field`."""
    _check_kind("disagreement", kind)
    if not isinstance(field, str) or field not in kind.model_fields:
        known = ", ".join(kind.model_fields)
        raise ConfigurationError(f"rules.disagreement: {kind.kind_name} has no field {field!r} (fields: {known})")
    return _Disagreement(kind, field, id or f"disagreement({kind.kind_name}.{field})")


@dataclass(frozen=True)
class _EscalateBelow:
    kind: type[Finding]
    confidence: float
    id: str

    def check(self, state: BoardState, subject: str) -> Reason | None:
        version = state.newest(self.kind, subject)
        if not version:
            return None
        value = state.finding(version).confidence
        if value >= self.confidence:
            return None
        message = (
            f"{self.kind.kind_name} v{version} by {state.author(version)} on {subject!r} has confidence "
            f"{value:.2f}, below the gate of {self.confidence:.2f}"
        )
        return Reason(rule=self.id, message=message, findings=(version,), agents=(state.author(version),))


def escalate_below(kind: type[Finding], *, confidence: float, id: str | None = None) -> ConflictRule:
    """Escalate a subject when its newest finding of `kind` has a confidence below `confidence`."""
    _check_kind("escalate_below", kind)
    _check_confidence("escalate_below", confidence)
    return _EscalateBelow(kind, confidence, id or f"escalate_below({kind.kind_name} < {confidence:.2f})")
