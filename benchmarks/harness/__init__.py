"""The benchmarks' shared harness; each benchmark script imports it from its own folder (on sys.path).

- `timing`: the clock (`perf_counter_ns`), timed runs with the garbage collector kept out, `freeze`.
- `samples`: repeats in interleaved rounds; a figure's median and spread.
- `tables`: a `Row` is a figure beside its same-run reference; `Table`s print one way.
- `profiling`: cProfile and wrapped clocks, by function objects, that report targets the run never reached.
- `report`: the header, the tables, the problems that make a run (`--quick` in CI) fail, the JSON file.
- `options`: the shared command-line options; scratch directories.
- `machine`: what a report records about the machine.
- `counting`: bytes the process wrote and commits a SQLite connection ran (what a run costs the disk).
"""

from harness.counting import Commits, written_bytes
from harness.machine import machine
from harness.options import in_fresh_dir, names, parser
from harness.profiling import Clocks, HotSpot, Profile, name_of
from harness.report import SCHEMA, Report
from harness.samples import Sample, rounds
from harness.tables import Row, Table, print_table
from harness.timing import freeze, now, quiet_gc, since, timed, timed_async

__all__ = (
    "SCHEMA",
    "Clocks",
    "Commits",
    "HotSpot",
    "Profile",
    "Report",
    "Row",
    "Sample",
    "Table",
    "freeze",
    "in_fresh_dir",
    "machine",
    "name_of",
    "names",
    "now",
    "parser",
    "print_table",
    "quiet_gc",
    "rounds",
    "since",
    "timed",
    "timed_async",
    "written_bytes",
)
