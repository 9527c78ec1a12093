"""Context hygiene: sensitive values never reach a model; stable placeholders stand in for them.

```python
masking = Masking(patterns=("email", "card"), fields={"phone"}, blocklist={"Project Falcon"})
```

A value is sensitive when a pattern matches it (built-in: "email", "card", "phone", "iban"; or a compiled regex
under a name of your own), when it is the value of a listed field of an input finding, or when it is on the
blocklist. It is replaced by a placeholder such as `<email:5c1e09a2>`, derived from the value and the board, so
the same value gets the same placeholder everywhere on a board (the model can still tell two customers apart or
refer back to one) and different placeholders on different boards. The model's answer is unmasked before it
becomes a finding, and the placeholders used are recorded on the attempt (`ModelUsage.masked`), never the values.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from slateboard.blackboard.records import Record
from slateboard.errors import ConfigurationError

__all__ = ("Masking", "Masker", "PATTERNS")

PATTERNS: Mapping[str, re.Pattern[str]] = {
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
    # 13 to 19 digits, optionally grouped by spaces or dashes: card numbers as people type them
    "card": re.compile(r"\b(?:\d[ -]?){12,18}\d\b"),
    "phone": re.compile(r"(?<!\w)\+?\d[\d ().-]{7,}\d\b"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
}
_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9_-]*:[0-9a-f]{8}>")


@dataclass(frozen=True)
class Masking:
    """What is sensitive: `patterns` (built-in names, or name -> compiled regex), `fields` (names of input
    finding fields whose whole value is masked), `blocklist` (exact strings). `salt` keys the placeholders
    (default: the board's name, which makes them differ from board to board; a fixed salt makes them the same on
    every board, as a cassette shared by many boards needs)."""

    patterns: Iterable[str] | Mapping[str, re.Pattern[str]] = ("email", "card")
    fields: frozenset[str] = frozenset()
    blocklist: frozenset[str] = frozenset()
    salt: str | None = None
    compiled: tuple[tuple[str, re.Pattern[str]], ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", frozenset(self.fields))
        object.__setattr__(self, "blocklist", frozenset(self.blocklist))
        object.__setattr__(self, "compiled", _compile(self.patterns))

    def masker(self, board: str) -> Masker:
        """A masker for one board's calls: it remembers which placeholder stands for which value."""
        return Masker(self, (self.salt or board).encode())


def _compile(patterns: Iterable[str] | Mapping[str, re.Pattern[str]]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    if isinstance(patterns, Mapping):
        named = dict(patterns)
    else:
        unknown = [p for p in patterns if p not in PATTERNS]
        if unknown:
            raise ConfigurationError(f"masking: no built-in pattern {unknown[0]!r}; built-in: {', '.join(PATTERNS)}")
        named = {p: PATTERNS[p] for p in patterns}
    for name, pattern in named.items():
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", name) or not isinstance(pattern, re.Pattern):
            raise ConfigurationError(f"masking: pattern {name!r} needs a lowercase name and a compiled regex")
    return tuple(named.items())


class Masker:
    """Masks text and findings for one board, and unmasks what comes back."""

    def __init__(self, masking: Masking, key: bytes) -> None:
        self.masking = masking
        self._key = key
        self.values: dict[str, str] = {}  # placeholder -> the value it stands for (kept here, never sent)

    def placeholder(self, label: str, value: str) -> str:
        """The placeholder for `value` on this board: the same value always gets the same one."""
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:8]
        token = f"<{label}:{digest}>"
        self.values[token] = value
        return token

    def text(self, text: str) -> str:
        """`text` with every blocklisted string, then every pattern match, replaced by its placeholder."""
        for blocked in sorted(self.masking.blocklist, key=len, reverse=True):  # the longest first: no partial hits
            if blocked and blocked in text:
                text = text.replace(blocked, self.placeholder("blocked", blocked))
        for label, pattern in self.masking.compiled:
            text = pattern.sub(partial(self._keep, label=label), text)
        return text

    def _keep(self, match: re.Match[str], *, label: str) -> str:
        found = match.group(0)
        return found if _PLACEHOLDER.fullmatch(found) else self.placeholder(label, found)

    def finding(self, finding: Record) -> Record:
        """A copy of `finding` whose listed fields are masked whole and whose other strings are masked as text."""
        masked = {name: self._field(name, getattr(finding, name)) for name in type(finding).model_fields}
        return type(finding).model_construct(**masked)  # a view for the prompt: never validated, never written

    def _field(self, name: str, value: Any) -> Any:
        if name in self.masking.fields and value not in (None, ""):
            return self.placeholder(name.lower().replace("_", "-"), str(value))
        return self.value(value)

    def value(self, value: Any) -> Any:
        """Mask every string inside `value` (dicts, lists and tuples walked)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        return value  # numbers, flags, nested models (citations): nothing a person typed

    def unmask(self, value: Any) -> Any:
        """Put the values back where the model wrote their placeholders."""
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: self.values.get(m.group(0), m.group(0)), value)
        if isinstance(value, dict):
            return {k: self.unmask(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.unmask(v) for v in value)
        return value

    @property
    def used(self) -> tuple[str, ...]:
        """The placeholders handed out so far, in order."""
        return tuple(self.values)
