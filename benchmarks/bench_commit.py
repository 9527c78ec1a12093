"""Commit layer benchmark: ``CommitLayer.commit`` against raw sqlite3 doing the same work by hand, in the same run.

What it measures, on a SQLite file (the store's default ``synchronous=FULL``) and on ``memory://``; every
measurement gets a fresh temporary directory and a new store:

* "Table": ``await layer.commit(board, proposal, key, version)`` with ``CommitLayer(sinks.Table("cases"))``,
  one distinct key and target per commit (``Proposal(action="update", target="Case/<i>", changes={"Status":
  "Approved"})``, written to the board beforehand). The sink applies in the ledger's transaction: exactly
  once. Reference: raw ``sqlite3`` (``isolation_level=None``) doing the work by hand, one
  ``BEGIN IMMEDIATE; INSERT`` the ledger row; ``INSERT OR REPLACE`` the record row; ``COMMIT`` per commit, on
  its own file with the same pragmas (WAL, ``synchronous=FULL``) and the same tables (``schema_statements()``
  and the sink table's DDL), every row built before its clock starts. For ``memory://`` the reference is the
  same SQL on a ``sqlite3`` ``:memory:`` database (no file, no fsync): the floor of doing it in SQL at all.
* "Memory sink": the same commits to ``sinks.Memory()``, a sink outside the database: the layer takes the
  target's lock, claims the key (pending), calls the sink, settles the key, and releases the lock, each its own
  transaction, so that a crash between the call and the record leaves the key in doubt instead of applied
  twice. Same raw reference as above: the difference is the price of that protection.
* "repeated key": ``layer.commit`` again with every key already applied; it returns the first receipt. The
  reference is the one lookup it needs, raw ``SELECT ... FROM slateboard_ledger WHERE key = ?``.
* "Table holding N rows": ``memory://`` Table commits after the store's in-database sink table already holds
  100,000 rows (``--quick``: 20,000; put straight into the memory store's tables, as committing them would take
  minutes),
  against the same commits with empty tables: ``MemoryLedger.apply_atomically`` copies every sink table
  before each apply (its rollback), so a commit there costs time in proportion to the rows already applied.
* controller: ``controller.run(board, Case(...))`` on N fresh boards in one store, each run one agent call
  producing one ``Proposal``, then "sufficient"; with ``policy=Policy(policies.allow())`` and
  ``sink=sinks.Table(...)`` the run also judges (a ``Verdict`` entry), commits, and records the ``Commit``
  (outcome "committed"); without them it ends "sufficient". The difference is the settle overhead per run.

Sizes: 300 commits and 60 controller runs on SQLite, 5,000 commits and 300 runs on ``memory://`` (``--quick``:
20 and 5, 500 and 100). Each figure is the median of ``--repeats`` runs (default 3), slateboard and raw
interleaved, after one short, discarded warm-up round; a full garbage collection precedes every timed region
(the objects alive after the imports and the warm-up are frozen out of the collector with ``gc.freeze()``).
Keys, rows and boards' proposals are prepared before the clocks start. Unless ``--no-profile``, it then shows
where a commit's time goes: each ledger operation wrapped with a clock (calls and microseconds per commit), each
settle step of a controller run wrapped likewise, and cProfile's top functions for ``memory://`` Table commits
(no I/O there, so that is the layer's own Python).

Run it from the repository root::

    python benchmarks/bench_commit.py                # full run, 1-2 minutes (most of it fsync)
    python benchmarks/bench_commit.py --quick        # smoke test, under 15 s
    python benchmarks/bench_commit.py --json results.json --dir /path/on/the/disk/to/test
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import inspect
import json
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import anyio

from harness import machine  # benchmarks/harness: the script's folder is on sys.path
from slateboard import (
    Blackboard,
    Board,
    Citation,
    Commit,
    CommitLayer,
    Controller,
    Finding,
    Proposal,
    agent,
    policies,
    rules,
    sinks,
)
from slateboard.blackboard.stores.memory import MemoryLedger
from slateboard.blackboard.stores.sqlite import SQLiteLedger, schema_statements
from slateboard.commit.layer import params_hash
from slateboard.controller.commits import CommitSteps

T = TypeVar("T")

BOARD = "bench"
AUTHOR = "bench"
TABLE = "cases"
BATCH = 100
STORES = ("sqlite", "memory")
CITE = (Citation(source="kb/warranty-policy", version="2026-10", approved=True),)
RAW_LEDGER = (
    "INSERT INTO slateboard_ledger (key, params_hash, board, target, status, attempts, receipt, error, fence) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
RAW_RECORD = f"INSERT OR REPLACE INTO sink_{TABLE} (target, data, revision, last_key) VALUES (?, ?, ?, ?)"
RAW_SINK_TABLE = (  # the DDL sinks.Table runs
    f"CREATE TABLE IF NOT EXISTS sink_{TABLE} "
    "(target TEXT PRIMARY KEY, data TEXT NOT NULL, revision INTEGER NOT NULL, last_key TEXT NOT NULL)"
)
RAW_LOOKUP = "SELECT key, params_hash, board, target, status, attempts, receipt, error, fence FROM slateboard_ledger "
RAW_LOOKUP += "WHERE key = ?"


class Case(Finding):
    """The controller runs' input: one per board."""

    kind_name = "bench.commit.Case"
    description: str


