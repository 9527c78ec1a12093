"""A person's answers to a waiting proposal: `approve` (with edits) and `reject` (with a reason).

The board names the scenario that ran it, so the controller is rebuilt from the board alone; `--scenario` names it
for boards that do not (run before boards recorded it, or by a controller built in Python).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from slateboard._internal.sync import run_sync
from slateboard.blackboard import Blackboard
from slateboard.cli.console import console
from slateboard.cli.console import shown as escape
from slateboard.cli.options import DbOption, ScenarioOption, controller_for, store_url
from slateboard.cli.render import dump, outcome_lines
from slateboard.commit import sinks
from slateboard.controller import Outcome
from slateboard.errors import ConfigurationError

__all__ = ("approve", "reject", "parse_edits")


def parse_edits(edits: list[str]) -> dict[str, Any]:
    """`Field=value` pairs as changes: a value is read as JSON when it parses, else as a plain string."""
    parsed: dict[str, Any] = {}
    for item in edits:
        field, sep, value = item.partition("=")
        if not sep or not field:
            raise ConfigurationError(f"--edit takes Field=value, got {item!r}")
        try:
            parsed[field] = json.loads(value)
        except json.JSONDecodeError:
            parsed[field] = value  # a bare word is a string
    return parsed


def approve(  # noqa: PLR0917 - Typer reads the parameters as the command's arguments and options
    board: str,
    key: str,
    reviewer: Annotated[str, typer.Option(help="Who approves (recorded on the board).")],
    edit: Annotated[list[str] | None, typer.Option(help="Change a field before committing: Field=value.")] = None,
    note: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "",
    scenario: ScenarioOption = None,
    db: DbOption = "",
) -> None:
    """Approve the proposal waiting under KEY on a board (with edits) and commit it, once."""
    edits = parse_edits(edit or [])
    with Blackboard.open(store_url(db)) as blackboard:
        controller, target = controller_for(blackboard, board, "approve", scenario)
        outcome = run_sync(controller.approve, target, key, reviewer=reviewer, edits=edits, note=note)
        _print(outcome)
        if isinstance(controller.sink, sinks.Table):  # show the record as the commit left it
            rows = controller.sink.rows(blackboard)
            for commit in outcome.commits:
                if commit.key == key:
                    console().print(f"record {escape(dump(rows.get(commit.target)))}")


def reject(  # noqa: PLR0917 - Typer reads the parameters as the command's arguments and options
    board: str,
    key: str,
    reviewer: Annotated[str, typer.Option(help="Who rejects (recorded on the board).")],
    reason: Annotated[str, typer.Option(help="Why (required; recorded on the board).")],
    scenario: ScenarioOption = None,
    db: DbOption = "",
) -> None:
    """Reject the proposal waiting under KEY on a board, recording the reason."""
    with Blackboard.open(store_url(db)) as blackboard:
        controller, target = controller_for(blackboard, board, "reject", scenario)
        _print(run_sync(controller.reject, target, key, reviewer=reviewer, reason=reason))


def _print(outcome: Outcome) -> None:
    out = console()
    for line in outcome_lines(outcome, after_decision=True):
        out.print(line)
