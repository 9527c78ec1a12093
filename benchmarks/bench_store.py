"""Store benchmark: slateboard's SQLite store against raw sqlite3, both measured in the same run.

What it measures (every measurement gets a fresh temporary directory and a new SQLite file):

* appends, "single": one finding per commit, ``await board.write(finding, author="bench")`` in a loop
  inside one ``anyio.run`` (asyncio backend). Reference: raw ``sqlite3`` doing
  ``BEGIN IMMEDIATE; INSERT; COMMIT`` per row (``isolation_level=None``).
* appends, "batch": ``await board.write_many(batch_of_100, author="bench")``. Reference: raw ``sqlite3``
  doing ``BEGIN IMMEDIATE; executemany(100 rows); COMMIT``.
* both modes with the store's default ``synchronous=FULL`` and with the URL option ``?synchronous=normal``;
  the reference sets the same ``PRAGMA synchronous``.
* reads: the latency of ``view()`` + ``view.latest(Case, subject=...)`` right after a new write, on boards
  of 100 and of 100,000 entries (the ratio big/small should be near 1: reads must not re-read the log), and
  the cold first ``view()`` of a freshly opened ``Blackboard`` (the one-time index build).

The raw reference is deliberately the floor: the same file pragmas (journal_mode=WAL, synchronous), the same
tables from ``slateboard.blackboard.sqlstore.schema_statements()`` (the append-only triggers are kept; they
fire only on UPDATE and DELETE), the exact payload JSON slateboard stores for each finding and a 64-hex-char
hash, all computed before the clock starts. It does not look up the board's head nor compute the hash chain,
which slateboard must do inside each transaction.

Findings are built before timing in both cases; the timed region is the write loop only (store opening
and schema creation are excluded). One short, discarded warm-up round runs first. Each append measurement
runs ``--repeats`` times (default 3), slateboard and raw interleaved, and the median is reported.

Run it from the repository root::

    python benchmarks/bench_store.py                 # full run, about a minute
    python benchmarks/bench_store.py --quick         # smoke test, seconds
    python benchmarks/bench_store.py --json results.json --dir /path/on/the/disk/to/test
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TypeVar

import anyio

from machine import machine  # benchmarks/machine.py: the script's folder is on sys.path
from slateboard import Blackboard, Board, Citation, Finding
from slateboard.blackboard.records import encode_record
from slateboard.blackboard.stores.sqlite import schema_statements

T = TypeVar("T")

BOARD = "bench"
AUTHOR = "bench"
BATCH = 100
SUBJECTS = 1000
GOAL_RATIO = 0.5
HASH = "9f" * 32
RECORDED_AT = "2026-11-21T12:00:00.000000+00:00"
RAW_INSERT = (
    "INSERT INTO slateboard_entries "
    "(board, version, kind, schema_version, author, recorded_at, payload, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
DESCRIPTION = (
    "Customer reports that the replacement controller shipped under the extended warranty fails its "
    "self-test after the firmware update; the site is down and they ask for an on-site engineer today."
)
CITATION = Citation(source="kb/warranty-policy", version="2026-10", approved=True, locator="sec-4.2")


class Case(Finding):
    """A realistic finding: a ~200-character description, one citation."""

    description: str


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    single: int
    batch: int
    view_small: int
    view_big: int
    view_reads: int
    repeats: int


FULL_SIZES = Sizes(single=3000, batch=100_000, view_small=100, view_big=100_000, view_reads=1000, repeats=3)
QUICK_SIZES = Sizes(single=300, batch=5000, view_small=100, view_big=5000, view_reads=200, repeats=3)


@dataclass(frozen=True)
class AppendResult:
    """One append mode: median throughputs over the repeats, and every run's figure."""

    mode: str
    synchronous: str
    n: int
    slateboard_per_s: float
    raw_per_s: float
    ratio: float
    slateboard_runs: list[float]
    raw_runs: list[float]


@dataclass(frozen=True)
class ViewResult:
    """Reads at one board size: median microseconds per warm read, and the cold first view in ms."""

    board_size: int
    reads: int
    warm_us: float
    warm_us_runs: list[float]
    cold_ms: float
    cold_ms_runs: list[float]


# --- inputs ---------------------------------------------------------------------------------------


def make_case(i: int) -> Case:
    return Case(
        subject=f"case-{i % SUBJECTS}",
        description=DESCRIPTION,
        confidence=0.9,
        citations=(CITATION,),
    )


