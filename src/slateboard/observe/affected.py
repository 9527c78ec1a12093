"""Which boards a source concerns: what `slateboard boards --affected-by SOURCE[@VERSION]` lists.

Read-only, from stored rows (finding kinds need not be importable): each board with a finding that cites the
source, the findings a retraction of it leaves stale there (citing and derived), the commits that rested on them,
and whether the retraction is already recorded on the board (see slateboard.state.impact).
"""

from __future__ import annotations

from collections.abc import Sequence

from slateboard.blackboard.board import Blackboard
from slateboard.state.impact import BoardImpact, impact
from slateboard.state.retractions import RETRACTIONS_BOARD, SourceRef, parse_source

__all__ = ("BoardImpact", "affected_boards")


def affected_boards(
    blackboard: Blackboard, source: str | SourceRef, boards: Sequence[str] | None = None
) -> list[BoardImpact]:
    """The boards (of `boards`, default all) that `source` concerns, by name; `source` is "SOURCE" or
    "SOURCE@VERSION" (or a `SourceRef`)."""
    ref = source if isinstance(source, SourceRef) else parse_source(source)
    names = list(boards) if boards is not None else blackboard.boards()
    found = []
    for name in names:
        if name == RETRACTIONS_BOARD:
            continue
        rows = blackboard.store.read(name, after=0, upto=None, wait=True)
        board = impact(name, rows, ref)
        if board is not None:
            found.append(board)
    return found
