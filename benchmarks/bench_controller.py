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
  after a discarded warm-up run per store; a full garbage collection precedes every timed region, and the
  collector stays on during a run (unlike the other benchmarks): its share of a cycle, which grows with the
  heap a big board keeps alive, is one of the figures. What the imports and the warm-up left alive is frozen
  out of the collector's sight (``gc.freeze()``) first, so that the collections scan the runs' objects only.
* where a cycle's time goes, two ways, both from the first agent call to the end of a K-cycle SQLite run:
  each part's method (``Evaluator.decide``, ``Board.write_draft``, ``BoardState.ingest``,
  ``Controller._run_agenda``, ``Board.view``) wrapped with a clock in this process, at both sizes (median of
  the repeats); and a cProfile pass on the big board, cumulative time per function divided by K, for the
  detail. The profiler inflates every figure (Python calls the most); read it for proportions. Both name
  their targets by function object (benchmarks/harness): a renamed function fails the import, and one the
  cycles never reach fails the run (``--quick`` in CI).

Run it from the repository root::

    python benchmarks/bench_controller.py            # full run, about a minute and a quarter
    python benchmarks/bench_controller.py --quick    # CI's smoke test (100 vs 2,000 entries), seconds
    python benchmarks/bench_controller.py --json results.json --dir /path/on/the/disk/to/test
"""

from __future__ import annotations

import gc
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio

from harness import Clocks, Profile, Report, Row, Sample, Table, freeze, names, now, parser, quiet_gc, since

# Beyond the public names: the internals whose time the breakdowns report. A rename or a move fails here, at
# import, instead of reporting 0 for the function that is gone.
from slateboard import Agent, Blackboard, Board, Citation, Controller, Finding, Outcome, agent, rules
from slateboard.agents import run_agent
from slateboard.blackboard.entries import Entry
from slateboard.blackboard.records import FrozenModel, encode_record
from slateboard.blackboard.stores.sqlite import SQLiteStore
from slateboard.controller import BoardState
from slateboard.controller.decide import Evaluator
from slateboard.state import append

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
    breakdown_repeats: int  # runs of the wrapped-clock breakdown (cProfile runs once)
    subjects: int = 1000


FULL_SIZES = Sizes(small=100, big=100_000, cycles=1000, base_cycles=50, repeats=3, breakdown_repeats=3)
# Quick: a smoke test that every figure and target is still there, in seconds even while other jobs hold the disk.
QUICK_SIZES = Sizes(small=100, big=2000, cycles=100, base_cycles=20, repeats=3, breakdown_repeats=1)


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
class Hooks:
    """What to start at the first agent call (after the start-up) and stop when the run returns."""

    start: Callable[[], object]
    stop: Callable[[], object]


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


def make_step(cycles: int, stamps: list[int], on_first_call: Callable[[], object] | None = None) -> Agent:
    """The cycle's agent: Tick n -> Tick n + 1 while n < cycles, noting when it is called."""

    @agent(when=lambda tick: tick.n < cycles)
    async def step(tick: Tick) -> Tick:
        if not stamps and on_first_call is not None:
            on_first_call()
        stamps.append(now())
        return Tick(subject=tick.subject, n=tick.n + 1, confidence=1.0)

    return step


STEP = make_step(0, []).fn  # every step closure runs this one code object: the profile finds it by it


