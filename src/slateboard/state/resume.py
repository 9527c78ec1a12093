"""Resuming the controller's state from a board's snapshot (blackboard.snapshots) instead of the whole log.

`resumed_state(board, agents)` is what the controller loads a board with: the board's snapshot, when one matches
the log, gives the entries (as columns, decoded when read) and the state after them; only the entries after it are
read, decoded and ingested. Without a usable snapshot it is `BoardState.of(view)`, exactly as before. Either way
the result equals the state folded from the whole log (a test checks it over random boards and snapshot points).

What is kept of the state is small and plain, so that reviving it builds next to nothing per entry: its findings
by version only (the revived state reads each from the board's index when a rule asks for it: the same object a
view returns, and the staleness fold's citations are that finding's), each finding's provenance and inputs as a
code into the distinct ones, and the version lists packed; every other field as it is.

When snapshots are written: when a board is loaded cold (this process holds none of its entries) and at least
`snapshot_every(version)` entries follow its snapshot (at least `SNAPSHOT_EVERY`, and a quarter of the entries
the snapshot covers, so that the cost of encoding a growing board stays proportional to its growth), the state
just folded is kept, before any decision touches it. A board that never grows past `SNAPSHOT_EVERY` entries never
gets one and pays nothing; a board this process already holds is not snapshotted again. The state is kept only
for the same agents (by name, in order): what an agent may read decides what the state marks as work, so a
controller with other agents folds its own from the snapshot's entries.
"""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from slateboard.agents.spec import Agent
from slateboard.blackboard.board import Board
from slateboard.blackboard.columns import ColumnsError, ints, packed
from slateboard.blackboard.records import Finding
from slateboard.blackboard.snapshots import Restored, allow_in_snapshots
from slateboard.blackboard.view import BoardView
from slateboard.errors import ReadOnlyStoreError, TamperedLogError
from slateboard.state.keys import KeyBook
from slateboard.state.projection import BoardState, Provenance
from slateboard.state.retractions import Staleness

__all__ = ("SNAPSHOT_EVERY", "SavedState", "resumed_state", "revive", "snapshot_every", "save_state")

SNAPSHOT_EVERY = 1000
"""The fewest new entries after a board's snapshot (or from its start) that make the next load keep a new one."""
_TRANSIENT = frozenset({"agents", "_readers"})  # the agents themselves, and a cache keyed by their input types
_PACKED = frozenset({"findings", "provenance", "_all"})  # kept in `SavedState`'s own compact fields
_log = logging.getLogger("slateboard.state")
V = TypeVar("V")
T = TypeVar("T")
_Key = tuple[str, str]


@dataclass(frozen=True)
class SavedState:
    """The controller's part of a snapshot: the agents' names it was folded for, the state's fields but three (and
    its staleness fold without what it keeps per finding), and those packed: the findings' versions, each one's
    provenance (the distinct provenances, and a code per finding), the (kind, subject) lists (the keys, their
    versions one run after another, and where each run ends), the versions of the findings that cite a source, every
    finding's version in the staleness fold, and the derived findings' inputs (versions, distinct inputs, codes).
    Integers are packed as `blackboard.columns.packed` bytes; None stands for the findings' own versions."""

    agents: tuple[str, ...]
    fields: dict[str, Any]
    findings: bytes
    provenance: tuple[tuple[Provenance, ...], bytes]
    lists: tuple[tuple[_Key, ...], bytes, bytes]
    cited: bytes | None
    staleness_findings: bytes | None
    inputs: tuple[bytes, tuple[frozenset[int], ...], bytes]


allow_in_snapshots(SavedState, BoardState, KeyBook)


