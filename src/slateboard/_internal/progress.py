"""The terminal progress display of a batch: what `run_many(progress=True)` shows on stderr.

The controller only reports progress through its typed hook (`slateboard.controller.batch.BatchProgress`); this
is the hook it uses when asked for a bar, and the one place that knows about rich. It knows nothing of the
controller: it shows the counts it is given, in the order they come.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich costs tens of milliseconds to import, and most batches run without a bar
    from rich.live import Live
    from rich.progress import Progress, TaskID

__all__ = ("RichProgress",)


class RichProgress:
    """A rich progress bar on stderr: boards done (of the total, when known), rate and time; below it, the statuses.

    The statuses get a line of their own so that a long list never squeezes the bar out of a narrow terminal.
    """

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._live: Live | None = None
        self._task: TaskID | None = None
        self._statuses = ""

    def start(self, total: int | None) -> None:
        """Show the bar (of `total` boards, when known)."""
        from rich.console import Console  # noqa: PLC0415 - imported on first use, see above
        from rich.live import Live  # noqa: PLC0415 - see above
        from rich.progress import (  # noqa: PLC0415 - see above
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("boards"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._task = self._progress.add_task("boards", total=total, rate="")
        self._live = Live(self, console=console, refresh_per_second=4)
        self._live.start()

    def __rich__(self) -> Any:
        from rich.console import Group  # noqa: PLC0415 - see start

        if self._progress is None:
            return ""
        return Group(self._progress, self._statuses) if self._statuses else self._progress

    def update(self, done: int, seconds: float, counts: Mapping[str, int]) -> None:
        """`done` boards in `seconds`; `counts` per status, shown in the order given."""
        if self._progress is None or self._task is None:
            return
        rate = f"{done / seconds:,.0f}/s" if seconds > 0 else ""
        self._statuses = "  " + " · ".join(f"{status} {n:,}" for status, n in counts.items() if n)
        self._progress.update(self._task, completed=done, rate=rate)

    def stop(self) -> None:
        """Take the bar down, leaving its last frame; safe to call twice."""
        live = self._live
        if live is None:
            return
        started = live.is_started
        live.stop()
        if started and not live.console.is_terminal:
            live.console.line()  # rich ends a terminal's last frame with a newline, not a log file's
