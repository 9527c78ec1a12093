"""`slateboard settle BOARD`: a person answers an escalated board, then the run goes on from the answer.

The board names the scenario that ran it, so its controller is rebuilt from the board alone (`--scenario` names it
for boards that do not). `--correct KIND=JSON` supplies a corrected finding instead of choosing one (its subject
defaults to the escalated finding's of that kind, its confidence to 1). `--no-run` records the answer and stops.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from slateboard._internal.sync import run_sync
from slateboard.blackboard import Blackboard, Board
from slateboard.blackboard.records import Finding
from slateboard.cli.console import console
from slateboard.cli.console import shown as escape
from slateboard.cli.options import DbOption, ScenarioOption, controller_for, store_url
from slateboard.cli.render import outcome_lines
from slateboard.controller.settle import correction
from slateboard.errors import SettlementError
from slateboard.state.records import Decision

__all__ = ("settle",)


def settle(  # noqa: PLR0917 - Typer reads the parameters as the command's arguments and options
    board: str,
    reviewer: Annotated[str, typer.Option(help="Who answers (recorded on the board as the answer's author).")],
    choose: Annotated[
        int | None, typer.Option(help="The version of the finding that is right; the conflict's others are set aside.")
    ] = None,
    correct: Annotated[
        str | None, typer.Option(help='A corrected finding instead: KIND=JSON, e.g. support.Check={"ok": true}.')
    ] = None,
    close: Annotated[str | None, typer.Option(help="Close the case instead, for this reason.")] = None,
    note: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "",
    run: Annotated[bool, typer.Option("--run/--no-run", help="Go on with the run after answering.")] = True,
    scenario: ScenarioOption = None,
    db: DbOption = "",
) -> None:
    """Settle an escalated board: --choose the finding that is right, --correct it, or --close the case."""
    given = sum(option is not None for option in (choose, correct, close))
    if given != 1:
        said = "more than one" if given else "none"
        raise SettlementError(
            board, f"settle takes exactly one of --choose VERSION, --correct KIND=JSON or --close REASON (got {said})"
        )
    with Blackboard.open(store_url(db)) as blackboard:
        controller, target = controller_for(blackboard, board, "settle", scenario)
        finding = _correction(target, correct) if correct is not None else None
        settled = run_sync(
            controller.settle, target, reviewer=reviewer, choose=choose, close=close, finding=finding, note=note
        )
        version = (run_sync(target.view)).version
        out = console()
        out.print(escape(settled.describe(version)))
        if run:
            outcome = run_sync(controller.run, target)
            for line in outcome_lines(outcome):
                out.print(line)


def _correction(board: Board, given: str) -> Finding:
    """`KIND=JSON` as a finding of that kind, its subject and confidence filled in when left out."""
    kind_name, sep, text = given.partition("=")
    try:
        fields: Any = json.loads(text) if sep else None
    except json.JSONDecodeError as exc:
        raise SettlementError(board.name, f"--correct takes KIND=JSON; the JSON does not parse: {exc}") from exc
    if not isinstance(fields, dict):
        raise SettlementError(board.name, f"--correct takes KIND=JSON with a JSON object, got {given!r}")
    name = kind_name.strip()
    subject = fields["subject"] if "subject" in fields else _escalated_subject(board, name)
    return correction(board.name, name, fields, subject=str(subject), where="--correct")


def _escalated_subject(board: Board, kind_name: str) -> str:
    """The subject of the escalation's finding of `kind_name` (the last decision's reasons name its version)."""
    view = run_sync(board.view)
    decisions = [e.payload for e in view.entries() if isinstance(e.payload, Decision)]
    for reason in decisions[-1].reasons if decisions else ():
        for version in reason.findings:
            payload = view.entry(version).payload
            if isinstance(payload, Finding) and payload.kind_name == kind_name:
                return payload.subject
    raise SettlementError(board.name, f"--correct: the escalation names no {kind_name}; give its subject in the JSON")
