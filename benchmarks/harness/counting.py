"""What a run costs the disk: bytes this process wrote, and the transactions a SQLite connection committed.

- `written_bytes()`: the process's `wchar` from `/proc/self/io` (bytes handed to write(2) and friends, whatever
  file they went to: the database, its WAL, a checkpoint), or None where the kernel does not say (not Linux).
  Read it around a span in which only the measured system writes.
- `Commits`: counts the COMMIT statements one or more `sqlite3` connections run, through their trace callbacks.
  In WAL mode at `synchronous=FULL` each commit syncs the WAL once, so commits count fsyncs too (checkpoints
  add a few more, for both sides alike); at NORMAL a commit syncs nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROC_IO = Path("/proc/self/io")


def written_bytes() -> int | None:
    """Bytes this process has written so far (`wchar`), or None when the platform does not count them."""
    try:
        text = PROC_IO.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == "wchar":
            return int(value)
    return None


class Commits:
    """COMMIT statements run by the connections traced inside `tracing(...)`; `count` is the total so far."""

    def __init__(self) -> None:
        self.count = 0

    def _seen(self, statement: str) -> None:
        if statement.lstrip()[:6].upper() == "COMMIT":
            self.count += 1

    @contextmanager
    def tracing(self, *connections: sqlite3.Connection) -> Iterator[Commits]:
        """Count the connections' commits for the block; their trace callbacks are cleared after."""
        try:
            for conn in connections:
                conn.set_trace_callback(self._seen)
            yield self
        finally:
            for conn in connections:
                conn.set_trace_callback(None)
