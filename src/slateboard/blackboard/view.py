"""Point-in-time views over a board, answered from an incremental index.

A board keeps one `LogIndex` of its decoded entries and extends it with only the entries it has not seen,
so reading the latest state costs the same on a board of 100 entries as on one of 100,000. A `BoardView`
is the index cut at a version: the index only ever grows at the end, so a view never changes.
"""

from __future__ import annotations

import heapq
import threading
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar, overload

from slateboard.blackboard.entries import Entry
from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import Finding, Record
from slateboard.errors import UnknownVersionError

__all__ = ("BoardView", "LogIndex", "IndexInfo")

R = TypeVar("R", bound=Record)
_Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """What a board's index holds: `entries` decoded so far, `rows_loaded` read from the store in all."""

    entries: int
    rows_loaded: int


class LogIndex:
    """Decoded entries of one board in version order, with version lists by kind, subject and author."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.rows_loaded = 0
        self._by_kind: dict[str, list[int]] = {}
        self._by_subject: dict[_Key, list[int]] = {}
        self._by_author: dict[_Key, list[int]] = {}
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        return len(self.entries)

    def extend(self, entries: Iterable[Entry]) -> None:
        """Add entries that continue the index; ones already held are skipped, and a gap stops the run."""
        with self._lock:
            for entry in entries:
                if entry.version <= len(self.entries):
                    continue
                if entry.version != len(self.entries) + 1:
                    break
                self._add(entry)

    def _add(self, entry: Entry) -> None:
        version, kind = entry.version, entry.kind
        self.entries.append(entry)
        self._by_kind.setdefault(kind, []).append(version)
        self._by_author.setdefault((kind, entry.author), []).append(version)
        subject = getattr(entry.payload, "subject", None)
        if isinstance(subject, str):
            self._by_subject.setdefault((kind, subject), []).append(version)

    def versions(self, kind: type[Record], subject: str | None, author: str | None, upto: int) -> Iterable[int]:
        """Versions <= `upto` of entries whose record is a `kind`, matching the filters, in log order."""
        runs: list[Sequence[int]] = []
        for cls in registry.subclasses_of(kind):
            if subject is not None:
                run = self._by_subject.get((cls.kind_name, subject), ())
            elif author is not None:
                run = self._by_author.get((cls.kind_name, author), ())
            else:
                run = self._by_kind.get(cls.kind_name, ())
            if run:
                runs.append(run[: bisect_right(run, upto)])
        if not runs:
            return ()
        merged: Iterable[int] = runs[0] if len(runs) == 1 else heapq.merge(*runs)
        if subject is not None and author is not None:
            entries = self.entries
            merged = (v for v in merged if entries[v - 1].author == author)
        return merged

    def last_version(self, kind: type[Record], subject: str | None, author: str | None, upto: int) -> int:
        """The newest matching version <= `upto`, or 0."""
        newest = 0
        for cls in registry.subclasses_of(kind):
            key = subject if subject is not None else author
            if key is None:
                run = self._by_kind.get(cls.kind_name, ())
            else:
                table = self._by_subject if subject is not None else self._by_author
                run = table.get((cls.kind_name, key), ())
            cut = bisect_right(run, upto)
            if subject is not None and author is not None:
                while cut and self.entries[run[cut - 1] - 1].author != author:
                    cut -= 1
            if cut:
                newest = max(newest, run[cut - 1])
        return newest


@dataclass(frozen=True, slots=True)
class BoardView:
    """An immutable snapshot of a board at `version`: what the first `version` entries say, and nothing else."""

    board: str
    version: int
    _index: LogIndex

    @overload
    def findings(
        self, kind: None = None, *, subject: str | None = None, author: str | None = None
    ) -> tuple[Finding, ...]: ...

    @overload
    def findings(self, kind: type[R], *, subject: str | None = None, author: str | None = None) -> tuple[R, ...]: ...

    def findings(
        self, kind: type[Record] | None = None, *, subject: str | None = None, author: str | None = None
    ) -> tuple[Record, ...]:
        """Records of `kind` (and its subclasses; all findings by default) in log order, filtered."""
        entries = self._index.entries
        versions = self._index.versions(kind or Finding, subject, author, self.version)
        return tuple(entries[v - 1].payload for v in versions)

    def latest(self, kind: type[R], *, subject: str | None = None, author: str | None = None) -> R | None:
        """The newest record of `kind` matching the filters, or None."""
        version = self._index.last_version(kind, subject, author, self.version)
        return self._index.entries[version - 1].payload if version else None  # type: ignore[return-value]

    def entries(
        self, kind: type[Record] | None = None, *, subject: str | None = None, author: str | None = None
    ) -> tuple[Entry, ...]:
        """Whole entries (with author, version and time) instead of bare records; every entry by default."""
        entries = self._index.entries
        if kind is None and subject is None and author is None:
            return tuple(entries[: self.version])
        versions = self._index.versions(kind or Record, subject, author, self.version)
        return tuple(entries[v - 1] for v in versions)

    def since(self, version: int) -> tuple[Entry, ...]:
        """The entries after `version`, up to this view's version: what changed since then."""
        return tuple(self._index.entries[max(version, 0) : self.version])

    def entry(self, version: int) -> Entry:
        """The entry at `version` (1..view.version)."""
        if not 1 <= version <= self.version:
            raise UnknownVersionError(self.board, version, self.version)
        return self._index.entries[version - 1]

    def __len__(self) -> int:
        return self.version

    def __repr__(self) -> str:
        return f"BoardView(board={self.board!r}, version={self.version})"
