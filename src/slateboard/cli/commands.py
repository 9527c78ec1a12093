"""The `slateboard` command: run the built-in scenarios (`run`, `list`, `graph`, `demo`), act for a person
(`approve`, `reject`), and inspect any store (`audit`, `replay`, `verify`, `boards`, `metrics`).

Errors are one line on stderr and exit code 2; `run`, `replay` and `verify` exit 1 when the board is not as it
should be (an unexpected outcome, a decision that replays differently, a tampered log).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from slateboard import scenarios
from slateboard._internal.sync import run_sync
from slateboard.blackboard import DEFAULT_URL, Blackboard, Board
from slateboard.blackboard.entries import StoredEntry
from slateboard.cli.bench import bench_command
from slateboard.cli.demo import CONTROLLER, VARIANTS, run_demo
from slateboard.cli.metrics_view import BoardsOption, show_metrics
from slateboard.cli.render import dump, entry_line, history_table, render_audit
from slateboard.commit import Verdict, sinks
from slateboard.controller import Controller, Decision, Outcome, RunStarted
from slateboard.errors import SlateboardError, TamperedLogError
from slateboard.observe.audit import build_audit, row_json

__all__ = ("app", "main")

app = typer.Typer(
    help="slateboard: typed findings on a versioned, tamper-evident blackboard.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(
    highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120
)  # logs and pipes get a full row
DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        help="Store URL: sqlite:///file.db or memory://; default $SLATEBOARD_DB or sqlite:///slateboard.db",
    ),
]
ScenarioOption = Annotated[
    str | None,
    typer.Option("--scenario", help="The scenario that ran the board (file or module:attribute), if not a built-in."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of tables.")]


def _default_db() -> str:
    return os.environ.get("SLATEBOARD_DB", DEFAULT_URL)


@app.command()
def demo(
    db: DbOption = "",
    board: Annotated[str, typer.Option(help="Board to run the case on.")] = "case-42",
    variant: Annotated[
        str,
        typer.Option(help="happy; conflict (the knowledge base finds an exception); approval (an email waits)."),
    ] = "happy",
) -> None:
    """Run a support case through intake, entitlement, knowledge and action agents, the policy and the commit layer;
    print every decision, verdict and commit and why."""
    if variant not in VARIANTS:
        raise SlateboardError(f"--variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    url = db or _default_db()
    with Blackboard.open(url) as blackboard:
        result = run_sync(run_demo, blackboard, board, variant)
    console.print(f"[bold]slateboard demo[/bold]: support case on board [cyan]{board}[/cyan] ({url})")
    for entry in result.history:
        console.print(entry_line(entry))
    _print_result(result.outcome)
    if result.record is not None:
        console.print(f"record {escape(dump(result.record))}")
    console.print(f"replay: {result.replay}")
    console.print(f"[green]verify: OK[/green]: {result.head.version} entries, head hash {result.head.hash}")


def _parse_edits(edits: list[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for item in edits:
        field, sep, value = item.partition("=")
        if not sep or not field:
            raise SlateboardError(f"--edit takes Field=value, got {item!r}")
        try:
            parsed[field] = json.loads(value)
        except json.JSONDecodeError:
            parsed[field] = value  # a bare word is a string
    return parsed


def _rows(blackboard: Blackboard, board: str) -> list[StoredEntry]:
    rows = blackboard.store.read(board, after=0, upto=None, wait=True)
    if not rows:
        raise SlateboardError(f"board {board!r} has no entries in {blackboard.url}")
    return rows


def _controller_for(
    blackboard: Blackboard, board: str, use: str, scenario: str | None = None
) -> tuple[Controller, Board]:
    """The controller that ran `board`, matched by its recorded fingerprint: `scenario`'s (a built-in, a file or
    `module:attribute`) when given, else a built-in scenario's or the demo's."""
    # Built first: building them imports their finding kinds, which reading the board needs.
    if scenario is not None:
        candidates = [_scenario(scenario, None).controller()]
    else:
        candidates = [CONTROLLER, *(scenarios.get(name).controller() for name in scenarios.names())]
    # The fingerprints are read from the stored rows: a board of kinds unknown here still gets this clear answer.
    ran = {_payload(row).get("controller") for row in _rows(blackboard, board) if row.kind == RunStarted.kind_name}
    for controller in candidates:
        if controller.fingerprint in ran:
            return controller, blackboard.board(board)
    if scenario is not None:
        raise SlateboardError(f"board {board!r} was not run by scenario {scenario!r} (its controller differs)")
    raise SlateboardError(
        f"board {board!r} was not run by a built-in scenario or the demo; name the scenario that ran it with "
        f"--scenario FILE_OR_MODULE:ATTRIBUTE, or {use} it from Python (controller.{use}(board, ...))"
    )


def _payload(row: StoredEntry) -> dict[str, Any]:
    found = row_json(row)["payload"]
    return found if isinstance(found, dict) else {}


def _import_builtin_kinds() -> None:
    """Build each built-in family once, so their finding kinds are registered and their boards decode fully."""
    for family in scenarios.families().values():
        family.build(family.variants[0])


@app.command()
def approve(  # noqa: PLR0917 - Typer reads the parameters as the command's arguments and options
    board: str,
    key: str,
    reviewer: Annotated[str, typer.Option(help="Who approves (recorded on the board).")],
    edit: Annotated[list[str] | None, typer.Option(help="Change a field before committing: Field=value.")] = None,
    note: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "",
    scenario: ScenarioOption = None,
    db: DbOption = "",
) -> None:
    """Approve the proposal waiting under KEY on a scenario's board (with edits) and commit it, once."""
    with Blackboard.open(db or _default_db()) as blackboard:
        controller, target = _controller_for(blackboard, board, "approve", scenario)
        edits = _parse_edits(edit or [])
        outcome = run_sync(controller.approve, target, key, reviewer=reviewer, edits=edits, note=note)
        _print_result(outcome, after_decision=True)
        table = controller.sink if isinstance(controller.sink, sinks.Table) else None
        for commit in outcome.commits:
            if table is not None and commit.key == key:
                console.print(f"record {escape(dump(table.rows(blackboard).get(commit.target)))}")


