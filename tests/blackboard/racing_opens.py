"""Processes that open one fresh store at once: each starts, says it is ready, and opens the store only when the
test releases all of them together (a line on their stdin), so the opens really race."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = (
    "import sys; from slateboard import Blackboard; print('ready', flush=True); sys.stdin.readline(); "
    "Blackboard.open(sys.argv[1]).close(); print('opened')"
)


def open_at_once(url: str, count: int = 3) -> None:
    """Start `count` processes, wait until every one is ready, release them together; each must open the store."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for process in processes:
        if process.stdout is None or process.stdout.readline().strip() != "ready":
            raise AssertionError("a process did not start")
    for process in processes:
        if process.stdin is not None:
            process.stdin.write("go\n")
            process.stdin.flush()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.strip() == "opened"