@agent
async def propose(case: Case) -> Proposal:
    """The one agent of a controller run: recommends one change to the case's record."""
    return Proposal(
        subject=case.subject,
        action="update",
        target=f"Case/{case.subject}",
        changes={"Status": "Approved"},
        confidence=0.9,
        citations=CITE,
    )


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does, per store."""

    commits: dict[str, int]
    runs: dict[str, int]
    big_table: int
    repeats: int


FULL_SIZES = Sizes(
    commits={"sqlite": 300, "memory": 5000}, runs={"sqlite": 60, "memory": 300}, big_table=100_000, repeats=3
)
QUICK_SIZES = Sizes(
    commits={"sqlite": 20, "memory": 500}, runs={"sqlite": 5, "memory": 100}, big_table=20_000, repeats=3
)


@dataclass(frozen=True)
class Result:
    """One measurement: median per second (and microseconds per call) of slateboard and of its reference."""

    what: str
    store: str
    n: int
    slateboard_per_s: float
    reference_per_s: float
    reference: str
    slateboard_runs: list[float]
    reference_runs: list[float]

    @property
    def ratio(self) -> float:
        return self.slateboard_per_s / self.reference_per_s


# --- inputs and stores -------------------------------------------------------------------------------------


def proposal(i: int) -> Proposal:
    return Proposal(
        subject=f"case-{i}",
        action="update",
        target=f"Case/{i}",
        changes={"Status": "Approved"},
        confidence=0.9,
        citations=CITE,
    )


Work = list[tuple[Proposal, str, int]]  # (proposal, idempotency key, its version on the board)


async def prepared(board: Board, n: int) -> Work:
    """`n` proposals written to `board` (in batches), with their keys and versions."""
    work: Work = []
    for start in range(0, n, BATCH):
        entries = await board.write_many([proposal(i) for i in range(start, min(n, start + BATCH))], author=AUTHOR)
        for entry in entries:
            found = entry.payload
            if not isinstance(found, Proposal):
                raise AssertionError(f"entry v{entry.version} is not a Proposal")
            work.append((found, found.key(board.name), entry.version))
    return work


def store_url(store: str, workdir: Path) -> str:
    return f"sqlite:///{workdir / 'board.db'}" if store == "sqlite" else "memory://"


def in_fresh_dir(base: Path | None, fn: Callable[[Path], T]) -> T:
    with tempfile.TemporaryDirectory(prefix="slateboard-bench-", dir=base) as tmp:
        return fn(Path(tmp))


def freeze() -> None:
    """Move every object alive now (modules, classes, caches) out of the collector's sight.

    Without this each full collection before a timed region scans them all (about 80 ms on a loaded 2-core VM,
    which made up half of a --quick run); what a measurement creates is still collected as usual.
    """
    gc.collect()
    gc.freeze()


async def timed(fn: Callable[[], Awaitable[None]]) -> float:
    """Seconds `fn()` takes, after a full garbage collection."""
    gc.collect()
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


# --- slateboard: commits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitTiming:
    first_s: float  # every key committed once
    repeat_s: float  # every key again: each returns its first receipt


def check_commits(results: Sequence[object], again: Sequence[object], sink: object, bb: Blackboard, n: int) -> None:
    """Every commit applied once, and every repeat returned the first receipt without applying again."""
    if not all(isinstance(r, Commit) for r in (*results, *again)) or list(results) != list(again):
        raise AssertionError("a repeated key did not return the first receipt")
    applied = len(sink.applied) if isinstance(sink, sinks.Memory) else len(sinks.Table(TABLE).rows(bb))
    if applied != n:
        raise AssertionError(f"the sink holds {applied} applications, expected {n}")


def run_commits(store: str, sink_kind: str, n: int, workdir: Path, filler: int = 0) -> CommitTiming:
    """Commit `n` distinct keys, then the same keys again, through one CommitLayer on the board's store."""
    with Blackboard.open(store_url(store, workdir)) as bb:
        board = bb.board(BOARD)
        sink: object = sinks.Table(TABLE) if sink_kind == "table" else sinks.Memory()
        layer = CommitLayer(sink)
        if filler:
            fill_memory_tables(bb, filler)

        async def main() -> CommitTiming:
            work = await prepared(board, n)
            results: list[object] = []
            again: list[object] = []

            async def commit_all(into: list[object]) -> None:
                for item, key, version in work:
                    into.append(await layer.commit(board, item, key, version))

            first = await timed(lambda: commit_all(results))
            repeat = await timed(lambda: commit_all(again))
            check_commits(results, again, sink, bb, n + filler)  # filler rows are in the Table only
            return CommitTiming(first, repeat)

        return anyio.run(main)