@app.command()
def reject(  # noqa: PLR0917 - Typer reads the parameters as the command's arguments and options
    board: str,
    key: str,
    reviewer: Annotated[str, typer.Option(help="Who rejects (recorded on the board).")],
    reason: Annotated[str, typer.Option(help="Why (required; recorded on the board).")],
    scenario: ScenarioOption = None,
    db: DbOption = "",
) -> None:
    """Reject the proposal waiting under KEY on a scenario's board, recording the reason."""
    with Blackboard.open(db or _default_db()) as blackboard:
        controller, target = _controller_for(blackboard, board, "reject", scenario)
        _print_result(run_sync(controller.reject, target, key, reviewer=reviewer, reason=reason), after_decision=True)


@app.command("list")
def list_scenarios(as_json: JsonOption = False) -> None:
    """List the built-in scenarios and their variants."""
    found = scenarios.families()
    if as_json:
        print(
            json.dumps(
                [
                    {"name": f.name, "seed": f.seed, "summary": f.summary, "variants": f.variants}
                    for f in found.values()
                ],
                indent=2,
            )
        )
        return
    for family in found.values():
        console.print(f"[bold]{family.name}[/bold] (seed {family.seed}): {family.summary}")
        console.print(f"  variants: {', '.join(family.variants)}")


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="A built-in scenario: support-case, or family/variant.")],
    variant: Annotated[str | None, typer.Option(help="A failure variant (see `slateboard list`).")] = None,
    board: Annotated[str | None, typer.Option(help="Board to run on (default: the scenario's name).")] = None,
    db: DbOption = "",
    as_json: JsonOption = False,
) -> None:
    """Run (or resume) a built-in scenario on the embedded SQLite default and print what happened and why."""
    chosen = _scenario(scenario, variant)
    url = db or _default_db()
    with Blackboard.open(url) as blackboard:
        result = chosen.run_sync(blackboard, board=board)
        history = run_sync(result.board.history)
        replay = run_sync(result.controller.replay, result.board)
        head = run_sync(result.board.verify)
    if as_json:
        document = {
            "scenario": chosen.title,
            "board": result.board.name,
            "ok": result.ok,
            "problems": result.problems,
            "outcome": result.outcome.model_dump(mode="json"),
            "replay_identical": replay.identical,
            "head": head.model_dump(),
        }
        print(json.dumps(document, indent=2))
    else:
        console.print(f"[bold]{chosen.title}[/bold] on board [cyan]{result.board.name}[/cyan] ({url})")
        for entry in history:
            console.print(entry_line(entry))
        _print_result(result.outcome)
        console.print(f"replay: {replay}")
        console.print(f"[green]verify: OK[/green]: {head.version} entries, head hash {head.hash}")
        for problem in result.problems:
            console.print(f"[red]unexpected[/red]: {problem}")
    if not result.ok:
        raise typer.Exit(1)


def _scenario(name: str, variant: str | None) -> scenarios.Scenario:
    return scenarios.resolve(name, variant)


def _print_result(outcome: Outcome, *, after_decision: bool = False) -> None:
    """The outcome, its reasons and what waits for a person; `after_decision` leaves out the decision's reasons
    (a person's answer changes the proposals' states, not why the evidence sufficed)."""
    style = "green" if outcome.status in ("sufficient", "committed") else "yellow"
    console.print(f"outcome: [{style}]{outcome.status}[/{style}] at v{outcome.version}")
    for reason in outcome.reasons[len(outcome.decision.reasons) if after_decision else 0 :]:
        console.print(f"  - {escape(reason)}")
    for request in outcome.approvals:
        console.print(f"waiting for a person: key {request.key}: {escape(request.recommended)}")


