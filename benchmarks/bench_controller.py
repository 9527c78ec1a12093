"""Controller overhead per cycle at board sizes 100 and 100,000 entries (issue 3; goal: ratio big/small <= 1.5).

The controller evaluates its rules incrementally, so the cost of one cycle must not grow with the length of
the board's log. This benchmark measures that cost on a board prefilled with 100 entries and on one prefilled
with 100,000, and prints the ratio.

What runs:

* the prefilled history: ``Evidence`` and ``Verdict`` findings (a ~100-character claim, one citation)
  spread over 1,000 subjects ``case-0`` ... ``case-999`` (``--subjects``) by two authors, written with
  ``board.write_many`` in batches of 100. No agent reads these kinds, but the rules look at them:
  ``rules.sufficient(Evidence, ...)`` (never met: two sources at 0.6 pool to 0.69),
  ``rules.disagreement(Verdict, field="ok")`` (the authors agree), ``rules.escalate_below(Evidence, ...)`` and
  ``rules.escalate_below(Tick, ...)`` (neither fires), so the controller's rule state covers every prefilled
  subject without ending the run.
* the work: ``controller.run(board, Tick(subject="work", n=0))`` with one agent,
  ``@agent(when=lambda tick: tick.n < K) async def step(tick: Tick) -> Tick`` (returns ``n + 1``). Each
  cycle is one decision, one trivial agent call, and appends a Decision, an AgentRun and a Tick. After K
  cycles the precondition no longer holds and the run ends "insufficient" (the Evidence rule is unmet).
* per-cycle overhead = (T(run of K cycles) - T(run of K0 cycles)) / (K - K0), K = 1000 and K0 = 50 by
  default, each run on a fresh copy of the same prefilled board, so the one-time cost of reading the log
  into the controller's state cancels out. (The small board's log grows to about 3,100 entries during a
  run, the big one's to 103,000: the sizes named are the boards' sizes when the run starts.)
* the one-time cost is reported too: the cold first ``board.view()`` of a newly opened board (decoding the
  log; timed before the run, outside T) and the controller's own start-up, T(K0) - K0 x per-cycle:
  building its state from the log, the first decision over every subject, the run-start entry, and a full
  garbage collection at the first agent call. That collection runs in every run, and its time is left out
  of both T(K) and T(K0) for the difference: without it, the full collection that the start-up's hundreds
  of thousands of new objects lead to would land at an arbitrary cycle of some runs and not others, and
  decide the difference alone.
* as a cross-check, the agent timestamps each of its calls; (last - first) / (calls - 1) is the steady
  cycle time inside the K-cycle run, free of any start-up cost. The garbage collector's time during the
  cycles is reported per cycle (from ``gc.callbacks``).
* stores: the embedded SQLite default (``sqlite:///<tmp>/run.db``, ``synchronous=FULL``; the prefilled
  file is built once per size, checkpointed, and copied for each run) and ``memory://`` (prefilled anew for
  each run, then read through a new ``Board`` so its index is cold too).
* each figure is the median of ``--repeats`` runs (default 3), stores, sizes and run lengths interleaved,
  after a discarded warm-up run per store; a full garbage collection precedes every timed region.
* where a cycle's time goes, two ways, both from the first agent call to the end of a K-cycle SQLite run:
  each part's method (``Evaluator.decide``, ``Board.write_each``, ``BoardState.ingest``,
  ``Controller._run_agenda``, ``Board.view``) wrapped with a clock in this process, at both sizes (median of
  the repeats); and a cProfile pass on the big board, cumulative time per function divided by K, for the
  detail. The profiler inflates every figure (Python calls the most); read it for proportions.

Run it from the repository root::

    python benchmarks/bench_controller.py            # full run, about a minute and a quarter
    python benchmarks/bench_controller.py --quick    # smoke test (100 vs 5,000 entries), seconds
    python benchmarks/bench_controller.py --json results.json --dir /path/on/the/disk/to/test
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import inspect
import json
import os
import pstats
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio

from harness import machine  # benchmarks/harness: the script's folder is on sys.path
from slateboard import Agent, Blackboard, Board, Citation, Controller, Finding, Outcome, agent, rules
from slateboard.controller import BoardState
from slateboard.controller.decide import Evaluator

BOARD = "bench"
WORK = "work"
BATCH = 100
AUTHORS = ("screening", "review")
GOAL_RATIO = 1.5
STORES = ("sqlite", "memory")
CLAIM = "The replacement controller failed its self-test after the firmware update; the site log shows error E42."


class Evidence(Finding):
    """Prefilled history the rules look at (sufficiency, confidence gate); no agent reads it."""

    kind_name = "bench.Evidence"
    claim: str


class Verdict(Finding):
    """Prefilled history a disagreement rule looks at; both authors agree, so it never fires."""

    kind_name = "bench.Verdict"
    ok: bool


class Tick(Finding):
    """The working subject's chain: each cycle's agent turns Tick n into Tick n + 1."""

    kind_name = "bench.Tick"
    n: int


@dataclass(frozen=True)
class Sizes:
    """How much work the benchmark does."""

    small: int
    big: int
    cycles: int
    base_cycles: int
    repeats: int
    subjects: int = 1000


FULL_SIZES = Sizes(small=100, big=100_000, cycles=1000, base_cycles=50, repeats=3)
QUICK_SIZES = Sizes(small=100, big=5000, cycles=300, base_cycles=20, repeats=3)


@dataclass(frozen=True)
class RunTiming:
    """One controller run on a freshly opened, prefilled board."""

    cycles: int
    index_build_s: float  # the cold first board.view(): decoding the log (not part of run_s)
    run_s: float  # controller.run(...), start to outcome
    steady_s: float  # agent timestamps: (last call - first call) / (calls - 1)
    startup_gc_s: float  # the full collection at the first agent call (the start-up's garbage)
    cycles_gc_s: float  # time in the garbage collector after that, until the run ends


@dataclass(frozen=True)
class CycleResult:
    """One store at one board size: medians over the repeats, and every repeat's figure."""

    store: str
    board_size: int
    cycles: int
    base_cycles: int
    per_cycle_us: float
    steady_us: float
    startup_ms: float
    index_build_ms: float
    startup_gc_ms: float
    gc_us_per_cycle: float
    per_cycle_us_runs: list[float]
    steady_us_runs: list[float]
    startup_ms_runs: list[float]
    index_build_ms_runs: list[float]


