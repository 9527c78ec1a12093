"""A benchmark's report: the header, the tables, the problems that fail a run, and the JSON file.

Every benchmark writes the same JSON schema (`SCHEMA`)::

    {"schema": "slateboard-benchmark/1", "benchmark": "store", "command": "...", "quick": true,
     "machine": {...}, "sizes": {...},
     "tables": [{"title": "...", "ratio": "slateboard / raw sqlite3",
                 "rows": [{"label", "unit", "n", "figure": {"median", "min", "max", "runs"},
                           "reference": {...} | null, "ratio": float | null, "note"}]}],
     "problems": ["..."]}

A problem is a figure that is 0 or not finite, or a profiled target the run never reached: something in the
benchmark no longer measures what it says. Problems are printed at the end and make the run exit 1, so that CI's
`--quick` run is the benchmarks' own test.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path

from harness.machine import machine
from harness.tables import Row, Table, print_table

SCHEMA = "slateboard-benchmark/1"


class Report:
    """Collects one run's tables and problems; `finish()` writes the JSON and gives the exit status."""

    def __init__(
        self, benchmark: str, args: argparse.Namespace, sizes: object, *, repeats: int, note: str = ""
    ) -> None:
        self.benchmark = benchmark
        self.json_path: Path | None = args.json
        self.meta = {
            "schema": SCHEMA,
            "benchmark": benchmark,
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "quick": bool(args.quick),
            "machine": machine(),
            "sizes": asdict(sizes) if is_dataclass(sizes) and not isinstance(sizes, type) else sizes,
        }
        self.tables: list[Table] = []
        self.problems: list[str] = []
        found = self.meta["machine"]
        print(
            f"slateboard {benchmark} benchmark: Python {found['python']}, SQLite {found['sqlite']}, "
            f"{found['cpus']} CPUs{note}\n"
            f"figure: the median of {repeats} run(s); spread: (max - min) / median of the runs; "
            "ratio: figure / reference (each table says which), both medians of the same run\n",
            flush=True,
        )

    def table(self, table: Table) -> None:
        """Print `table`, keep it for the JSON, and note each figure that cannot be right."""
        print_table(table)
        print(flush=True)
        self.tables.append(table)
        for row in table.rows:
            self._check(table, row)

    def _check(self, table: Table, row: Row) -> None:
        for what, sample in (("figure", row.figure), ("reference", row.reference)):
            if sample is not None and (sample.median == 0 or not math.isfinite(sample.median)):
                self.problem(f"{table.title}: {row.label}: the {what} is {sample.median} (runs: {list(sample.runs)})")

    def missing(self, what: str, names: list[str]) -> None:
        """Note the profiled or wrapped targets that the run never reached."""
        for name in names:
            self.problem(f"{what}: {name} never ran while measured (renamed, moved, or no longer on this path?)")

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def finish(self) -> int:
        """Write the JSON (if asked), print the problems; 1 if there were any, else 0."""
        if self.json_path:
            report = {**self.meta, "tables": [t.to_json() for t in self.tables], "problems": self.problems}
            self.json_path.write_text(json.dumps(report, indent=2) + "\n")
        for message in self.problems:
            print(f"PROBLEM: {message}", file=sys.stderr)
        if self.problems:
            print(f"{self.benchmark} benchmark FAILED: {len(self.problems)} problem(s) above", file=sys.stderr)
            return 1
        return 0
