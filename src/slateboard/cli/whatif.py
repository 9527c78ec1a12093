"""`slateboard whatif`: re-judge recorded boards under a changed policy or rule set, running nothing.

Text for people (per board a head line, a line per change, the outcome; then a summary count), JSON for machines.
The exit code is 0 whether or not anything would change, unless `--fail-on-change` asks for 1 when something would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from slateboard.blackboard import Blackboard
from slateboard.cli.console import console, print_json
from slateboard.cli.console import shown as escape
from slateboard.cli.options import FLAG, DbOption, JsonOption, ScenarioOption, store_url
from slateboard.controller import WhatIfReport
from slateboard.errors import ConfigurationError

__all__ = ("whatif",)


def whatif(  # noqa: PLR0917 - one parameter per command-line option, as Typer reads them
    boards: Annotated[
        list[str] | None,
        typer.Argument(metavar="BOARD", help="The boards to re-judge (or --all).", show_default=False),
    ] = None,
    all_boards: Annotated[bool, typer.Option("--all", metavar=FLAG, help="Every board of the store.")] = False,
    policy: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="The changed policy: a TOML or YAML policy file (default: the board's own policy)."
        ),
    ] = None,
    rules: Annotated[
        str | None,
        typer.Option(
            metavar="MODULE:ATTR",
            help="The changed rules: package.module:attribute naming a list of rules (the current directory is "
            "importable, as with python -m; default: the board's own rules).",
        ),
    ] = None,
    scenario: ScenarioOption = None,
    db: DbOption = "",
    as_json: JsonOption = False,
    fail_on_change: Annotated[
        bool,
        typer.Option(
            "--fail-on-change", metavar=FLAG, help="Exit 1 when any decision, verdict or outcome would change."
        ),
    ] = False,
) -> None:
    """Re-judge recorded boards under a changed policy or rule set: what would change, and why.

    --policy FILE and/or --rules module:attribute; the boards by name, or --all. No agent or sink runs and nothing
    is written; the exit code is 0 whether or not anything would change, unless --fail-on-change."""
    if bool(boards) == all_boards:
        raise ConfigurationError("name the boards to re-judge, or give --all (not both)")
    if policy is None and rules is None:
        raise ConfigurationError(
            "give the changed policy (--policy FILE), the changed rules (--rules module:attr), or both"
        )
    # Imported here: slateboard.testing brings hypothesis, which every other command would pay for at start-up.
    from slateboard.testing.whatif import whatif_boards  # noqa: PLC0415

    with Blackboard.open(store_url(db)) as blackboard:
        chosen = None if all_boards else boards
        reports = whatif_boards(blackboard, policy=policy, rules=rules, boards=chosen, scenario=scenario)
    changed = sum(report.changed for report in reports)
    if as_json:
        print_json({"boards": [_json(r) for r in reports], "checked": len(reports), "changed": changed})
    else:
        out = console()
        for report in reports:
            for line in report.lines():
                out.print(escape(line))
        changes = sum(len(report.changes()) for report in reports)
        out.print(f"{len(reports)} board(s) re-judged: {changed} would change ({changes} change(s) in all)")
    if fail_on_change and changed:
        raise typer.Exit(1)


def _json(report: WhatIfReport) -> dict[str, object]:
    """The report as JSON, with each `changed` flag spelt out for a machine that does not recompute it."""
    document = report.model_dump(mode="json")
    document["changed"] = report.changed
    for entry, decision in zip(document["decisions"], report.decisions, strict=True):
        entry["changed"] = decision.changed
    for entry, proposal in zip(document["proposals"], report.proposals, strict=True):
        entry["changed"] = proposal.changed
    return document