def make_controller(cycles: int, stamps: list[int], on_first_call: Callable[[], object] | None = None) -> Controller:
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
    started = [0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = now()
        else:
            total[0] += since(started[0])

    gc.callbacks.append(callback)
    try:
        yield
    finally:
        gc.callbacks.remove(callback)


async def timed_run(board: Board, size: int, cycles: int, hooks: Hooks | None = None) -> RunTiming:
    """Open the board cold, then time one controller run of `cycles` cycles on it."""
    if board.cache_info().entries:
        raise AssertionError("the board's index is already warm; the run would not start cold")
    with quiet_gc():
        start = now()
        view = await board.view()
        index_build = since(start)
    if view.version != size:
        raise AssertionError(f"the board holds {view.version} entries, expected {size}")
    stamps: list[int] = []
    startup_gc = [0.0]
    gc_total = [0.0]

    def first_call() -> None:
        # The start-up's garbage (the log decoded and taken into the controller's state) is collected here,
        # in every run, so it counts in the start-up; left alone, the full collection it leads to lands at
        # a random later cycle. The garbage collector's time is counted from here on, and a profiler or the
        # clocks start here too, leaving the start-up out of the breakdown.
        collect_start = now()
        gc.collect()
        startup_gc[0] = since(collect_start)
        gc_total[0] = 0.0
        if hooks:
            hooks.start()

    controller = make_controller(cycles, stamps, first_call)
    first = Tick(subject=WORK, n=0, confidence=1.0)
    # keep_gc: the collector's share of a cycle, and how it grows with a big board's heap, is a figure here.
    with quiet_gc(keep_gc=True), gc_timer(gc_total):
        start = now()
        outcome = await controller.run(board, first)
        run = since(start)
        if hooks:
            hooks.stop()
    check_outcome(outcome, size, cycles, len(stamps))
    steady = (stamps[-1] - stamps[0]) / 1e9 / (len(stamps) - 1) if len(stamps) > 1 else 0.0
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


@dataclass(frozen=True)
class Figures:
    """One store at one board size: every repeat's figures, in microseconds a cycle or milliseconds."""

    per_cycle_us: Sample
    steady_us: Sample
    gc_us: Sample
    index_build_ms: Sample
    startup_ms: Sample
    startup_gc_ms: Sample


def summarize(sizes: Sizes, runs: Sequence[tuple[RunTiming, RunTiming]]) -> Figures:
    """The per-cycle difference, the steady figure and the one-time costs, from (K0 run, K run) pairs."""
    extra = sizes.cycles - sizes.base_cycles
    # The collection forced at the first agent call runs in both; leaving it out of both removes its noise.
    per_cycle = Sample.of(
        ((long.run_s - long.startup_gc_s) - (short.run_s - short.startup_gc_s)) / extra * 1e6 for short, long in runs
    )
    return Figures(
        per_cycle_us=per_cycle,
        steady_us=Sample.of(long.steady_s * 1e6 for _, long in runs),
        gc_us=Sample.of(long.cycles_gc_s / sizes.cycles * 1e6 for _, long in runs),
        index_build_ms=Sample.of(t.index_build_s * 1e3 for pair in runs for t in pair),
        startup_ms=Sample.of((short.run_s * 1e6 - sizes.base_cycles * per_cycle.median) / 1e3 for short, _ in runs),
        startup_gc_ms=Sample.of(t.startup_gc_s * 1e3 for pair in runs for t in pair),
    )


def bench_cycles(run: Runner, sizes: Sizes, stores: Sequence[str]) -> dict[tuple[str, int], Figures]:
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
    return {key: summarize(sizes, pairs) for key, pairs in runs.items()}


def warm_up(run: Runner, sizes: Sizes, stores: Sequence[str]) -> None:
    """One short, discarded run per store: the first runs in a process pay for imports and caches."""
    for store in stores:
        run(store, sizes.small, sizes.base_cycles)


def cycle_tables(found: dict[tuple[str, int], Figures], sizes: Sizes, stores: Sequence[str]) -> list[Table]:
    """Per cycle (the big board beside the small one) and the one-time costs, per store."""
    per_cycle: list[Row] = []
    once: list[Row] = []
    for store in stores:
        small, big = found[(store, sizes.small)], found[(store, sizes.big)]
        met = big.per_cycle_us.median / small.per_cycle_us.median <= GOAL_RATIO
        for label, unit, pick in (
            ("per cycle", "us", lambda f: f.per_cycle_us),
            ("steady (agent calls)", "us", lambda f: f.steady_us),
            ("garbage collector a cycle", "us", lambda f: f.gc_us),
        ):
            note = f"goal <= {GOAL_RATIO}: {'met' if met else 'MISSED'}" if label == "per cycle" else ""
            per_cycle.append(Row(f"{store}, {sizes.small:,} entries: {label}", pick(small), unit))
            per_cycle.append(Row(f"{store}, {sizes.big:,} entries: {label}", pick(big), unit, pick(small), note=note))
        for size in (sizes.small, sizes.big):
            figures = found[(store, size)]
            once.append(Row(f"{store}, {size:,} entries: cold board.view()", figures.index_build_ms, "ms"))
            once.append(Row(f"{store}, {size:,} entries: controller start-up", figures.startup_ms, "ms"))
            once.append(Row(f"{store}, {size:,} entries:   of which gc", figures.startup_gc_ms, "ms"))
    extra = sizes.cycles - sizes.base_cycles
    return [
        Table(
            f"a cycle (per cycle: (T({sizes.cycles} cycles) - T({sizes.base_cycles} cycles)) / {extra}; "
            "steady: between the agent's first and last calls)",
            tuple(per_cycle),
            ratio=f"{sizes.big:,} / {sizes.small:,} entries",
        ),
        Table("one-time costs of a run on a reopened board", tuple(once)),
    ]


# --- where a cycle's time goes: wrapped clocks ----------------------------------------------------------


WRAPPED: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("decide: rules, agenda (Evaluator.decide)", Evaluator.decide),
    ("board writes: encode, SQL, commit, hash chain (Board.write_draft)", Board.write_draft),
    ("take entries into the state (BoardState.ingest)", BoardState.ingest),
    ("run the agenda: runner, agent, AgentRun (Controller._run_agenda)", Controller._run_agenda),
    ("board.view() before the agenda (Board.view)", Board.view),
)
CYCLE = "cycle (steady, with the wrappers)"
REST = "the rest: the loop, anyio scheduling, Decision records"
COLLECTOR = "garbage collector (inside the parts above)"


