"""The `slateboard` command: a tour of the board (`demo`), and `audit`, `verify` and `boards` on any store."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import anyio
import typer
from rich.console import Console
from rich.table import Table

from slateboard._demo import run_demo
from slateboard.blackboard import DEFAULT_URL, Blackboard
from slateboard.blackboard.entries import StoredEntry
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


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """The sync facade the command uses to reach the async API."""
    return anyio.run(main)


@app.command()
def demo(db: DbOption = "", board: Annotated[str, typer.Option(help="Board to write to.")] = "demo-case") -> None:
    """Write a support case and agents' findings to a board, refuse a stale write, read back and verify."""
    url = db or _default_db()
    with Blackboard.open(url) as blackboard:
        result = _run(lambda: run_demo(blackboard, board))
        console.print(f"[bold]slateboard demo[/bold]: board [cyan]{board}[/cyan] on {url}")
        for entry in result.written:
            console.print(f"  wrote v{entry.version:<3} {entry.kind:<18} by {entry.author}")
        console.print(f"  [yellow]refused[/yellow]: {result.refused}")
        console.print(
            f"  view at v{result.first.version}: {len(result.first.findings())} finding(s); "
            f"latest v{result.latest.version}: {len(result.latest.findings())} finding(s)"
        )
        rows = blackboard.store.read(board, after=0, upto=None, wait=True)
        console.print(_history_table(board, rows))
        console.print(f"[green]verify: OK[/green]: {result.head.version} entries, head hash {result.head.hash}")


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
                heads.append(_run(blackboard.board(name).verify))
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
