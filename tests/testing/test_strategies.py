"""The hypothesis strategies in slateboard.testing.strategies draw what they promise.

Drawn findings and proposals are written to real boards (memory and SQLite) and read back; evidence is judged by
a real controller's rules; faults are injected into real agent runs and the recorded attempts are compared.
"""

import enum
import itertools
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from slateboard import AgentContext, AgentRun, Blackboard, Controller, Finding, Proposal, agent, rules
from slateboard.errors import ConfigurationError, InvalidFindingError
from slateboard.testing import strategies as sb
from tests.controller.kinds import Entitlement, Intake

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Tier(enum.Enum):
    GOLD = "gold"
    SILVER = "silver"


class Address(BaseModel):
    city: str = Field(min_length=2, max_length=5)


class Measured(Finding):
    """A kind with every sort of field the strategies must honour."""

    kind_name = "tests.strategies.Measured"
    count: int = Field(gt=0, lt=10, multiple_of=2)
    ratio: float = Field(ge=0.1, le=0.9)
    code: str = Field(pattern=r"^[A-Z]{2}-[0-9]{2}$")
    short: str = Field(min_length=1, max_length=3)
    channel: Literal["email", "phone"]
    tier: Tier
    note: str | None = None
    tags: tuple[str, ...] = ()
    scores: list[int] = Field(default_factory=list, max_length=2)
    extra: dict[str, int] = Field(default_factory=dict)
    address: Address | None = None


def write_and_read(url: str, findings: list[Finding]) -> list[Finding]:
    """Write each finding to a fresh board of `url` (validation on write) and read them back in log order."""

    async def main() -> list[Finding]:
        with Blackboard.open(url) as bb:
            board = bb.board(f"b{next(BOARDS)}")
            await board.write_many(findings, author="hypothesis")
            return [e.payload for e in await board.history()]  # type: ignore[misc]

    return anyio.run(main)


BOARDS = itertools.count()


def draws(strategy: st.SearchStrategy[Any], condition: Any) -> Any:
    """An example of `strategy` meeting `condition` (`NoSuchExample` if none is drawn); not shrunk, to stay fast."""
    return find(strategy, condition, settings=settings(phases=[Phase.generate], database=None, max_examples=500))


@FAST
@given(
    st.lists(
        st.one_of(sb.findings(Entitlement), sb.findings("tests.controller.Intake"), sb.findings(Measured)),
        min_size=1,
        max_size=4,
    )
)
def test_findings_of_any_kind_pass_the_boards_validation_and_round_trip(findings: list[Finding]) -> None:
    assert write_and_read("memory://", findings) == findings


@FAST
@given(findings=st.lists(sb.findings(Measured), min_size=1, max_size=3))
def test_findings_round_trip_through_sqlite(findings: list[Finding], tmp_path: Path) -> None:
    assert write_and_read(f"sqlite:///{tmp_path / 'strategies.db'}", findings) == findings


@FAST
@given(sb.findings(Measured))
def test_field_constraints_are_honoured(m: Measured) -> None:
    assert 0 < m.count < 10
    assert m.count % 2 == 0
    assert 0.1 <= m.ratio <= 0.9
    assert len(m.code) == 5
    assert m.code[2] == "-"
    assert m.code[:2].isupper()
    assert m.code[3:].isdigit()
    assert 1 <= len(m.short) <= 3
    assert 0.0 <= m.confidence <= 1.0
    assert len(m.scores) <= 2
    assert m.address is None or 2 <= len(m.address.city) <= 5
    assert m.subject in sb.SUBJECTS


def test_optional_and_nested_fields_take_every_shape() -> None:
    draws(sb.findings(Measured), lambda m: m.address is not None and m.note is not None and m.tags != ())
    draws(sb.findings(Measured), lambda m: m.address is None and m.note is None)
    assert {draws(sb.findings(Measured), lambda m, t=t: m.tier is t).tier for t in Tier} == set(Tier)


@FAST
@given(sb.findings(Entitlement, entitled=True, confidence=st.floats(0.8, 1.0), subject="case-9"))
def test_overrides_are_values_or_strategies(e: Entitlement) -> None:
    assert e.entitled is True
    assert 0.8 <= e.confidence <= 1.0
    assert e.subject == "case-9"