def fill_memory_tables(bb: Blackboard, rows: int) -> None:
    """Give a memory store's sink table `rows` applied rows, as if that many proposals had been committed."""
    ledger = bb.store.ledger
    if not isinstance(ledger, MemoryLedger):
        raise AssertionError("only a memory store's tables can be filled directly")
    ledger.tables.tables[f"sink_{TABLE}"] = {f"Old/{i}": ({"Status": "Closed"}, 1, f"old-{i}") for i in range(rows)}


# --- the raw reference --------------------------------------------------------------------------------------


RawRows = list[tuple[tuple[object, ...], tuple[object, ...]]]


def raw_rows(n: int) -> RawRows:
    """(ledger row, record row) per commit: what the Table commit writes, computed before the clock starts."""
    rows: RawRows = []
    for i in range(n):
        item = proposal(i)
        key = item.key(BOARD)
        receipt = json.dumps({"table": TABLE, "target": item.target, "revision": 1}, sort_keys=True)
        ledger = (key, params_hash(item), BOARD, item.target, "applied", 1, receipt, "", 1)
        record = (item.target, json.dumps(item.changes, sort_keys=True), 1, key)
        rows.append((ledger, record))
    return rows


def open_raw(store: str, workdir: Path) -> sqlite3.Connection:
    """A connection configured like the store's (WAL, synchronous FULL, the same tables), or :memory:."""
    conn = sqlite3.connect(workdir / "raw.db" if store == "sqlite" else ":memory:", isolation_level=None)
    if store == "sqlite":
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    for statement in [*schema_statements(), RAW_SINK_TABLE]:
        conn.execute(statement)
    return conn


def run_raw(store: str, n: int, workdir: Path) -> CommitTiming:
    """Raw sqlite3: one BEGIN IMMEDIATE transaction per commit; then one SELECT of the ledger row per key."""
    rows = raw_rows(n)
    keys = [(ledger[0],) for ledger, _ in rows]
    conn = open_raw(store, workdir)

    async def commit_all() -> None:
        for ledger, record in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(RAW_LEDGER, ledger)
            conn.execute(RAW_RECORD, record)
            conn.execute("COMMIT")

    async def look_up_all() -> None:
        for key in keys:
            if conn.execute(RAW_LOOKUP, key).fetchone() is None:
                raise AssertionError(f"ledger row {key[0]} missing")

    async def main() -> CommitTiming:
        return CommitTiming(await timed(commit_all), await timed(look_up_all))

    try:
        return anyio.run(main)
    finally:
        conn.close()