def make_cases(n: int) -> list[Case]:
    return [make_case(i) for i in range(n)]


def raw_rows(cases: Sequence[Case]) -> list[tuple[str, int, str, int, str, str, str, str]]:
    """The rows the raw reference inserts: slateboard's exact payload for each case, a fixed hash."""
    rows = []
    for version, case in enumerate(cases, start=1):
        kind, schema_version, payload = encode_record(case)
        rows.append((BOARD, version, kind, schema_version, AUTHOR, RECORDED_AT, payload, HASH))
    return rows


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def store_url(path: Path, synchronous: str) -> str:
    url = f"sqlite:///{path}"
    return url if synchronous == "FULL" else f"{url}?synchronous={synchronous.lower()}"


# --- one timed run ----------------------------------------------------------------------------------


def timed(fn: Callable[[], None]) -> float:
    """Seconds `fn` takes, after a full garbage collection."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_slateboard(workdir: Path, synchronous: str, cases: Sequence[Case], batch: int | None) -> float:
    """Findings per second appended through `Board.write` (batch None) or `Board.write_many`."""
    with Blackboard.open(store_url(workdir / "board.db", synchronous)) as bb:
        board = bb.board(BOARD)
        batches = chunks(cases, batch) if batch else []

        async def write_each() -> None:
            for case in cases:
                await board.write(case, author=AUTHOR)

        async def write_batches() -> None:
            for group in batches:
                await board.write_many(group, author=AUTHOR)

        seconds = timed(lambda: anyio.run(write_batches if batch else write_each))
    return len(cases) / seconds


def open_raw(path: Path, synchronous: str) -> sqlite3.Connection:
    """A connection configured like the store's: WAL, the given synchronous, the same tables."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    for statement in schema_statements():
        conn.execute(statement)
    return conn


def run_raw(workdir: Path, synchronous: str, cases: Sequence[Case], batch: int | None) -> float:
    """Rows per second inserted by plain sqlite3, one transaction per row or per batch."""
    rows = raw_rows(cases)  # built here, so they are not alive (and scanned by the GC) during slateboard's runs
    conn = open_raw(workdir / "raw.db", synchronous)

    def insert_each() -> None:
        for row in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(RAW_INSERT, row)
            conn.execute("COMMIT")

    groups = chunks(rows, batch) if batch else []

    def insert_batches() -> None:
        for group in groups:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(RAW_INSERT, group)
            conn.execute("COMMIT")

    try:
        seconds = timed(insert_batches if batch else insert_each)
    finally:
        conn.close()
    return len(rows) / seconds


def in_fresh_dir(base: Path | None, fn: Callable[[Path], T]) -> T:
    with tempfile.TemporaryDirectory(prefix="slateboard-bench-", dir=base) as tmp:
        return fn(Path(tmp))


# --- appends ------------------------------------------------------------------------------------------


def bench_appends(mode: str, synchronous: str, n: int, repeats: int, base: Path | None) -> AppendResult:
    batch = BATCH if mode == "batch" else None
    cases = make_cases(n)
    ours: list[float] = []
    raw: list[float] = []
    for _ in range(repeats):
        ours.append(in_fresh_dir(base, lambda d: run_slateboard(d, synchronous, cases, batch)))
        raw.append(in_fresh_dir(base, lambda d: run_raw(d, synchronous, cases, batch)))
    ours_median, raw_median = statistics.median(ours), statistics.median(raw)
    return AppendResult(mode, synchronous, n, ours_median, raw_median, ours_median / raw_median, ours, raw)


def warm_up(base: Path | None) -> None:
    """One short, discarded round of each path: the first runs in a process pay for imports and caches."""
    cases = make_cases(300)
    for batch in (None, BATCH):
        in_fresh_dir(base, lambda d, batch=batch: run_slateboard(d, "FULL", cases, batch))
        in_fresh_dir(base, lambda d, batch=batch: run_raw(d, "FULL", cases, batch))


# --- reads --------------------------------------------------------------------------------------------


async def fill(board: Board, size: int) -> None:
    for group in chunks(make_cases(size), BATCH):
        await board.write_many(group, author=AUTHOR)


async def cold_view(board: Board, expected: int) -> float:
    """Seconds for the first view() of a freshly opened Blackboard: it reads and decodes the whole log."""
    start = time.perf_counter()
    view = await board.view()
    seconds = time.perf_counter() - start
    if view.version != expected:
        raise AssertionError(f"cold view saw version {view.version}, expected {expected}")
    return seconds


