"""Where the time goes, by function objects: cProfile read back per function, and methods wrapped with clocks.

Targets are the functions themselves (`Evaluator.decide`, `sqlite3.Connection.execute`), never their names as
strings: a renamed or moved function fails at the benchmark's import, and one that the run never reached is
reported missing instead of silently counting 0.
"""

from __future__ import annotations

import cProfile
import functools
import inspect
import pstats
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.timing import now, since

Key = tuple[str, int, str]  # cProfile's: (file, first line, name); C functions: ("~", 0, label)


def code_of(fn: Callable[..., Any]) -> Any:
    """The code object behind `fn`, through bound methods, classmethods and functools.wraps."""
    fn = inspect.unwrap(getattr(fn, "__func__", fn))
    code = getattr(fn, "__code__", None)
    if code is None:
        raise TypeError(f"{fn!r} has no Python code to profile")
    return code


def profile_key(fn: Callable[..., Any]) -> Key:
    """The key under which cProfile reports `fn`."""
    objclass = getattr(fn, "__objclass__", None)
    if objclass is not None:  # a C method such as sqlite3.Connection.execute: cProfile names its type's tp_name
        module = "" if objclass.__module__ == "builtins" else f"{objclass.__module__}."
        owner = f"{module}{objclass.__qualname__}"
        return ("~", 0, f"<method '{fn.__name__}' of '{owner}' objects>")
    if inspect.isbuiltin(fn):  # a C function such as len or json's encoder
        return ("~", 0, f"<built-in method {fn.__module__}.{fn.__name__}>")
    code = code_of(fn)
    return (code.co_filename, code.co_firstlineno, code.co_name)


def name_of(fn: Callable[..., Any]) -> str:
    """How a target reads in a report: its qualified name."""
    target = getattr(fn, "__func__", fn)
    owner = getattr(target, "__objclass__", None)
    qualname = getattr(target, "__qualname__", repr(target))
    return f"{owner.__qualname__}.{target.__name__}" if owner is not None else qualname


@dataclass(frozen=True)
class HotSpot:
    """One function under cProfile: calls, own seconds and cumulative seconds."""

    where: str
    calls: int
    own_s: float
    cumulative_s: float


class Profile:
    """cProfile over the spans between `start()` and `stop()` (or a `with` block), read back by function object."""

    def __init__(self, targets: Sequence[Callable[..., Any]]) -> None:
        self.targets = {profile_key(fn): fn for fn in targets}  # a bad target fails here, before any run
        self._profiler = cProfile.Profile()
        self._stats: dict[Key, tuple[Any, ...]] | None = None

    def start(self) -> None:
        self._profiler.enable()

    def stop(self) -> None:
        self._profiler.disable()

    def __enter__(self) -> Profile:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stats(self) -> dict[Key, tuple[Any, ...]]:
        if self._stats is None:
            self._stats = pstats.Stats(self._profiler).stats  # type: ignore[attr-defined]
        return self._stats

    @property
    def total(self) -> float:
        """Seconds profiled in all."""
        return sum(own for _, _, own, _, _ in self.stats.values())

    def cumulative(self, fn: Callable[..., Any]) -> float:
        """Seconds spent in `fn` and what it called (0 when it never ran: see `missing`)."""
        found = self.stats.get(profile_key(fn))
        return found[3] if found else 0.0

    def calls(self, fn: Callable[..., Any]) -> int:
        found = self.stats.get(profile_key(fn))
        return found[1] if found else 0

    def missing(self) -> list[str]:
        """The targets the profiled span never reached."""
        return [name_of(fn) for key, fn in self.targets.items() if key not in self.stats]

    def own_by(self, area_of: Callable[[Key], str]) -> dict[str, float]:
        """Own seconds summed per area: `area_of` names the area of each profiled function from its key (file,
        line, name), so every second profiled lands in exactly one area."""
        areas: dict[str, float] = {}
        for key, (_, _, own, _, _) in self.stats.items():
            area = area_of(key)
            areas[area] = areas.get(area, 0.0) + own
        return areas

    def top(self, count: int) -> list[HotSpot]:
        """The `count` functions with the most own time."""
        spots = [
            HotSpot(name if filename == "~" else f"{Path(filename).name}:{line}({name})", calls, own, cumulative)
            for (filename, line, name), (_, calls, own, cumulative, _) in self.stats.items()
        ]
        return sorted(spots, key=lambda s: s.own_s, reverse=True)[:count]


def owner_of(fn: Callable[..., Any]) -> tuple[type, str]:
    """The class that defines method `fn`, and its attribute name there; a function elsewhere cannot be wrapped."""
    qualname = getattr(fn, "__qualname__", "")
    *path, name = qualname.split(".")
    owner: Any = sys.modules.get(getattr(fn, "__module__", ""), None)
    for part in path:
        owner = getattr(owner, part, None)
    if not path or "<locals>" in path or not isinstance(owner, type) or owner.__dict__.get(name) is not fn:
        raise TypeError(f"{qualname or fn!r} is not a plain method of a module-level class; it cannot be wrapped")
    return owner, name


class Clocks:
    """Calls and seconds of chosen methods, each wrapped with a clock inside `wrapping()` (this process only).

    Less inflated than cProfile (one clock per call, not per function call inside it), so its per-part figures
    can be set beside the unwrapped ones. Only calls that start while armed count: `arm()` marks the span.
    """

    def __init__(self, targets: Sequence[Callable[..., Any]], *, armed: bool = True) -> None:
        self.targets = {fn: owner_of(fn) for fn in targets}  # a bad target fails here, before any run
        self.totals: dict[Callable[..., Any], list[float]] = {}  # fn -> [calls, seconds]
        self.armed_at: int | None = now() if armed else None

    def arm(self) -> None:
        self.armed_at = now()

    def disarm(self) -> None:
        self.armed_at = None

    def _add(self, fn: Callable[..., Any], start: int) -> None:
        if self.armed_at is not None and start >= self.armed_at:
            found = self.totals.setdefault(fn, [0, 0.0])
            found[0] += 1
            found[1] += since(start)

    def _clocked(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start = now()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self._add(fn, start)

            return timed_async

        @functools.wraps(fn)
        def timed_sync(*args: Any, **kwargs: Any) -> Any:
            start = now()
            try:
                return fn(*args, **kwargs)
            finally:
                self._add(fn, start)

        return timed_sync

    @contextmanager
    def wrapping(self) -> Iterator[Clocks]:
        """Every target replaced by its clocked twin on its class for the block; the originals put back after."""
        try:
            for fn, (owner, name) in self.targets.items():
                setattr(owner, name, self._clocked(fn))
            yield self
        finally:
            for fn, (owner, name) in self.targets.items():
                setattr(owner, name, fn)

    def calls(self, fn: Callable[..., Any]) -> int:
        return int(self.totals.get(fn, [0, 0.0])[0])

    def seconds(self, fn: Callable[..., Any]) -> float:
        return self.totals.get(fn, [0, 0.0])[1]

    def missing(self) -> list[str]:
        """The targets never called while armed."""
        return [name_of(fn) for fn in self.targets if fn not in self.totals]
