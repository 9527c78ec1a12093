"""Property tests of settling an escalation: whatever the agents said and however the person answers, the run never
escalates again on the settled conflict until new evidence arrives, and replay re-derives every decision.

Three scripted agents claim a boolean about a case, each with a confidence (or say nothing). When the run
escalates, a person chooses one of the escalation's findings, supplies a corrected claim, or closes the case; then
late claims may arrive, each followed by a run. `play` plays one example and labels how it ended, and the reach
tests check that the strategy reaches every label: settled then sufficient (or insufficient), settled then
reopened by new evidence, and closed.
"""

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Citation, Controller, Decision, Finding, agent, rules
from slateboard.errors import SettlementError
from slateboard.state.records import Settlement
from tests.controller.kinds import Case, case


class Claim(Finding):
    kind_name = "tests.settle.Claim"
    value: bool


SCRIPT: dict[str, tuple[bool, float] | None] = {}


def _claim(name: str, subject: str) -> Claim | None:
    said = SCRIPT.get(name)
    if said is None:
        return None
    value, confidence = said
    return Claim(subject=subject, value=value, confidence=confidence, citations=(Citation(source=f"src-{name}"),))


@agent
async def a1(case: Case) -> Claim | None:
    return _claim("a1", case.subject)


@agent
async def a2(case: Case) -> Claim | None:
    return _claim("a2", case.subject)


@agent
async def a3(case: Case) -> Claim | None:
    return _claim("a3", case.subject)


RULES = [
    rules.disagreement(Claim, field="value"),
    rules.escalate_below(Claim, confidence=0.3),
    rules.sufficient(Claim, min_confidence=0.8, min_sources=2),
]
CONFIDENCES = st.sampled_from([0.1, 0.5, 0.85, 0.95])
SAID = st.none() | st.tuples(st.booleans(), CONFIDENCES)
ANSWER = (
    st.tuples(st.just("choose"), st.integers(0, 5))
    | st.tuples(st.just("correct"), st.tuples(st.booleans(), CONFIDENCES))
    | st.tuples(st.just("close"), st.sampled_from(["duplicate", "customer withdrew"]))
)
LATE = st.lists(st.tuples(st.sampled_from(["a1", "auditor", "ledger"]), st.booleans(), CONFIDENCES), max_size=2)


@dataclass(frozen=True)
class Example:
    said: tuple[tuple[bool, float] | None, ...]
    answer: tuple[str, object]
    late: list[tuple[str, bool, float]]


EXAMPLES = st.builds(Example, st.tuples(SAID, SAID, SAID), ANSWER, LATE)


def play(example: Example) -> str:
    """Play one example, checking the properties as it goes; return how it ended."""
    SCRIPT.clear()
    SCRIPT.update(zip(("a1", "a2", "a3"), example.said, strict=True))
    controller = Controller([a1, a2, a3], RULES)
    with Blackboard.open("memory://") as bb:
        board = bb.board("c1")
        first = controller.run_sync(board, case("c1"))
        if first.status != "escalated":
            with pytest.raises(SettlementError, match="is not escalated"):
                controller.settle_sync(board, reviewer="ana", close="nothing to settle")
            return "not escalated"
        action, detail = example.answer
        if action == "close":
            settled = controller.settle_sync(board, reviewer="ana", close=str(detail))
        elif action == "correct":
            value, confidence = detail  # type: ignore[misc]
            claim = Claim(subject="c1", value=value, confidence=confidence)
            settled = controller.settle_sync(board, reviewer="ana", finding=claim)
        else:
            versions = sorted({v for r in first.decision.reasons for v in r.findings})
            settled = controller.settle_sync(board, reviewer="ana", choose=versions[int(detail) % len(versions)])  # type: ignore[call-overload]
        answered = controller.run_sync(board)
        again = controller.run_sync(board)  # nothing new: the same decision, resumed
        assert again.version == answered.version
        if action == "close":
            assert answered.status == "closed"
            assert answered.reasons == (f"settled: closed by ana (v{first.version + 1}): {detail}",)
        else:
            # Without new evidence the settled conflict never escalates again, whatever the agents said.
            assert answered.status in ("sufficient", "insufficient"), answered.reasons
        label = f"settled then {answered.status}" if action != "close" else "closed"
        settled_at = first.version + (2 if action == "correct" else 1)
        for author, value, confidence in example.late:
            late = Claim(subject="c1", value=value, confidence=confidence, citations=(Citation(source=author),))
            board.write_sync(late, author=author)
            outcome = controller.run_sync(board)
            if action == "close":
                assert outcome.status == "closed"
            elif outcome.status == "escalated":
                # Reopened: only by evidence newer than the settlement, and never by what it set aside.
                named = {v for r in outcome.decision.reasons for v in r.findings}
                assert any(v > settled_at for v in named), outcome.reasons
                assert not named & set(settled.set_aside)
                label = "settled then reopened"
                break
        assert controller.replay_sync(board).identical
        assert sum(isinstance(e.payload, Settlement) for e in board.history_sync()) == 1
        return label


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXAMPLES)
def test_a_settled_conflict_stays_settled_until_new_evidence_and_replays(example: Example) -> None:
    play(example)


@pytest.mark.parametrize("label", ["settled then sufficient", "settled then reopened", "closed"])
def test_the_strategy_reaches_every_outcome(label: str) -> None:
    searching = settings(max_examples=2000, deadline=None, phases=[Phase.generate], database=None)  # no shrinking
    found = find(EXAMPLES, lambda example: play(example) == label, settings=searching)
    assert play(found) == label


def test_no_decision_after_a_settlement_escalates_before_new_evidence() -> None:
    example = Example(said=((True, 0.95), (False, 0.85), None), answer=("choose", 0), late=[])
    assert play(example) == "settled then sufficient"
    controller = Controller([a1, a2, a3], RULES)
    with Blackboard.open("memory://") as bb:
        board = bb.board("c1")
        controller.run_sync(board, case("c1"))
        first = next(e.version for e in board.history_sync() if isinstance(e.payload, Claim))
        controller.settle_sync(board, reviewer="ana", choose=first)
        controller.run_sync(board)
        statuses = [e.payload.status for e in board.history_sync() if isinstance(e.payload, Decision)]
        assert statuses == ["continue", "escalate", "sufficient"]
