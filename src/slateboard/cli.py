"""The `slateboard` command: a tour of the board (`demo`), and `audit`, `verify` and `boards` on any store."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from slateboard import scenarios, sinks
from slateboard._demo import CONTROLLER, VARIANTS, run_demo
from slateboard._sync import run_sync
from slateboard.blackboard import DEFAULT_URL, Blackboard, Board, Entry
from slateboard.blackboard.entries import StoredEntry
from slateboard.commit import ApprovalDecision, ApprovalRequest, Commit, CommitFailure, Proposal, Verdict
from slateboard.controller import AgentRun, Controller, Decision, Outcome, RunStarted
from slateboard.errors import SlateboardError, TamperedLogError

__all__ = ("app", "main")

T = TypeVar("T")
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
        console.print(_timeline_line(entry))
    _print_result(result.outcome)
    if result.record is not None:
        console.print(f"record {_dump(result.record)}")
    console.print(f"replay: {result.replay}")
    console.print(f"[green]verify: OK[/green]: {result.head.version} entries, head hash {result.head.hash}")


def _dump(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _commit_line(entry: Entry) -> str | None:  # noqa: PLR0911 - one line per record kind
    record, v = entry.payload, f"  v{entry.version:<3}"
    if isinstance(record, Verdict):
        why = "; ".join(str(r) for r in record.reasons)
        what = f"{record.action} {record.target} (v{record.proposal})"
        return f"{v} [bold]verdict[/bold]  {record.outcome} for {what}: {why}"
    if isinstance(record, ApprovalRequest):
        return f"{v} approval requested for key {record.key}: {record.recommended}"
    if isinstance(record, ApprovalDecision):
        return f"{v} approval   {record.decision} by {record.reviewer} {_dump(record.changes) if record.edits else ''}"
    if isinstance(record, Commit):
        receipt = _dump(record.receipt)
        return f"{v} [bold]commit[/bold]   {record.action} {record.target} to {record.sink}: receipt {receipt}"
    if isinstance(record, CommitFailure):
        return f"{v} [red]commit {record.status}[/red] {record.target}: {record.error}"
    if isinstance(record, Proposal):
        return f"{v} proposal {record.action} {record.target} by {entry.author}: {_dump(record.changes)}"
    return None


def _timeline_line(entry: Entry) -> str:
    record = entry.payload
    line = _commit_line(entry)
    if line is not None:
        return line
    if isinstance(record, Decision):
        why = "; ".join(str(r) for r in record.reasons)
        return f"  v{entry.version:<3} [bold]decision[/bold] {record.status}: {why}"
    if isinstance(record, AgentRun):
        detail = f"{record.outputs} finding(s)" if record.status == "ok" else record.error
        return (
            f"  v{entry.version:<3} run      {record.agent} on {record.subject!r}, attempt {record.attempt}: "
            f"{record.status} ({detail})"
        )
    if isinstance(record, RunStarted):
        return f"  v{entry.version:<3} start    controller {record.controller} with {', '.join(record.agents)}"
    fields = record.model_dump(exclude={"subject", "confidence", "citations", "description"})
    shown = ", ".join(f"{k}={v!r}" for k, v in fields.items())
    confidence = getattr(record, "confidence", None)
    return f"  v{entry.version:<3} finding  {entry.kind} by {entry.author}: {shown} (confidence {confidence})"


def _print_outcome(outcome: Outcome) -> None:
    style = "green" if outcome.status in ("sufficient", "committed") else "yellow"
    console.print(f"outcome: [{style}]{outcome.status}[/{style}]")
    for reason in outcome.reasons[len(outcome.decision.reasons) :]:
        console.print(f"  - {reason}")


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


def _controller_for(blackboard: Blackboard, board: str) -> tuple[Controller, Board]:
    """The built-in controller (a scenario's or the demo's) that ran `board`, matched by its recorded fingerprint."""
    # Built first: building them imports their finding kinds, which reading the board needs.
    candidates = [CONTROLLER, *(scenarios.get(name).controller() for name in scenarios.names())]
    target = blackboard.board(board)
    history = run_sync(target.history)
    if not history:
        raise SlateboardError(f"board {board!r} has no entries in {blackboard.url}")
    ran = {e.payload.controller for e in history if isinstance(e.payload, RunStarted)}
    for controller in candidates:
        if controller.fingerprint in ran:
            return controller, target
    raise SlateboardError(
        f"board {board!r} was not run by a built-in scenario or the demo; approve it from Python with the "
        "Controller that ran it (controller.approve(board, key, reviewer=...))"
    )


@app.command()
def approve(  # noqa: PLR0917 - Typer reads the parameters as the command's arguments and options
    board: str,
    key: str,
    reviewer: Annotated[str, typer.Option(help="Who approves (recorded on the board).")],
    edit: Annotated[list[str] | None, typer.Option(help="Change a field before committing: Field=value.")] = None,
    note: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "",
    db: DbOption = "",
) -> None:
    """Approve the proposal waiting under KEY on a built-in scenario's board (with edits) and commit it, once."""
    with Blackboard.open(db or _default_db()) as blackboard:
        controller, target = _controller_for(blackboard, board)
        edits = _parse_edits(edit or [])
        outcome = run_sync(controller.approve, target, key, reviewer=reviewer, edits=edits, note=note)
        _print_outcome(outcome)
        table = controller.sink if isinstance(controller.sink, sinks.Table) else None
        for commit in outcome.commits:
            if table is not None and commit.key == key:
                console.print(f"record {_dump(table.rows(blackboard).get(commit.target))}")