# --- the controller -----------------------------------------------------------------------------------------


def make_controller(settle: bool) -> Controller:
    if settle:
        return Controller(
            [propose],
            [rules.sufficient(Proposal, min_confidence=0.8)],
            policy=policies.Policy(policies.allow()),
            sink=sinks.Table(TABLE),
        )
    return Controller([propose], [rules.sufficient(Proposal, min_confidence=0.8)])


def run_controller(store: str, settle: bool, n: int, workdir: Path) -> float:
    """Seconds for `n` controller runs, each on a new board of one store."""
    controller = make_controller(settle)
    expected = "committed" if settle else "sufficient"
    with Blackboard.open(store_url(store, workdir)) as bb:
        boards = [
            (bb.board(f"run-{i}"), Case(subject=f"case-{i}", description="fails self-test", confidence=1.0))
            for i in range(n)
        ]
        statuses: list[str] = []

        async def run_all() -> None:
            for board, case in boards:
                statuses.append((await controller.run(board, case)).status)

        async def main() -> float:
            return await timed(run_all)

        seconds = anyio.run(main)
    if set(statuses) != {expected} or len(statuses) != n:
        raise AssertionError(f"runs ended {sorted(set(statuses))}, expected {expected!r}")
    return seconds


# --- measurements -------------------------------------------------------------------------------------------


def medians(what: str, store: str, n: int, *, ours: Sequence[float], theirs: Sequence[float], reference: str) -> Result:
    """A Result from per-repeat seconds for `n` operations each (converted to operations per second)."""
    ours_per_s, theirs_per_s = [n / s for s in ours], [n / s for s in theirs]
    return Result(
        what,
        store,
        n,
        statistics.median(ours_per_s),
        statistics.median(theirs_per_s),
        reference,
        ours_per_s,
        theirs_per_s,
    )


def bench_commits(sizes: Sizes, stores: Sequence[str], base: Path | None) -> list[Result]:
    """Table and Memory-sink commits and repeated keys, against raw sqlite3; every repeat on fresh stores."""
    results = []
    for store in stores:
        n = sizes.commits[store]
        table: list[CommitTiming] = []
        outside: list[CommitTiming] = []
        raw: list[CommitTiming] = []
        for _ in range(sizes.repeats):
            table.append(in_fresh_dir(base, lambda d, store=store, n=n: run_commits(store, "table", n, d)))
            outside.append(in_fresh_dir(base, lambda d, store=store, n=n: run_commits(store, "memory", n, d)))
            raw.append(in_fresh_dir(base, lambda d, store=store, n=n: run_raw(store, n, d)))
        reference = "raw sqlite3, 1 tx/commit" if store == "sqlite" else "raw sqlite3 :memory:, 1 tx/commit"
        lookup = "raw SELECT of the ledger row" if store == "sqlite" else "raw SELECT, sqlite3 :memory:"
        raw_first = [r.first_s for r in raw]
        results += [
            medians(
                "commit, sinks.Table", store, n, ours=[t.first_s for t in table], theirs=raw_first, reference=reference
            ),
            medians(
                "commit, sinks.Memory (outside)",
                store,
                n,
                ours=[t.first_s for t in outside],
                theirs=raw_first,
                reference=reference,
            ),
            medians(
                "repeated key (Table)",
                store,
                n,
                ours=[t.repeat_s for t in table],
                theirs=[r.repeat_s for r in raw],
                reference=lookup,
            ),
        ]
    return results