@dataclass(frozen=True)
class ProfileLine:
    """A function's cumulative time per cycle under cProfile."""

    label: str
    function: str
    us_per_cycle: float


@dataclass(frozen=True)
class Hooks:
    """What to start at the first agent call (after the start-up) and stop when the run returns."""

    start: Callable[[], object]
    stop: Callable[[], object]


@dataclass(frozen=True)
class PartResult:
    """One part of a cycle, timed by wrapping its method: median microseconds per cycle at each board size."""

    label: str
    us_per_cycle: dict[int, float]


# --- the board's history and the controller -------------------------------------------------------------


def history_batch(start: int, size: int, subjects: int) -> list[Finding]:
    """Findings start..start+size-1: Evidence and Verdict alternate, each subject gets both kinds."""
    batch: list[Finding] = []
    for i in range(start, start + size):
        subject = f"case-{(i // 2) % subjects}"
        source = (Citation(source=f"kb/{AUTHORS[(i // BATCH) % 2]}", version="2026-10", approved=True),)
        if i % 2:
            batch.append(Verdict(subject=subject, ok=True, confidence=0.8, citations=source))
        else:
            batch.append(Evidence(subject=subject, claim=CLAIM, confidence=0.6, citations=source))
    return batch


async def prefill(board: Board, size: int, subjects: int) -> None:
    """Write `size` entries of history in batches of `BATCH`, alternating the two authors per batch."""
    for number, start in enumerate(range(0, size, BATCH)):
        batch = history_batch(start, min(BATCH, size - start), subjects)
        await board.write_many(batch, author=AUTHORS[number % 2])


