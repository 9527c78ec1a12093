"""Point-in-time views over a board, answered from an incremental index.

A board keeps one `LogIndex` of its entries and extends it with only the entries it has not seen, so reading
the latest state costs the same on a board of 100 entries as on one of 100,000. A board restored from a
snapshot holds the snapshot's entries as columns and decodes each when first read, so opening it costs what
reading the snapshot costs, not one object per entry. A `BoardView` is the index cut at a version: the index
only ever grows at the end, and an entry once decoded stays the same object, so a view never changes.
"""

from __future__ import annotations

import heapq
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from slateboard.blackboard.columns import ColumnsError, EntryColumns, Run
from slateboard.blackboard.entries import Entry, StoredEntry
from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import Finding, Record
from slateboard.errors import TamperedLogError, UnknownVersionError

__all__ = ("BoardView", "LogIndex", "IndexInfo")

R = TypeVar("R", bound=Record)
T = TypeVar("T")
_Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """What a board's index holds: `entries` in all, `rows_loaded` read from the store in all, and `undecoded`:
    entries taken from a snapshot that nothing has read yet (each is decoded when first read)."""

    entries: int
    rows_loaded: int
    undecoded: int = 0


class LogIndex:
    """One board's entries in version order, with version lists by kind, subject and author.

    Entries come decoded (`extend`: written or read by this process), or column by column from a snapshot
    (`restore`), in which case each is decoded when something first reads it (`entry`), once: every later read
    gets the same object. Decoding one that fails raises `TamperedLogError`, as reading its row would.
    """

    def __init__(self) -> None:
        self._entries: list[Entry | None] = []  # None: a snapshot's entry not decoded yet
        self.rows_loaded = 0
        self.undecoded = 0
        self._cold: EntryColumns | None = None
        self._decode: Callable[[StoredEntry], Entry] | None = None
        self._by_kind: dict[str, Run] = {}
        self._by_subject: dict[_Key, Run] = {}
        self._by_author: dict[_Key, Run] = {}
        self._last_runs: tuple[str | None, str | None, Run, Run] = _NO_RUNS  # see `extend`
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        return len(self._entries)

    @property
    def cold(self) -> EntryColumns | None:
        """The snapshot's columns this index was restored from (entries 1..their count), or None."""
        return self._cold

    def extend(self, entries: Iterable[Entry]) -> None:
        """Add entries that continue the index; ones already held are skipped, and a gap stops the run."""
        with self._lock:
            held, by_kind, by_author, by_subject = self._entries, self._by_kind, self._by_author, self._by_subject
            # A batch is mostly one kind by one author, and so are a board's appends one after another: their
            # version lists are looked up once per run of them, kept from the last call.
            last_kind, last_author, kind_run, author_run = self._last_runs
            no_subject = _no_subject
            for entry in entries:
                version = entry.version
                if version != len(held) + 1:
                    if version <= len(held):
                        continue
                    break
                held.append(entry)
                kind, author = entry.kind, entry.author
                if kind is not last_kind or author is not last_author:
                    kind_run = _run(by_kind, kind)
                    author_run = _run(by_author, (kind, author))
                    last_kind, last_author = kind, author
                kind_run.append(version)
                author_run.append(version)
                payload = entry.payload
                subjectless = no_subject.get(type(payload))
                if subjectless is None:
                    subjectless = _subjectless(type(payload))
                subject = None if subjectless else getattr(payload, "subject", None)
                if type(subject) is str or isinstance(subject, str):
                    run = by_subject.get((kind, subject))
                    if run is None:
                        by_subject[kind, subject] = [version]
                    else:
                        run.append(version)
            self._last_runs = (last_kind, last_author, kind_run, author_run)

    def restore(self, columns: EntryColumns, decode: Callable[[StoredEntry], Entry]) -> bool:
        """Hold `columns` (entries 1..n of a snapshot) undecoded; `decode` makes an `Entry` of a stored row when one
        is first read. False (nothing done) when the index already holds entries."""
        runs = columns.runs.copy()
        with self._lock:
            if self._entries:
                return False
            self._cold, self._decode = columns, decode
            self._entries = [None] * columns.count
            self.undecoded = columns.count
            self._by_kind, self._by_subject, self._by_author = runs.by_kind, runs.by_subject, runs.by_author
            self._last_runs = _NO_RUNS
            return True

    def entry(self, version: int) -> Entry:
        """The entry at `version` (1..version), decoded now if it is a snapshot's not read yet."""
        found = self._entries[version - 1]
        return found if found is not None else self._thaw(version)

    def span(self, after: int, upto: int) -> tuple[Entry, ...]:
        """The entries after `after` up to `upto`, in order."""
        part = self._entries[after:upto]
        cold = self._cold.count if self._cold is not None else 0
        if after >= cold or self.undecoded == 0:
            return tuple(part)  # type: ignore[arg-type]  # every entry past the snapshot's is decoded
        return tuple(e if e is not None else self._thaw(v) for v, e in enumerate(part, after + 1))

    def author(self, version: int) -> str:
        found = self._entries[version - 1]
        return found.author if found is not None else self._read(version, self._columns.author)

    def hash(self, version: int) -> str:
        found = self._entries[version - 1]
        return found.hash if found is not None else self._columns.hash(version)

    def subject(self, version: int) -> str | None:
        """The subject entry `version` is filed under (None: its record has no string subject)."""
        cold = self._cold
        if cold is not None and version <= cold.count:
            return self._read(version, cold.subject)
        subject = getattr(self.entry(version).payload, "subject", None)
        return subject if isinstance(subject, str) else None

    def _read(self, version: int, column: Callable[[int], T]) -> T:
        try:
            return column(version)
        except ColumnsError as exc:
            problem = f"the snapshot's entry cannot be read ({exc})"
            raise TamperedLogError(self._columns.board, version, problem) from exc

    @property
    def _columns(self) -> EntryColumns:
        if self._cold is None:  # an entry is None only in a restored index
            raise RuntimeError("no snapshot columns")  # pragma: no cover
        return self._cold

    def _thaw(self, version: int) -> Entry:
        with self._lock:
            found = self._entries[version - 1]
            if found is None:
                found = self._entries[version - 1] = self._decoded(version)
                self.undecoded -= 1
            return found

    def _decoded(self, version: int) -> Entry:
        cold, decode = self._columns, self._decode
        entry = decode(self._read(version, cold.row))  # type: ignore[misc]  # set with the columns
        subject = getattr(entry.payload, "subject", None)
        if (subject if isinstance(subject, str) else None) != self._read(version, cold.subject):
            # What a reader decodes must be what the index lists: a snapshot whose index disagrees was edited.
            raise TamperedLogError(cold.board, version, "the snapshot's index files the entry under another subject")
        return entry

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
            merged = (v for v in merged if self.author(v) == author)
        return merged

    def last_version(self, kind: type[Record], subject: str | None, author: str | None, upto: int) -> int:
        """The newest matching version <= `upto`, or 0."""
        newest = 0
        for cls in registry.subclasses_of(kind):
            key = subject if subject is not None else author
            if key is None:
                run: Sequence[int] = self._by_kind.get(cls.kind_name, ())
            else:
                table = self._by_subject if subject is not None else self._by_author
                run = table.get((cls.kind_name, key), ())
            cut = bisect_right(run, upto)
            if subject is not None and author is not None:
                while cut and self.author(run[cut - 1]) != author:
                    cut -= 1
            if cut:
                newest = max(newest, run[cut - 1])
        return newest