async def warm_reads(board: Board, reads: int) -> list[float]:
    """Seconds per [view(); latest()] right after each of `reads` single writes (the writes are not timed)."""
    latencies = []
    for i in range(reads):
        case = make_case(i)
        await board.write(case, author=AUTHOR)
        start = time.perf_counter()
        view = await board.view()
        found = view.latest(Case, subject=case.subject)
        latencies.append(time.perf_counter() - start)
        if found != case:
            raise AssertionError(f"latest() returned {found!r} after writing {case!r}")
    return latencies


def view_run(workdir: Path, size: int, reads: int) -> tuple[float, float]:
    """(cold first view, median warm read), in seconds, on a board filled with `size` entries.

    The board is filled through one Blackboard, then reopened: the new one's first view() (timed as
    the cold view) builds its index, and the warm reads follow on that same, now warm, board.
    """
    url = store_url(workdir / "board.db", "FULL")

    async def main() -> tuple[float, float]:
        with Blackboard.open(url) as bb:
            await fill(bb.board(BOARD), size)
        gc.collect()
        with Blackboard.open(url) as bb:
            board = bb.board(BOARD)
            cold = await cold_view(board, size)
            gc.collect()
            warm = statistics.median(await warm_reads(board, reads))
        return cold, warm

    return anyio.run(main)


def bench_views(sizes: Sizes, base: Path | None) -> list[ViewResult]:
    board_sizes = (sizes.view_small, sizes.view_big)
    runs: dict[int, list[tuple[float, float]]] = {size: [] for size in board_sizes}
    for _ in range(sizes.repeats):
        for size in board_sizes:
            runs[size].append(in_fresh_dir(base, lambda d, size=size: view_run(d, size, sizes.view_reads)))
    results = []
    for size in board_sizes:
        cold = [c * 1e3 for c, _ in runs[size]]
        warm = [w * 1e6 for _, w in runs[size]]
        results.append(ViewResult(size, sizes.view_reads, statistics.median(warm), warm, statistics.median(cold), cold))
    return results


# --- report -------------------------------------------------------------------------------------------


def print_appends(results: Sequence[AppendResult]) -> None:
    print(f"{'mode':<30}{'n':>9}{'slateboard/s':>15}{'sqlite3 rows/s':>16}{'ratio':>8}  goal >= {GOAL_RATIO}")
    for r in results:
        verdict = "met" if r.ratio >= GOAL_RATIO else "MISSED"
        label = f"{r.mode} (synchronous={r.synchronous})"
        figures = f"{r.n:>9,}{r.slateboard_per_s:>15,.0f}{r.raw_per_s:>16,.0f}{r.ratio:>8.2f}"
        print(f"{label:<30}{figures}  {verdict}")


def print_views(results: Sequence[ViewResult]) -> None:
    print(f"{'reads after a write':<34}{'board size':>12}{'median us/read':>16}")
    for r in results:
        print(f"{'view() + latest()':<34}{r.board_size:>12,}{r.warm_us:>16.1f}")
    small, big = results[0], results[-1]
    print(f"ratio big/small: {big.warm_us / small.warm_us:.2f} (goal: near 1)")
    for r in results:
        print(
            f"cold first view() of a fresh Blackboard, {r.board_size:,} entries "
            f"(one-time index build): {r.cold_ms:,.1f} ms"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--repeats", type=int, help="runs per measurement (median reported; default 3)")
    parser.add_argument("--dir", type=Path, help="where to create the temporary databases (default: /tmp)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.repeats:
        sizes = replace(sizes, repeats=max(args.repeats, 1))
    meta = {**machine(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "sizes": asdict(sizes)}
    print(
        f"slateboard store benchmark: Python {meta['python']}, SQLite {meta['sqlite']}, "
        f"{meta['cpus']} CPUs, median of {sizes.repeats} runs\n"
    )

    warm_up(args.dir)
    appends = [
        bench_appends(mode, sync, sizes.single if mode == "single" else sizes.batch, sizes.repeats, args.dir)
        for mode in ("single", "batch")
        for sync in ("FULL", "NORMAL")
    ]
    print_appends(appends)
    print()
    views = bench_views(sizes, args.dir)
    print_views(views)

    if args.json:
        report = {"meta": meta, "appends": [asdict(r) for r in appends], "views": [asdict(r) for r in views]}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