class _ByVersion(MutableMapping[int, V]):
    """A mapping by version whose values up to a snapshot are fetched when read: the snapshot's keys (`versions`,
    ascending) and `fetch(position, version)`; what is set later is held as a dict would hold it."""

    def __init__(self, versions: array[int], fetch: Callable[[int, int], V]) -> None:
        self._versions = versions
        self._fetch = fetch
        self._more: dict[int, V] = {}
        self._gone: set[int] = set()  # snapshot keys deleted or set again (then held in `_more`)

    def _position(self, version: int) -> int:
        versions = self._versions
        at = bisect_left(versions, version)
        found = at < len(versions) and versions[at] == version and version not in self._gone
        return at if found else -1

    def __getitem__(self, version: int) -> V:
        if version in self._more:
            return self._more[version]
        at = self._position(version)
        if at < 0:
            raise KeyError(version)
        return self._fetch(at, version)

    def __setitem__(self, version: int, value: V) -> None:
        versions = self._versions
        if versions and version <= versions[-1] and self._position(version) >= 0:
            self._gone.add(version)
        self._more[version] = value

    def __delitem__(self, version: int) -> None:
        if version in self._more:
            del self._more[version]
        elif self._position(version) >= 0:
            self._gone.add(version)
        else:
            raise KeyError(version)

    def __contains__(self, version: object) -> bool:
        return version in self._more or (isinstance(version, int) and self._position(version) >= 0)

    def __iter__(self) -> Iterator[int]:
        if self._gone:
            yield from (v for v in self._versions if v not in self._gone)
        else:
            yield from self._versions
        yield from self._more

    def __len__(self) -> int:
        return len(self._versions) - len(self._gone) + len(self._more)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} versions, {len(self._versions)} from a snapshot)"


