"""The controller's run starts and decisions are about no subject: they say so on the class (`subject = None`, not a
field), so a reader's `getattr(record, "subject", None)` finds None without pydantic raising and catching inside."""

import json

import pytest

from slateboard import Blackboard, Controller, Finding, agent, rules
from slateboard.errors import InvalidFindingError
from slateboard.state.records import Decision, RunStarted

pytestmark = pytest.mark.anyio


class Ask(Finding):
    kind_name = "tests.state.subjectless.Ask"


class Answer(Finding):
    kind_name = "tests.state.subjectless.Answer"


@agent(blocking=False)
def answer(ask: Ask) -> Answer:
    return Answer(subject=ask.subject, confidence=1.0)


@pytest.mark.parametrize("cls", [Decision, RunStarted])
def test_subject_is_none_on_the_class_and_not_a_field(cls: type[Decision] | type[RunStarted]) -> None:
    assert "subject" not in cls.model_fields
    assert "subject" not in cls.model_json_schema()["properties"]
    assert "subject" in vars(cls)  # found by plain attribute lookup, before pydantic's __getattr__


def test_a_decision_neither_takes_nor_stores_a_subject() -> None:
    decision = Decision(cycle=1, status="continue", reasons=())
    assert decision.subject is None
    assert decision.model_dump() == {"cycle": 1, "status": "continue", "reasons": (), "agenda": ()}
    with pytest.raises(InvalidFindingError, match="subject"):
        Decision(cycle=1, status="continue", reasons=(), subject="x")  # type: ignore[call-arg]


async def test_a_run_files_its_decisions_and_start_under_no_subject() -> None:
    with Blackboard.open("memory://") as bb:
        board = bb.board("case")
        outcome = await Controller([answer], [rules.sufficient(Answer)]).run(board, Ask(subject="s", confidence=1.0))
        assert outcome.status == "sufficient"
        view = await board.view()
        subjectless = [e for e in view.entries() if isinstance(e.payload, Decision | RunStarted)]
        assert len(subjectless) == 3  # the start and two decisions
        assert all("subject" not in json.loads(e.payload.model_dump_json()) for e in subjectless)
        # Reading the board again from the store files them the same way as the writer did.
        again = await Blackboard(bb.store).board("case").view()
        assert [e.hash for e in again.entries()] == [e.hash for e in view.entries()]
        assert [len(v.findings(Answer, subject="s")) for v in (view, again)] == [1, 1]
