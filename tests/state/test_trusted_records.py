"""The controller's `trusted` constructors give exactly the record validation gives, and store and load back alike.

`Reason.trusted`, `Task.trusted`, `AgentRun.trusted`, `Decision.trusted` and `Cycle.trusted` skip validation on the
path of every cycle. Each is checked here against its validated twin over generated values: equal, the same field
types (tuples, never lists), the same JSON, marked checked as a validated record is, and read back by a reader
as the writer indexes it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from slateboard.agents.usage import ModelUsage
from slateboard.blackboard.entries import Entry
from slateboard.blackboard.records import decode_record, encode
from slateboard.blackboard.roundtrip import CHECKED
from slateboard.controller.cycle import Cycle
from slateboard.state.records import AgentRun, Decision, Reason, Task
from slateboard.state.vocabulary import AGENT_RUN_STATUSES, DECISION_STATUSES

texts = st.text(max_size=12)
versions = st.integers(min_value=0, max_value=10**6)
inputs = st.lists(st.lists(versions, max_size=3).map(tuple), max_size=3).map(tuple)
usages = st.none() | st.builds(
    ModelUsage,
    model=st.text(min_size=1, max_size=8),
    prompt_hash=st.text(max_size=8),
    input_tokens=st.integers(min_value=0, max_value=10**6),
    cost=st.none() | st.floats(min_value=0, max_value=100),
    masked=st.lists(texts, max_size=2).map(tuple),
)
reasons = st.builds(
    Reason.trusted,
    rule=texts,
    message=texts,
    findings=st.lists(versions, max_size=3).map(tuple),
    agents=st.lists(texts, max_size=2).map(tuple),
)
tasks = st.builds(Task.trusted, agent=texts, subject=texts, inputs=inputs)


def same_record(trusted: BaseModel, validated: BaseModel) -> None:
    assert type(trusted) is type(validated)
    assert trusted == validated
    for name in type(validated).model_fields:
        assert type(getattr(trusted, name)) is type(getattr(validated, name)), name
    assert trusted.model_dump_json() == validated.model_dump_json()
    assert getattr(trusted, CHECKED) is True


def fields_of(record: BaseModel) -> dict[str, Any]:
    return {name: getattr(record, name) for name in type(record).model_fields}


@given(reasons)
def test_a_trusted_reason_is_the_validated_one(reason: Reason) -> None:
    same_record(reason, Reason(**fields_of(reason)))


@given(tasks)
def test_a_trusted_task_is_the_validated_one(task: Task) -> None:
    same_record(task, Task(**fields_of(task)))


@given(
    st.builds(
        AgentRun.trusted,
        agent=texts,
        subject=texts,
        inputs=inputs,
        attempt=st.integers(min_value=1, max_value=5),
        status=st.sampled_from(AGENT_RUN_STATUSES),
        error=texts,
        outputs=st.integers(min_value=0, max_value=5),
        usage=usages,
    )
)
def test_a_trusted_agent_run_is_the_validated_one_and_loads_back_alike(run: AgentRun) -> None:
    same_record(run, AgentRun(**fields_of(run)))
    stored = encode(run)
    assert stored.record == run
    assert decode_record(run.kind_name, run.schema_version, stored.payload, where="test") == run


@given(
    st.builds(
        Decision.trusted,
        cycle=st.integers(min_value=1, max_value=1000),
        status=st.sampled_from(DECISION_STATUSES),
        reasons=st.lists(reasons, max_size=3).map(tuple),
        agenda=st.lists(tasks, max_size=3).map(tuple),
    )
)
def test_a_trusted_decision_is_the_validated_one_and_loads_back_alike(decision: Decision) -> None:
    same_record(decision, Decision(**fields_of(decision)))
    stored = encode(decision)
    assert stored.record == decision
    assert decode_record(decision.kind_name, decision.schema_version, stored.payload, where="test") == decision


def test_a_trusted_cycle_is_the_validated_one() -> None:
    decision = Decision.trusted(3, "continue", (Reason.trusted("agenda", "a on 's'"),), (Task.trusted("a", "s", ()),))
    run = AgentRun.trusted("a", "s", (), 1, "ok", "", 1, None)
    entry = Entry(
        board="b",
        version=8,
        seq=8,
        kind=decision.kind_name,
        schema_version=1,
        author="a",
        recorded_at=datetime(2026, 11, 30, tzinfo=UTC),
        payload=decision,
        hash="0" * 64,
    )
    trusted = Cycle.trusted("b", decision, 6, (run,), (entry,), 9, discarded=False)
    validated = Cycle(
        board="b", number=3, decision=decision, version=6, runs=(run,), findings=(entry,), board_version=9
    )
    same_record(trusted, validated)
    assert str(trusted) == str(validated)