def snapshot_every(version: int) -> int:
    """New entries after a snapshot at `version` that make the next load keep a new one."""
    return max(SNAPSHOT_EVERY, version // 4)


def _names(agents: Sequence[Agent]) -> tuple[str, ...]:
    return tuple(agent.name for agent in agents)


def _saved(state: BoardState) -> SavedState:
    held = vars(state)
    fields = {name: value for name, value in held.items() if name not in _TRANSIENT | _PACKED}
    versions = array("q", sorted(state.findings))
    if len(state.provenance) != len(versions):
        raise ValueError(f"the state holds {len(versions)} findings and {len(state.provenance)} provenances")
    stale = state.staleness
    # What the staleness fold keeps per finding is the finding's own citations (packed as the versions that cite),
    # every finding's version, and each derived finding's inputs; the rest of it is kept as it is.
    fields["staleness"] = replace(stale, _cited={}, _findings=[], _inputs={})
    inputs = array("q", sorted(stale._inputs))
    return SavedState(
        agents=_names(state.agents),
        fields=fields,
        findings=packed(versions),
        provenance=_table(state.provenance, versions),
        lists=_runs(held["_all"]),
        cited=_unless_same(array("q", sorted(stale._cited)), versions),
        staleness_findings=_unless_same(array("q", stale._findings), versions),
        inputs=(packed(inputs), *_table(stale._inputs, inputs)),
    )


def _unless_same(versions: array[int], findings: array[int]) -> bytes | None:
    """`versions` packed, or None when they are the findings' versions (as they are when every finding cites)."""
    return None if versions == findings else packed(versions)


def _table(values: Mapping[int, T], versions: array[int]) -> tuple[tuple[T, ...], bytes]:
    """Each version's value as a code into the distinct values: most findings share their provenance (the same
    author, upstream and sources) and their inputs, so each is kept and read back once. The values are frozen, so
    sharing one object among versions changes nothing a reader can see."""
    table: dict[T, int] = {}
    codes = array("I", [table.setdefault(values[v], len(table)) for v in versions])
    return tuple(table), packed(codes)


def _runs(lists: Mapping[_Key, Sequence[int]]) -> tuple[tuple[_Key, ...], bytes, bytes]:
    flat, ends = array("q"), array("q")
    for run in lists.values():
        flat.extend(run)
        ends.append(len(flat))
    return tuple(lists), packed(flat), packed(ends)


def _revived(extra: object, view: BoardView, agents: Sequence[Agent]) -> BoardState | None:
    if not isinstance(extra, SavedState) or extra.agents != _names(agents):
        return None
    state = BoardState(agents)
    if set(extra.fields) != set(vars(state)) - _TRANSIENT - _PACKED:  # another release's fields: fold instead
        return None
    try:
        unpacked = _Unpacked(extra, view)
        packed_fields = {"findings": unpacked.findings(), "provenance": unpacked.provenance(), "_all": unpacked.runs()}
        staleness = unpacked.staleness(extra.fields["staleness"], packed_fields["findings"])  # type: ignore[arg-type]
    except (ColumnsError, TypeError, ValueError) as exc:
        _log.warning("board %r: the snapshot's controller state is ignored: %s", view.board, exc)
        return None
    # The findings, provenances and citations are mappings read on demand: the state's code only indexes, gets,
    # sets and iterates them.
    vars(state).update(extra.fields, **packed_fields, staleness=staleness)
    return state


class _Unpacked:
    """`SavedState`'s packed fields read back, each checked for shape (`ColumnsError` says what is wrong)."""

    def __init__(self, extra: SavedState, view: BoardView) -> None:
        self._extra, self._view = extra, view
        self._versions = self._checked(ints(extra.findings))

    def _checked(self, versions: array[int]) -> array[int]:
        # Saved ascending: its ends bound it (O(1); a cold open must not pay per finding for a sealed cache).
        if versions and (versions[0] < 1 or versions[-1] > self._view.version):
            raise ColumnsError(f"it names findings outside versions 1..{self._view.version}")
        return versions

    def _versions_or_findings(self, data: bytes | None) -> array[int]:
        return self._versions if data is None else self._checked(ints(data))

    def findings(self) -> _ByVersion[Finding]:
        view = self._view

        def finding(_: int, version: int) -> Finding:
            record = view.entry(version).payload
            if not isinstance(record, Finding):
                raise TamperedLogError(view.board, version, "the snapshot's state lists a record that is not a finding")
            return record

        return _ByVersion(self._versions, finding)

    def provenance(self) -> _ByVersion[Provenance]:
        return _ByVersion(self._versions, _coded(self._view.board, *self._extra.provenance, len(self._versions)))

    def runs(self) -> dict[_Key, list[int]]:
        keys, flat, ends = self._extra.lists[0], ints(self._extra.lists[1]), ints(self._extra.lists[2])
        if len(ends) != len(keys) or (ends and ends[-1] != len(flat)):
            raise ColumnsError("its (kind, subject) lists do not fit their versions")
        lists, start = {}, 0
        for key, end in zip(keys, ends, strict=True):
            lists[key], start = flat[start:end].tolist(), end
        return lists

    def staleness(self, kept: Staleness, findings: Mapping[int, Finding]) -> Staleness:
        cited = self._versions_or_findings(self._extra.cited)
        inputs = self._checked(ints(self._extra.inputs[0]))
        input_sets = _coded(self._view.board, *self._extra.inputs[1:], len(inputs))
        # The fold only indexes, gets and iterates these two: mappings read on demand stand in for its dicts.
        return replace(
            kept,
            _cited=_ByVersion(cited, lambda _, v: findings[v].citations),
            _findings=self._versions_or_findings(self._extra.staleness_findings).tolist(),
            _inputs=_ByVersion(inputs, input_sets),
        )


def _coded(board: str, table: tuple[T, ...], data: bytes, count: int) -> Callable[[int, int], T]:
    """A fetch for `_ByVersion`: the value at a position is `table[codes[position]]`."""
    codes = ints(data, "I")
    if len(codes) != count:
        raise ColumnsError(f"it holds {len(codes)} codes for {count} versions")

    def fetch(at: int, version: int) -> T:
        try:
            return table[codes[at]]
        except IndexError:  # checked when read: a cold open reads none of them
            problem = "the snapshot's controller state has a code outside its table"
            raise TamperedLogError(board, version, problem) from None

    return fetch


async def resumed_state(board: Board, agents: Sequence[Agent], *, keep: bool = True) -> BoardState:
    """The controller's state after every entry of `board`: from its snapshot and the entries after it when a
    snapshot matches the log, else from the whole log. With `keep`, a new snapshot is kept when enough entries
    followed the last one (see the module docstring)."""
    restored = await board.restore()
    state = await revive(board, restored, agents)
    view = await board.view()
    for entry in view.since(state.version):
        state.ingest(entry)
    # Only a cold load knows where the board's snapshot stands; a board this process already holds keeps going.
    if keep and restored is not None and state.version - restored.version >= snapshot_every(restored.version):
        await save_state(board, state)
    return state


async def revive(board: Board, restored: Restored | None, agents: Sequence[Agent]) -> BoardState:
    """The state `restored` (what `board.restore()` gave) kept for `agents`, up to the snapshot's version; a new
    state (version 0) when there is none for them."""
    if restored is not None and restored.version:
        revived = _revived(restored.extra, await board.view(at=restored.version), agents)
        if revived is not None:
            return revived
    return BoardState(agents)


async def save_state(board: Board, state: BoardState) -> int:
    """Keep a snapshot of `board` at `state.version` with `state` beside its entries; the version it covers.

    `state` must be folded from the log alone (no decision has consumed what it marks as changed)."""
    try:
        return await board.save_snapshot(_saved(state), at=state.version)
    except ReadOnlyStoreError:  # a store opened for reading keeps what it has
        return 0
    except Exception as exc:  # a snapshot is a cache: failing to keep one must not fail the run
        _log.warning("board %r: no snapshot kept at version %d: %s", board.name, state.version, exc)
        return 0
