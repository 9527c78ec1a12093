"""Typed records: `Finding`, `Citation`, and how they are turned into stored rows and back.

A `Record` is anything that can sit on a board; a `Finding` is a record an agent (or an input) asserts
about a subject, with a confidence and citations. Records are frozen pydantic models: what was written is
what every later view sees.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticSerializationError

from slateboard.blackboard.kinds import registry
from slateboard.blackboard.roundtrip import CHECKED, Plan, clone, plan
from slateboard.errors import InvalidFindingError

__all__ = (
    "FrozenModel",
    "Record",
    "Finding",
    "Citation",
    "encode",
    "encode_record",
    "Encoded",
    "decode_record",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "Codec",
    "codec_of",
    "RECENT",
    "stored_form",
)

DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20
_INPUT_PREVIEW = 60


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        got = repr(error.get("input"))
        if len(got) > _INPUT_PREVIEW:
            got = got[:_INPUT_PREVIEW] + "..."
        problems.append((field, f"{error['msg']} (got {got})"))
    return problems


class FrozenModel(BaseModel):
    """Frozen, closed pydantic model whose validation errors are `InvalidFindingError`s."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        ser_json_inf_nan="constants",  # a subclass that allows NaN must still round-trip it
    )

    # Set once `__init__` validated the record; unset on a record made any other way (see `roundtrip`).
    __slots__ = (CHECKED,)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidFindingError(type(self).__name__, _problems(exc)) from exc
        object.__setattr__(self, CHECKED, True)

    # Marks this __init__ as pydantic's own, so validation from JSON or of nested models skips it: only a
    # direct call pays for the error translation, and decoding a row validates once.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


class Citation(FrozenModel):
    """Where a finding's evidence comes from.

    `approved` marks a source fit for customer-facing use; `locator` points inside it (a section, a URL
    fragment, a row id).
    """

    source: str = Field(min_length=1)
    version: str | None = None
    approved: bool = False
    locator: str | None = None


class Record(FrozenModel):
    """Anything that can be written to a board. Subclasses register under `kind_name` when defined.

    `kind_name` defaults to the class name; `schema_version` starts at 1 and is raised, together with an
    `upcaster`, when a kind's fields change so that rows written earlier still load.
    """

    kind_name: ClassVar[str] = "Record"
    schema_version: ClassVar[int] = 1

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "kind_name" not in cls.__dict__:
            cls.kind_name = cls.__name__
        if not isinstance(cls.kind_name, str) or not cls.kind_name.strip():
            raise InvalidFindingError(cls.__qualname__, [("kind_name", "must be a non-empty string")])
        version = cls.schema_version
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidFindingError(cls.kind_name, [("schema_version", f"must be an int >= 1, got {version!r}")])
        registry.register(cls)


class Finding(Record):
    """A typed, frozen assertion about `subject`, with a `confidence` in [0, 1] and its `citations`."""

    subject: str = Field(min_length=1)
    confidence: float = Field(ge=0.0, le=1.0)
    citations: tuple[Citation, ...] = ()


class Encoded(NamedTuple):
    """A record as a board stores it, and as every reader (another process, a replay) will load it back.

    `record` is the payload decoded from `payload`, not the object the writer passed: the writer's own index holds
    exactly what every reader sees, even for values whose JSON form differs (a dict with non-string keys, a tuple
    in an `Any` field, a set).
    """

    kind: str
    schema_version: int
    payload: str
    record: Record
    size: int  # bytes of the payload's UTF-8