def test_findings_refuse_what_they_cannot_draw() -> None:
    with pytest.raises(ConfigurationError, match="no field"):
        sb.findings(Entitlement, entitlement=True)
    with pytest.raises(ConfigurationError, match="not a Finding"):
        sb.findings(AgentRun)  # type: ignore[type-var]
    with pytest.raises(ConfigurationError, match="has no field"):
        sb.evidence(Entitlement, "nope")


@FAST
@given(st.lists(sb.findings(Intake), min_size=len(sb.SUBJECTS) + 1, max_size=len(sb.SUBJECTS) + 1))
def test_findings_collide_on_subjects(found: list[Intake]) -> None:
    # One more finding than subjects: at least two of them are about the same subject, whatever was drawn.
    assert {f.subject for f in found} <= set(sb.SUBJECTS)
    assert Counter(f.subject for f in found).most_common(1)[0][1] >= 2


def test_two_independent_draws_meet_on_a_subject() -> None:
    pair = draws(st.tuples(sb.findings(Entitlement), sb.findings(Entitlement)), lambda p: p[0].subject == p[1].subject)
    assert pair[0].subject == pair[1].subject


@FAST
@given(data=st.data(), n=st.integers(1, 6), a=st.floats(0, 1))
def test_evidence_agreement_is_honoured_exactly(data: st.DataObject, n: int, a: float) -> None:
    field = data.draw(st.sampled_from(["entitled", "confidence"]))
    kind: type[Finding] = Entitlement
    ev = data.draw(sb.evidence(kind, field, sources=st.just(n), agreement=st.just(a)))
    values = [getattr(f, field) for _, f in ev.pairs]
    k = min(n, max(1, round(a * n)))
    assert len(ev.pairs) == n
    assert ev.agreement == k / n
    assert values.count(ev.value) == k
    assert len(set(values) - {ev.value}) == (0 if k == n else 1)  # the rest hold one other value
    assert len({author for author, _ in ev.pairs}) == n  # distinct authors
    assert len({f.subject for _, f in ev.pairs}) == 1
    assert ev.unanimous == (k == n)


@settings(max_examples=20, deadline=None)
@given(sb.evidence(Intake, "category", sources=st.integers(2, 4), confidence=0.9))
def test_evidence_is_judged_by_real_rules_as_drawn(ev: sb.Evidence[Intake]) -> None:
    """Written to a board, the evidence escalates (disagreement) iff it is not unanimous; unanimous, its n sources
    all count as independent."""
    n = len(ev.pairs)

    @agent(name="reader")
    async def reader(intake: Intake) -> Entitlement | None:
        return None

    controller = Controller(
        [reader], [rules.disagreement(Intake, field="category"), rules.sufficient(Intake, min_sources=n)]
    )

    async def main() -> tuple[str, tuple[str, ...]]:
        with Blackboard.open("memory://") as bb:
            board = bb.board("evidence")
            await ev.write(board)
            outcome = await controller.run(board)
            return outcome.status, outcome.reasons

    status, reasons = anyio.run(main)
    assert status == ("sufficient" if ev.unanimous else "escalated"), reasons
    if ev.unanimous:
        assert f"{n} independent source(s)" in reasons[0]


@FAST
@given(data=st.data(), names=st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=5, unique=True))
def test_schedules_run_every_agent_and_only_the_given_ones(data: st.DataObject, names: list[str]) -> None:
    schedule = data.draw(sb.schedules(names))
    assert set(schedule) == set(names)
    assert len(names) <= len(schedule) <= 2 * len(names)
    exact = data.draw(sb.schedules(names, max_repeats=0))
    assert sorted(exact) == sorted(names)  # no repeats: a permutation


def test_schedules_draw_repeats_and_every_order() -> None:
    assert draws(sb.schedules(["a", "b"]), lambda s: s.count("a") == 2).count("a") == 2
    for order in itertools.permutations("abc"):
        assert draws(sb.schedules("abc", max_repeats=0), lambda s, o=order: s == o) == order
    with pytest.raises(ConfigurationError):
        sb.schedules(["a", "a"])
    with pytest.raises(ConfigurationError):
        sb.schedules([])