@app.command()
def reject(
    board: str,
    key: str,
    reviewer: Annotated[str, typer.Option(help="Who rejects (recorded on the board).")],
    reason: Annotated[str, typer.Option(help="Why (required; recorded on the board).")],
    db: DbOption = "",
) -> None:
    """Reject the proposal waiting under KEY on a built-in scenario's board, recording the reason."""
    with Blackboard.open(db or _default_db()) as blackboard:
        controller, target = _controller_for(blackboard, board)
        _print_outcome(run_sync(controller.reject, target, key, reviewer=reviewer, reason=reason))


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
    if scenario.endswith((".yaml", ".yml", ".py")):
        raise SlateboardError(f"{scenario}: scenario files are not supported yet; run a built-in (slateboard list)")
    chosen = scenarios.get(scenario, variant)
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
            console.print(_timeline_line(entry))
        _print_result(result.outcome)
        console.print(f"replay: {replay}")
        console.print(f"[green]verify: OK[/green]: {head.version} entries, head hash {head.hash}")
        for problem in result.problems:
            console.print(f"[red]unexpected[/red]: {problem}")
    if not result.ok:
        raise typer.Exit(1)


def _print_result(outcome: Outcome) -> None:
    style = "green" if outcome.status in ("sufficient", "committed") else "yellow"
    console.print(f"outcome: [{style}]{outcome.status}[/{style}] at v{outcome.version}")
    for reason in outcome.reasons:
        console.print(f"  - {reason}")
    for request in outcome.approvals:
        console.print(f"waiting for a person: key {request.key}: {request.recommended}")


@app.command()
def audit(board: str, db: DbOption = "", as_json: JsonOption = False) -> None:
    """Print a board's full history, entry by entry (kinds need not be importable here)."""
    with Blackboard.open(db or _default_db()) as blackboard:
        rows = blackboard.store.read(board, after=0, upto=None, wait=True)
        if not rows:
            raise SlateboardError(f"board {board!r} has no entries in {blackboard.url}")
        if as_json:
            print(json.dumps([_row_json(row) for row in rows], indent=2))
        else:
            console.print(_history_table(board, rows))


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
            print(
                json.dumps(
                    {
                        "ok": not failures,
                        "heads": [h.model_dump() for h in heads],
                        "tampered": [{"board": f.board, "version": f.version, "reason": f.reason} for f in failures],
                    },
                    indent=2,
                )
            )
        else:
            for head in heads:
                console.print(f"[green]OK[/green]  {head.board}: {head.version} entries, head {head.hash}")
            for failure in failures:
                console.print(f"[red]TAMPERED[/red]  {failure}")
        if failures:
            raise typer.Exit(1)


@app.command()
def boards(db: DbOption = "") -> None:
    """List the boards that have entries."""
    with Blackboard.open(db or _default_db()) as blackboard:
        for name in blackboard.boards():
            console.print(name)


def _row_json(row: StoredEntry) -> dict[str, Any]:
    return {
        "version": row.version,
        "seq": row.seq,
        "kind": row.kind,
        "schema_version": row.schema_version,
        "author": row.author,
        "recorded_at": row.recorded_at,
        "payload": json.loads(row.payload),
        "hash": row.hash,
    }


def _history_table(board: str, rows: list[StoredEntry]) -> Table:
    table = Table(title=f"history of {board}", title_justify="left")
    for column in ("v", "kind", "author", "subject", "confidence", "cites", "recorded at (UTC)", "hash"):
        table.add_column(column, no_wrap=True, justify="right" if column in ("v", "confidence") else "left")
    for row in rows:
        payload = json.loads(row.payload)
        confidence = payload.get("confidence")
        table.add_row(
            str(row.version),
            row.kind,
            row.author,
            str(payload.get("subject", "")),
            f"{confidence:.2f}" if isinstance(confidence, int | float) else "",
            str(len(payload.get("citations", ()))),
            row.recorded_at[:19].replace("T", " "),
            row.hash[:16],
        )
    return table


def main() -> None:
    """Entry point: a slateboard error is one clear line on stderr and exit code 2, never a traceback."""
    try:
        app()
    except SlateboardError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error[/red]: {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
