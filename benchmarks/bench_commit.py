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
interleaved, after one short, discarded warm-up round; every timed region starts with a full garbage collection
and runs with the collector off (benchmarks/harness; the objects alive after the imports and the warm-up are
frozen out of the collector with ``gc.freeze()``, so that those collections are short).
Keys, rows and boards' proposals are prepared before the clocks start. Unless ``--no-profile``, it then shows
where a commit's time goes: each ledger operation wrapped with a clock (calls and microseconds per commit), each
settle step of a controller run wrapped likewise, and cProfile's top functions for ``memory://`` Table commits
(no I/O there, so that is the layer's own Python). The wrapped and profiled functions are named by function
object (benchmarks/harness): a renamed one fails the import, one a run never reaches fails the run.

Run it from the repository root::

    python benchmarks/bench_commit.py                # full run, 1-2 minutes (most of it fsync)
    python benchmarks/bench_commit.py --quick        # CI's smoke test, under 15 s
    python benchmarks/bench_commit.py --json results.json --dir /path/on/the/disk/to/test
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio

from harness import (
    Clocks,
    Profile,
    Report,
    Row,
    Sample,
    Table,
    freeze,
    in_fresh_dir,
    names,
    parser,
    quiet_gc,
    rounds,
    timed_async,
)

# Beyond the public names: the ledgers, the commit steps and the hashing that the breakdowns time and the raw
# reference reproduces. A rename or a move fails here, at import.
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
from slateboard.blackboard.stores import MemoryLedger
from slateboard.blackboard.stores.sqlite import SQLiteLedger, schema_statements
from slateboard.commit.layer import params_hash
from slateboard.controller.commits import CommitSteps

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

            first = await timed_async(lambda: commit_all(results))
            repeat = await timed_async(lambda: commit_all(again))
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
        return CommitTiming(await timed_async(commit_all), await timed_async(look_up_all))

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
            return await timed_async(run_all)

        seconds = anyio.run(main)
    if set(statuses) != {expected} or len(statuses) != n:
        raise AssertionError(f"runs ended {sorted(set(statuses))}, expected {expected!r}")
    return seconds


# --- measurements -------------------------------------------------------------------------------------------


def per_second(n: int, seconds: Sequence[float]) -> Sample:
    return Sample.of(n / s for s in seconds)


def bench_commits(sizes: Sizes, stores: Sequence[str], base: Path | None) -> list[Row]:
    """Table and Memory-sink commits and repeated keys, against raw sqlite3; every repeat on fresh stores."""
    rows = []
    for store in stores:
        n = sizes.commits[store]
        found = rounds(
            sizes.repeats,
            {
                "table": lambda store=store, n=n: in_fresh_dir(base, lambda d: run_commits(store, "table", n, d)),
                "outside": lambda store=store, n=n: in_fresh_dir(base, lambda d: run_commits(store, "memory", n, d)),
                "raw": lambda store=store, n=n: in_fresh_dir(base, lambda d: run_raw(store, n, d)),
            },
        )
        raw = per_second(n, [r.first_s for r in found["raw"]])
        reference = "raw sqlite3, 1 tx/commit" if store == "sqlite" else "raw sqlite3 :memory:, 1 tx/commit"
        lookup = "raw SELECT of the ledger row" if store == "sqlite" else "raw SELECT, sqlite3 :memory:"
        first = {kind: per_second(n, [t.first_s for t in found[kind]]) for kind in ("table", "outside")}
        again = per_second(n, [t.repeat_s for t in found["table"]])
        rows += [
            Row(f"commit, sinks.Table ({store})", first["table"], "commits/s", raw, n, f"vs {reference}"),
            Row(f"commit, sinks.Memory, outside ({store})", first["outside"], "commits/s", raw, n, f"vs {reference}"),
            Row(
                f"repeated key, Table ({store})",
                again,
                "commits/s",
                per_second(n, [r.repeat_s for r in found["raw"]]),
                n,
                f"vs {lookup}",
            ),
        ]
    return rows


def bench_big_table(sizes: Sizes, base: Path | None) -> Row:
    """memory:// Table commits with the sink tables already holding `big_table` rows, against empty tables."""
    n = sizes.commits["sqlite"]
    found = rounds(
        sizes.repeats,
        {
            "big": lambda: in_fresh_dir(base, lambda d: run_commits("memory", "table", n, d, sizes.big_table)),
            "empty": lambda: in_fresh_dir(base, lambda d: run_commits("memory", "table", n, d)),
        },
    )
    big, empty = (per_second(n, [t.first_s for t in found[key]]) for key in ("big", "empty"))
    return Row(f"commit, Table holding {sizes.big_table:,} rows (memory)", big, "commits/s", empty, n, "vs empty table")


def bench_controller(sizes: Sizes, stores: Sequence[str], base: Path | None) -> tuple[list[Row], list[Row]]:
    """Controller runs with a policy and a Table sink against the same runs without either; and the difference."""
    rows, overheads = [], []
    for store in stores:
        n = sizes.runs[store]
        found = rounds(
            sizes.repeats,
            {
                settle: lambda store=store, n=n, settle=settle: in_fresh_dir(
                    base, lambda d: run_controller(store, settle, n, d)
                )
                for settle in (True, False)
            },
        )
        label = f"Controller.run + policy + Table ({store})"
        rows.append(Row(label, per_second(n, found[True]), "runs/s", per_second(n, found[False]), n, "vs without"))
        extra = Sample.of((ours - theirs) / n * 1e6 for ours, theirs in zip(found[True], found[False], strict=True))
        overheads.append(Row(f"settle overhead per controller run ({store})", extra, "us", n=n))
    return rows, overheads


def warm_up(stores: Sequence[str], base: Path | None) -> None:
    """One short, discarded round of each path: the first runs in a process pay for imports and caches."""
    for store in stores:
        for sink_kind in ("table", "memory"):
            in_fresh_dir(base, lambda d, store=store, sink_kind=sink_kind: run_commits(store, sink_kind, 5, d))
        in_fresh_dir(base, lambda d, store=store: run_raw(store, 5, d))
        for settle in (True, False):
            in_fresh_dir(base, lambda d, store=store, settle=settle: run_controller(store, settle, 1, d))


# --- where the time goes ------------------------------------------------------------------------------------


def ledger_ops(ledger: type, sink_kind: str) -> list[Callable[..., Any]]:
    """The ledger operations a commit to this kind of sink calls (a missing one fails the run)."""
    if sink_kind == "table":  # one transaction: the read of the key, then the apply with its ledger row
        return [ledger.get, ledger.apply_atomically]
    return [ledger.get, ledger.acquire, ledger.claim, ledger.transition, ledger.release]


def ledger_breakdown(store: str, sink_kind: str, n: int, workdir: Path, report: Report) -> Table:
    """Each ledger operation's calls and time per commit, for `n` first commits; the rest is the layer's own."""
    ledger = SQLiteLedger if store == "sqlite" else MemoryLedger
    clocks = Clocks(ledger_ops(ledger, sink_kind))
    with Blackboard.open(store_url(store, workdir)) as bb:
        board = bb.board(BOARD)
        layer = CommitLayer(sinks.Table(TABLE) if sink_kind == "table" else sinks.Memory())

        async def main() -> float:
            work = await prepared(board, n)

            async def commit_all() -> None:
                for item, key, version in work:
                    await layer.commit(board, item, key, version)

            with clocks.wrapping():
                return await timed_async(commit_all)

        seconds = anyio.run(main)
    report.missing(f"ledger clocks ({store})", clocks.missing())
    whole = Sample.of([seconds / n * 1e6])
    rows = [Row("whole commit (with the clocks)", whole, "us", n=n)]
    for op in clocks.targets:
        label = f"ledger.{op.__name__} ({clocks.calls(op) / n:.1f} calls)"
        rows.append(Row(label, Sample.of([clocks.seconds(op) / n * 1e6]), "us", whole))
    own = whole.median - sum(row.figure.median for row in rows[1:])
    rows.append(Row("the layer's own Python, event loop", Sample.of([own]), "us", whole))
    sink = "sinks.Table" if sink_kind == "table" else "sinks.Memory"
    return Table(f"where a commit's time goes ({store}, {sink}; per commit)", tuple(rows), ratio="share of a commit")


SETTLE_STEPS: tuple[Callable[..., Any], ...] = (
    Controller._finish,
    CommitSteps.settle,
    CommitSteps._judge,
    CommitSteps._commit_pending,
    CommitLayer.commit,
)
WITHOUT_SETTLE = (Controller._finish, CommitSteps.settle)  # without a policy, settle returns at once


def settle_run(store: str, settle: bool, n: int, workdir: Path, report: Report) -> dict[str, float]:
    """Microseconds per run in each step of a run's end, over `n` controller runs."""
    clocks = Clocks(SETTLE_STEPS if settle else WITHOUT_SETTLE)
    with clocks.wrapping():
        seconds = in_fresh_dir(workdir, lambda d: run_controller(store, settle, n, d))
    report.missing(f"settle clocks ({store}, {'with' if settle else 'without'} a policy)", clocks.missing())
    spent = {fn: clocks.seconds(fn) / n * 1e6 for fn in clocks.targets}
    finish, steps = spent[Controller._finish], spent[CommitSteps.settle]
    found = {
        "whole run (with the clocks)": seconds / n * 1e6,
        "the run's end, after the final decision (Controller._finish)": finish,
        "  the outcome, read from the log (rest of _finish)": finish - steps,
    }
    if settle:
        commit, pending = spent[CommitLayer.commit], spent[CommitSteps._commit_pending]
        found["  judge: policy, Verdict entry (CommitSteps._judge)"] = spent[CommitSteps._judge]
        found["  CommitLayer.commit: lock, apply with the ledger row, release"] = commit
        found["  settlement from the log, Commit entry (rest of _commit_pending)"] = pending - commit
    return found


def settle_breakdown(store: str, n: int, workdir: Path, report: Report) -> Table:
    """A run's end, per run, with a policy and a Table sink (figure) and without (reference, where it has one)."""
    ours = settle_run(store, True, n, workdir, report)
    theirs = settle_run(store, False, n, workdir, report)
    rows = [
        Row(label, Sample.of([us]), "us", Sample.of([theirs[label]]) if label in theirs else None, n)
        for label, us in ours.items()
    ]
    return Table(
        f"where a controller run's time goes at its end ({store}; per run, with a policy and sinks.Table)",
        tuple(rows),
        ratio="with / without a policy and sink",
    )


def profile_commits(n: int, workdir: Path, report: Report, top: int = 12) -> Table:
    """cProfile over `n` memory:// Table commits: the top functions by own time, per commit."""
    profile = Profile([CommitLayer.commit, params_hash])
    with Blackboard.open(store_url("memory", workdir)) as bb:
        board = bb.board(BOARD)
        layer = CommitLayer(sinks.Table(TABLE))

        async def main() -> None:
            work = await prepared(board, n)
            with quiet_gc(), profile:
                for item, key, version in work:
                    await layer.commit(board, item, key, version)

        anyio.run(main)
    report.missing("cProfile", profile.missing())
    whole = Sample.of([profile.total / n * 1e6])
    rows = [
        Row("everything profiled (the commits and the event loop)", whole, "us", n=n),
        Row(
            "CommitLayer.commit, cumulative", Sample.of([profile.cumulative(CommitLayer.commit) / n * 1e6]), "us", whole
        ),
    ]
    rows += [
        Row(
            spot.where,
            Sample.of([spot.own_s / n * 1e6]),
            "us own",
            whole,
            note=f"{spot.calls / n:.1f} calls, {spot.cumulative_s / n * 1e6:.1f} us cumulative",
        )
        for spot in profile.top(top)
    ]
    return Table(
        f"cProfile, {n:,} memory:// Table commits (inflated by the profiler); top own time, per commit",
        tuple(rows),
        ratio="share of a commit",
    )


# --- the run ------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Any:
    found = parser(__doc__)
    found.add_argument("--stores", default=",".join(STORES), help="comma-separated: sqlite,memory (default both)")
    found.add_argument("--no-profile", action="store_true", help="skip the breakdowns (wrapped clocks, cProfile)")
    return found.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.repeats:
        sizes = replace(sizes, repeats=max(args.repeats, 1))
    stores = names(args.stores, STORES, "--stores")
    report = Report("commit", args, sizes, repeats=sizes.repeats, note=" (SQLite file at synchronous=FULL)")
    freeze()
    warm_up(stores, args.dir)
    freeze()
    rows = bench_commits(sizes, stores, args.dir)
    if "memory" in stores:
        rows.append(bench_big_table(sizes, args.dir))
    runs, overheads = bench_controller(sizes, stores, args.dir)
    report.table(Table("commits and controller runs", (*rows, *runs), ratio="slateboard / reference (see note)"))
    report.table(Table("settle overhead: a run with a policy and sinks.Table less one without", tuple(overheads)))
    if not args.no_profile:
        for store in stores:
            for sink_kind in ("table", "memory"):
                n = sizes.commits[store]
                report.table(
                    in_fresh_dir(args.dir, lambda d, s=store, k=sink_kind, n=n: ledger_breakdown(s, k, n, d, report))
                )
            report.table(settle_breakdown(store, sizes.runs[store], args.dir, report))
        if "memory" in stores:
            n = sizes.commits["memory"]
            report.table(in_fresh_dir(args.dir, lambda d: profile_commits(n, d, report)))
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