def parts_run(template: Path, workdir: Path, size: int, cycles: int, report: Report) -> dict[str, float]:
    """One K-cycle SQLite run with each part's method clocked: microseconds a cycle per part."""
    clocks = Clocks([fn for _, fn in WRAPPED], armed=False)
    with clocks.wrapping():
        timing = sqlite_run(template, workdir, size, cycles, Hooks(clocks.arm, clocks.disarm))
    report.missing("wrapped clocks", clocks.missing())
    found = {label: clocks.seconds(fn) / cycles * 1e6 for label, fn in WRAPPED}
    found[CYCLE] = timing.steady_s * 1e6
    found[REST] = found[CYCLE] - sum(found[label] for label, _ in WRAPPED)
    found[COLLECTOR] = timing.cycles_gc_s / cycles * 1e6
    return found


def parts_table(templates: dict[int, Path], workdir: Path, sizes: Sizes, report: Report) -> Table:
    """Microseconds a cycle in each part, the big board beside the small one, median of the repeats."""
    runs: dict[int, list[dict[str, float]]] = {size: [] for size in templates}
    for _ in range(sizes.breakdown_repeats):
        for size, template in templates.items():
            runs[size].append(parts_run(template, workdir, size, sizes.cycles, report))
    rows = [
        Row(
            label,
            Sample.of(found[label] for found in runs[sizes.big]),
            "us",
            reference=Sample.of(found[label] for found in runs[sizes.small]),
        )
        for label in (CYCLE, *(label for label, _ in WRAPPED), REST, COLLECTOR)
    ]
    return Table(
        f"where a cycle's time goes (sqlite, each part's method wrapped with a clock; median of "
        f"{sizes.breakdown_repeats}; figure: {sizes.big:,} entries, reference: {sizes.small:,})",
        tuple(rows),
        ratio=f"{sizes.big:,} / {sizes.small:,} entries",
    )


# --- where a cycle's time goes: cProfile ----------------------------------------------------------------


