"""Which records come back from their JSON exactly as written, so that a write need not validate its payload again.

`records.encode` stores a record's JSON and indexes, for the writer, the record every reader will load from it. In
general that takes validating the JSON again (a dict with non-string keys, a tuple in an `Any` field or a set comes
back in another form; a record built with `model_construct` may not load at all). For a class whose every field is
of a type whose JSON form loads back as the same value, and a record that passed validation when it was built, the
reader's record is the writer's: `plan` finds such classes once (from their field types), `clone` gives the reader's
record without parsing anything.

A class qualifies when it is frozen, closed (`extra="forbid"`), refuses infinities and NaN, has no validators,
serializers, computed fields, aliases, excluded fields, private attributes, `model_post_init`, default factories or
custom schema, and every field is one of: `str`, `int`, `bool`, `float`, `None`, a `Literal` of strings, `X | None`,
a tuple (`tuple[X, ...]` or `tuple[X, Y]`) of those, or a nested model class that qualifies itself (which must hold
exactly that class, not a subclass). Its constraints (`min_length`, `ge`, `pattern`, ...) hold for a validated value
and hold again for the same value read back. Anything else keeps the validation.

A record "passed validation" when its class's `__init__` ran (`FrozenModel` marks it in the slot `CHECKED`):
`model_construct`, `model_copy`, `copy`, pickling and validation from JSON or a dict leave the mark unset.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic.types import Strict
from pydantic_core import PydanticUndefined

__all__ = ("CHECKED", "Plan", "plan", "clone", "assemble", "assemble_parts")

M = TypeVar("M", bound=BaseModel)
CHECKED = "_slateboard_checked"
"""The slot `FrozenModel.__init__` sets once validation passed."""

_LEAVES = (str, int, bool, float, type(None))
_CONSTRAINTS = (annotated_types.Gt, annotated_types.Ge, annotated_types.Lt, annotated_types.Le,
                annotated_types.MultipleOf, annotated_types.MinLen, annotated_types.MaxLen, Strict)  # fmt: skip
_GENERAL = frozenset({"pattern", "strict"})  # pydantic's own metadata (`Field(pattern=...)`) that only validates
# Settings that do not change a validated value's JSON form or what it loads back as; any other refuses the class.
_CONFIG = frozenset({
    "frozen", "extra", "allow_inf_nan", "ser_json_inf_nan", "strict", "title", "str_strip_whitespace",
    "str_to_lower", "str_to_upper", "str_min_length", "str_max_length", "protected_namespaces",
    "use_attribute_docstrings", "json_schema_extra", "populate_by_name", "validate_default", "revalidate_instances",
    "hide_input_in_errors", "regex_engine", "cache_strings", "validate_assignment", "from_attributes",
})  # fmt: skip
_NO = object()  # a value that is not in the form validation gives


class Plan:
    """How to give the reader's form of a validated record of one class: its field names, and the fields that hold
    nested models, with a function that clones one value of such a field (or returns a marker when it holds another
    form than validation gives)."""

    __slots__ = ("cls", "names", "nested")

    def __init__(self, cls: type[BaseModel], nested: tuple[tuple[str, Callable[[Any], Any]], ...]) -> None:
        self.cls = cls
        self.names = frozenset(cls.model_fields)
        self.nested = nested


def plan(cls: type[BaseModel]) -> Plan | None:
    """The round-trip plan of `cls`, or None when its records must be validated again (the caller keeps it)."""
    return _build(cls, set())


def clone(record: BaseModel, how: Plan) -> BaseModel | None:
    """The record a reader loads from `record`'s JSON, when `record` passed validation and every nested model in it
    did too (else None: validate the JSON instead). A new object, as a reader's is, with every field set."""
    if not getattr(record, CHECKED, False):
        return None
    values = record.__dict__.copy()
    for name, cloner in how.nested:
        value = values[name]
        if value:  # an empty tuple or None needs no clone
            value = cloner(value)
            if value is _NO:  # a nested model built without validation, or of another class than declared
                return None
            values[name] = value
    # `assemble`, inline: this runs for every entry written.
    new = _new(how.cls)
    _set_dict(new, values)
    _set_fields_set(new, set(how.names))
    _set_extra(new, None)
    _set_private(new, None)
    return new


def assemble(cls: type[M], values: dict[str, Any], fields_set: set[str] | frozenset[str]) -> M:
    """A model of `cls` holding `values`, which are known valid: pydantic's `model_construct` without its per-field
    work, through the slots' own descriptors (the write path makes one or two per entry)."""
    new: M = _new(cls)
    _set_dict(new, values)
    _set_fields_set(new, fields_set)
    _set_extra(new, None)
    _set_private(new, None)
    return new


_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
assemble_parts = (_new, _set_dict, _set_fields_set, _set_extra, _set_private)
"""What `assemble` calls, for a hot loop that inlines it: `object.__new__` and the four slots' setters."""


def _build(cls: type[BaseModel], seen: set[type]) -> Plan | None:
    if cls in seen or not _class_qualifies(cls):
        return None  # a model that holds itself is left to validation
    seen = seen | {cls}
    nested: list[tuple[str, Callable[[Any], Any]]] = []
    for name, field in cls.model_fields.items():
        cloner = _field_cloner(name, field, seen)
        if cloner is None:
            return None
        if cloner is not _same:
            nested.append((name, cloner))
    return Plan(cls, tuple(nested))