def make_step(cycles: int, stamps: list[float], on_first_call: Callable[[], object] | None = None) -> Agent:
    """The cycle's agent: Tick n -> Tick n + 1 while n < cycles, noting when it is called."""

    @agent(when=lambda tick: tick.n < cycles)
    async def step(tick: Tick) -> Tick:
        if not stamps and on_first_call is not None:
            on_first_call()
        stamps.append(time.perf_counter())
        return Tick(subject=tick.subject, n=tick.n + 1, confidence=1.0)

    return step


def make_controller(cycles: int, stamps: list[float], on_first_call: Callable[[], object] | None = None) -> Controller:
    return Controller(
        [make_step(cycles, stamps, on_first_call)],
        [
            rules.sufficient(Evidence, min_confidence=0.99, min_sources=2),
            rules.disagreement(Verdict, field="ok"),
            rules.escalate_below(Evidence, confidence=0.1),
            rules.escalate_below(Tick, confidence=0.5),
            rules.budget(max_cycles=cycles + 10, max_agent_runs=cycles + 10),
        ],
    )


def check_outcome(outcome: Outcome, size: int, cycles: int, calls: int) -> None:
    """The run did exactly `cycles` cycles of three entries each, and ended for the expected reason."""
    expected = size + 2 + 3 * cycles + 1  # the input Tick and RunStarted; per cycle 3; the final decision
    if outcome.status != "insufficient" or outcome.version != expected or calls != cycles:
        raise AssertionError(
            f"unexpected run: status {outcome.status}, version {outcome.version} (expected {expected}), "
            f"{calls} agent calls (expected {cycles}); reasons: {outcome.reasons}"
        )


# --- one timed run ----------------------------------------------------------------------------------------


@contextmanager
def gc_timer(total: list[float]) -> Iterator[None]:
    """Adds the seconds each garbage collection takes while the block runs to total[0]."""
    started = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            total[0] += time.perf_counter() - started[0]

    gc.callbacks.append(callback)
    try:
        yield
    finally:
        gc.callbacks.remove(callback)


async def timed_run(board: Board, size: int, cycles: int, hooks: Hooks | None = None) -> RunTiming:
    """Open the board cold, then time one controller run of `cycles` cycles on it."""
    if board.cache_info().entries:
        raise AssertionError("the board's index is already warm; the run would not start cold")
    start = time.perf_counter()
    view = await board.view()
    index_build = time.perf_counter() - start
    if view.version != size:
        raise AssertionError(f"the board holds {view.version} entries, expected {size}")
    stamps: list[float] = []
    startup_gc = [0.0]
    gc_total = [0.0]

    def first_call() -> None:
        # The start-up's garbage (the log decoded and taken into the controller's state) is collected here,
        # in every run, so it counts in the start-up; left alone, the full collection it leads to lands at
        # a random later cycle. The garbage collector's time is counted from here on, and a profiler or the
        # clocks start here too, leaving the start-up out of the breakdown.
        collect_start = time.perf_counter()
        gc.collect()
        startup_gc[0] = time.perf_counter() - collect_start
        gc_total[0] = 0.0
        if hooks:
            hooks.start()

    controller = make_controller(cycles, stamps, first_call)
    first = Tick(subject=WORK, n=0, confidence=1.0)
    gc.collect()
    with gc_timer(gc_total):
        start = time.perf_counter()
        outcome = await controller.run(board, first)
        run = time.perf_counter() - start
        if hooks:
            hooks.stop()
    check_outcome(outcome, size, cycles, len(stamps))
    steady = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else 0.0
    return RunTiming(cycles, index_build, run, steady, startup_gc[0], gc_total[0])


def sqlite_template(workdir: Path, size: int, subjects: int) -> Path:
    """A SQLite file holding the prefilled board, checkpointed so that copying the .db alone is complete."""
    path = workdir / f"template-{size}.db"
    with Blackboard.open(f"sqlite:///{path}") as bb:
        anyio.run(prefill, bb.board(BOARD), size, subjects)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        raise AssertionError(f"{wal} still holds frames after the checkpoint")
    return path


