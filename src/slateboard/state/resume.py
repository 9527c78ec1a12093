"""Resuming the controller's state from a board's snapshot (blackboard.snapshots) instead of the whole log.

`resumed_state(board, agents)` is what the controller loads a board with: the board's snapshot, when one matches
the log, gives the decoded entries and the state after them; only the entries after it are read, decoded and
ingested. Without a usable snapshot it is `BoardState.of(view)`, exactly as before. Either way the result equals
the state folded from the whole log (a test checks it over random boards and snapshot points).

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slateboard.agents.spec import Agent
from slateboard.blackboard.board import Board
from slateboard.blackboard.snapshots import allow_in_snapshots
from slateboard.errors import ReadOnlyStoreError
from slateboard.state.keys import KeyBook
from slateboard.state.projection import BoardState, Provenance

__all__ = ("SNAPSHOT_EVERY", "SavedState", "resumed_state", "snapshot_every", "save_state")

SNAPSHOT_EVERY = 1000
"""The fewest new entries after a board's snapshot (or from its start) that make the next load keep a new one."""
_TRANSIENT = frozenset({"agents", "_readers"})  # the agents themselves, and a cache keyed by their input types
_log = logging.getLogger("slateboard.state")


@dataclass(frozen=True)
class SavedState:
    """The controller's part of a snapshot: the agents' names it was folded for, and the state's fields."""

    agents: tuple[str, ...]
    fields: dict[str, Any]


allow_in_snapshots(SavedState, BoardState, KeyBook)


def snapshot_every(version: int) -> int:
    """New entries after a snapshot at `version` that make the next load keep a new one."""
    return max(SNAPSHOT_EVERY, version // 4)


def _names(agents: Sequence[Agent]) -> tuple[str, ...]:
    return tuple(agent.name for agent in agents)


def _saved(state: BoardState) -> SavedState:
    fields = {name: value for name, value in vars(state).items() if name not in _TRANSIENT}
    # Most findings share their provenance (the same author, upstream and sources): kept once, read back once.
    # Provenance is frozen, so sharing one object among versions changes nothing a reader can see.
    shared: dict[Provenance, Provenance] = {}
    fields["provenance"] = {v: shared.setdefault(p, p) for v, p in state.provenance.items()}
    return SavedState(_names(state.agents), fields)


def _revived(extra: object, agents: Sequence[Agent]) -> BoardState | None:
    if not isinstance(extra, SavedState) or extra.agents != _names(agents):
        return None
    state = BoardState(agents)
    expected = set(vars(state)) - _TRANSIENT
    if set(extra.fields) != expected:  # another release's fields: fold from the entries instead
        return None
    vars(state).update(extra.fields)
    return state


async def resumed_state(board: Board, agents: Sequence[Agent], *, keep: bool = True) -> BoardState:
    """The controller's state after every entry of `board`: from its snapshot and the entries after it when a
    snapshot matches the log, else from the whole log. With `keep`, a new snapshot is kept when enough entries
    followed the last one (see the module docstring)."""
    restored = await board.restore()
    revived = None if restored is None else _revived(restored.extra, agents)
    state = revived if revived is not None else BoardState(agents)
    view = await board.view()
    for entry in view.since(state.version):
        state.ingest(entry)
    # Only a cold load knows where the board's snapshot stands; a board this process already holds keeps going.
    if keep and restored is not None and state.version - restored.version >= snapshot_every(restored.version):
        await save_state(board, state)
    return state


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
