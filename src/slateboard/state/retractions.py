"""Retracted sources and the findings they leave stale: the `Retraction` record and `Staleness`, its fold.

A person or a feed retracts a source (every version, or one: `Citation.version`). The retraction is recorded once
store-wide, on the reserved board `RETRACTIONS_BOARD` (its `notice` is that entry's version), and then on each board
it concerns, as a `Retraction` entry: nothing on a board is edited, staleness is a new entry in its log.

`Staleness` folds a board's log entry by entry and says which findings are stale:

- a finding that cites a retracted source (the same version, when the retraction names one) is stale, whether it
  was written before the retraction or after it (the retraction stands on the board from its entry on);
- a finding an agent wrote from inputs of which one is stale is stale too, transitively: its `AgentRun` names the
  input versions, and the findings that follow an "ok" attempt by the same agent are its outputs.

A citation without a version is caught only by a retraction of the whole source. The same fold reads typed records
(`BoardState`, and so the controller and `replay`) and stored rows whose finding kinds need not be importable
(`observe`, `slateboard retract`), so every reader agrees on what is stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from pydantic import Field

from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.records import Finding, Record
from slateboard.errors import ConfigurationError
from slateboard.state.records import AgentRun

__all__ = ("RETRACTIONS_BOARD", "RETRACTOR", "Retraction", "SourceRef", "Staleness", "parse_source")

RETRACTIONS_BOARD = "slateboard.retractions"
"""The reserved board that keeps every retraction of the store, in the order they were made."""
RETRACTOR = "slateboard.retract"
"""The author of a retraction when no person or feed is named."""


class Cited(Protocol):
    """A citation as the fold reads it: a `Citation`, or a stored one read from its JSON."""

    @property
    def source(self) -> str: ...
    @property
    def version(self) -> str | None: ...


class _Stored(NamedTuple):
    source: str
    version: str | None


_NONE: frozenset[int] = frozenset()


class Retraction(Record):
    """A source (or one version of it, `version`) retracted by `by`, with the `reason`.

    On the store-wide board it is the notice itself (`notice` 0). On a board, `notice` is the version of that notice,
    `stale` the findings it made stale there when it was written, and `commits` the idempotency keys already committed
    on proposals among them: those commits stand, and a person decides what becomes of them.
    """

    kind_name = "slateboard.Retraction"

    source: str = Field(min_length=1)
    version: str | None = None
    reason: str = Field(min_length=1)
    by: str = Field(min_length=1)
    notice: int = 0
    stale: tuple[int, ...] = ()
    commits: tuple[str, ...] = ()

    @property
    def ref(self) -> SourceRef:
        return SourceRef(self.source, self.version)


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A source, and optionally one version of it: what `slateboard retract SOURCE[@VERSION]` names."""

    source: str
    version: str | None = None

    def covers(self, cited: Cited) -> bool:
        """Whether the citation `cited` is of what this names."""
        return cited.source == self.source and (self.version is None or cited.version == self.version)

    def __str__(self) -> str:
        return self.source if self.version is None else f"{self.source}@{self.version}"


