"""Typed findings: validation that names the field, the kind registry, upcasters, size limits."""

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slateboard import Blackboard, Citation, Finding, upcaster
from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import decode_record, encode_record
from slateboard.errors import InvalidFindingError, KindConflictError, UnknownFindingKindError


class Claim(Finding):
    kind_name = "tests.findings.Claim"
    text: str
    score: float = 0.0


def test_a_finding_is_frozen_and_closed() -> None:
    claim = Claim(subject="s", text="t", confidence=0.5)
    with pytest.raises(Exception, match="frozen"):
        claim.text = "changed"  # type: ignore[misc]
    with pytest.raises(InvalidFindingError) as caught:
        Claim(subject="s", text="t", confidence=0.5, colour="red")  # type: ignore[call-arg]
    assert caught.value.fields == ("colour",)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -0.01, 1.01, "high", None])
def test_confidence_must_be_finite_and_in_range(bad: Any) -> None:
    with pytest.raises(InvalidFindingError) as caught:
        Claim(subject="s", text="t", confidence=bad)
    assert caught.value.fields == ("confidence",)
    assert "Claim" in str(caught.value)
    assert "confidence" in str(caught.value)


@given(st.floats(min_value=0.0, max_value=1.0))
def test_every_confidence_in_range_round_trips(confidence: float) -> None:
    claim = Claim(subject="s", text="t", confidence=confidence)
    kind, version, payload = encode_record(claim)
    assert decode_record(kind, version, payload, where="test") == claim


def test_every_problem_is_reported_with_its_field() -> None:
    with pytest.raises(InvalidFindingError) as caught:
        Claim(subject="", text=3, confidence=2, citations=[{"source": ""}])  # type: ignore[arg-type]
    assert set(caught.value.fields) == {"subject", "text", "confidence", "citations.0.source"}


def test_other_float_fields_reject_nan_too() -> None:
    with pytest.raises(InvalidFindingError) as caught:
        Claim(subject="s", text="t", confidence=0.5, score=math.nan)
    assert caught.value.fields == ("score",)


def test_citations_default_to_none_and_validate() -> None:
    assert Claim(subject="s", text="t", confidence=1).citations == ()
    cited = Claim(subject="s", text="t", confidence=1, citations=(Citation(source="kb", approved=True),))
    assert cited.citations[0].approved is True
    with pytest.raises(InvalidFindingError, match="source"):
        Citation(source="")


def test_kind_name_defaults_to_the_class_name() -> None:
    class Observation(Finding):
        note: str

    assert Observation.kind_name == "Observation"
    assert registry.get("Observation") is Observation


def test_a_kind_name_taken_by_another_module_is_refused() -> None:
    namespace: dict[str, Any] = {"__name__": "some.other.module", "Finding": Finding}
    with pytest.raises(KindConflictError, match=r"tests\.findings\.Claim"):
        exec(  # noqa: S102 - defining a class as another module would
            "class Claim(Finding):\n    kind_name = 'tests.findings.Claim'\n    text: str\n", namespace
        )


def test_unknown_kind_names_the_kind_and_suggests() -> None:
    with pytest.raises(UnknownFindingKindError) as caught:
        decode_record("tests.findings.Claimm", 1, "{}", where="board 'b' version 3")
    message = str(caught.value)
    assert "tests.findings.Claimm" in message
    assert "board 'b' version 3" in message
    assert "tests.findings.Claim" in message


def test_writing_something_that_is_not_a_finding_is_refused() -> None:
    with pytest.raises(InvalidFindingError, match="expected a Finding"):
        encode_record({"subject": "s", "confidence": 1})


def test_a_bypassed_validation_is_still_caught_on_write() -> None:
    sneaky = Claim.model_construct(subject="s", text="t", confidence=math.nan, citations=())
    with pytest.raises(InvalidFindingError) as caught:
        encode_record(sneaky)
    assert caught.value.fields == ("confidence",)


@pytest.mark.anyio
async def test_an_oversized_payload_names_its_largest_field_and_writes_nothing() -> None:
    with Blackboard.open("memory://", max_payload_bytes=1000) as bb:
        board = bb.board("b")
        with pytest.raises(InvalidFindingError) as caught:
            await board.write(Claim(subject="s", text="x" * 2000, confidence=1), author="a")
        assert caught.value.fields == ("text",)
        assert "1,000" in str(caught.value)
        assert await board.history() == ()


class Ticket(Finding):
    kind_name = "tests.findings.Ticket"
    schema_version = 3
    title: str
    priority: int


@upcaster(Ticket, from_version=1)
def _title_from_summary(data: dict[str, Any]) -> dict[str, Any]:
    data["title"] = data.pop("summary")
    return data


@upcaster(Ticket, from_version=2)
def _default_priority(data: dict[str, Any]) -> dict[str, Any]:
    data.setdefault("priority", 3)
    return data


def test_rows_of_older_schema_versions_are_upcast_step_by_step() -> None:
    v1 = '{"subject": "t", "confidence": 1.0, "summary": "printer on fire"}'
    v2 = '{"subject": "t", "confidence": 1.0, "title": "printer on fire"}'
    expected = Ticket(subject="t", confidence=1.0, title="printer on fire", priority=3)
    assert decode_record(Ticket.kind_name, 1, v1, where="w") == expected
    assert decode_record(Ticket.kind_name, 2, v2, where="w") == expected


def test_a_row_newer_than_the_code_or_without_a_path_is_refused() -> None:
    with pytest.raises(InvalidFindingError, match="newer"):
        decode_record(Ticket.kind_name, 4, "{}", where="w")

    class Gapped(Finding):
        schema_version = 2
        x: int

    with pytest.raises(InvalidFindingError, match="no upcaster from version 1 to 2"):
        decode_record("Gapped", 1, '{"subject": "s", "confidence": 1, "x": 1}', where="w")
    with pytest.raises(InvalidFindingError, match="upcaster from version 2"):
        upcaster(Gapped, from_version=2)(lambda d: d)


def test_a_stored_row_that_no_longer_validates_names_where_it_is() -> None:
    with pytest.raises(InvalidFindingError) as caught:
        decode_record(Claim.kind_name, 1, '{"subject": "s", "confidence": 7, "text": "t"}', where="board 'x' version 9")
    assert "board 'x' version 9" in str(caught.value)
    assert caught.value.fields == ("confidence",)


@pytest.mark.anyio
async def test_a_finding_that_skipped_validation_never_reaches_the_log() -> None:
    unreadable = [
        Claim.model_construct(subject="s", confidence=0.5, citations=()),  # no text
        Claim.model_construct(subject="", text="t", confidence=0.5, citations=()),
        Claim(subject="s", text="t", confidence=0.5).model_copy(update={"confidence": 3.0}),
    ]
    with Blackboard.open("memory://") as bb:
        board = bb.board("b")
        for finding in unreadable:
            with pytest.raises(InvalidFindingError):
                await board.write(finding, author="a")
        assert await board.history() == ()
