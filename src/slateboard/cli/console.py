"""Where the `slateboard` command writes: one factory for its Rich consoles and one writer for its JSON.

Both bind to `sys.stdout` / `sys.stderr` as they are when a command runs, not when this module is imported, so
anything that swaps those streams (pytest's `capsys`, `contextlib.redirect_stdout`, an embedding program) receives
every line a command prints.
"""

from __future__ import annotations

import json
import re
import sys
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

__all__ = ("FULL_ROW", "console", "print_json", "fail", "shown")

FULL_ROW = 120  # the width of a line written to a file or a pipe: logs get a full row, not a guessed 80 columns
# Characters a terminal acts on rather than shows (ESC starts a sequence that can recolour or clear the screen;
# bidirectional overrides reorder what follows): user text shows them as escapes. Tab and newline stay.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def shown(text: str) -> str:
    """User text (a board name, a reason, a value read from a store) made safe to print in a Rich-markup line:
    markup escaped, so `[bold]` and a trailing backslash print as written, and control characters as `\\x1b`."""
    return escape(_CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text))


def console(*, stderr: bool = False) -> Console:
    """A Rich console on the current stdout (or stderr): markup on; no guessed highlights, no emoji codes (a
    `module:x:` in a message stays as written); soft-wrapped lines."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else FULL_ROW
    return Console(file=stream, highlight=False, emoji=False, soft_wrap=True, width=width)


def print_json(document: object, *, indent: int | None = 2) -> None:
    """`document` as JSON on the current stdout: what `--json` prints, for programs (no markup, no wrapping)."""
    sys.stdout.write(json.dumps(document, indent=indent) + "\n")


def fail(message: str) -> NoReturn:
    """Print `message` as one `error: ...` line on stderr and exit with code 2."""
    # One line whatever the message holds: a store's or a validator's message may span several.
    console(stderr=True).print(f"[red]error[/red]: {shown(' '.join(message.split()))}")
    sys.exit(2)