def parse_source(text: str) -> SourceRef:
    """`SOURCE` or `SOURCE@VERSION` (split at the last "@"); `ConfigurationError` naming the value otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError(f"a source to retract must be a non-empty string, got {text!r}")
    source, at, version = text.rpartition("@")
    if not at:
        return SourceRef(text)
    if not source or not version:
        raise ConfigurationError(
            f"a source to retract is SOURCE or SOURCE@VERSION, both sides of '@' non-empty; got {text!r}"
        )
    return SourceRef(source, version)


@dataclass(slots=True)
class Staleness:
    """Which findings of one board are stale, folded entry by entry (feed `record` or `row` in version order).

    `stale` holds the stale finding versions; `standing` the retractions recorded so far (entry version, source);
    `notices` the store-wide notices they record; `because` the retraction (by its entry's version) that first made
    each finding stale.
    """

    stale: set[int] = field(default_factory=set)
    standing: list[tuple[int, SourceRef]] = field(default_factory=list)
    notices: set[int] = field(default_factory=set)
    because: dict[int, int] = field(default_factory=dict)
    # Mappings: a state revived from a snapshot reads these on demand (state/resume.py).
    _cited: MutableMapping[int, Sequence[Cited]] = field(default_factory=dict)
    _inputs: MutableMapping[int, frozenset[int]] = field(default_factory=dict)
    _findings: list[int] = field(default_factory=list)
    _pending: tuple[str, frozenset[int], int] | None = None

    def record(self, version: int, author: str, record: Record) -> frozenset[int]:
        """Take in a typed entry; return the findings it made stale (none for most entries)."""
        if isinstance(record, Finding):
            return self.finding(version, author, record.citations)
        if isinstance(record, AgentRun):
            self.run(record.agent, record.inputs, ok=record.status == "ok", outputs=record.outputs)
        elif isinstance(record, Retraction):
            self.notices.add(record.notice)
            return self.retract(version, record.ref)
        return _NONE

    def row(self, row: StoredEntry) -> frozenset[int]:
        """Take in a stored row (its kind need not be importable); return the findings it made stale."""
        payload = _json(row.payload)
        if row.kind == AgentRun.kind_name:
            inputs = payload.get("inputs", ())
            ok = payload.get("status") == "ok"
            self.run(str(payload.get("agent")), inputs, ok=ok, outputs=int(payload.get("outputs", 0)))
        elif row.kind == Retraction.kind_name:
            version = payload.get("version")
            self.notices.add(int(payload.get("notice", 0)))
            return self.retract(row.version, SourceRef(str(payload.get("source")), version))
        elif "subject" in payload and "confidence" in payload:  # a finding, of whatever kind
            return self.finding(row.version, row.author, tuple(_cited(payload.get("citations"))))
        return frozenset()

    def run(self, agent: str, inputs: Iterable[Iterable[int]], *, ok: bool, outputs: int) -> None:
        """An agent's attempt: the findings that follow an "ok" one by the same agent derive from its `inputs`."""
        if ok and outputs:
            self._pending = (agent, frozenset(v for vs in inputs for v in vs), outputs)

    def finding(self, version: int, author: str, cited: Sequence[Cited]) -> frozenset[int]:
        """A finding at `version` citing `cited`; stale at once if it cites a standing retraction or derives from a
        stale finding."""
        inputs = _NONE
        pending = self._pending
        if pending is not None and pending[0] == author:
            inputs = pending[1]
            self._pending = (author, inputs, pending[2] - 1) if pending[2] > 1 else None
        self._findings.append(version)
        if cited:
            self._cited[version] = cited
        if inputs:
            self._inputs[version] = inputs
        if not (self.standing and (cited or inputs)):
            return _NONE  # the common case: nothing retracted on this board yet
        for notice, ref in self.standing:
            if any(ref.covers(c) for c in cited):
                return self._mark(version, notice)
        stale_input = min((v for v in inputs if v in self.stale), default=0)
        if stale_input:
            return self._mark(version, self.because[stale_input])
        return _NONE

    def retract(self, version: int, ref: SourceRef) -> frozenset[int]:
        """A retraction at `version`: every finding so far that cites `ref`, or derives from one, becomes stale."""
        self.standing.append((version, ref))
        return frozenset(self._spread(version, ref))

    def _spread(self, version: int, ref: SourceRef) -> Iterator[int]:
        # Inputs always precede what was derived from them, so one pass in version order reaches every descendant.
        for finding in self._findings:
            if finding in self.stale:
                continue
            cites = any(ref.covers(c) for c in self._cited.get(finding, ()))
            if cites or self._inputs.get(finding, frozenset()) & self.stale:
                self._mark(finding, version)
                yield finding

    def _mark(self, finding: int, because: int) -> frozenset[int]:
        self.stale.add(finding)
        self.because[finding] = because
        return frozenset((finding,))

    def cites(self, finding: int, ref: SourceRef) -> bool:
        """Whether the finding at version `finding` itself cites `ref` (rather than deriving from one that does)."""
        return any(ref.covers(c) for c in self._cited.get(finding, ()))


def _json(payload: str) -> dict[str, Any]:
    try:
        found = json.loads(payload)
    except json.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def _cited(citations: object) -> Iterator[_Stored]:
    if not isinstance(citations, list):
        return
    for citation in citations:
        if isinstance(citation, dict) and isinstance(citation.get("source"), str):
            version = citation.get("version")
            yield _Stored(citation["source"], version if isinstance(version, str) else None)