def _field_cloner(name: str, field: FieldInfo, seen: set[type]) -> Callable[[Any], Any] | None:
    renamed = field.alias not in (None, name) or field.serialization_alias not in (None, name)
    if renamed or field.validation_alias is not None or field.exclude or field.default_factory is not None:
        return None
    if not all(_constraint_only(item) for item in field.metadata):
        return None
    cloner = _cloner(field.annotation, seen)
    if cloner is None or (field.default is not PydanticUndefined and not _default_round_trips(field, cloner)):
        return None
    return cloner


def _class_qualifies(cls: type[BaseModel]) -> bool:
    config = cls.model_config
    decorators = cls.__pydantic_decorators__
    return (
        getattr(cls, CHECKED, None) is not None  # a FrozenModel: its __init__ marks validated records
        and cls.__pydantic_complete__
        and not cls.__pydantic_root_model__
        and set(config) <= _CONFIG
        and config.get("frozen") is True
        and config.get("extra") == "forbid"
        and config.get("allow_inf_nan") is False
        and not cls.__private_attributes__
        and not any(getattr(decorators, part) for part in decorators.__dataclass_fields__)
        and not cls.__pydantic_generic_metadata__["parameters"]
        and cls.__pydantic_generic_metadata__["origin"] is None
        and cls.model_post_init is BaseModel.model_post_init
        and cls.__get_pydantic_core_schema__.__func__ is BaseModel.__get_pydantic_core_schema__.__func__  # type: ignore[attr-defined]
    )


def _constraint_only(item: object) -> bool:
    if isinstance(item, _CONSTRAINTS):
        return True
    # pydantic keeps `Field(pattern=...)` in a private metadata class: accept it by what it holds
    return type(item).__name__ == "_PydanticGeneralMetadata" and set(vars(item)) <= _GENERAL


def _same(value: Any) -> Any:
    return value


def _cloner(annotation: Any, seen: set[type]) -> Callable[[Any], Any] | None:
    """How to clone a validated value of `annotation` into the reader's form (`_same` for immutable leaves), or
    None when its JSON form may load back as something else."""
    if annotation in _LEAVES:
        return _same
    by_origin = _BY_ORIGIN.get(get_origin(annotation))
    if by_origin is not None:
        return by_origin(get_args(annotation), seen)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        nested = _build(annotation, seen)
        return None if nested is None else partial(_clone_nested, how=nested)
    return None


def _annotated_cloner(args: tuple[Any, ...], seen: set[type]) -> Callable[[Any], Any] | None:
    return _cloner(args[0], seen) if all(_constraint_only(item) for item in args[1:]) else None


def _literal_cloner(args: tuple[Any, ...], seen: set[type]) -> Callable[[Any], Any] | None:
    return _same if all(type(value) is str for value in args) else None


def _optional_cloner(args: tuple[Any, ...], seen: set[type]) -> Callable[[Any], Any] | None:
    if len(args) != 2 or type(None) not in args:
        return None  # a union of two types may load a value back as the other
    (inner,) = (arg for arg in args if arg is not type(None))
    cloner = _cloner(inner, seen)
    if cloner is None or cloner is _same:
        return cloner
    return lambda value: None if value is None else cloner(value)


def _clone_nested(value: Any, how: Plan) -> Any:
    cloned = clone(value, how) if type(value) is how.cls else None
    return _NO if cloned is None else cloned


def _tuple_cloner(args: tuple[Any, ...], seen: set[type]) -> Callable[[Any], Any] | None:
    variadic = len(args) == 2 and args[1] is Ellipsis
    items = args[:1] if variadic else args
    cloners = [_cloner(arg, seen) for arg in items]
    if not items or any(cloner is None for cloner in cloners):
        return None
    if all(cloner is _same for cloner in cloners):
        return _same
    if variadic:
        one = cloners[0]
        return lambda value: _all_or_nothing(tuple([one(item) for item in value]))  # type: ignore[misc]
    return lambda value: _all_or_nothing(tuple([c(item) for c, item in zip(cloners, value, strict=True)]))  # type: ignore[misc]


def _all_or_nothing(values: tuple[Any, ...]) -> Any:
    return _NO if any(value is _NO for value in values) else values


def _default_round_trips(field: FieldInfo, cloner: Callable[[Any], Any]) -> bool:
    """Whether a field's default (which pydantic does not validate) is a value of the field as validation gives it:
    else a record that keeps the default must be validated when written, as it would fail when read."""
    default = field.default
    declared: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(declared)
        loaded = adapter.validate_json(adapter.dump_json(default))
    except ValueError:
        return False
    return type(loaded) is type(default) and loaded == default and cloner(default) is not _NO


_BY_ORIGIN: dict[Any, Callable[[tuple[Any, ...], set[type]], Callable[[Any], Any] | None]] = {
    Annotated: _annotated_cloner,
    Literal: _literal_cloner,
    Union: _optional_cloner,
    types.UnionType: _optional_cloner,
    tuple: _tuple_cloner,
}