def bench_big_table(sizes: Sizes, base: Path | None) -> Result:
    """memory:// Table commits with the sink tables already holding `big_table` rows, against empty tables."""
    n = sizes.commits["sqlite"]
    big: list[float] = []
    empty: list[float] = []
    for _ in range(sizes.repeats):
        big.append(in_fresh_dir(base, lambda d: run_commits("memory", "table", n, d, sizes.big_table)).first_s)
        empty.append(in_fresh_dir(base, lambda d: run_commits("memory", "table", n, d)).first_s)
    what = f"commit, Table holding {sizes.big_table:,} rows"
    return medians(what, "memory", n, ours=big, theirs=empty, reference="same, empty table")


def bench_controller(sizes: Sizes, stores: Sequence[str], base: Path | None) -> list[Result]:
    """Controller runs with a policy and a Table sink against the same runs without either."""
    results = []
    for store in stores:
        n = sizes.runs[store]
        settle: list[float] = []
        plain: list[float] = []
        for _ in range(sizes.repeats):
            settle.append(in_fresh_dir(base, lambda d, store=store, n=n: run_controller(store, True, n, d)))
            plain.append(in_fresh_dir(base, lambda d, store=store, n=n: run_controller(store, False, n, d)))
        what = "Controller.run + policy + Table"
        results.append(medians(what, store, n, ours=settle, theirs=plain, reference="run without policy/sink"))
    return results


def warm_up(stores: Sequence[str], base: Path | None) -> None:
    """One short, discarded round of each path: the first runs in a process pay for imports and caches."""
    for store in stores:
        for sink_kind in ("table", "memory"):
            in_fresh_dir(base, lambda d, store=store, sink_kind=sink_kind: run_commits(store, sink_kind, 5, d))
        in_fresh_dir(base, lambda d, store=store: run_raw(store, 5, d))
        for settle in (True, False):
            in_fresh_dir(base, lambda d, store=store, settle=settle: run_controller(store, settle, 1, d))


# --- where the time goes ------------------------------------------------------------------------------------


Totals = dict[str, list[float]]  # label -> [calls, seconds]


