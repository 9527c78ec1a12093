"""What many `slateboard` commands take: the store (`--db`), `--json`, `--scenario`, `--board`; and the board a
command names, with its rows or the controller that ran it."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from slateboard import scenarios
from slateboard.blackboard import DEFAULT_URL, Blackboard, Board
from slateboard.controller import Controller
from slateboard.errors import ScenarioError
from slateboard.observe.rows import board_rows

__all__ = (
    "FLAG",
    "DbOption",
    "JsonOption",
    "ScenarioOption",
    "BoardsOption",
    "VariantOption",
    "store_url",
    "rows",
    "controller_for",
)

FLAG = ""
"""The metavar of an on/off flag: none (Typer would show the parameter's type, `<bool>`, beside every flag)."""

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        metavar="URL",
        help="Store URL: sqlite:///file.db or memory://; default $SLATEBOARD_DB or sqlite:///slateboard.db",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", metavar=FLAG, help="Print JSON for machines instead of tables.")]
ScenarioOption = Annotated[
    str | None,
    typer.Option(
        "--scenario",
        metavar="SCENARIO",
        help="The scenario that ran the board (built-in, file or module:attribute); default: the one it recorded.",
    ),
]
BoardsOption = Annotated[
    list[str] | None, typer.Option("--board", metavar="BOARD", help="Only this board (repeatable); default: all.")
]
VariantOption = Annotated[
    str | None,
    typer.Option(
        metavar="VARIANT",
        help="A variant of the scenario (built-in: see `slateboard list`; files and Python scenarios declare theirs).",
    ),
]


def store_url(db: str) -> str:
    """The store a command uses: `--db` when given, else `$SLATEBOARD_DB`, else the embedded SQLite default."""
    return db or os.environ.get("SLATEBOARD_DB", DEFAULT_URL)


rows = board_rows


def controller_for(blackboard: Blackboard, board: str, use: str, scenario: str | None) -> tuple[Controller, Board]:
    """`scenarios.controller_for`, with the command line's way out when no scenario can be found: `--scenario`, or
    doing `use` (approve, reject, replay) from Python."""
    try:
        return scenarios.controller_for(blackboard, board, scenario)
    except ScenarioError as exc:
        if scenario is not None:
            raise
        hint = (
            f"name it with --scenario FILE_OR_MODULE:ATTRIBUTE, or {use} it from Python (controller.{use}(board, ...))"
        )
        raise ScenarioError(f"{exc}; {hint}") from exc
