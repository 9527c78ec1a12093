"""`slateboard enqueue` and `slateboard worker`: submit boards to a PostgreSQL store's work queue, and run them from
any number of processes on any number of machines.

A worker prints one line per board it finishes (flushed, so a supervisor or a log shipper sees it at once) and a
summary when it stops. SIGTERM or Ctrl-C stops it cleanly: no new claims, runs in flight get `--grace` seconds,
then their boards are released for another worker; a second signal stops at once (the boards are still released).
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Annotated

import anyio
import typer

from slateboard.blackboard import Blackboard
from slateboard.cli.console import console, print_json
from slateboard.cli.console import shown as escape
from slateboard.cli.options import DbOption, JsonOption, VariantOption, store_url
from slateboard.workers import BoardDone, Worker, WorkerReport, enqueue_sync

__all__ = ("enqueue", "worker")

_STATE_STYLE = {"done": "green", "waiting": "yellow", "queued": "cyan", "failed": "red", "lost": "red"}


def enqueue(  # noqa: PLR0917 - Typer reads the parameters as the command's arguments and options
    scenario: Annotated[str, typer.Option(help="The scenario the boards run (built-in, YAML file or module:attr).")],
    count: Annotated[int, typer.Option(min=1, help="How many boards to submit.")] = 1,
    prefix: Annotated[
        str | None, typer.Option(help="Board names are PREFIX0001, ...; default: the scenario's name.")
    ] = None,
    start: Annotated[int, typer.Option(min=0, help="The number of the first board.")] = 1,
    variant: VariantOption = None,
    db: DbOption = "",
    as_json: JsonOption = False,
) -> None:
    """Submit COUNT boards of a scenario to the store's work queue (PostgreSQL) for `slateboard worker` to run."""
    with Blackboard.open(store_url(db)) as blackboard:
        done = enqueue_sync(blackboard, scenario, variant=variant, count=count, prefix=prefix, start=start)
    if as_json:
        print_json({"queued": list(done.queued), "already": list(done.already)}, indent=None)
        return
    title = done.scenario if done.variant is None else f"{done.scenario} ({done.variant})"
    first_last = f": {done.queued[0]} .. {done.queued[-1]}" if done.queued else ""
    line = f"queued {len(done.queued)} board(s) of {title}{first_last}"
    if done.already:
        line += f"; {len(done.already)} already in the queue, left as they were"
    console().print(escape(line))


def worker(  # noqa: PLR0917 - Typer reads the parameters as the command's arguments and options
    scenario: Annotated[
        str | None, typer.Option(help="Only boards of this scenario (as enqueued); default: any scenario.")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Boards run at once by this process.")] = 4,
    lease: Annotated[float, typer.Option(min=0.1, help="Seconds a claim lasts without a heartbeat.")] = 30.0,
    poll: Annotated[float, typer.Option(min=0.1, help="Seconds an idle worker waits before looking again.")] = 5.0,
    grace: Annotated[float, typer.Option(min=0.1, help="Seconds runs in flight get to finish on SIGTERM.")] = 30.0,
    max_claims: Annotated[int, typer.Option(min=1, help="Claims of one board before it is marked failed.")] = 5,
    until_idle: Annotated[bool, typer.Option(help="Stop once nothing is queued or leased.")] = False,
    db: DbOption = "",
    as_json: JsonOption = False,
) -> None:
    """Run boards from the store's work queue (PostgreSQL) until stopped (SIGTERM or Ctrl-C)."""
    out = console()
    # The worker's warnings (a database that went away for a while) go to stderr, one line each.
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr, force=True)
    with Blackboard.open(store_url(db)) as blackboard:
        worker = Worker(
            blackboard,
            scenario=scenario,
            concurrency=concurrency,
            lease=lease,
            poll=poll,
            grace=grace,
            max_claims=max_claims,
            on_board=lambda done: _print_done(done, as_json),
        )
        if not as_json:
            what = scenario or "any scenario"
            out.print(escape(f"worker {worker.name}: {what}, {concurrency} at once; SIGTERM or Ctrl-C stops it"))
        report = anyio.run(_serve, worker, until_idle)
    _print_report(report, as_json)


async def _serve(worker: Worker, until_idle: bool) -> WorkerReport:
    async with anyio.create_task_group() as group:
        group.start_soon(_stop_on_signal, worker)
        report = await worker.run(until_idle=until_idle)
        group.cancel_scope.cancel()
    return report


async def _stop_on_signal(worker: Worker) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        stopping = False
        async for _ in signals:
            if stopping:  # a second signal: cancel the runs now (their boards are still released)
                worker.stop(grace=0)
                return
            stopping = True
            worker.stop()


def _print_done(done: BoardDone, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "board": done.board,
                "status": done.status,
                "state": done.state,
                "seconds": done.seconds,
                "claims": done.claims,
                "error": done.error,
            },
            indent=None,
        )
        return
    style = _STATE_STYLE.get(done.state, "white")
    status = f" {done.status}" if done.status else ""
    error = f"  {done.error}" if done.error else ""
    line = (
        f"{escape(done.board)}{escape(status)} -> [{style}]{done.state}[/{style}]  {done.seconds:.2f} s{escape(error)}"
    )
    console().print(line)


def _print_report(report: WorkerReport, as_json: bool) -> None:
    if as_json:
        return
    states = sorted({done.state for done in report.boards})
    counts = ", ".join(f"{report.count(state)} {state}" for state in states) or "no boards"
    console().print(escape(f"worker {report.name} stopped: {counts}"))
