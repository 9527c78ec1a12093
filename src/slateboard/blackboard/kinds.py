"""The kind registry: which class a stored entry's kind name decodes to, and how old rows are upcast.

Every `Record` subclass registers itself under its `kind_name` when it is defined. Kind names are a
single namespace, because a stored row names only its kind: a second class from another module that
claims a taken name is refused, while redefining a class in the same module (a reload, a class made in a
test function) replaces it.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from slateboard.errors import InvalidFindingError, KindConflictError, UnknownFindingKindError

if TYPE_CHECKING:
    from slateboard.blackboard.records import Record

__all__ = ("KindRegistry", "registry", "upcaster", "Upcaster")

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
R = TypeVar("R", bound="Record")


class KindRegistry:
    """Maps kind names to record classes, and (kind, from_version) to upcasters."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Record]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._subclass_cache: dict[type[Record], tuple[type[Record], ...]] = {}
        self._lock = threading.Lock()

    def register(self, cls: type[Record]) -> None:
        name = cls.kind_name
        with self._lock:
            existing = self._classes.get(name)
            if existing is not None and existing.__module__ != cls.__module__:
                raise KindConflictError(
                    f"finding kind {name!r} is already defined by {_qualified(existing)}; "
                    f"{_qualified(cls)} must set a distinct class attribute kind_name = '...'"
                )
            self._classes[name] = cls
            self._subclass_cache.clear()

    def get(self, name: str, *, where: str = "") -> type[Record]:
        """The class registered under `name`; `UnknownFindingKindError` (with suggestions) if none."""
        cls = self._classes.get(name)
        if cls is None:
            close = difflib.get_close_matches(name, list(self._classes), n=3)
            raise UnknownFindingKindError(name, where=where, suggestions=close)
        return cls

    def is_current(self, cls: type[Record]) -> bool:
        return self._classes.get(cls.kind_name) is cls

    def subclasses_of(self, base: type[Record]) -> tuple[type[Record], ...]:
        """Registered classes that are `base` or derive from it, for `isinstance`-style queries."""
        cached = self._subclass_cache.get(base)
        if cached is None:
            with self._lock:
                cached = tuple(c for c in self._classes.values() if issubclass(c, base))
                self._subclass_cache[base] = cached
        return cached

    def add_upcaster(self, cls: type[Record], from_version: int, fn: Upcaster) -> None:
        if not 1 <= from_version < cls.schema_version:
            raise InvalidFindingError(
                cls.kind_name,
                [
                    (
                        "schema_version",
                        f"an upcaster from version {from_version} cannot lead to version "
                        f"{cls.schema_version}; it must be in 1..{cls.schema_version - 1}",
                    )
                ],
            )
        with self._lock:
            self._upcasters[(cls.kind_name, from_version)] = fn

    def upcast(self, cls: type[Record], data: dict[str, Any], stored_version: int, *, where: str) -> dict[str, Any]:
        """Migrate `data`, written at `stored_version`, step by step up to the class's schema version."""
        if stored_version > cls.schema_version:
            raise InvalidFindingError(
                cls.kind_name,
                [
                    (
                        "schema_version",
                        f"stored at version {stored_version}, newer than this code's "
                        f"{cls.schema_version}; upgrade the code that defines it",
                    )
                ],
                where=where,
            )
        for version in range(stored_version, cls.schema_version):
            step = self._upcasters.get((cls.kind_name, version))
            if step is None:
                raise InvalidFindingError(
                    cls.kind_name,
                    [("schema_version", f"no upcaster from version {version} to {version + 1}")],
                    where=where,
                )
            data = step(dict(data))
        return data


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


registry = KindRegistry()


def upcaster(kind: type[R], *, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function that migrates a stored row of `kind` from `from_version` to the next version.

    ```python
    class Case(Finding):
        schema_version = 2
        description: str

    @upcaster(Case, from_version=1)
    def _rename_text(data: dict) -> dict:
        data["description"] = data.pop("text")
        return data
    ```
    """

    def decorate(fn: Upcaster) -> Upcaster:
        registry.add_upcaster(kind, from_version, fn)
        return fn

    return decorate