def sqlite_run(template: Path, workdir: Path, size: int, cycles: int, hooks: Hooks | None = None) -> RunTiming:
    """One run on a fresh copy of the prefilled SQLite file."""
    path = workdir / "run.db"
    shutil.copy(template, path)
    try:
        with Blackboard.open(f"sqlite:///{path}") as bb:
            return anyio.run(timed_run, bb.board(BOARD), size, cycles, hooks)
    finally:
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)


def memory_run(size: int, cycles: int, subjects: int) -> RunTiming:
    """One run on a memory store prefilled anew; the board is reopened so that its index starts cold."""
    with Blackboard.open("memory://") as bb:
        anyio.run(prefill, bb.board(BOARD), size, subjects)
        gc.collect()  # the Board that wrote is unreachable now; bb.board() gives a new one, with an empty index
        return anyio.run(timed_run, bb.board(BOARD), size, cycles, None)


# --- measurements -----------------------------------------------------------------------------------------


Runner = Callable[[str, int, int], RunTiming]


def make_runner(workdir: Path, templates: dict[int, Path], subjects: int) -> Runner:
    def run(store: str, size: int, cycles: int) -> RunTiming:
        if store == "sqlite":
            return sqlite_run(templates[size], workdir, size, cycles)
        return memory_run(size, cycles, subjects)

    return run


def summarize(store: str, size: int, sizes: Sizes, runs: Sequence[tuple[RunTiming, RunTiming]]) -> CycleResult:
    """Medians over the repeats of the per-cycle difference, the steady figure and the one-time costs."""
    extra = sizes.cycles - sizes.base_cycles
    # The collection forced at the first agent call runs in both; leaving it out of both removes its noise.
    per_cycle = [
        ((long.run_s - long.startup_gc_s) - (short.run_s - short.startup_gc_s)) / extra * 1e6 for short, long in runs
    ]
    steady = [long.steady_s * 1e6 for _, long in runs]
    median_per_cycle = statistics.median(per_cycle)
    startup = [(short.run_s * 1e6 - sizes.base_cycles * median_per_cycle) / 1e3 for short, _ in runs]
    index_build = [t.index_build_s * 1e3 for pair in runs for t in pair]
    gc_per_cycle = [long.cycles_gc_s / sizes.cycles * 1e6 for _, long in runs]
    return CycleResult(
        store=store,
        board_size=size,
        cycles=sizes.cycles,
        base_cycles=sizes.base_cycles,
        per_cycle_us=median_per_cycle,
        steady_us=statistics.median(steady),
        startup_ms=statistics.median(startup),
        index_build_ms=statistics.median(index_build),
        startup_gc_ms=statistics.median(t.startup_gc_s * 1e3 for pair in runs for t in pair),
        gc_us_per_cycle=statistics.median(gc_per_cycle),
        per_cycle_us_runs=per_cycle,
        steady_us_runs=steady,
        startup_ms_runs=startup,
        index_build_ms_runs=index_build,
    )


def bench_cycles(run: Runner, sizes: Sizes, stores: Sequence[str]) -> list[CycleResult]:
    """Every (store, size) pair, K0 and K cycles, repeated; all of it interleaved."""
    board_sizes = (sizes.small, sizes.big)
    runs: dict[tuple[str, int], list[tuple[RunTiming, RunTiming]]] = {
        (store, size): [] for store in stores for size in board_sizes
    }
    for _ in range(sizes.repeats):
        for store in stores:
            for size in board_sizes:
                short = run(store, size, sizes.base_cycles)
                long = run(store, size, sizes.cycles)
                runs[(store, size)].append((short, long))
    return [summarize(store, size, sizes, runs[(store, size)]) for store in stores for size in board_sizes]


def warm_up(run: Runner, sizes: Sizes, stores: Sequence[str]) -> None:
    """One short, discarded run per store: the first runs in a process pay for imports and caches."""
    for store in stores:
        run(store, sizes.small, sizes.base_cycles)


