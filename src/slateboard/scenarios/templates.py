"""Placeholders in scripted values: `{subject}` and `{Kind.field}` in the strings a scenario file's agents emit
(`target: "Case/{subject}"`) and in its inputs, so each board writes its own row.

A string that is exactly one placeholder takes the value itself, keeping its type (`amount: "{Claim.amount}"`
stays an int); elsewhere the value is written into the string. `{{` and `}}` stand for literal braces; braces
around anything but a name (`{"a": 1}`) are left as they are, so JSON in a string is safe.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from slateboard.blackboard.records import Record

__all__ = ("placeholders", "render", "values_of", "names_for", "unknown_placeholder")

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\}")


def placeholders(value: Any) -> list[str]:
    """Every placeholder name in `value` (strings inside dicts and lists too), in order."""
    return [name for _, name in _located(value, ())]


def _located(value: Any, at: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str]]:
    """Every placeholder name in `value` with the path to the string that holds it."""
    if isinstance(value, str):
        return [(at, m.group(1)) for m in _PLACEHOLDER.finditer(value) if m.group(1)]
    if isinstance(value, Mapping):
        return [found for key, item in value.items() for found in _located(item, (*at, key))]
    if isinstance(value, list | tuple):
        return [found for i, item in enumerate(value) for found in _located(item, (*at, i))]
    return []


def render(value: Any, values: Mapping[str, Any]) -> Any:
    """`value` with its placeholders filled from `values`; a name `values` lacks stays as written."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) and whole.group(1) in values:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: _one(m, values), value)
    if isinstance(value, Mapping):
        return {key: render(item, values) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render(item, values) for item in value]
    return value


def _one(match: re.Match[str], values: Mapping[str, Any]) -> str:
    name = match.group(1)
    if name is None:
        return match.group(0)[0]  # `{{` -> `{`, `}}` -> `}`
    return str(values[name]) if name in values else match.group(0)


def values_of(subject: str, findings: Iterable[Any]) -> dict[str, Any]:
    """The values placeholders may name: `subject`, and `Kind.field` for each finding read (by its short name)."""
    values: dict[str, Any] = {"subject": subject}
    for finding in findings:
        for one in finding if isinstance(finding, list) else [finding]:
            if isinstance(one, Record):
                short = one.kind_name.rsplit(".", 1)[-1]
                values.update({f"{short}.{name}": getattr(one, name) for name in type(one).model_fields})
    return values


def names_for(kinds: Iterable[type[Record]]) -> list[str]:
    """The placeholder names available to an agent reading `kinds`."""
    names = ["subject"]
    for kind in kinds:
        short = kind.kind_name.rsplit(".", 1)[-1]
        names += [f"{short}.{name}" for name in kind.model_fields]
    return names


def unknown_placeholder(value: Any, known: list[str]) -> tuple[tuple[Any, ...], str] | None:
    """The path and a message for the first placeholder in `value` that is not one of `known`, with the closest
    known names."""
    for at, name in _located(value, ()):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"did you mean {', '.join('{' + c + '}' for c in close)}? " if close else ""
            return at, f"unknown placeholder {{{name}}}: {hint}(known: {', '.join(known)}; write {{{{ for a brace)"
    return None