PROFILED: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("decide: rules, agenda (Evaluator.decide)", Evaluator.decide),
    ("  refresh rules on changed subjects", Evaluator._refresh),
    ("  sufficiency", Evaluator._sufficiency),
    ("  agenda (inputs, precondition)", Evaluator._agenda),
    ("write + ingest (Controller._advance, 1 a cycle)", Controller._advance),
    ("  Board.write_draft", Board.write_draft),
    ("    SQLiteStore.append (SQL, commit, hash chain)", SQLiteStore.append),
    ("      sqlite3 execute (BEGIN, head, one row, COMMIT)", sqlite3.Connection.execute),
    ("      sqlite3 executemany (rows of a batch)", sqlite3.Connection.executemany),
    ("    encode_record (pydantic to JSON)", encode_record),
    ("    Entry.from_stored", Entry.from_stored),
    ("  BoardState.ingest", BoardState.ingest),
    ("run agenda (Controller._run_agenda)", Controller._run_agenda),
    ("  run_agent (runner, timeout scope)", run_agent),
    ("    the agent itself (step)", STEP),
    ("board.view() (catch up)", Board.view),
    ("across all of the above: building records (FrozenModel)", FrozenModel.__init__),
)
TOP_LEVEL = (Evaluator.decide, append, Controller._run_agenda, Board.view)  # together with the rest: a cycle


def profile_table(template: Path, workdir: Path, size: int, cycles: int, report: Report) -> Table:
    """cProfile's cumulative time per function, per cycle, from the first agent call to the run's end.

    That span is `cycles` cycles, less the first cycle's decision and plus the final one.
    """
    profile = Profile([fn for _, fn in PROFILED])
    sqlite_run(template, workdir, size, cycles, Hooks(profile.start, profile.stop))
    report.missing("cProfile", profile.missing())
    whole = Sample.of([profile.total / cycles * 1e6])

    def row(label: str, seconds: float) -> Row:
        return Row(label, Sample.of([seconds / cycles * 1e6]), "us", reference=whole)

    *parts, (across_label, across) = PROFILED  # the last one cuts across the others: it goes after the rest
    rest = profile.total - sum(profile.cumulative(fn) for fn in TOP_LEVEL)
    rows = [
        Row("a whole cycle (everything profiled)", whole, "us"),
        *(row(label, profile.cumulative(fn)) for label, fn in parts),
        row("the rest: loop, anyio scheduling, task group", rest),
        row(across_label, profile.cumulative(across)),
    ]
    return Table(
        f"where a cycle's time goes (cProfile, sqlite, {size:,} entries; inflated by the profiler)",
        tuple(rows),
        ratio="share of a whole cycle",
    )


# --- the run ----------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Any:
    found = parser(__doc__)
    found.add_argument("--cycles", type=int, help="K, the cycles of the long run (default 1000; quick 100)")
    found.add_argument("--subjects", type=int, help="subjects the prefilled history is spread over (default 1000)")
    found.add_argument("--stores", default=",".join(STORES), help="comma-separated: sqlite,memory (default both)")
    found.add_argument("--no-profile", action="store_true", help="skip the breakdowns (wrapped clocks, cProfile)")
    return found.parse_args(argv)


def chosen_sizes(args: Any) -> Sizes:
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.repeats:
        sizes = replace(sizes, repeats=max(args.repeats, 1), breakdown_repeats=max(args.repeats, 1))
    if args.subjects:
        sizes = replace(sizes, subjects=max(args.subjects, 1))
    if args.cycles:
        sizes = replace(sizes, cycles=max(args.cycles, sizes.base_cycles + 1))
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = chosen_sizes(args)
    stores = names(args.stores, STORES, "--stores")
    report = Report("controller", args, sizes, repeats=sizes.repeats)
    with tempfile.TemporaryDirectory(prefix="slateboard-bench-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        templates = {size: sqlite_template(workdir, size, sizes.subjects) for size in (sizes.small, sizes.big)}
        run = make_runner(workdir, templates, sizes.subjects)
        warm_up(run, sizes, stores)
        freeze()  # what the imports and the warm-up left is not a board's heap: no collection need scan it again
        for table in cycle_tables(bench_cycles(run, sizes, stores), sizes, stores):
            report.table(table)
        if not args.no_profile:
            report.table(parts_table(templates, workdir, sizes, report))
            report.table(profile_table(templates[sizes.big], workdir, sizes.big, sizes.cycles, report))
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
