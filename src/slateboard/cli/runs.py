"""Running scenarios: `run` (and its deprecated alias `demo`), `list` and `graph`.

`run` takes a built-in scenario (`support-case`, `support-case/conflict`), a YAML file or `module:attribute`, runs
or resumes it on a board, and prints every entry, the outcome and why, a replay of every decision and the hash-chain
check; it exits 1 when the outcome is not the one the scenario expects. `--dry-run` swaps the scenario's sink for a
`DryRun` that records what it would apply, on a throwaway store.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from slateboard import scenarios
from slateboard._internal.sync import run_sync
from slateboard.blackboard import Blackboard
from slateboard.cli.console import console, print_json
from slateboard.cli.console import shown as escape
from slateboard.cli.options import FLAG, DbOption, JsonOption, store_url
from slateboard.cli.render import entry_line, outcome_lines
from slateboard.controller import DryRun
from slateboard.errors import ConfigurationError

__all__ = ("run", "demo", "list_scenarios", "graph", "DEMO_VARIANTS")

ScenarioArgument = Annotated[
    str,
    typer.Argument(
        metavar="SCENARIO",
        help="A built-in scenario (support-case, or family/variant; see `slateboard list`), a YAML scenario file, or "
        "package.module:attribute naming a Scenario or a function annotated -> Scenario (the current directory is "
        "importable, as with python -m).",
        show_default=False,
    ),
]
VariantOption = Annotated[
    str | None,
    typer.Option(
        metavar="VARIANT",
        help="One of the scenario's variants: a built-in's (see `slateboard list`), a file's `variants:`, a Python "
        "Scenario's variants=; an unknown one is an error naming them.",
    ),
]
# What `demo --variant` used to stage, as the support case's variants: its happy path already has a customer reply
# waiting for a person's approval.
DEMO_VARIANTS = {"happy": None, "conflict": "conflict", "approval": None}


def run(  # noqa: PLR0917 - Typer reads the parameters as the command's arguments and options
    scenario: ScenarioArgument,
    variant: VariantOption = None,
    board: Annotated[
        str | None, typer.Option(metavar="BOARD", help="Board to run on (default: the scenario's name).")
    ] = None,
    db: DbOption = "",
    as_json: JsonOption = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            metavar=FLAG,
            help="Run with a sink that records what it would apply and applies nothing, on a throwaway memory:// "
            "store (not with --db).",
        ),
    ] = False,
) -> None:
    """Run (or resume) a scenario: built-in, a YAML file, or module:attribute.

    Prints every entry, the outcome and why, the replay and the hash-chain check; exits 1 when the outcome is not
    the one the scenario expects."""
    chosen = scenarios.resolve(scenario, variant)
    if dry_run and db:
        raise ConfigurationError("--dry-run runs on a throwaway memory:// store: drop --db")
    url = "memory://" if dry_run else store_url(db)
    planned = DryRun(of=chosen.title) if dry_run else None
    with Blackboard.open(url) as blackboard:
        result = chosen.run_sync(blackboard, board=board, sink=planned)
        history = run_sync(result.board.history)
        replay = run_sync(result.controller.replay, result.board)
        head = run_sync(result.board.verify)
    if as_json:
        print_json(
            {
                "scenario": chosen.title,
                "board": result.board.name,
                "ok": result.ok,
                "problems": result.problems,
                "outcome": result.outcome.model_dump(mode="json"),
                "replay_identical": replay.identical,
                "head": head.model_dump(),
                **({"dry_run": [p.model_dump(mode="json") for p in planned.planned]} if planned is not None else {}),
            }
        )
    else:
        out = console()
        out.print(f"[bold]{escape(chosen.title)}[/bold] on board [cyan]{escape(result.board.name)}[/cyan] ({url})")
        for entry in history:
            out.print(entry_line(entry))
        for line in outcome_lines(result.outcome):
            out.print(line)
        out.print(f"replay: {escape(str(replay))}")
        out.print(f"[green]verify: OK[/green]: {head.version} entries, head hash {head.hash}")
        if planned is not None:
            out.print(f"[yellow]dry run[/yellow]: {len(planned.planned)} application(s) recorded, none applied")
            for step in planned.planned:
                out.print(f"  {escape(str(step))}")
        for problem in result.problems:
            out.print(f"[red]unexpected[/red]: {escape(problem)}")
    if not result.ok:
        raise typer.Exit(1)


def demo(
    db: DbOption = "",
    board: Annotated[str | None, typer.Option(help="Board to run the case on (default: the scenario's name).")] = None,
    variant: Annotated[str, typer.Option(help="happy, conflict or approval.")] = "happy",
) -> None:
    """Deprecated: `slateboard run support-case` (--variant conflict for the conflict)."""
    if variant not in DEMO_VARIANTS:
        raise ConfigurationError(f"--variant must be one of {', '.join(DEMO_VARIANTS)}, got {variant!r}")
    chosen = DEMO_VARIANTS[variant]
    instead = "slateboard run support-case" + (f" --variant {chosen}" if chosen else "")
    console(stderr=True).print(f"[yellow]note[/yellow]: `slateboard demo` is deprecated; running `{instead}`")
    run("support-case", variant=chosen, board=board, db=db)


def list_scenarios(as_json: JsonOption = False) -> None:
    """List the built-in scenarios and their variants."""
    found = scenarios.families()
    if as_json:
        print_json(
            [{"name": f.name, "seed": f.seed, "summary": f.summary, "variants": f.variants} for f in found.values()]
        )
        return
    out = console()
    for family in found.values():
        out.print(f"[bold]{family.name}[/bold] (seed {family.seed}): {escape(family.summary)}")
        out.print(f"  variants: {', '.join(family.variants)}")


def graph(scenario: ScenarioArgument, variant: VariantOption = None) -> None:
    """Print a scenario as a Mermaid flowchart: its agents and the finding kinds they read and write, its rules
    (what each judges and decides) and its policy's gates before the commit."""
    sys.stdout.write(scenarios.resolve(scenario, variant).controller().mermaid())
