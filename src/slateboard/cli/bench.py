"""`slateboard bench`: a quick, self-contained measurement of this machine, with its reference taken in the same run.

It runs N support cases (the built-in scenario's happy path) through `run_many` on a fresh SQLite file, then has raw
`sqlite3` append the very same rows, grouped in the same transactions, to a fresh file with the same pragmas. The
ratio (raw time / slateboard time) is what the engine's agents, rules, policy, commits and hash chain cost over the
bare log writes. The benchmarks under benchmarks/ measure each part in depth.
"""

from __future__ import annotations

import itertools
import json
import platform
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict

from slateboard.blackboard.board import Blackboard
from slateboard.controller.batch import run_many_sync
from slateboard.errors import ConfigurationError
from slateboard.scenarios.support_case import support_case

__all__ = ("BenchResult", "bench", "bench_command")

_COLUMNS = "board, version, kind, schema_version, author, recorded_at, payload, hash"


class BenchResult(BaseModel):
    """What `bench` measured: the slateboard run, the raw reference, and their ratio."""

    model_config = ConfigDict(frozen=True)

    cases: int
    concurrency: int
    statuses: dict[str, int]
    entries: int
    transactions: int
    seconds: float
    raw_seconds: float

    @property
    def cases_per_second(self) -> float:
        return self.cases / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        """Raw sqlite3 time over slateboard time for the same rows (1.0 would mean no cost over bare appends)."""
        return self.raw_seconds / self.seconds if self.seconds else 0.0


def bench(*, cases: int = 200, concurrency: int = 8, directory: Path | None = None) -> BenchResult:
    """Run the measurement in `directory` (a fresh temporary one by default)."""
    if cases < 1 or concurrency < 1:
        raise ConfigurationError(f"bench needs cases >= 1 and concurrency >= 1, got {cases} and {concurrency}")
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        engine_file, raw_file = Path(tmp) / "engine.db", Path(tmp) / "raw.db"
        scenario = support_case("happy")
        with Blackboard.open(f"sqlite:///{engine_file}") as bb:
            batch = ((f"case-{i}", scenario.inputs(f"case-{i}")) for i in range(cases))
            started = time.perf_counter()
            result = run_many_sync(scenario.controller(), bb, batch, concurrency=concurrency)
            seconds = time.perf_counter() - started
        groups = _batches(engine_file)
        raw_seconds = _raw_appends(raw_file, groups)
    return BenchResult(
        cases=cases,
        concurrency=concurrency,
        statuses=result.counts(),
        entries=sum(len(g) for g in groups),
        transactions=len(groups),
        seconds=seconds,
        raw_seconds=raw_seconds,
    )


def _batches(path: Path) -> list[list[tuple[object, ...]]]:
    """The engine's log rows in the order written, grouped as they were appended (one board, one time)."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM slateboard_entries ORDER BY seq").fetchall()  # noqa: S608
    finally:
        conn.close()
    return [list(group) for _, group in itertools.groupby(rows, key=lambda row: (row[0], row[5]))]


def _raw_appends(path: Path, groups: list[list[tuple[object, ...]]]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(
            "CREATE TABLE entries (seq INTEGER PRIMARY KEY, board TEXT, version INTEGER, kind TEXT, "
            "schema_version INTEGER, author TEXT, recorded_at TEXT, payload TEXT, hash TEXT, UNIQUE (board, version))"
        )
        insert = f"INSERT INTO entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
        started = time.perf_counter()
        for group in groups:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(insert, group)
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def bench_command(
    cases: Annotated[int, typer.Option(help="Support cases to run (each writes 26 entries).")] = 200,
    concurrency: Annotated[int, typer.Option(help="Boards run at once.")] = 8,
    directory: Annotated[Path | None, typer.Option("--dir", help="Where the temporary files go.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Measure this machine: N support cases through the engine on SQLite against raw sqlite3 on the same rows."""
    result = bench(cases=cases, concurrency=concurrency, directory=directory)
    if as_json:
        print(json.dumps({**result.model_dump(), "cases_per_second": result.cases_per_second, "ratio": result.ratio}))
        return
    statuses = ", ".join(f"{status} {n}" for status, n in sorted(result.statuses.items()))
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"slateboard bench: {python}, SQLite {sqlite3.sqlite_version}, synchronous=FULL")
    print(f"  {result.cases} support cases, {result.concurrency} at once: {statuses}")
    appends = f"{result.entries} entries in {result.transactions} appends"
    print(f"  engine: {result.seconds:.3f} s, {result.cases_per_second:.1f} cases/s ({appends})")
    print(f"  raw sqlite3 appending the same rows in the same transactions: {result.raw_seconds:.3f} s")
    print(f"  ratio raw/engine: {result.ratio:.2f} (the cost of agents, rules, policy, commits and the hash chain)")
