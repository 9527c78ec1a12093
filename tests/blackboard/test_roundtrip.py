"""A write skips validating its payload again only where that cannot change what is indexed (blackboard.roundtrip):
a record that passed validation when it was built, of a class whose JSON loads back exactly. Whichever path a record
takes, the writer indexes exactly what a reader loads from the stored JSON (type, value, JSON, the fields set), and a
record that could not be read back is refused. The strategies reach both paths and the refusal."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    computed_field,
    field_serializer,
    field_validator,
)

from slateboard import Blackboard, Citation, Finding
from slateboard.blackboard.records import FrozenModel, encode
from slateboard.blackboard.roundtrip import clone, plan
from slateboard.errors import InvalidFindingError

# A record copied with a dict where a model belongs (`model_copy` does not validate) makes pydantic warn as it writes
# the dict; the write validates that JSON, which is what these tests check.
pytestmark = pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")


class Tag(FrozenModel):
    name: str = Field(min_length=1)
    weight: int = 0


class Exact(Finding):
    """Every field of a type whose JSON form loads back as the same value."""

    kind_name = "tests.roundtrip.Exact"

    count: int = Field(ge=0)
    ratio: float = 0.5
    flag: bool = False
    label: Literal["a", "b"] = "a"
    note: str | None = None
    words: tuple[str, ...] = ()
    pair: tuple[int, str] = (0, "")
    tags: tuple[Tag, ...] = ()
    main: Tag | None = None


class SubTag(Tag):
    extra: str = "x"


def reader_form(record: Finding, payload: str) -> Finding:
    return type(record).model_validate_json(payload)


def fields_set(value: object) -> object:
    """The fields set of a model and of every model inside it: part of what a reader sees."""
    if isinstance(value, BaseModel):
        inner = {name: fields_set(getattr(value, name)) for name in type(value).model_fields}
        return (sorted(value.model_fields_set), inner)
    if isinstance(value, tuple):
        return tuple(fields_set(item) for item in value)
    return None


def same_as_reader(written: Finding, read: Finding) -> None:
    assert type(written) is type(read)
    assert written == read
    assert written.model_dump_json() == read.model_dump_json()
    assert fields_set(written) == fields_set(read)


TEXT = st.text(max_size=6)
GOOD_TAG = st.builds(Tag, name=st.text(min_size=1, max_size=4), weight=st.integers(-5, 5))
# Nested models made the ways a record can hold them: validated, from a dict, unvalidated, or of a subclass.
TAG = st.one_of(
    GOOD_TAG,
    st.builds(lambda n: {"name": n}, st.text(min_size=1, max_size=4)),
    st.builds(lambda n: Tag.model_construct(name=n, weight=0), st.text(max_size=2)),
    st.builds(lambda n: SubTag(name=n), st.text(min_size=1, max_size=4)),
)
FIELDS = st.fixed_dictionaries(
    {"subject": st.text(min_size=1, max_size=4), "confidence": st.floats(0, 1), "count": st.integers(0, 10**20)},
    optional={
        "ratio": st.floats(allow_nan=False, allow_infinity=False),
        "flag": st.booleans(),
        "label": st.sampled_from(["a", "b"]),
        "note": st.none() | TEXT,
        "words": st.lists(TEXT, max_size=3).map(tuple),
        "pair": st.tuples(st.integers(-3, 3), TEXT),
        "tags": st.lists(TAG, max_size=2).map(tuple),
        "main": st.none() | TAG,
        "citations": st.lists(st.builds(Citation, source=st.text(min_size=1, max_size=3)), max_size=2).map(tuple),
    },
)


def built(how: str, fields: dict[str, Any]) -> Finding:
    """A record made through validation, or around it (what `model_construct` and `model_copy` allow)."""
    if how == "validated":
        return Exact(**fields)
    if how == "constructed":
        return Exact.model_construct(**fields)
    return Exact(subject="s", confidence=0.5, count=1).model_copy(update=fields)


# Finding one example of an outcome proves the strategy reaches it; shrinking it to the smallest adds nothing.
WITNESS = settings(max_examples=2000, database=None, phases=[Phase.generate])
RECORDS = st.builds(built, st.sampled_from(["validated", "constructed", "copied"]), FIELDS)
EXACT_PLAN = plan(Exact)


def path(record: Finding) -> str:
    """Which way `encode` takes: "copied" (the fast path), "validated" (the JSON parsed), or "refused"."""
    try:
        encode(record)
    except InvalidFindingError:
        return "refused"
    assert EXACT_PLAN is not None
    return "copied" if clone(record, EXACT_PLAN) is not None else "validated"


@pytest.mark.slow
def test_the_strategies_reach_every_path() -> None:
    for outcome in ("copied", "validated", "refused"):
        find(RECORDS, lambda record, outcome=outcome: path(record) == outcome, settings=WITNESS)  # type: ignore[misc]


@settings(max_examples=200, deadline=None)
@given(record=RECORDS)
def test_what_encode_indexes_is_what_a_reader_loads(record: Finding) -> None:
    try:
        encoded = encode(record)
    except InvalidFindingError:
        with pytest.raises(ValidationError):  # refused only what a reader could not load either
            reader_form(record, record.model_dump_json())
        return
    same_as_reader(encoded.record, reader_form(record, encoded.payload))
    assert encoded.record is not record  # a reader's own object, as validation would give


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=RECORDS)
def test_the_writers_view_is_a_fresh_readers_on_every_store(bb: Blackboard, record: Finding) -> None:
    board = bb.board("roundtrip")
    try:
        written = board.write_sync(record, author="writer")
    except InvalidFindingError:
        return
    reader = Blackboard(bb.store)
    theirs = reader.board("roundtrip").view_sync().entry(written.version)
    same_as_reader(written.payload, theirs.payload)
    same_as_reader(board.view_sync().entry(written.version).payload, theirs.payload)
    assert theirs.hash == written.hash


def test_a_validated_record_is_copied_and_the_others_are_validated() -> None:
    assert EXACT_PLAN is not None
    tag = Tag(name="t")
    assert clone(Exact(subject="s", confidence=1.0, count=1, tags=(tag,), main=tag), EXACT_PLAN) is not None
    unvalidated = (
        Exact.model_construct(subject="s", confidence=1.0, count=1),
        Exact(subject="s", confidence=1.0, count=1).model_copy(),
        Exact.model_validate({"subject": "s", "confidence": 1.0, "count": 1}),
        Exact(subject="s", confidence=1.0, count=1, tags=({"name": "t"},)),  # type: ignore[arg-type]
        Exact(subject="s", confidence=1.0, count=1, main=SubTag(name="t")),
        Exact(subject="s", confidence=1.0, count=1, main=Tag.model_construct(name="", weight=0)),
    )
    for record in unvalidated:
        assert clone(record, EXACT_PLAN) is None, record


def test_a_record_built_around_validation_that_could_not_be_read_is_refused() -> None:
    for record in (
        Exact.model_construct(subject="", confidence=1.0, count=1),
        Exact(subject="s", confidence=1.0, count=1).model_copy(update={"count": -1}),
        Exact(subject="s", confidence=1.0, count=1, main=Tag.model_construct(name="", weight=0)),
        Exact.model_construct(subject="s", confidence=math.nan, count=1),
    ):
        with pytest.raises(InvalidFindingError):
            encode(record)


class _Base(Finding):
    kind_name = "tests.roundtrip.Base"


def test_the_classes_whose_records_are_always_validated() -> None:
    """Every kind of field or setting that can change a value on its way through JSON keeps the validation."""

    class WithAny(_Base):
        kind_name = "tests.roundtrip.Any"
        value: Any = None

    class WithDict(_Base):
        kind_name = "tests.roundtrip.Dict"
        table: dict[str, int] = Field(default_factory=dict)

    class WithList(_Base):
        kind_name = "tests.roundtrip.List"
        items: list[int] = []  # noqa: RUF012 - pydantic copies it

    class WithTime(_Base):
        kind_name = "tests.roundtrip.Time"
        at: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    class WithUnion(_Base):
        kind_name = "tests.roundtrip.Union"
        number: int | float = 0

    class WithValidator(_Base):
        kind_name = "tests.roundtrip.Validator"
        text: str = ""

        @field_validator("text")
        @classmethod
        def _shout(cls, value: str) -> str:
            return value + "!"

    class WithSerializer(_Base):
        kind_name = "tests.roundtrip.Serializer"
        text: str = ""

        @field_serializer("text")
        def _upper(self, value: str) -> str:
            return value.upper()

    class WithComputed(_Base):
        kind_name = "tests.roundtrip.Computed"

        @computed_field  # type: ignore[prop-decorator]
        @property
        def twice(self) -> str:
            return self.subject * 2

    class WithAlias(_Base):
        kind_name = "tests.roundtrip.Alias"
        text: str = Field("", alias="Text")

    class WithExcluded(_Base):
        kind_name = "tests.roundtrip.Excluded"
        text: str = Field("", exclude=True)

    class WithBadDefault(_Base):
        kind_name = "tests.roundtrip.BadDefault"
        count: int = Field(-1, ge=0)

    class WithNaN(_Base):
        kind_name = "tests.roundtrip.NaN"
        model_config = ConfigDict(allow_inf_nan=True)

    class WithPrivate(_Base):
        kind_name = "tests.roundtrip.Private"
        _cache: int = PrivateAttr(default=0)

    class WithPostInit(_Base):
        kind_name = "tests.roundtrip.PostInit"

        def model_post_init(self, context: Any, /) -> None:
            pass

    class WithLooseTag(_Base):
        kind_name = "tests.roundtrip.LooseTag"
        tag: WithAny | None = None

    class Open(Finding):
        kind_name = "tests.roundtrip.Open"
        model_config = ConfigDict(extra="allow")

    always_validated = (
        *(WithAny, WithDict, WithList, WithTime, WithUnion, WithValidator, WithSerializer, WithComputed),
        *(WithAlias, WithExcluded, WithBadDefault, WithNaN, WithPrivate, WithPostInit, WithLooseTag, Open),
    )
    for cls in always_validated:
        assert plan(cls) is None, cls.__name__
    for cls in (Finding, Citation, Exact, Tag, _Base):
        assert plan(cls) is not None, cls.__name__


def test_a_validator_that_changes_the_value_again_is_seen_as_a_reader_sees_it(bb: Blackboard) -> None:
    class Shouting(Finding):
        kind_name = "tests.roundtrip.Shouting"
        text: str

        @field_validator("text")
        @classmethod
        def _shout(cls, value: str) -> str:
            return value + "!"

    entry = bb.board("shout").write_sync(Shouting(subject="s", confidence=1.0, text="hi"), author="writer")
    assert entry.payload.text == "hi!!"  # type: ignore[attr-defined]  # validated once more when read back
    assert Blackboard(bb.store).board("shout").view_sync().entry(1).payload == entry.payload