@app.command()
def audit(
    board: str,
    db: DbOption = "",
    as_json: JsonOption = False,
    table: Annotated[
        bool, typer.Option("--table", help="The plain history table (with --json: the stored rows).")
    ] = False,
) -> None:
    """The full timeline of a board: what each agent knew and wrote, the sources cited, the rules that fired, the
    policy's verdicts, who approved or rejected what with which edits, and what changed (kinds need not be
    importable here: their payloads are shown as stored)."""
    _import_builtin_kinds()
    with Blackboard.open(db or _default_db()) as blackboard:
        rows = _rows(blackboard, board)
        if table:
            if as_json:
                print(json.dumps([row_json(row) for row in rows], indent=2))
            else:
                console.print(history_table(board, rows))
            return
        found = build_audit(board, blackboard.url, rows)
    if as_json:
        print(json.dumps(found.model_dump(mode="json"), indent=2))
    else:
        for line in render_audit(found):
            console.print(line)


@app.command()
def replay(board: str, scenario: ScenarioOption = None, db: DbOption = "", as_json: JsonOption = False) -> None:
    """Re-derive every decision and verdict of a board with the controller that ran it; exit 1 (listing each
    difference) when any differs from what was recorded."""
    with Blackboard.open(db or _default_db()) as blackboard:
        controller, target = _controller_for(blackboard, board, "replay", scenario)
        report = run_sync(controller.replay, target)
    if as_json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        console.print(escape(str(report)))
        if not report.same_controller:
            console.print("[yellow]note[/yellow]: a controller with other agents, rules or policy also ran this board")
        for difference in report.differences:
            recorded, derived = _said(difference.recorded), _said(difference.derived)
            console.print(escape(f"  v{difference.version}: recorded {recorded}; derived {derived}"))
    if not report.identical:
        raise typer.Exit(1)


def _said(record: Decision | Verdict) -> str:
    if isinstance(record, Decision):
        return f"{record.status} ({'; '.join(map(str, record.reasons))})"
    return f"verdict {record.outcome} under policy {record.policy} ({'; '.join(map(str, record.reasons))})"


@app.command()
def graph(
    scenario: Annotated[str, typer.Argument(help="A built-in scenario: support-case, or family/variant.")],
    variant: Annotated[str | None, typer.Option(help="A variant (see `slateboard list`).")] = None,
) -> None:
    """Print a built-in scenario's agents and the finding kinds they read and write, as a Mermaid flowchart."""
    print(_scenario(scenario, variant).controller().mermaid(), end="")


@app.command()
def verify(
    board: Annotated[str | None, typer.Argument(help="One board; all boards when omitted.")] = None,
    db: DbOption = "",
    as_json: JsonOption = False,
) -> None:
    """Recompute every hash chain; exit 1 naming the first tampered version."""
    with Blackboard.open(db or _default_db()) as blackboard:
        names = [board] if board else blackboard.boards()
        heads, failures = [], []
        for name in names:
            try:
                heads.append(run_sync(blackboard.board(name).verify))
            except TamperedLogError as exc:
                failures.append(exc)
    if as_json:
        tampered = [{"board": f.board, "version": f.version, "reason": f.reason} for f in failures]
        print(
            json.dumps({"ok": not failures, "heads": [h.model_dump() for h in heads], "tampered": tampered}, indent=2)
        )
    else:
        for head in heads:
            console.print(f"[green]OK[/green]  {escape(head.board)}: {head.version} entries, head {head.hash}")
        for failure in failures:
            console.print(f"[red]TAMPERED[/red]  {escape(str(failure))}")
    if failures:
        raise typer.Exit(1)


@app.command()
def boards(db: DbOption = "", as_json: JsonOption = False) -> None:
    """List the boards that have entries."""
    with Blackboard.open(db or _default_db()) as blackboard:
        names = blackboard.boards()
    if as_json:
        print(json.dumps(names))
    else:
        for name in names:
            console.print(escape(name))


app.command("bench")(bench_command)


@app.command()
def metrics(db: DbOption = "", board: BoardsOption = None, as_json: JsonOption = False) -> None:
    """Workflow metrics of the store's boards: routed to a person, agent attempts, citations, approvals, commits."""
    with Blackboard.open(db or _default_db()) as blackboard:
        show_metrics(console, blackboard, board, as_json=as_json)


def _fail(message: str) -> NoReturn:
    # One line whatever the message holds: a store's or a validator's message may span several.
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[red]error[/red]: {escape(' '.join(message.split()))}"
    )
    sys.exit(2)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: any error is one clear line on stderr and exit code 2, never a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        app(args=args)  # Typer's help, as it prints it
    try:
        code = app(args=args, standalone_mode=False)
    except SlateboardError as exc:
        _fail(str(exc))
    except typer.TyperException as exc:  # a usage error: Typer's message without its box, and where to look
        context = getattr(exc, "ctx", None)
        _fail(exc.format_message() + (f" (see {context.command_path} --help)" if context is not None else ""))
    except typer.Abort:
        _fail("aborted")
    except Exception as exc:  # a bug or a store in a state nobody foresaw: still one line
        _fail(f"unexpected {type(exc).__name__}: {exc}")
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
