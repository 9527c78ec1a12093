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
tables from ``slateboard.blackboard.stores.sqlite.schema_statements()`` (the append-only triggers are kept; they
fire only on UPDATE and DELETE), the exact payload JSON slateboard stores for each finding and a 64-hex-char
hash, all computed before the clock starts. It does not look up the board's head nor compute the hash chain,
which slateboard must do inside each transaction.

Findings are built before timing in both cases; the timed region is the write loop only (store opening
and schema creation are excluded). One short, discarded warm-up round runs first. Each append measurement
runs ``--repeats`` times (default 3), slateboard and raw interleaved, and the median is reported with its spread.
Every timed region starts with a full garbage collection and runs with the collector off (benchmarks/harness).

Run it from the repository root::

    python benchmarks/bench_store.py                 # full run, about a minute
    python benchmarks/bench_store.py --quick         # CI's smoke test: fails on a 0 or NaN figure
    python benchmarks/bench_store.py --json results.json --dir /path/on/the/disk/to/test
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import anyio

from harness import Report, Row, Sample, Table, in_fresh_dir, now, parser, quiet_gc, rounds, since, timed
from slateboard import Blackboard, Board, Citation, Finding

# Internals this benchmark reproduces byte for byte in its raw reference; if they move, its import fails.
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


# --- appends ------------------------------------------------------------------------------------------


def bench_appends(mode: str, synchronous: str, n: int, repeats: int, base: Path | None) -> Row:
    """slateboard's findings/s against raw sqlite3's rows/s, interleaved, one fresh directory per run."""
    batch = BATCH if mode == "batch" else None
    cases = make_cases(n)
    found = rounds(
        repeats,
        {
            "slateboard": lambda: in_fresh_dir(base, lambda d: run_slateboard(d, synchronous, cases, batch)),
            "raw": lambda: in_fresh_dir(base, lambda d: run_raw(d, synchronous, cases, batch)),
        },
    )
    ours, raw = Sample.of(found["slateboard"]), Sample.of(found["raw"])
    verdict = "met" if ours.median / raw.median >= GOAL_RATIO else "MISSED"
    label = f"{mode} (synchronous={synchronous})"
    return Row(label, ours, "findings/s", reference=raw, n=n, note=f"goal >= {GOAL_RATIO}: {verdict}")


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
    with quiet_gc():
        start = now()
        view = await board.view()
        seconds = since(start)
    if view.version != expected:
        raise AssertionError(f"cold view saw version {view.version}, expected {expected}")
    return seconds


async def warm_reads(board: Board, reads: int) -> list[float]:
    """Seconds per [view(); latest()] right after each of `reads` single writes (the writes are not timed)."""
    latencies = []
    with quiet_gc():
        for i in range(reads):
            case = make_case(i)
            await board.write(case, author=AUTHOR)
            start = now()
            view = await board.view()
            found = view.latest(Case, subject=case.subject)
            latencies.append(since(start))
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
        with Blackboard.open(url) as bb:
            board = bb.board(BOARD)
            cold = await cold_view(board, size)
            warm = Sample.of(await warm_reads(board, reads)).median
        return cold, warm

    return anyio.run(main)


def bench_views(sizes: Sizes, base: Path | None) -> list[Row]:
    """Warm reads and the cold first view at both board sizes; the big board's reads beside the small one's."""
    board_sizes = (sizes.view_small, sizes.view_big)
    runs = rounds(
        sizes.repeats,
        {
            size: lambda size=size: in_fresh_dir(base, lambda d: view_run(d, size, sizes.view_reads))
            for size in board_sizes
        },
    )
    warm = {size: Sample.of(w * 1e6 for _, w in runs[size]) for size in board_sizes}
    cold = {size: Sample.of(c * 1e3 for c, _ in runs[size]) for size in board_sizes}
    small, big = board_sizes
    rows = [
        Row(f"view() + latest() after a write, {small:,} entries", warm[small], "us/read", n=sizes.view_reads),
        Row(
            f"view() + latest() after a write, {big:,} entries",
            warm[big],
            "us/read",
            reference=warm[small],
            n=sizes.view_reads,
            note="goal: ratio near 1",
        ),
    ]
    rows += [
        Row(f"cold first view() of a fresh Blackboard, {size:,} entries (index build)", cold[size], "ms")
        for size in board_sizes
    ]
    return rows


# --- report -------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parser(__doc__).parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.repeats:
        sizes = replace(sizes, repeats=max(args.repeats, 1))
    report = Report("store", args, sizes, repeats=sizes.repeats)

    warm_up(args.dir)
    appends = [
        bench_appends(mode, sync, sizes.single if mode == "single" else sizes.batch, sizes.repeats, args.dir)
        for mode in ("single", "batch")
        for sync in ("FULL", "NORMAL")
    ]
    report.table(Table("appends", tuple(appends), ratio="slateboard findings/s / raw sqlite3 rows/s"))
    reads = bench_views(sizes, args.dir)
    report.table(
        Table("reads (synchronous=FULL)", tuple(reads), ratio=f"{sizes.view_big:,} / {sizes.view_small:,} entries")
    )
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