def encode(record: object, *, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> Encoded:
    """The stored form of `record`, serialized and validated once; see `Encoded`.

    Raises `InvalidFindingError` naming the field for anything that could not be read back: the payload is
    validated again as stored (that validation is also what gives the reader's view), because `model_construct`
    or `model_copy(update=...)` can build a finding that never passed validation, and an entry that cannot be
    read back would break its append-only board for good. The one exception: a record that passed validation when
    it was built, of a class whose JSON loads back exactly (`roundtrip`), is copied instead of parsed. A record
    encoded moments ago (an agent's output, checked by the runner, then written by the controller) is not encoded
    twice.
    """
    found = stored_form(record, max_bytes)
    return found if isinstance(found, Encoded) else Encoded(*found)  # the one kept by `encode_record`, or a new one


def stored_form(record: object, max_bytes: int) -> tuple[str, int, str, Record, int]:
    """`encode` as a plain tuple, for the write path's loop."""
    codec = _codecs.get(type(record)) or _codec(record)
    if _recent:
        recent = _recent.get(id(record))
        if recent is not None and recent[0] is record and recent[1].size <= max_bytes:
            return recent[1]
    try:
        payload = codec.to_json(record)
    except PydanticSerializationError as exc:
        raise InvalidFindingError(codec.kind, [_unserializable(record, exc)]) from exc  # type: ignore[arg-type]
    if len(payload) > max_bytes:
        raise InvalidFindingError(codec.kind, [_oversize_problem(record, len(payload), max_bytes)])  # type: ignore[arg-type]
    # A validated record of a class whose JSON loads back exactly: the reader's record is a copy of it.
    decoded = clone(record, codec.plan) if codec.plan is not None else None  # type: ignore[arg-type]
    if decoded is None:
        try:
            decoded = codec.validate_json(payload)
        except ValidationError as exc:
            raise InvalidFindingError(codec.kind, _problems(exc)) from exc
    return codec.kind, codec.version, payload.decode(), decoded, len(payload)  # type: ignore[return-value]


def codec_of(record: object) -> Codec:
    """What encoding a record of `record`'s class takes (`InvalidFindingError` for anything but a `Record`)."""
    return _codecs.get(type(record)) or _codec(record)


class Codec(NamedTuple):
    """A record class's kind name, schema version, JSON serializer and validator, and round-trip plan."""

    kind: str
    version: int
    to_json: Callable[[Any], bytes]
    validate_json: Callable[[bytes], Any]
    plan: Plan | None


# What `encode` needs of each record class, looked up once: pydantic's class attributes are slow to read on the
# write path. Keyed by class, so bounded like `_recent` (classes made at run time must not pile up).
_codecs: dict[type, Codec] = {}
_CODECS = 1024


def _codec(record: object) -> Codec:
    if not isinstance(record, Record):
        raise InvalidFindingError(
            type(record).__name__, [("", f"expected a Finding (a slateboard Record), got {type(record).__name__}")]
        )
    cls = type(record)
    codec = Codec(
        cls.kind_name,
        cls.schema_version,
        cls.__pydantic_serializer__.to_json,
        cls.__pydantic_validator__.validate_json,
        plan(cls),
    )
    if len(_codecs) >= _CODECS:
        _codecs.clear()
    _codecs[cls] = codec
    return codec


def encode_record(record: object, *, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> tuple[str, int, str]:
    """The stored form of `record`: (kind name, schema version, canonical JSON payload); see `encode`.

    This is the check before a write (the runner checks each agent's output with it): the encoding is kept a
    moment, so that the board's write of the same object does not encode it again.
    """
    encoded = encode(record, max_bytes=max_bytes)
    if isinstance(record, Record):  # always, once `encode` accepted it
        _remember(record, encoded)
    return encoded.kind, encoded.schema_version, encoded.payload


# The last few records encoded, by identity: the runner checks an agent's output and the board writes it moments
# later. Keyed by id() with the object kept alive beside it, so a reused id never matches another record; bounded
# in count and in bytes, so a pipeline of large findings does not keep many of them alive.
_recent: dict[int, tuple[Record, Encoded]] = {}
RECENT: Mapping[int, tuple[Record, Encoded]] = _recent
"""The records encoded lately, by `id()` (read-only: typed as a `Mapping`; the dict itself, not a proxy, as a
batch's loop looks up every record in it): a batch's loop sends those to `stored_form`."""
_RECENT = 256
_RECENT_BYTES = 4 << 20
_recent_bytes = 0


def _remember(record: Record, encoded: Encoded) -> None:
    global _recent_bytes  # noqa: PLW0603 - one module-wide cache
    if len(_recent) >= _RECENT or _recent_bytes + encoded.size > _RECENT_BYTES:
        _recent.clear()
        _recent_bytes = 0
    if encoded.size <= _RECENT_BYTES // 8:
        _recent[id(record)] = (record, encoded)
        _recent_bytes += encoded.size


def _unserializable(record: Record, exc: PydanticSerializationError) -> tuple[str, str]:
    path = _unencodable_path(record)
    if path is not None:
        where, text = path
        return where, f"holds a string that cannot be encoded as UTF-8 (a lone surrogate?): {text!r}"
    return "", f"cannot be serialized: {exc}"


def _unencodable_path(value: object, path: str = "") -> tuple[str, str] | None:
    """The dotted path to the first string in `value` (keys included) that UTF-8 cannot encode, and that string."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return path, value
        return None
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        items: Iterable[tuple[object, object]] = ((name, getattr(value, name, None)) for name in fields)
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple | set | frozenset):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        found = _unencodable_path(key, where) if isinstance(key, str) and not isinstance(value, BaseModel) else None
        found = found or _unencodable_path(item, where)
        if found is not None:
            return found
    return None


def _oversize_problem(record: Record, size: int, limit: int) -> tuple[str, str]:
    sizes = {name: len(json.dumps(value, default=str)) for name, value in record.model_dump(mode="json").items()}
    largest = max(sizes, key=lambda name: sizes[name]) if sizes else ""
    return largest, f"payload is {size:,} bytes, over the limit of {limit:,} (largest field: {largest})"


def decode_record(kind: str, schema_version: int, payload: str, *, where: str) -> Record:
    """Load a stored row as an instance of the class now registered for `kind`, upcasting old rows."""
    cls = registry.get(kind, where=where)
    try:
        if schema_version == cls.schema_version:
            return cls.model_validate_json(payload)
        data = registry.upcast(cls, json.loads(payload), schema_version, where=where)
        return cls.model_validate(data)
    except ValidationError as exc:
        raise InvalidFindingError(kind, _problems(exc), where=where) from exc
    except json.JSONDecodeError as exc:
        raise InvalidFindingError(kind, [("", f"stored payload is not JSON: {exc}")], where=where) from exc
