"""What every benchmark takes on its command line, and the scratch directories `--dir` points at."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def parser(doc: str | None, *, repeats: int = 3) -> argparse.ArgumentParser:
    """A parser with the options every benchmark shares; a benchmark adds its own to it."""
    found = argparse.ArgumentParser(description=(doc or "").split("\n", 1)[0])
    found.add_argument(
        "--quick", action="store_true", help="small sizes, for CI: fails on a missing profiled target or a 0/NaN figure"
    )
    found.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    found.add_argument("--repeats", type=int, help=f"runs per measurement (median reported; default {repeats})")
    found.add_argument("--dir", type=Path, help="where to create the temporary databases (default: /tmp)")
    return found


def names(value: str, allowed: Sequence[str], option: str) -> list[str]:
    """A comma-separated option's items, each one of `allowed`; anything else ends the run with a message."""
    chosen = [item for item in value.split(",") if item]
    unknown = sorted(set(chosen) - set(allowed))
    if unknown or not chosen:
        raise SystemExit(f"{option}: unknown {', '.join(unknown) or 'empty list'} (choose from {', '.join(allowed)})")
    return chosen


def in_fresh_dir(base: Path | None, fn: Callable[[Path], T]) -> T:
    """`fn(path)` on a new temporary directory under `base` (removed after), so no run sees another's files."""
    with tempfile.TemporaryDirectory(prefix="slateboard-bench-", dir=base) as tmp:
        return fn(Path(tmp))