def _run(runs: dict[Any, Run], key: Any) -> Run:
    """The version list filed under `key`, new if there is none yet."""
    run = runs.get(key)
    if run is None:
        run = runs[key] = []
    return run


# Record classes by whether their records can have no `subject` at all (no such field, class attribute or extra
# attribute): for those, `getattr(payload, "subject", None)` went through pydantic's `__getattr__` and an
# AttributeError, which cost more than filing the entry. Bounded: classes made at run time must not pile up.
_no_subject: dict[type, bool] = {}
_CLASSES = 1024


def _subjectless(cls: type) -> bool:
    fields = getattr(cls, "model_fields", None)
    subjectless = (
        isinstance(fields, dict)
        and "subject" not in fields
        and not hasattr(cls, "subject")
        and getattr(cls, "model_config", {}).get("extra") != "allow"
    )
    if len(_no_subject) >= _CLASSES:
        _no_subject.clear()
    _no_subject[cls] = subjectless
    return subjectless


_NO_RUN: Run = []  # never appended to: replaced before the first entry is filed
_NO_RUNS: tuple[None, None, Run, Run] = (None, None, _NO_RUN, _NO_RUN)


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
        index = self._index
        return tuple(index.entry(v).payload for v in index.versions(kind or Finding, subject, author, self.version))

    def latest(self, kind: type[R], *, subject: str | None = None, author: str | None = None) -> R | None:
        """The newest record of `kind` matching the filters, or None."""
        version = self._index.last_version(kind, subject, author, self.version)
        return self._index.entry(version).payload if version else None  # type: ignore[return-value]

    def entries(
        self, kind: type[Record] | None = None, *, subject: str | None = None, author: str | None = None
    ) -> tuple[Entry, ...]:
        """Whole entries (with author, version and time) instead of bare records; every entry by default."""
        index = self._index
        if kind is None and subject is None and author is None:
            return index.span(0, self.version)
        return tuple(index.entry(v) for v in index.versions(kind or Record, subject, author, self.version))

    def since(self, version: int) -> tuple[Entry, ...]:
        """The entries after `version`, up to this view's version: what changed since then."""
        return self._index.span(max(version, 0), self.version)

    def entry(self, version: int) -> Entry:
        """The entry at `version` (1..view.version)."""
        if not 1 <= version <= self.version:
            raise UnknownVersionError(self.board, version, self.version)
        return self._index.entry(version)

    def __len__(self) -> int:
        return self.version

    def __repr__(self) -> str:
        return f"BoardView(board={self.board!r}, version={self.version})"