@FAST
@given(data=st.data(), lanes=st.lists(st.lists(st.integers(), max_size=3), max_size=3))
def test_interleavings_keep_each_lanes_order(data: st.DataObject, lanes: list[list[int]]) -> None:
    tagged = [[(i, step) for step in lane] for i, lane in enumerate(lanes)]
    merged = data.draw(sb.interleavings(*tagged))
    assert sorted(merged) == sorted(x for lane in tagged for x in lane)
    for i, lane in enumerate(tagged):
        assert [x for x in merged if x[0] == i] == lane


@FAST
@given(data=st.data(), kinds=st.lists(st.sampled_from(sb.FAULT_KINDS), min_size=1, unique=True))
def test_faults_are_drawn_from_the_given_kinds(data: st.DataObject, kinds: list[sb.FaultKind]) -> None:
    fault = data.draw(sb.faults(kinds=kinds, boundaries=st.integers(3, 5)))
    assert fault.kind in kinds
    kill_switch = fault.faults()
    if fault.kind == "crash":
        assert fault.at is not None
        assert 3 <= fault.at <= 5
        assert kill_switch.kill_after == fault.at
    else:
        assert fault.at is None
        assert kill_switch.kill_after is None
        assert kill_switch.kill_before is None


def test_faults_are_checked_data() -> None:
    with pytest.raises(InvalidFindingError):
        sb.Fault(kind="crash")
    with pytest.raises(InvalidFindingError):
        sb.Fault(kind="error", at=3)
    with pytest.raises(ConfigurationError):
        sb.faults(kinds=["meteor"])  # type: ignore[list-item]
    assert str(sb.Fault(kind="crash", at=7)) == "crash@7"


class Script(Finding):
    kind_name = "tests.strategies.Script"
    fault: sb.Fault


@agent(name="struck", timeout=0.05, retries=1)
async def struck(script: Script, context: AgentContext) -> Entitlement:
    found = Entitlement(subject=script.subject, entitled=True, confidence=0.9)
    return await script.fault.inject(found, attempt=context.attempt)


@settings(max_examples=20, deadline=None)
@given(sb.faults(kinds=["none", "timeout", "error", "conflict", "invalid", "crash"], boundaries=st.just(4)))
def test_an_injected_fault_is_what_the_agent_run_records(fault: sb.Fault) -> None:
    controller = Controller([struck], [rules.sufficient(Entitlement)])

    async def main() -> list[AgentRun]:
        with Blackboard.open("memory://") as bb:
            board = bb.board("faults")
            await controller.run(board, Script(subject="case-1", confidence=1.0, fault=fault))
            return [e.payload for e in await board.history() if isinstance(e.payload, AgentRun)]

    runs = anyio.run(main)
    expected = [fault.status(1)]
    if expected[0] in ("timeout", "error"):  # recoverable: retried once
        expected.append(fault.status(2))
    assert [r.status for r in runs] == expected, fault


@FAST
@given(sb.proposals(fields=["Status"], values=["Open", "Closed"], approved=st.just(True), target="Case/7"))
def test_proposals_change_the_given_fields_and_pass_validation(p: Proposal) -> None:
    assert p.target == "Case/7"
    assert p.changes
    assert set(p.changes) == {"Status"}
    assert p.changes["Status"] in ("Open", "Closed")
    assert all(c.approved for c in p.citations)
    assert write_and_read("memory://", [p]) == [p]
    assert p.key("b") == p.key("b") != p.key("other")


def test_proposals_are_reversible_or_not_cited_or_not() -> None:
    shapes: list[Any] = [
        lambda p: not p.reversible,
        lambda p: p.reversible,
        lambda p: not p.citations,
        lambda p: any(c.approved for c in p.citations),
        lambda p: any(not c.approved for c in p.citations),
        lambda p: len(p.changes) > 1,
    ]
    for shape in shapes:
        assert shape(draws(sb.proposals(), shape))
