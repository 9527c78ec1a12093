"""`slateboard retract SOURCE[@VERSION] --reason TEXT`: mark a source (or one version of it) as retracted.

The notice is recorded store-wide and on every board with a finding that cites the source; the command prints, per
board, the findings left stale (citing and derived) and the commits that rested on them, which a person must decide
on (see docs/retraction.md). Nothing is undone and no agent runs here: each board's next run takes it into account.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from slateboard._internal.sync import run_sync
from slateboard.blackboard import Blackboard
from slateboard.cli.console import console, print_json
from slateboard.cli.options import DbOption, JsonOption, store_url
from slateboard.controller.retraction import retract as retract_source
from slateboard.observe.affected import affected_boards
from slateboard.state.impact import BoardImpact
from slateboard.state.retractions import RETRACTOR, parse_source

__all__ = ("retract", "impact_json", "show_affected")


def retract(
    source: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE[@VERSION]", help="The source as findings cite it (Citation.source), optionally @version."
        ),
    ],
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why it is retracted (recorded on every board).")],
    by: Annotated[
        str, typer.Option(metavar="NAME", help="Who retracts it: a person or a feed (recorded as the author).")
    ] = RETRACTOR,
    db: DbOption = "",
    as_json: JsonOption = False,
) -> None:
    """Retract a source (or one version): record it, mark every finding that cites it and everything derived from
    them stale on each board, and list the boards, with the commits that rested on them for a person to decide."""
    ref = parse_source(source)
    with Blackboard.open(store_url(db)) as blackboard:
        report = run_sync(retract_source, blackboard, ref.source, version=ref.version, reason=reason, by=by)
    if as_json:
        document = report.model_dump(mode="json", exclude={"boards"})
        print_json({**document, "boards": [impact_json(b) for b in report.boards], "commits": report.commits})
        return
    out = console()
    for line in report.lines():
        out.print(escape(line))


def impact_json(board: BoardImpact) -> dict[str, Any]:
    """One affected board as JSON: its fields and the `stale` versions (citing and derived together)."""
    return {**board.model_dump(mode="json"), "stale": list(board.stale)}


def show_affected(source: str, db: str, *, as_json: bool) -> None:
    """What `boards --affected-by SOURCE` prints: each board a retraction of it concerns (read-only)."""
    ref = parse_source(source)
    with Blackboard.open(store_url(db), read_only=True) as blackboard:
        found = affected_boards(blackboard, ref)
    if as_json:
        print_json({"source": ref.source, "version": ref.version, "boards": [impact_json(b) for b in found]})
        return
    out = console()
    for board in found:
        recorded = "retracted" if board.recorded else "not retracted yet"
        out.print(escape(f"{board.describe()} [{recorded}]"))
    out.print(escape(f"{len(found)} board(s) cite {ref}"))
