"""The `slateboard` command: the Typer app that gathers every command, and `main`, the console script.

Errors are one line on stderr and exit code 2; `run`, `replay` and `verify` exit 1 when the board is not as it
should be (an unexpected outcome, a decision that replays differently, a tampered log).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import typer

from slateboard.cli import answers, heads, inspection, mcp, retract, review, runs, whatif, workers
from slateboard.cli.bench import bench_command
from slateboard.cli.console import fail
from slateboard.cli.schema import schema
from slateboard.cli.settle import settle
from slateboard.errors import SlateboardError

__all__ = ("app", "main", "COMMANDS")

PROG = "slateboard"  # the name help and usage errors give, however the command was started (`python -m`, a test)
app = typer.Typer(
    help="slateboard: typed findings on a versioned, tamper-evident blackboard.",
    no_args_is_help=True,
    add_completion=False,
)
# In the order `slateboard --help` lists them: run a scenario, answer for a person, then read the store.
COMMANDS: dict[str, Callable[..., None]] = {
    "run": runs.run,
    "list": runs.list_scenarios,
    "graph": runs.graph,
    "schema": schema,
    "demo": runs.demo,
    "approve": answers.approve,
    "reject": answers.reject,
    "settle": settle,
    "audit": inspection.audit,
    "replay": inspection.replay,
    "whatif": whatif.whatif,
    "retract": retract.retract,
    "verify": inspection.verify,
    "keygen": heads.keygen,
    "boards": inspection.boards,
    "metrics": inspection.metrics,
    "review": review.review,
    "mcp": mcp.mcp,
    "enqueue": workers.enqueue,
    "worker": workers.worker,
    "bench": bench_command,
}
HIDDEN = frozenset({"demo"})  # deprecated: still runs, no longer listed
for _name, _command in COMMANDS.items():
    app.command(_name, hidden=_name in HIDDEN)(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line `argv` (default: the process's arguments) and exit: any error is one clear line on
    stderr and exit code 2, never a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        app(args=args, prog_name=PROG)  # Typer's help, as it prints it (and exits)
    try:
        code = app(args=args, prog_name=PROG, standalone_mode=False)
    except SlateboardError as exc:
        fail(str(exc))
    except typer.Abort:
        fail("aborted")
    except typer.TyperException as exc:  # a usage error: Typer's message without its box, and where to look
        fail(f"{exc.format_message()} (see {_command_path(args)} --help)")
    except Exception as exc:  # a bug or a store in a state nobody foresaw: still one line
        fail(f"unexpected {type(exc).__name__}: {exc}")
    sys.exit(code if isinstance(code, int) else 0)


def _command_path(args: Sequence[str]) -> str:
    """The command a usage error is about: `slateboard CMD` when the arguments name one, else `slateboard`."""
    return f"{PROG} {args[0]}" if args[0] in COMMANDS else PROG