# --- where a cycle's time goes --------------------------------------------------------------------------


WRAPPED: tuple[tuple[str, type, str], ...] = (
    ("decide: rules, agenda (Evaluator.decide)", Evaluator, "decide"),
    ("board writes: encode, SQL, commit, hash chain (Board.write_each)", Board, "write_each"),
    ("take entries into the state (BoardState.ingest)", BoardState, "ingest"),
    ("run the agenda: runner, agent, AgentRun (Controller._run_agenda)", Controller, "_run_agenda"),
    ("board.view() before the agenda (Board.view)", Board, "view"),
)


@dataclass
class Clocks:
    """Seconds spent in each wrapped method, for calls that start while armed."""

    armed_at: float | None = None
    totals: dict[str, float] = field(default_factory=dict)

    def add(self, label: str, start: float) -> None:
        if self.armed_at is not None and start >= self.armed_at:
            self.totals[label] = self.totals.get(label, 0.0) + time.perf_counter() - start

    def arm(self) -> None:
        self.armed_at = time.perf_counter()

    def disarm(self) -> None:
        self.armed_at = None


def clocked(fn: Callable[..., Any], label: str, clocks: Clocks) -> Callable[..., Any]:
    """`fn` (a plain or async method) that adds its duration to `clocks`."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                clocks.add(label, start)

        return timed_async

    @functools.wraps(fn)
    def timed_sync(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            clocks.add(label, start)

    return timed_sync


@contextmanager
def wrapped(clocks: Clocks) -> Iterator[None]:
    """The methods in `WRAPPED` timed into `clocks` for the duration of the block (this process only)."""
    originals = [(cls, name, cls.__dict__[name]) for _, cls, name in WRAPPED]
    try:
        for label, cls, name in WRAPPED:
            setattr(cls, name, clocked(cls.__dict__[name], label, clocks))
        yield
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


def parts_breakdown(templates: dict[int, Path], workdir: Path, sizes: Sizes) -> list[PartResult]:
    """Microseconds per cycle in each part, timed by wrapping its method, K-cycle SQLite runs, median."""
    samples: dict[int, list[dict[str, float]]] = {size: [] for size in templates}
    for _ in range(sizes.repeats):
        for size, template in templates.items():
            clocks = Clocks()
            with wrapped(clocks):
                timing = sqlite_run(template, workdir, size, sizes.cycles, Hooks(clocks.arm, clocks.disarm))
            per_cycle = {label: seconds / sizes.cycles * 1e6 for label, seconds in clocks.totals.items()}
            per_cycle["cycle (steady, with the wrappers)"] = timing.steady_s * 1e6
            per_cycle["garbage collector (inside the parts above)"] = timing.cycles_gc_s / sizes.cycles * 1e6
            samples[size].append(per_cycle)
    labels = [
        "cycle (steady, with the wrappers)",
        *(label for label, _, _ in WRAPPED),
        "garbage collector (inside the parts above)",
    ]
    results = [
        PartResult(label, {size: statistics.median(s.get(label, 0.0) for s in samples[size]) for size in templates})
        for label in labels
    ]
    rest = {
        size: results[0].us_per_cycle[size] - sum(r.us_per_cycle[size] for r in results[1 : 1 + len(WRAPPED)])
        for size in templates
    }
    results.insert(1 + len(WRAPPED), PartResult("the rest: the loop, anyio scheduling, Decision records", rest))
    return results


PROFILED = (
    ("decide: rules, agenda (Evaluator.decide)", "controller/decide.py", "decide"),
    ("  refresh rules on changed subjects", "controller/decide.py", "_refresh"),
    ("  sufficiency reasons", "controller/decide.py", "_sufficiency_reasons"),
    ("  agenda (inputs, precondition)", "controller/decide.py", "_agenda"),
    ("write + ingest (Controller._append, 2 a cycle)", "controller/loop.py", "_append"),
    ("  Board.write_each", "blackboard/board.py", "write_each"),
    ("    SQLiteStore.append (SQL, commit, hash chain)", "blackboard/sqlstore.py", "append"),
    ("      sqlite3 execute (BEGIN, head, one row, COMMIT)", "~", "<method 'execute' of 'sqlite3.Connection' objects>"),
    ("      sqlite3 executemany (rows of a batch)", "~", "<method 'executemany' of 'sqlite3.Connection' objects>"),
    ("    encode_record (pydantic to JSON)", "blackboard/records.py", "encode_record"),
    ("    Entry.from_stored", "blackboard/entries.py", "from_stored"),
    ("  BoardState.ingest", "controller/state.py", "ingest"),
    ("run agenda (Controller._run_agenda)", "controller/loop.py", "_run_agenda"),
    ("  run_agent (runner, timeout scope)", "agents/runner.py", "run_agent"),
    ("    the agent itself (step)", "bench_controller.py", "step"),
    ("board.view() (catch up)", "blackboard/board.py", "view"),
    ("across all of the above: building records (FrozenModel)", "blackboard/records.py", "__init__"),
)
TOP_LEVEL = ("decide", "_append", "_run_agenda", "view")


def cumulative(stats: pstats.Stats) -> dict[tuple[str, str], float]:
    """Cumulative seconds per (file suffix, function name), summed over same-named functions in one file."""
    found: dict[tuple[str, str], float] = {}
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, name), (_, _, _, cum, _) in raw.items():
        for _, suffix, wanted in PROFILED:
            if name == wanted and filename.replace(os.sep, "/").endswith(suffix):
                found[(suffix, wanted)] = found.get((suffix, wanted), 0.0) + cum
    return found


def profile_breakdown(template: Path, workdir: Path, size: int, cycles: int) -> list[ProfileLine]:
    """cProfile's cumulative time per function, per cycle, from the first agent call to the run's end.

    That span is `cycles` cycles, less the first cycle's decision and plus the final one.
    """
    profiler = cProfile.Profile()
    sqlite_run(template, workdir, size, cycles, Hooks(profiler.enable, profiler.disable))
    stats = pstats.Stats(profiler)
    found = cumulative(stats)
    total = stats.total_tt  # type: ignore[attr-defined]
    lines = [ProfileLine("a whole cycle (everything profiled)", "", total / cycles * 1e6)]
    lines += [
        ProfileLine(label, f"{suffix}:{name}", found.get((suffix, name), 0.0) / cycles * 1e6)
        for label, suffix, name in PROFILED
    ]
    outside = total - sum(found.get((suffix, name), 0.0) for _, suffix, name in PROFILED if name in TOP_LEVEL)
    lines.insert(-1, ProfileLine("the rest: loop, anyio scheduling, task group", "", outside / cycles * 1e6))
    return lines


# --- report -------------------------------------------------------------------------------------------------


def ratios(results: Sequence[CycleResult], sizes: Sizes) -> dict[str, dict[str, float]]:
    """Per store: big/small for the per-cycle difference and for the steady in-run figure."""
    by_key = {(r.store, r.board_size): r for r in results}
    found = {}
    for store in dict.fromkeys(r.store for r in results):
        small, big = by_key[(store, sizes.small)], by_key[(store, sizes.big)]
        found[store] = {
            "per_cycle": big.per_cycle_us / small.per_cycle_us,
            "steady": big.steady_us / small.steady_us,
        }
    return found


def print_cycles(results: Sequence[CycleResult], sizes: Sizes) -> None:
    print(
        f"{'store':<8}{'board size':>12}{'us/cycle':>10}{'steady us':>11}{'gc us':>7}"
        f"{'index build ms':>16}{'controller start ms':>21}{'of which gc ms':>16}"
    )
    for r in results:
        print(
            f"{r.store:<8}{r.board_size:>12,}{r.per_cycle_us:>10.1f}{r.steady_us:>11.1f}{r.gc_us_per_cycle:>7.1f}"
            f"{r.index_build_ms:>16,.1f}{r.startup_ms:>21,.1f}{r.startup_gc_ms:>16,.1f}"
        )
    extra = sizes.cycles - sizes.base_cycles
    print(
        f"(us/cycle: (T({sizes.cycles} cycles) - T({sizes.base_cycles} cycles)) / {extra}; steady: between the "
        "agent's first and last calls; gc us: collector time a cycle)"
    )
    for store, found in ratios(results, sizes).items():
        verdict = "met" if found["per_cycle"] <= GOAL_RATIO else "MISSED"
        print(
            f"ratio {sizes.big:,}/{sizes.small:,} ({store}): {found['per_cycle']:.2f} per cycle, "
            f"{found['steady']:.2f} steady (goal <= {GOAL_RATIO}): {verdict}"
        )


def print_parts(parts: Sequence[PartResult]) -> None:
    sizes = list(parts[0].us_per_cycle)
    print("where a cycle's time goes (sqlite; each part's method wrapped with a clock; us a cycle):")
    print(f"  {'':<68}" + "".join(f"{size:>12,}" for size in sizes))
    for part in parts:
        print(f"  {part.label:<68}" + "".join(f"{part.us_per_cycle[size]:>12.1f}" for size in sizes))


def print_profile(lines: Sequence[ProfileLine], size: int) -> None:
    total = lines[0].us_per_cycle or 1.0
    print(f"where a cycle's time goes (cProfile, sqlite, {size:,} entries; inflated by the profiler):")
    for line in lines:
        print(f"  {line.label:<58}{line.us_per_cycle:>9.1f} us{100 * line.us_per_cycle / total:>6.0f}%")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (100 vs 5,000 entries), for a smoke test")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--repeats", type=int, help="runs per measurement (median reported; default 3)")
    parser.add_argument("--cycles", type=int, help="K, the cycles of the long run (default 1000; quick 300)")
    parser.add_argument("--subjects", type=int, help="subjects the prefilled history is spread over (default 1000)")
    parser.add_argument("--stores", default=",".join(STORES), help="comma-separated: sqlite,memory (default both)")
    parser.add_argument("--no-profile", action="store_true", help="skip the breakdowns (wrapped clocks, cProfile)")
    parser.add_argument("--dir", type=Path, help="where to create the temporary databases (default: /tmp)")
    return parser.parse_args(argv)


def chosen_sizes(args: argparse.Namespace) -> Sizes:
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.repeats:
        sizes = replace(sizes, repeats=max(args.repeats, 1))
    if args.subjects:
        sizes = replace(sizes, subjects=max(args.subjects, 1))
    if args.cycles:
        sizes = replace(sizes, cycles=max(args.cycles, sizes.base_cycles + 1))
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = chosen_sizes(args)
    stores = [s for s in args.stores.split(",") if s]
    unknown = sorted(set(stores) - set(STORES))
    if unknown:
        raise SystemExit(f"unknown store(s): {', '.join(unknown)} (choose from {', '.join(STORES)})")
    meta = {**machine(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "sizes": asdict(sizes)}
    print(
        f"slateboard controller benchmark: Python {meta['python']}, SQLite {meta['sqlite']}, "
        f"{meta['cpus']} CPUs, median of {sizes.repeats} runs\n"
    )
    with tempfile.TemporaryDirectory(prefix="slateboard-bench-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        templates = {size: sqlite_template(workdir, size, sizes.subjects) for size in (sizes.small, sizes.big)}
        run = make_runner(workdir, templates, sizes.subjects)
        warm_up(run, sizes, stores)
        results = bench_cycles(run, sizes, stores)
        print_cycles(results, sizes)
        parts = [] if args.no_profile else parts_breakdown(templates, workdir, sizes)
        profile = [] if args.no_profile else profile_breakdown(templates[sizes.big], workdir, sizes.big, sizes.cycles)
    if parts:
        print()
        print_parts(parts)
    if profile:
        print()
        print_profile(profile, sizes.big)

    if args.json:
        report = {
            "meta": meta,
            "cycles": [asdict(r) for r in results],
            "ratios": ratios(results, sizes),
            "parts": [asdict(p) for p in parts],
            "profile": [asdict(p) for p in profile],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
