"""The writer's view of a board is the reader's (issue 15): a finding whose JSON form differs from the object written
(a dict with non-string keys, a tuple or a set in an untyped field) is indexed by its writer exactly as every other
process, and a replay, loads it back; a value that cannot be stored at all (a lone surrogate) is refused with an
`InvalidFindingError` naming the field, and nothing is written. On every store: memory, SQLite and PostgreSQL."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from pydantic import Field

from slateboard import Blackboard, Finding
from slateboard.blackboard.records import encode, encode_record
from slateboard.blackboard.stores.registry import backend_for
from slateboard.errors import InvalidFindingError


class Loose(Finding):
    """A finding with untyped fields: what it holds is whatever the writer put there."""

    kind_name = "tests.writer_view.Loose"

    value: Any = None
    table: dict[Any, Any] = Field(default_factory=dict)


SURROGATES = st.sampled_from(["\ud800", "a\udfffb", "\udc80"])
KEYS = st.one_of(
    st.text(max_size=4),
    st.integers(-1000, 1000),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.tuples(st.integers(0, 9), st.integers(0, 9)),
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(st.integers(0, 20), max_size=3),
        st.dictionaries(KEYS, inner, max_size=3),
    ),
    max_leaves=8,
)
# Sometimes a lone surrogate somewhere in the value: such a finding can never be stored and must be refused.
MAYBE_BROKEN = st.one_of(
    VALUES, VALUES, VALUES, st.dictionaries(SURROGATES, LEAVES, min_size=1, max_size=2), SURROGATES
)


def fresh_reader(bb: Blackboard) -> Blackboard:
    """Another reader of the same store: a new connection where the backend can reopen, else a new index."""
    if backend_for(bb.url).reopenable:
        return Blackboard.open(bb.url)
    return Blackboard(bb.store)


def same(left: Finding, right: Finding) -> None:
    assert type(left) is type(right)
    assert left == right
    assert left.model_dump_json() == right.model_dump_json()


def unencodable(value: object) -> bool:
    """Whether `value` holds, anywhere (dict keys included), a string that UTF-8 cannot encode."""
    if isinstance(value, str):
        return any(0xD800 <= ord(char) <= 0xDFFF for char in value)
    if isinstance(value, dict):
        return any(unencodable(k) or unencodable(v) for k, v in value.items())
    if isinstance(value, list | tuple | frozenset):
        return any(unencodable(item) for item in value)
    return False


# Finding one example of an outcome proves the strategy reaches it; shrinking it to the smallest adds nothing.
WITNESS = settings(max_examples=2000, database=None, phases=[Phase.generate])


def json_form(value: object) -> object:
    return Loose.model_validate_json(Loose(subject="s", confidence=1.0, value=value).model_dump_json()).value


def stored_as_given(value: object) -> bool:
    return not unencodable(value) and isinstance(value, dict) and bool(value) and json_form(value) == value


def test_the_strategies_reach_every_outcome() -> None:
    """The property below sees findings stored as given, stored in another form, and refused."""
    find(MAYBE_BROKEN, stored_as_given, settings=WITNESS)
    find(MAYBE_BROKEN, lambda v: not unencodable(v) and json_form(v) != v, settings=WITNESS)
    find(MAYBE_BROKEN, unencodable, settings=WITNESS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=MAYBE_BROKEN, table=st.dictionaries(KEYS, VALUES, max_size=3))
def test_the_writers_view_equals_a_fresh_readers_and_a_replay(bb: Blackboard, value: Any, table: Any) -> None:
    board = bb.board("writer-view")
    before = board.view_sync().version
    finding = Loose(subject="s", confidence=0.5, value=value, table=table)
    if unencodable(value):
        with pytest.raises(InvalidFindingError) as refused:
            board.write_sync(finding, author="writer")
        assert refused.value.problems[0][0].startswith("value"), refused.value.problems
        assert board.view_sync().version == before  # nothing written
        return
    written = board.write_sync(finding, author="writer")
    mine = board.view_sync().latest(Loose, subject="s")
    assert mine is not None
    same(mine, written.payload)
    with fresh_reader(bb) as other:
        theirs = other.board("writer-view").view_sync().entry(written.version)
        same(mine, theirs.payload)
        assert theirs.hash == written.hash
    with fresh_reader(bb) as replayer:
        replayed = replayer.board("writer-view").history_sync()[written.version - 1]
        same(mine, replayed.payload)
    # The reader's form is the JSON's: what the writer passed may differ from it, never what it indexed.
    same(mine, Loose.model_validate_json(finding.model_dump_json()))


@pytest.mark.parametrize(
    ("given_table", "stored_table"),
    [({1: "a"}, {"1": "a"}), ({(1, 2): 3}, {"1,2": 3}), ({None: [1, (2, 3)]}, {"None": [1, [2, 3]]})],
)
def test_a_writer_indexes_the_json_form_of_a_dict_with_non_string_keys(
    bb: Blackboard, given_table: dict[Any, Any], stored_table: dict[str, Any]
) -> None:
    board = bb.board("keys")
    entry = board.write_sync(Loose(subject="k", confidence=1.0, table=given_table), author="writer")
    assert entry.payload.table == stored_table
    assert board.view_sync().latest(Loose, subject="k").table == stored_table  # type: ignore[union-attr]


def test_a_tuple_in_an_untyped_field_is_indexed_as_the_list_every_reader_sees(bb: Blackboard) -> None:
    board = bb.board("tuple")
    entry = board.write_sync(Loose(subject="t", confidence=1.0, value=(1, (2, 3))), author="writer")
    assert entry.payload.value == [1, [2, 3]]
    with fresh_reader(bb) as other:
        assert other.board("tuple").view_sync().entry(1).payload.value == [1, [2, 3]]


@pytest.mark.parametrize(
    ("value", "field"),
    [("\ud800", "value"), ({"ok": ["x", "b\udc80"]}, "value.ok.1"), ({"\udfff": 1}, "value.\udfff")],
)
def test_a_lone_surrogate_is_refused_naming_the_field(bb: Blackboard, value: Any, field: str) -> None:
    board = bb.board("surrogate")
    with pytest.raises(InvalidFindingError, match="UTF-8") as refused:
        board.write_sync(Loose(subject="s", confidence=1.0, value=value), author="writer")
    assert refused.value.problems[0][0] == field
    assert board.view_sync().version == 0


@pytest.mark.parametrize("author", [None, "bad\ud800author", "", 7])
def test_an_author_the_store_cannot_keep_is_refused_naming_the_field(bb: Blackboard, author: Any) -> None:
    board = bb.board("author")
    finding = Loose(subject="s", confidence=1.0)
    with pytest.raises(InvalidFindingError) as refused:
        board.write_each_sync([(finding, author)])
    assert refused.value.problems[0][0] == "author"
    with pytest.raises(InvalidFindingError):  # also as the second author of a batch, after a good one
        board.write_each_sync([(finding, "good"), (finding, author)])
    assert board.view_sync().version == 0


def test_infinity_in_an_untyped_field_reads_back_alike(bb: Blackboard) -> None:
    board = bb.board("inf")
    entry = board.write_sync(Loose(subject="i", confidence=1.0, value=[math.inf]), author="writer")
    with fresh_reader(bb) as other:
        assert other.board("inf").view_sync().entry(1).payload.value == entry.payload.value == [math.inf]


def test_a_record_is_encoded_once_and_what_is_stored_is_what_the_writer_indexes(bb: Blackboard) -> None:
    finding = Loose(subject="once", confidence=1.0, table={"n": [1]})
    encode_record(finding)  # the runner's check of an agent's output
    first = encode(finding)
    assert encode(finding) is first  # the board's write of the same object does not encode it again
    assert encode(finding.model_copy(update={"confidence": 0.5})) is not first
    finding.table["n"].append(2)  # a mutable field changed behind the frozen model's back after it was checked
    entry = bb.board("once").write_sync(finding, author="writer")
    with fresh_reader(bb) as other:
        stored = other.board("once").view_sync().entry(entry.version).payload
    same(entry.payload, stored)  # whichever form was stored, the writer indexes that form
