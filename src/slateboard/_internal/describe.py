"""Describing rules and policies the same way in every process: for versions, fingerprints and replay checks."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
from enum import Enum

from slateboard.blackboard.records import Record

__all__ = ("describe", "canonical", "digest")


def digest(value: object) -> str:
    """A short, stable hash of `value`'s description."""
    return hashlib.sha256(canonical(describe(value)).encode()).hexdigest()[:16]


def describe(value: object, depth: int = 0) -> object:  # noqa: PLR0911, PLR0912 - one form per type
    """A rule's parameters in a form that is the same in every process running the same code.

    Nothing in it depends on where an object sits in memory, and everything a rule's behaviour depends on is
    in it: a function is named with a hash of its source, its defaults and the values it closes over (two
    `lambda p: p.confidence < limit` with different limits are different parameters), a `functools.partial`
    by its function and arguments, any other object by its class and attributes.
    """
    if depth > _MAX_DEPTH:  # a closure may refer to itself: stop, but still by name only
        return _name(value if isinstance(value, type) or callable(value) else type(value))
    deeper = depth + 1
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: describe(getattr(value, f.name), deeper) for f in dataclasses.fields(value)}
        return {"rule": type(value).__name__, **fields}
    if isinstance(value, type):
        return value.kind_name if issubclass(value, Record) else _name(value)
    if isinstance(value, frozenset | set):
        return sorted((describe(v, deeper) for v in value), key=canonical)
    if isinstance(value, tuple | list):
        return [describe(v, deeper) for v in value]
    if isinstance(value, dict):
        return {str(k): describe(v, deeper) for k, v in value.items()}
    if isinstance(value, functools.partial):
        args = describe(value.args, deeper)
        return {"partial": describe(value.func, deeper), "args": args, "keywords": describe(value.keywords, deeper)}
    if inspect.ismethod(value):
        return {"method": describe(value.__func__, deeper), "self": describe(value.__self__, deeper)}
    if inspect.isfunction(value):
        cells = []
        for cell in value.__closure__ or ():
            try:
                cells.append(describe(cell.cell_contents, deeper))
            except ValueError:  # an empty cell (a name assigned after the function was made)
                cells.append(None)
        bound = {"defaults": value.__defaults__, "kwdefaults": value.__kwdefaults__, "closure": cells}
        return {"function": _name(value), "bound": describe(bound, deeper)}
    if inspect.ismodule(value):
        return value.__name__
    if inspect.isbuiltin(value) or isinstance(value, Enum):
        return _name(value) if inspect.isbuiltin(value) else f"{_name(type(value))}.{value.name}"
    state = getattr(value, "__dict__", None)
    return {"object": _name(type(value)), "state": describe(dict(state), deeper) if state is not None else None}


_MAX_DEPTH = 12


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _name(value: object) -> str:
    """A function's or class's qualified name and a hash of its source (where the source can be read)."""
    name = f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__name__)}"
    try:
        source = inspect.getsource(value)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return name
    return f"{name}#{hashlib.sha256(source.encode()).hexdigest()[:12]}"
