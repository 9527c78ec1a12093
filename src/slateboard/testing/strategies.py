"""Hypothesis strategies for property tests of agents, rules, policies and the controller.

```python
from hypothesis import given, strategies as st
from slateboard.testing import strategies as sb

@given(sb.findings(Entitlement))                       # any valid Entitlement; subjects collide on purpose
def test_written(finding): ...

@given(sb.evidence(Entitlement, "entitled", sources=st.just(2)))
def test_two_sources(ev):                               # ev.pairs: ((author, finding), ...); ev.agreement: k/n
    disagree = ev.agreement < 1
```

Everything here is data drawn by hypothesis (no randomness of its own), so a failing example shrinks and
replays. Subjects come from `SUBJECTS`, a deliberately small alphabet, so findings drawn separately land on the
same subject and meet in the rules. `Fault` is the one strategy result with behaviour: an agent applies it.
"""

from __future__ import annotations

import enum
import string
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from hypothesis import reject
from hypothesis import strategies as st
from pydantic import BaseModel, JsonValue
from pydantic.fields import FieldInfo

from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import Citation, Finding
from slateboard.errors import ConfigurationError, InvalidFindingError
from slateboard.state.proposal import Proposal
from slateboard.testing.faults import FAULT_KINDS, Fault, FaultKind

if TYPE_CHECKING:
    from slateboard.blackboard.board import Board
    from slateboard.blackboard.entries import Entry

__all__ = (
    "findings",
    "evidence",
    "Evidence",
    "schedules",
    "interleavings",
    "faults",
    "Fault",
    "FaultKind",
    "proposals",
    "citations",
    "SUBJECTS",
    "FAULT_KINDS",
)

F = TypeVar("F", bound=Finding)
T = TypeVar("T")

SUBJECTS = ("case-1", "case-2", "case-3")
SOURCES = ("crm", "contracts", "kb", "tickets")
TARGETS = ("Case/1", "Case/2")
FIELDS = ("Status", "Priority", "Owner")
VALUES = ("Open", "Working", "Escalated", "Resolved")
DOMAINS = (None, "compliance", "service", "sales")
_WORDS = ("yes", "no", "gold", "silver", "warranty", "refund", "Open", "Closed")
_LETTERS = string.ascii_lowercase[:6]
_JSON_LEAF: st.SearchStrategy[JsonValue] = st.one_of(
    st.none(), st.booleans(), st.integers(-9, 9), st.sampled_from(VALUES)
)

# Module-level defaults: strategies are immutable values, built once.
_BOOLS = st.booleans()
_SOURCE_COUNTS = st.integers(2, 5)
_SPLIT = st.booleans()  # False, the simplest draw, is unanimous: a failing example shrinks towards agreement
# Evidence is sure, unsure or mixed as a whole: drawn per finding alone, one low confidence among n sources was
# near certain, so unanimous evidence seldom sufficed and properties rarely saw a commit.
_CONFIDENCE_BANDS = st.sampled_from([st.floats(0.7, 1.0), st.floats(0.0, 0.6), st.floats(0.0, 1.0)])
_BOUNDARIES = st.integers(1, 40)
_TIMES: st.SearchStrategy[int | None] = st.sampled_from([None, 1])
_TARGETS = st.sampled_from(TARGETS)


def _strategy(value: Any) -> st.SearchStrategy[Any]:
    """An override as a strategy: strategies are drawn from, plain values are used as they are."""
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def _constraints(info: FieldInfo) -> dict[str, Any]:
    """The field's constraints (`ge`, `max_length`, `pattern`, ...) from pydantic's metadata, by name."""
    found: dict[str, Any] = {}
    for item in info.metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern", "multiple_of"):
            value = getattr(item, name, None)
            if value is not None:
                found[name] = value
    return found