def _clocked(fn: Callable[..., Any], label: str, totals: Totals) -> Callable[..., Any]:
    """`fn` (a plain or async method) adding its calls and duration to `totals[label]`."""

    def add(start: float) -> None:
        found = totals.setdefault(label, [0.0, 0.0])
        found[0] += 1
        found[1] += time.perf_counter() - start

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                add(start)

        return timed_async

    @functools.wraps(fn)
    def timed_sync(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            add(start)

    return timed_sync


@contextmanager
def wrapped(methods: Sequence[tuple[type, str]], totals: Totals) -> Iterator[None]:
    """The named methods timed into `totals` for the duration of the block (this process only)."""
    originals = [(cls, name, cls.__dict__[name]) for cls, name in methods]
    try:
        for cls, name, fn in originals:
            setattr(cls, name, _clocked(fn, f"{cls.__name__}.{name}", totals))
        yield
    finally:
        for cls, name, fn in originals:
            setattr(cls, name, fn)


LEDGER_OPS = ("get", "acquire", "claim", "apply_atomically", "transition", "release")


@dataclass(frozen=True)
class Part:
    """One part of a commit or a run: calls and microseconds per commit (or per run)."""

    label: str
    calls: float
    us: float


def ledger_breakdown(store: str, sink_kind: str, n: int, workdir: Path) -> list[Part]:
    """Each ledger operation's calls and time per commit, for `n` first commits; the rest is the layer's own."""
    ledger_class = SQLiteLedger if store == "sqlite" else MemoryLedger
    totals: Totals = {}
    with Blackboard.open(store_url(store, workdir)) as bb:
        board = bb.board(BOARD)
        layer = CommitLayer(sinks.Table(TABLE) if sink_kind == "table" else sinks.Memory())

        async def main() -> float:
            work = await prepared(board, n)

            async def commit_all() -> None:
                for item, key, version in work:
                    await layer.commit(board, item, key, version)

            with wrapped([(ledger_class, op) for op in LEDGER_OPS], totals):
                return await timed(commit_all)

        seconds = anyio.run(main)
    parts = [Part("whole commit (with the clocks)", 1, seconds / n * 1e6)]
    for op in LEDGER_OPS:
        calls, spent = totals.get(f"{ledger_class.__name__}.{op}", [0.0, 0.0])
        if calls:
            parts.append(Part(f"ledger.{op}", calls / n, spent / n * 1e6))
    parts.append(Part("the layer's own Python, event loop", 0, parts[0].us - sum(p.us for p in parts[1:])))
    return parts


SETTLE_STEPS: tuple[tuple[type, str], ...] = (
    (Controller, "_finish"),
    (CommitSteps, "settle"),
    (CommitSteps, "_judge"),
    (CommitSteps, "_commit_pending"),
    (CommitLayer, "commit"),
)


def settle_breakdown(store: str, n: int, workdir: Path) -> dict[str, list[Part]]:
    """A run's end, per run, over `n` controller runs with a policy and a Table sink and `n` without."""
    found: dict[str, list[Part]] = {}
    for settle in (True, False):
        totals: Totals = {}
        with wrapped(SETTLE_STEPS, totals):
            seconds = in_fresh_dir(workdir, lambda d, settle=settle: run_controller(store, settle, n, d))
        spent = {label: value[1] / n * 1e6 for label, value in totals.items()}
        finish, steps = spent.get("Controller._finish", 0.0), spent.get("CommitSteps.settle", 0.0)
        commit, pending = spent.get("CommitLayer.commit", 0.0), spent.get("CommitSteps._commit_pending", 0.0)
        found["with policy + Table" if settle else "without"] = [
            Part("whole run (with the clocks)", 1, seconds / n * 1e6),
            Part("the run's end, after the final decision (Controller._finish)", 1, finish),
            Part("  judge: policy, Verdict entry (CommitSteps._judge)", 1, spent.get("CommitSteps._judge", 0.0)),
            Part("  CommitLayer.commit: lock, apply with the ledger row, release", 1, commit),
            Part("  settlement from the log, Commit entry (rest of _commit_pending)", 1, pending - commit),
            Part("  the outcome, read from the log (rest of _finish)", 1, finish - steps),
        ]
    return found


@dataclass(frozen=True)
class HotSpot:
    """A function's own and cumulative time per commit under cProfile."""

    function: str
    calls: float
    own_us: float
    cumulative_us: float


def profile_commits(n: int, workdir: Path, top: int = 12) -> tuple[float, list[HotSpot]]:
    """cProfile over `n` memory:// Table commits: (total us a commit, the top functions by own time)."""
    profiler = cProfile.Profile()
    with Blackboard.open(store_url("memory", workdir)) as bb:
        board = bb.board(BOARD)
        layer = CommitLayer(sinks.Table(TABLE))

        async def main() -> None:
            work = await prepared(board, n)
            gc.collect()
            profiler.enable()
            for item, key, version in work:
                await layer.commit(board, item, key, version)
            profiler.disable()

        anyio.run(main)
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    spots = []
    for (filename, line, name), (_, calls, own, cumulative, _) in raw.items():
        where = f"{Path(filename).name}:{line}({name})" if filename != "~" else name
        spots.append(HotSpot(where, calls / n, own / n * 1e6, cumulative / n * 1e6))
    spots.sort(key=lambda s: s.own_us, reverse=True)
    return stats.total_tt / n * 1e6, spots[:top]  # type: ignore[attr-defined]


# --- report -------------------------------------------------------------------------------------------------


def print_results(results: Sequence[Result]) -> None:
    print(
        f"{'what':<38}{'store':<8}{'n':>7}{'slateboard/s':>14}{'us/call':>9}{'reference/s':>13}{'us/call':>9}"
        f"{'ratio':>7}  reference"
    )
    for r in results:
        print(
            f"{r.what:<38}{r.store:<8}{r.n:>7,}{r.slateboard_per_s:>14,.0f}{1e6 / r.slateboard_per_s:>9.1f}"
            f"{r.reference_per_s:>13,.0f}{1e6 / r.reference_per_s:>9.1f}{r.ratio:>7.2f}  {r.reference}"
        )
    for r in results:
        if r.what.startswith("Controller"):
            overhead = 1e6 / r.slateboard_per_s - 1e6 / r.reference_per_s
            print(f"settle overhead per controller run ({r.store}): {overhead:,.0f} us")
    print("(ratio: slateboard/s over reference/s; us/call: 1e6 / per second)")


def print_parts(title: str, parts: Sequence[Part]) -> None:
    print(title)
    for part in parts:
        calls = f"{part.calls:>5.1f} calls" if part.calls else " " * 11
        print(f"  {part.label:<66}{calls}{part.us:>10.1f} us")


def print_settle(store: str, found: dict[str, list[Part]]) -> None:
    names = list(found)
    print(f"where a controller run's time goes at its end ({store}; us per run):")
    print(f"  {'':<68}" + "".join(f"{name:>22}" for name in names))
    for i, part in enumerate(found[names[0]]):
        print(f"  {part.label:<68}" + "".join(f"{found[name][i].us:>22.1f}" for name in names))


def print_profile(total_us: float, spots: Sequence[HotSpot], n: int) -> None:
    print(f"cProfile, {n:,} memory:// Table commits: {total_us:.1f} us a commit profiled (inflated); top own time:")
    print(f"  {'function':<62}{'calls':>7}{'own us':>9}{'cum us':>9}")
    for s in spots:
        print(f"  {s.function[:62]:<62}{s.calls:>7.1f}{s.own_us:>9.1f}{s.cumulative_us:>9.1f}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--repeats", type=int, help="runs per measurement (median reported; default 3)")
    parser.add_argument("--stores", default=",".join(STORES), help="comma-separated: sqlite,memory (default both)")
    parser.add_argument("--no-profile", action="store_true", help="skip the breakdowns (wrapped clocks, cProfile)")
    parser.add_argument("--dir", type=Path, help="where to create the temporary databases (default: /tmp)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.repeats:
        sizes = replace(sizes, repeats=max(args.repeats, 1))
    stores = [s for s in args.stores.split(",") if s]
    unknown = sorted(set(stores) - set(STORES))
    if unknown:
        raise SystemExit(f"unknown store(s): {', '.join(unknown)} (choose from {', '.join(STORES)})")
    meta = {**machine(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "sizes": asdict(sizes)}
    print(
        f"slateboard commit layer benchmark: Python {meta['python']}, SQLite {meta['sqlite']}, "
        f"{meta['cpus']} CPUs, median of {sizes.repeats} runs (SQLite file at synchronous=FULL)\n"
    )
    freeze()
    warm_up(stores, args.dir)
    freeze()
    results = bench_commits(sizes, stores, args.dir)
    if "memory" in stores:
        results.append(bench_big_table(sizes, args.dir))
    results += bench_controller(sizes, stores, args.dir)
    print_results(results)

    ledger: dict[str, list[Part]] = {}
    settle: dict[str, dict[str, list[Part]]] = {}
    spots: list[HotSpot] = []
    profiled_us = 0.0
    if not args.no_profile:
        for store in stores:
            n = sizes.commits[store]
            for sink_kind in ("table", "memory"):
                name = f"{store}, sinks.{'Table' if sink_kind == 'table' else 'Memory'}"
                ledger[name] = in_fresh_dir(args.dir, lambda d, s=store, k=sink_kind, n=n: ledger_breakdown(s, k, n, d))
                print()
                print_parts(f"where a commit's time goes ({name}; per commit):", ledger[name])
            settle[store] = in_fresh_dir(args.dir, lambda d, s=store: settle_breakdown(s, sizes.runs[s], d))
            print()
            print_settle(store, settle[store])
        if "memory" in stores:
            n = sizes.commits["memory"]
            profiled_us, spots = in_fresh_dir(args.dir, lambda d: profile_commits(n, d))
            print()
            print_profile(profiled_us, spots, n)

    if args.json:
        report = {
            "meta": meta,
            "results": [{**asdict(r), "ratio": r.ratio} for r in results],
            "ledger": {name: [asdict(p) for p in parts] for name, parts in ledger.items()},
            "settle": {
                store: {name: [asdict(p) for p in parts] for name, parts in found.items()}
                for store, found in settle.items()
            },
            "profile": {"us_per_commit": profiled_us, "top": [asdict(s) for s in spots]},
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
