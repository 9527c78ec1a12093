"""Reading a store without changing it: `audit`, `replay`, `verify`, `boards` and `metrics`.

`replay` exits 1 listing each decision or verdict that re-derives differently; `verify` exits 1 naming the first
tampered version of each board. The others read any board, whatever kinds it holds: a kind not importable here is
shown as stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from slateboard import scenarios
from slateboard._internal.sync import run_sync
from slateboard.blackboard import Blackboard
from slateboard.cli.console import console, print_json
from slateboard.cli.console import shown as escape
from slateboard.cli.heads import HeadOptions, signed_heads
from slateboard.cli.metrics_view import show_metrics
from slateboard.cli.options import BoardsOption, DbOption, JsonOption, ScenarioOption, controller_for, rows, store_url
from slateboard.cli.render import history_table, render_audit
from slateboard.cli.retract import show_affected
from slateboard.commit import Verdict
from slateboard.controller import Decision
from slateboard.errors import TamperedLogError
from slateboard.observe.audit import build_audit, row_json
from slateboard.observe.boards import board_summaries

__all__ = ("audit", "replay", "verify", "boards", "metrics")


def _import_builtin_kinds() -> None:
    """Build each built-in family once, so their finding kinds are registered and their boards decode fully."""
    for family in scenarios.families().values():
        family.build(family.variants[0])


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
    with Blackboard.open(store_url(db), read_only=True) as blackboard:
        stored = rows(blackboard, board)
        url = blackboard.url
    if table:
        if as_json:
            print_json([row_json(row) for row in stored])
        else:
            console().print(history_table(board, stored))
        return
    found = build_audit(board, url, stored)
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    out = console()
    for line in render_audit(found):
        out.print(line)


def replay(board: str, scenario: ScenarioOption = None, db: DbOption = "", as_json: JsonOption = False) -> None:
    """Re-derive every decision and verdict of a board with the controller that ran it; exit 1 (listing each
    difference) when any differs from what was recorded."""
    with Blackboard.open(store_url(db), read_only=True) as blackboard:
        controller, target = controller_for(blackboard, board, "replay", scenario)
        report = run_sync(controller.replay, target)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        out = console()
        out.print(escape(str(report)))
        if not report.same_controller:
            out.print("[yellow]note[/yellow]: a controller with other agents, rules or policy also ran this board")
        for difference in report.differences:
            recorded, derived = _said(difference.recorded), _said(difference.derived)
            out.print(escape(f"  v{difference.version}: recorded {recorded}; derived {derived}"))
    if not report.identical:
        raise typer.Exit(1)


def _said(record: Decision | Verdict) -> str:
    if isinstance(record, Decision):
        return f"{record.status} ({'; '.join(map(str, record.reasons))})"
    return f"verdict {record.outcome} under policy {record.policy} ({'; '.join(map(str, record.reasons))})"


def verify(  # noqa: PLR0917 - Typer reads the parameters as the command's arguments and options
    board: Annotated[str | None, typer.Argument(help="One board; all boards when omitted.")] = None,
    db: DbOption = "",
    as_json: JsonOption = False,
    export_head: Annotated[
        Path | None, typer.Option("--export-head", metavar="FILE", help="Write BOARD's head, signed with --key.")
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", metavar="KEYFILE", help="Ed25519 private key (keygen).")] = None,
    against: Annotated[
        Path | None, typer.Option("--head", metavar="FILE", help="Verify against this signed head (--public-key).")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", metavar="KEYFILE", help="The public key that checks --head.")
    ] = None,
) -> None:
    """Recompute every hash chain, and check each board's snapshot against its log; exit 1 naming the first
    tampered version, or a snapshot that does not match (it is never used). With --export-head, also write the
    board's signed head; with --head, also check that the board still holds that head (docs/signed-heads.md)."""
    signing = HeadOptions(export_head, key, against, public_key)
    if signing.active:
        with Blackboard.open(store_url(db), read_only=True) as blackboard:
            signed_heads(blackboard, board, signing, as_json=as_json)
        return
    with Blackboard.open(store_url(db), read_only=True) as blackboard:
        names = [board] if board else blackboard.boards()
        heads, failures, refused = [], [], []
        for name in names:
            try:
                heads.append(run_sync(blackboard.board(name).verify))
            except TamperedLogError as exc:
                failures.append(exc)
            check = run_sync(blackboard.board(name).verify_snapshot)
            if not check.valid:
                refused.append(check)
    if as_json:
        tampered = [{"board": f.board, "version": f.version, "reason": f.reason} for f in failures]
        snapshots = [c.model_dump() for c in refused]
        ok = not failures and not refused
        print_json({"ok": ok, "heads": [h.model_dump() for h in heads], "tampered": tampered, "snapshots": snapshots})
    else:
        out = console()
        for head in heads:
            out.print(f"[green]OK[/green]  {escape(head.board)}: {head.version} entries, head {head.hash}")
        for failure in failures:
            out.print(f"[red]TAMPERED[/red]  {escape(str(failure))}")
        for check in refused:
            where = f"{escape(check.board)}: the snapshot at version {check.version}"
            out.print(f"[red]SNAPSHOT REFUSED[/red]  {where} does not match the log ({escape(check.reason)})")
    if failures or refused:
        raise typer.Exit(1)


def boards(
    db: DbOption = "",
    as_json: JsonOption = False,
    long: Annotated[
        bool, typer.Option("--long", "-l", help="Each board's status, entries, scenario and queue row.")
    ] = False,
    affected_by: Annotated[
        str | None,
        typer.Option(
            metavar="SOURCE[@VERSION]",
            help="Only the boards with a finding citing this source: what a retraction of it leaves stale there.",
        ),
    ] = None,
) -> None:
    """List the boards (with `--long` or `--json`: where each stands and, on PostgreSQL, its work queue row; with
    `--affected-by SOURCE`: the boards a retraction of it concerns, their stale findings and commits)."""
    if affected_by is not None:
        show_affected(affected_by, db, as_json=as_json)
        return
    with Blackboard.open(store_url(db), read_only=True) as blackboard:
        if not (as_json or long):
            names = blackboard.boards()
        else:
            summaries = board_summaries(blackboard)
    if as_json:
        print_json([s.model_dump(mode="json") for s in summaries], indent=None)
    elif long:
        out = console()
        for s in summaries:
            queue = f"  queue: {s.queue.state}" + (f" ({s.queue.owner})" if s.queue.owner else "") if s.queue else ""
            scenario = f"  {s.scenario}" if s.scenario else ""
            out.print(escape(f"{s.board}  {s.status}  {s.entries} entries{scenario}{queue}"))
    else:
        out = console()
        for name in names:
            out.print(escape(name))


def metrics(db: DbOption = "", board: BoardsOption = None, as_json: JsonOption = False) -> None:
    """Workflow metrics of the store's boards: routed to a person, agent attempts, citations, approvals, commits."""
    with Blackboard.open(store_url(db), read_only=True) as blackboard:
        show_metrics(console(), blackboard, board, as_json=as_json)