def _number(annotation: type, c: dict[str, Any]) -> st.SearchStrategy[Any]:
    if annotation is int:
        low = c["ge"] if "ge" in c else c["gt"] + 1 if "gt" in c else -1000
        high = c["le"] if "le" in c else c["lt"] - 1 if "lt" in c else 1000
        step = c.get("multiple_of") or 1
        return st.integers(-(-low // step), high // step).map(lambda n: n * step)  # multiples of step in range
    low_f, high_f, gt, lt = c.get("ge", c.get("gt")), c.get("le", c.get("lt")), "gt" in c, "lt" in c
    return st.floats(low_f, high_f, exclude_min=gt, exclude_max=lt, allow_nan=False, allow_infinity=False)


def _text(c: dict[str, Any]) -> st.SearchStrategy[str]:
    if "pattern" in c:
        return st.from_regex(c["pattern"], fullmatch=True)
    low, high = c.get("min_length", 0), c.get("max_length")
    top = low + 8 if high is None else high
    words = [w for w in _WORDS if low <= len(w) <= top]
    text = st.text(alphabet=_LETTERS, min_size=low, max_size=top)
    # Mostly a few words, so values drawn apart often coincide (agreement) and sometimes not (conflict).
    return st.one_of(st.sampled_from(words), text) if words else text


def _for_field(  # noqa: PLR0911, PLR0912 - one branch per kind of annotation
    annotation: Any, info: FieldInfo | None = None, *, name: str = ""
) -> st.SearchStrategy[Any]:
    """A strategy for one pydantic field: its annotation, honouring the constraints in `info`.

    `subject` draws from `SUBJECTS`; finding kinds, citations and other models are built field by field; what
    is not recognised falls back to `st.from_type`.
    """
    c = _constraints(info) if info is not None else {}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if name == "subject" and annotation is str:
        return st.sampled_from(SUBJECTS)
    if annotation is bool:
        return st.booleans()
    if annotation in (int, float):
        return _number(annotation, c)
    if annotation is str:
        return _text(c)
    if annotation is JsonValue or annotation is Any:
        return _JSON_LEAF
    if annotation is Citation:
        return _citation(st.booleans())
    if origin is Literal:
        return st.sampled_from(args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(list(annotation))
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_for_field(arg) for arg in args])
    if origin in (tuple, list, set, frozenset) and args:
        many = args[0] if origin is not tuple or (len(args) == 2 and args[1] is Ellipsis) else None
        if many is None:
            return st.tuples(*(_for_field(arg) for arg in args))
        items = st.lists(_for_field(many), min_size=c.get("min_length", 0), max_size=c.get("max_length", 3))
        return items.map(origin)
    if origin is dict and args:
        keys = st.sampled_from(FIELDS) if args[0] is str else _for_field(args[0])
        return st.dictionaries(keys, _for_field(args[1]), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model(annotation, {})
    return st.from_type(annotation)


def _citation(approved: st.SearchStrategy[bool]) -> st.SearchStrategy[Citation]:
    return st.builds(
        Citation,
        source=st.sampled_from(SOURCES),
        version=st.sampled_from([None, "2024-05"]),
        approved=approved,
        locator=st.none(),
    )


def citations(
    *, approved: st.SearchStrategy[bool] = _BOOLS, max_size: int = 2
) -> st.SearchStrategy[tuple[Citation, ...]]:
    """Tuples of citations from a few sources (`SOURCES`): `citations(approved=st.just(True), max_size=1)`."""
    return st.lists(_citation(approved), max_size=max_size).map(tuple)


def _model(cls: type[T], overrides: dict[str, Any]) -> st.SearchStrategy[T]:
    fields = typing.cast(dict[str, FieldInfo], getattr(cls, "model_fields", {}))
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ConfigurationError(f"{cls.__name__} has no field(s) {', '.join(unknown)} (fields: {', '.join(fields)})")
    parts = {
        name: _strategy(overrides[name]) if name in overrides else _for_field(info.annotation, info, name=name)
        for name, info in fields.items()
    }

    @st.composite
    def build(draw: st.DrawFn) -> T:
        values = {name: draw(part) for name, part in parts.items()}
        try:
            return cls(**values)
        except InvalidFindingError:
            reject()  # a model validator beyond the field constraints said no: draw again

    return build()


def findings(kind: type[F] | str, **overrides: Any) -> st.SearchStrategy[F]:
    """Valid instances of a registered finding kind (a class or its `kind_name`), built field by field.

    Each override is a value or a strategy: `findings(Entitlement, entitled=True, confidence=st.floats(0.8, 1))`.
    Constraints declared with `Field(ge=, le=, min_length=, max_length=, pattern=)` are honoured.
    """
    cls = registry.get(kind) if isinstance(kind, str) else kind
    if not (isinstance(cls, type) and issubclass(cls, Finding)):
        raise ConfigurationError(f"findings(): {kind!r} is not a Finding kind")
    return typing.cast(st.SearchStrategy[F], _model(cls, overrides))


@dataclass(frozen=True)
class Evidence(Generic[F]):
    """Findings about one subject from distinct authors: `agreement` of them (a fraction) hold `value` of
    `field`, the others all hold one other value."""

    pairs: tuple[tuple[str, F], ...]
    agreement: float
    field: str
    value: Any

    @property
    def subject(self) -> str:
        return self.pairs[0][1].subject

    @property
    def unanimous(self) -> bool:
        """Every source holds `value`: a `rules.disagreement` on `field` does not fire."""
        return self.agreement == 1.0

    async def write(self, board: Board) -> list[Entry]:
        """Write each finding by its author, in order (one entry each)."""
        return [await board.write(finding, author=author) for author, finding in self.pairs]


def evidence(
    kind: type[F],
    field: str,
    *,
    sources: st.SearchStrategy[int] = _SOURCE_COUNTS,
    agreement: st.SearchStrategy[float] | None = None,
    authors: st.SearchStrategy[str] | None = None,
    **overrides: Any,
) -> st.SearchStrategy[Evidence[F]]:
    """Evidence that agrees or conflicts to a chosen degree: n findings of `kind` on one subject, by n authors.

    With n drawn from `sources`, k of them hold one value of `field` and the other n - k hold one different value,
    in a drawn order; `Evidence.agreement` is exactly k / n. By default the sources are unanimous (k = n) in about
    half the examples and split (k in 1..n-1) in the others, so a property sees both agreement and conflict often;
    with `agreement=` a fraction a is drawn instead and k = round(a * n), at least 1. Unless `confidence=` is given,
    the findings are all sure (0.7 to 1), all unsure (0 to 0.6) or mixed (0 to 1), a third of the examples each, so
    evidence that agrees also ends sufficient or insufficient often.
    Each finding cites its own author as an approved source, so the sources are independent (override
    `citations=` to change that). Authors are "source-1" .. "source-99" unless `authors=` draws them.
    `evidence(Entitlement, "entitled", sources=st.just(2), confidence=0.9)`.
    """
    if field not in kind.model_fields:
        raise ConfigurationError(f"evidence(): {kind.kind_name} has no field {field!r}")
    info = kind.model_fields[field]
    values = _strategy(overrides.pop(field)) if field in overrides else _for_field(info.annotation, info, name=field)
    names = authors if authors is not None else st.integers(1, 99).map(lambda i: f"source-{i}")

    @st.composite
    def build(draw: st.DrawFn) -> Evidence[F]:
        n = draw(sources)
        if n < 1:
            raise ConfigurationError(f"evidence(): sources must be >= 1, got {n}")
        k = _agreeing(draw, n, agreement)
        value = draw(values)
        other = (not value) if isinstance(value, bool) else draw(values.filter(lambda v: v != value))
        who = draw(st.lists(names, min_size=n, max_size=n, unique=True))
        agrees = draw(st.permutations([True] * k + [False] * (n - k)))
        subject = draw(_strategy(overrides.get("subject", st.sampled_from(SUBJECTS))))
        confidence = overrides["confidence"] if "confidence" in overrides else draw(_CONFIDENCE_BANDS)
        pairs = []
        for author, agree in zip(who, agrees, strict=True):
            cited = (Citation(source=author, approved=True),)
            extra = {"citations": cited, "confidence": confidence, **overrides, "subject": subject}
            extra[field] = value if agree else other
            pairs.append((author, draw(findings(kind, **extra))))
        return Evidence(pairs=tuple(pairs), agreement=k / n, field=field, value=value)

    return build()


def _agreeing(draw: st.DrawFn, n: int, agreement: st.SearchStrategy[float] | None) -> int:
    """How many of n sources hold the value: from the drawn fraction, or by default unanimous or split evenly."""
    if agreement is not None:
        return min(n, max(1, round(draw(agreement) * n)))
    # A drawn float lands on 0 and 1 and tiny values far more than evenly, which made k = n rare for n > 2.
    if n == 1 or not draw(_SPLIT):
        return n
    return draw(st.integers(1, n - 1))


def schedules(agent_names: Sequence[str], *, max_repeats: int | None = None) -> st.SearchStrategy[tuple[str, ...]]:
    """Run orders with repeats: every name at least once, in a drawn order, plus up to `max_repeats` (default:
    as many as there are names) extra runs of drawn names at drawn places. `schedules(["crm", "contracts"])`."""
    names = tuple(agent_names)
    if not names or len(set(names)) != len(names):
        raise ConfigurationError(f"schedules(): give distinct names, got {names!r}")
    extra = len(names) if max_repeats is None else max_repeats

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, ...]:
        order = list(draw(st.permutations(names)))
        for name in draw(st.lists(st.sampled_from(names), max_size=extra)):
            order.insert(draw(st.integers(0, len(order))), name)
        return tuple(order)

    return build()


def interleavings(*lanes: Sequence[T]) -> st.SearchStrategy[tuple[T, ...]]:
    """Merges of `lanes` that keep each lane's own order: how concurrent writers' steps can land on a log.
    `interleavings(["a1", "a2"], ["b1"])` draws ("a1", "a2", "b1"), ("a1", "b1", "a2") or ("b1", "a1", "a2")."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[T, ...]:
        tags = [i for i, lane in enumerate(lanes) for _ in lane]
        order = draw(st.permutations(tags))
        positions = [0] * len(lanes)
        merged = []
        for lane in order:  # the n-th time a lane's tag comes up, that lane's n-th step goes next
            merged.append(lanes[lane][positions[lane]])
            positions[lane] += 1
        return tuple(merged)

    return build()


def faults(
    *,
    kinds: Sequence[FaultKind] = FAULT_KINDS,
    boundaries: st.SearchStrategy[int] = _BOUNDARIES,
    times: st.SearchStrategy[int | None] = _TIMES,
) -> st.SearchStrategy[Fault]:
    """Faults drawn from `kinds`; a crash at a boundary from `boundaries`; striking the first `times` attempts.
    In-process tests leave out the crash: `faults(kinds=["none", "timeout", "error", "conflict", "invalid"])`."""
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if not kinds or unknown:
        raise ConfigurationError(f"faults(): kinds must be some of {FAULT_KINDS}, got {list(kinds)!r}")

    @st.composite
    def build(draw: st.DrawFn) -> Fault:
        kind = draw(st.sampled_from(list(kinds)))
        if kind == "crash":
            return Fault(kind=kind, at=draw(boundaries))
        return Fault(kind=kind, times=None if kind == "none" else draw(times))

    return build()


def proposals(
    *,
    target: str | st.SearchStrategy[str] = _TARGETS,
    fields: Sequence[str] = FIELDS,
    values: Sequence[JsonValue] = VALUES,
    approved: st.SearchStrategy[bool] = _BOOLS,
    **overrides: Any,
) -> st.SearchStrategy[Proposal]:
    """`Proposal`s changing 1..n of `fields` to `values` on `target`, citing approved or unapproved sources (or
    none), reversible or not, with a domain for `policies.priority`. `proposals(target="Case/42", reversible=False)`.
    """
    if not fields or not values:
        raise ConfigurationError("proposals(): give at least one field and one value")
    changes = st.dictionaries(st.sampled_from(list(fields)), st.sampled_from(list(values)), min_size=1)
    defaults: dict[str, Any] = {
        "action": "update",
        "target": target,
        "changes": changes,
        "citations": citations(approved=approved, max_size=1),
        "reversible": st.booleans(),
        "requires_approval": st.booleans(),
        "idempotency_key": None,
        "domain": st.sampled_from(DOMAINS),
    }
    return findings(Proposal, **{**defaults, **overrides})
