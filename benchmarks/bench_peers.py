"""Peers: slateboard beside LangGraph and the eventsourcing library, the same work measured in one process.

What runs (the peers come from the ``bench`` extra: ``pip install -e '.[bench]'``):

* A five-step sequential workflow with trivial agents. slateboard: five ``@agent(blocking=False)`` functions, each
  reading the previous step's finding and writing the next (``Ask -> Step1 -> ... -> Step5``), one controller with
  ``rules.sufficient(Step5)``; ``controller.run(board, ask)`` on a new board per run. LangGraph: a ``StateGraph``
  of five nodes in a line, each setting the next key of the state; ``app.invoke(..., durability=...)`` on a new
  thread per run. Both end with the same five values, checked after every run. Both run each step in the
  caller's thread (LangGraph's ``invoke`` runs a step's only node inline); one more row gives slateboard's
  default for a sync agent, a worker thread a call, and one sets the two weaker promises side by side:
  slateboard's ``durability="relaxed"`` (appends skip their fsync; a crash may lose the last cycles, which a
  resumed run re-runs) against LangGraph's ``"async"``. In the concurrent runs LangGraph's nodes are ``async def``, as
  ``ainvoke`` would otherwise run each plain function in an executor thread.
* Where it is kept: a SQLite file in WAL mode at ``synchronous=FULL`` and at ``NORMAL`` (slateboard's
  ``sqlite:///...?synchronous=...``; LangGraph's ``SqliteSaver`` on a ``sqlite3`` connection with the same
  pragma), and in memory (``memory://``; ``InMemorySaver``). LangGraph runs with ``durability="sync"`` (each
  step's checkpoint written before the next step starts) and with its default (``"async"``: written while the
  next step runs).
* The same runs, ``--concurrent`` of them at once: slateboard's ``run_many(concurrency=n)``; LangGraph's
  ``ainvoke`` in one task group on ``AsyncSqliteSaver`` (one ``aiosqlite`` connection, the same pragmas) or
  ``InMemorySaver``; and on PostgreSQL (a throwaway durable server, or ``--url``): slateboard's ``postgresql://``
  store (its pool of 8), with its group commit on (the default) and off, against ``AsyncPostgresSaver``
  (``durability="sync"``) on a ``psycopg_pool`` pool of 8. Beside the runs a second, the CPU a run costs each side
  over the same span (the process's ``time.process_time`` / runs: the collector, the event loop and, for
  LangGraph, aiosqlite's thread included), which a loaded machine's wall clock blurs less.
* Appends: slateboard's ``board.write`` / ``write_many`` (100 a batch) on ``memory://`` against the eventsourcing
  library's plain-Python recorder (``POPOApplicationRecorder.insert_events``), the event's state being the same
  finding serialized to JSON by pydantic, as an application's mapper would; and batches of 100 on a SQLite file
  at FULL against raw ``sqlite3`` inserting slateboard's exact JSON into the same table (``executemany`` in
  ``BEGIN IMMEDIATE ... COMMIT``, hashes made before the clock starts: the floor).

What each side guarantees (printed with the results; the figures compare different promises):

* slateboard: every cycle's entries (its decision, the agents' runs and their findings) are committed before
  the next cycle starts; each entry is sealed into a SHA-256 hash chain that ``verify`` recomputes; a crashed
  run resumes from the log without re-running an agent on inputs it already answered; commits go through an
  idempotency ledger (exactly once; this workflow proposes nothing, so the ledger is not written here).
* LangGraph ``"sync"``: each superstep's checkpoint is committed before the next step starts; a crash resumes
  from the last checkpoint. ``"async"`` (its default): the checkpoint is written while the next step runs, so a
  crash may lose the last step. No hash chain, and no ledger: a resumed node's side effects may run twice.
* eventsourcing's POPO recorder: an in-memory list with an index and a uniqueness check; nothing hashed.
  Raw sqlite3: the rows and nothing else.

Per run, the benchmark also counts what each side costs the disk: commits (COMMIT statements on the SQLite
connections; at FULL in WAL mode each one is an fsync of the WAL), bytes the process wrote (``/proc/self/io``
``wchar``), and on PostgreSQL the WAL bytes the server generated and its transactions that wrote (the commits:
the transaction ids it assigned).

Each figure is the median of ``--repeats`` rounds (default 3), the two sides interleaved in every round (each
measurement on a new database, after a discarded warm-up run), a full garbage collection before each timed span.

Run it from the repository root::

    python benchmarks/bench_peers.py                 # full run: several minutes (fsync-bound at FULL)
    python benchmarks/bench_peers.py --quick         # CI's smoke test
    python benchmarks/bench_peers.py --sequential 100 --concurrent 1000 --no-postgres --json peers.json
    python benchmarks/bench_peers.py --postgres-only --concurrent 1000   # PostgreSQL's part alone
    python benchmarks/bench_peers.py --only concurrent --no-postgres --concurrent 1000   # the runs at once alone
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import uuid4

import anyio

from harness import (
    Commits,
    Profile,
    Report,
    Row,
    Sample,
    Table,
    freeze,
    in_fresh_dir,
    names,
    now,
    parser,
    quiet_gc,
    rounds,
    since,
    written_bytes,
)
from slateboard import Blackboard, Controller, Finding, agent, rules

try:  # the peers: the `bench` extra
    import aiosqlite
    import psycopg
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.popo import POPOApplicationRecorder
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.graph import END, START, StateGraph
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool
except ImportError as missing:  # pragma: no cover - what a user without the extra sees
    sys.exit(
        f"bench_peers needs the peers it measures ({missing.name} is missing): "
        "install the bench extra, pip install -e '.[bench]'"
    )

# Internals the raw reference reproduces: the log's DDL and the exact payload JSON. A move fails the import.
from slateboard.blackboard.records import encode_record
from slateboard.blackboard.stores.sqlite_schema import ENTRIES, schema_statements
from slateboard.testing.postgres import REQUIRE, Unavailable, throwaway_server

SYNCHRONOUS = ("FULL", "NORMAL")
DURABILITIES = ("sync", "async")  # LangGraph's; "async" is its default
POOL = 8  # connections on each side on PostgreSQL: slateboard's default pool
COUNTED = 5  # runs of the counting pass (trace callbacks on), apart from the timed runs
BATCH = 100
HASH = "9f" * 32
STEPS = 5


class Ask(Finding):
    """The run's input."""

    kind_name = "bench.peers.Ask"
    text: str


class Step(Finding):
    """One step's answer: the step number."""

    kind_name = "bench.peers.Step"
    value: int


class Step1(Step):
    kind_name = "bench.peers.Step1"


class Step2(Step):
    kind_name = "bench.peers.Step2"


class Step3(Step):
    kind_name = "bench.peers.Step3"


class Step4(Step):
    kind_name = "bench.peers.Step4"


class Step5(Step):
    kind_name = "bench.peers.Step5"


def step1(ask: Ask) -> Step1:
    return Step1(subject=ask.subject, value=1, confidence=1.0)


def step2(previous: Step1) -> Step2:
    return Step2(subject=previous.subject, value=previous.value + 1, confidence=1.0)


def step3(previous: Step2) -> Step3:
    return Step3(subject=previous.subject, value=previous.value + 1, confidence=1.0)


def step4(previous: Step3) -> Step4:
    return Step4(subject=previous.subject, value=previous.value + 1, confidence=1.0)


def step5(previous: Step4) -> Step5:
    return Step5(subject=previous.subject, value=previous.value + 1, confidence=1.0)


def five_steps(*, blocking: bool = False) -> Controller:
    """slateboard's workflow: five agents in a line; sufficient once the fifth step has answered.

    The agents are plain functions declared `blocking=False` (they only compute), so they run on the event loop's
    thread, as LangGraph's `invoke` runs a step's only node in its own thread; `blocking=True` is slateboard's
    default for a sync agent: a worker thread per call.
    """
    steps = (step1, step2, step3, step4, step5)
    return Controller([agent(blocking=blocking)(fn) for fn in steps], [rules.sufficient(Step5)])


def ask(i: int | str) -> Ask:
    return Ask(subject=f"run-{i}", text="five trivial steps", confidence=1.0)


class State(TypedDict, total=False):
    """LangGraph's state: the input and one key per step."""

    text: str
    s1: int
    s2: int
    s3: int
    s4: int
    s5: int


def _node(k: int) -> Callable[[State], dict[str, int]]:
    def node(state: State) -> dict[str, int]:
        previous = state.get(f"s{k - 1}", 0)  # type: ignore[misc]
        return {f"s{k}": int(previous) + 1}

    node.__name__ = f"step{k}"
    return node


def _async_node(k: int) -> Callable[[State], Awaitable[dict[str, int]]]:
    compute = _node(k)

    async def node(state: State) -> dict[str, int]:
        return compute(state)

    node.__name__ = f"step{k}"
    return node


def five_nodes(*, asynchronous: bool = False) -> Any:
    """LangGraph's workflow: five nodes in a line, each setting the next key. `asynchronous`: `async def` nodes,
    for `ainvoke`, which would run a plain function's node in an executor thread."""
    graph = StateGraph(State)
    for k in range(1, STEPS + 1):
        graph.add_node(f"step{k}", _async_node(k) if asynchronous else _node(k))
    graph.add_edge(START, "step1")
    for k in range(1, STEPS):
        graph.add_edge(f"step{k}", f"step{k + 1}")
    graph.add_edge(f"step{STEPS}", END)
    return graph


def thread(i: int | str) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"run-{i}"}}


def check_langgraph(result: dict[str, Any]) -> None:
    if result.get(f"s{STEPS}") != STEPS:
        raise AssertionError(f"LangGraph's run ended with {result}, not s{STEPS}={STEPS}")


def check_slateboard(status: str, reasons: Sequence[str]) -> None:
    if status != "sufficient":
        raise AssertionError(f"slateboard's run ended {status!r}: {reasons}")


# --- what a run costs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One measurement: runs a second; bytes written and commits a run (None where not counted)."""

    rate: float
    bytes_per_run: float | None = None
    commits_per_run: float | None = None


def spent(before: int | None, runs: int) -> float | None:
    after = written_bytes()
    return None if before is None or after is None else (after - before) / runs


# --- one sequential measurement per side ---------------------------------------------------------------------


def slateboard_url(where: str, tmp: Path, *, relaxed: bool = False) -> str:
    if where == "memory":
        return "memory://"
    durability = "&durability=relaxed" if relaxed else ""
    return f"sqlite:///{tmp / 'slateboard.db'}?synchronous={where.lower()}{durability}"


def slateboard_sequential(
    where: str,
    n: int,
    base: Path | None,
    *,
    blocking: bool = False,
    relaxed: bool = False,
    hooks: tuple[Callable[[], None], Callable[[], None]] | None = None,
) -> Measured:
    """`n` runs one after another, each on a new board, then a counting pass of `COUNTED` more. `hooks`: called
    just before and after the timed runs (a profiler's start and stop)."""
    start_hook, stop_hook = hooks or (lambda: None, lambda: None)

    def measure(tmp: Path) -> Measured:
        with Blackboard.open(slateboard_url(where, tmp, relaxed=relaxed)) as bb:
            controller = five_steps(blocking=blocking)

            async def runs() -> Measured:
                await controller.run(bb.board("warm-up"), ask("warm-up"))
                with quiet_gc(keep_gc=True):
                    before, start = written_bytes(), now()
                    start_hook()
                    for i in range(n):
                        outcome = await controller.run(bb.board(f"run-{i}"), ask(i))
                        check_slateboard(outcome.status, outcome.reasons)
                    stop_hook()
                    seconds, wrote = since(start), spent(before, n)
                if where == "memory":
                    return Measured(n / seconds)
                # The store's one connection (internal): every transaction of the log goes through it.
                with Commits().tracing(bb.store._conn) as commits:  # type: ignore[attr-defined]
                    for i in range(COUNTED):
                        await controller.run(bb.board(f"counted-{i}"), ask(f"counted-{i}"))
                return Measured(n / seconds, wrote, commits.count / COUNTED)

            return anyio.run(runs)

    return in_fresh_dir(base, measure)


def langgraph_sequential(where: str, durability: str, n: int, base: Path | None) -> Measured:
    """The same with LangGraph: `invoke` on a new thread per run, `SqliteSaver` or `InMemorySaver`."""

    def measure(tmp: Path) -> Measured:
        conn = None
        if where == "memory":
            saver: Any = InMemorySaver()
        else:
            conn = sqlite3.connect(tmp / "langgraph.db", check_same_thread=False)
            saver = SqliteSaver(conn)
            saver.setup()  # WAL, as slateboard's store
            conn.execute(f"PRAGMA synchronous = {where}")
        try:
            app = five_nodes().compile(checkpointer=saver)
            app.invoke({"text": "warm-up"}, thread("warm-up"), durability=durability)
            with quiet_gc(keep_gc=True):
                before, start = written_bytes(), now()
                for i in range(n):
                    check_langgraph(app.invoke({"text": "five trivial steps"}, thread(i), durability=durability))
                seconds, wrote = since(start), spent(before, n)
            if conn is None:
                return Measured(n / seconds)
            with Commits().tracing(conn) as commits:
                for i in range(COUNTED):
                    app.invoke({"text": "counted"}, thread(f"counted-{i}"), durability=durability)
            return Measured(n / seconds, wrote, commits.count / COUNTED)
        finally:
            if conn is not None:
                conn.close()

    return in_fresh_dir(base, measure)


def sequential_tables(report: Report, n: int, repeats: int, base: Path | None) -> None:
    """Runs a second (slateboard / LangGraph) per place and durability; then commits and bytes a run."""
    places = (*SYNCHRONOUS, "memory")
    measurements: dict[tuple[str, str], Callable[[], Measured]] = {}
    for where in places:
        measurements[(where, "slateboard")] = lambda w=where: slateboard_sequential(w, n, base)  # type: ignore[misc]
        for durability in DURABILITIES:
            measurements[(where, durability)] = (
                lambda w=where, d=durability: langgraph_sequential(w, d, n, base)  # type: ignore[misc]
            )
    measurements[("memory", "threads")] = lambda: slateboard_sequential("memory", n, base, blocking=True)
    measurements[("FULL", "relaxed")] = lambda: slateboard_sequential("FULL", n, base, relaxed=True)
    found = rounds(repeats, measurements)
    rows, costs = [], []
    for where in places:
        ours = found[(where, "slateboard")]
        label = "memory" if where == "memory" else f"SQLite file, synchronous={where}"
        for durability in DURABILITIES:
            theirs = found[(where, durability)]
            peer = "InMemorySaver" if where == "memory" else "SqliteSaver"
            rows.append(
                Row(
                    f"{label}; LangGraph {peer}, durability={durability!r}",
                    Sample.of(m.rate for m in ours),
                    "runs/s",
                    reference=Sample.of(m.rate for m in theirs),
                    n=n,
                )
            )
            if where != "memory" and durability == "sync":
                costs.extend(cost_rows(f"{where}, LangGraph 'sync'", ours, theirs))
            elif where != "memory":
                costs.extend(cost_rows(f"{where}, LangGraph default", ours, theirs, commits_only=True))
    extra = (
        ("SQLite file, FULL, slateboard durability='relaxed'; LangGraph SqliteSaver, durability='async'",
         ("FULL", "relaxed"), ("FULL", "async")),
        ("memory, slateboard's default sync agents (a worker thread a call); LangGraph InMemorySaver, 'sync'",
         ("memory", "threads"), ("memory", "sync")),
    )  # fmt: skip
    for label, ours_key, theirs_key in extra:
        ours_rates = Sample.of(m.rate for m in found[ours_key])
        rows.append(Row(label, ours_rates, "runs/s", reference=Sample.of(m.rate for m in found[theirs_key]), n=n))
    report.table(Table("five-step sequential runs", tuple(rows), ratio="slateboard runs/s / LangGraph runs/s"))
    report.table(Table("what a sequential run costs the disk", tuple(costs), ratio="slateboard / LangGraph"))


# --- where a run's time goes ---------------------------------------------------------------------------------

AREAS = (
    "validation and JSON (pydantic)",
    "hash chain (SHA-256, field encoding)",
    "SQLite (the fsync at FULL included)",
    "event loop and scheduling (asyncio, anyio)",
    "the board and its store (Python)",
    "controller and state (decide, fold, agenda)",
    "agents: runner, watchdog, the steps' own code",
    "built-ins and everything else",
)
_BY_FILE = (
    ("/pydantic", AREAS[0]),
    ("slateboard/blackboard/entries.py", AREAS[1]),
    ("/asyncio/", AREAS[3]),
    ("/anyio/", AREAS[3]),
    ("/sniffio/", AREAS[3]),
    ("/selectors.py", AREAS[3]),
    ("slateboard/blackboard/", AREAS[4]),
    ("slateboard/controller/", AREAS[5]),
    ("slateboard/state/", AREAS[5]),
    ("slateboard/agents/", AREAS[6]),
    ("bench_peers.py", AREAS[6]),
)
_BY_BUILTIN = (("pydantic_core", AREAS[0]), ("_hashlib", AREAS[1]), ("sqlite3", AREAS[2]), ("select.", AREAS[3]))


def area_of(key: tuple[str, int, str]) -> str:
    """The area a profiled function's own time counts to, by its file (or, for a C function, its name)."""
    file, _, name = key
    table, where = (_BY_BUILTIN, name) if file == "~" else (_BY_FILE, file.replace(os.sep, "/"))
    return next((area for marker, area in table if marker in where), AREAS[-1])


def breakdown_table(report: Report, n: int, base: Path | None) -> None:
    """cProfile over `n` sequential runs in memory and at FULL: each area's own time a run, and its share."""
    rows = []
    for where in ("memory", "FULL"):
        profile = Profile([])
        slateboard_sequential(where, n, base, hooks=(profile.start, profile.stop))
        areas = profile.own_by(area_of)
        whole = Sample.of([profile.total / n * 1e6])
        label = "memory" if where == "memory" else "SQLite FULL"
        rows.append(Row(f"{label}: a whole run (everything profiled)", whole, "us"))
        rows += [
            Row(f"{label}: {area}", Sample.of([areas.get(area, 0.0) / n * 1e6]), "us", reference=whole)
            for area in AREAS
            if where != "memory" or area != AREAS[2]  # no SQLite in memory
        ]
    report.table(
        Table(
            "where a five-step run's time goes (cProfile's own time by area; inflated by the profiler)",
            tuple(rows),
            ratio="share of a whole run",
        )
    )


def cost_rows(label: str, ours: list[Measured], theirs: list[Measured], *, commits_only: bool = False) -> list[Row]:
    rows = [
        Row(
            f"commits a run, {label}",
            Sample.of(m.commits_per_run or 0.0 for m in ours),
            "commits",
            reference=Sample.of(m.commits_per_run or 0.0 for m in theirs),
        )
    ]
    if not commits_only and all(m.bytes_per_run is not None for m in [*ours, *theirs]):
        rows.append(
            Row(
                f"bytes written a run, {label}",
                Sample.of(m.bytes_per_run or 0.0 for m in ours),
                "bytes",
                reference=Sample.of(m.bytes_per_run or 0.0 for m in theirs),
            )
        )
    return rows


# --- many runs at once -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Burst:
    """One measurement of many runs at once: runs a second, and the process's CPU time a run (ms) over the span."""

    rate: float
    cpu_ms: float


@contextlib.contextmanager
def burst(n: int) -> Iterator[list[Burst]]:
    """Time the block (wall clock and `time.process_time`, the collector on): its `Burst` lands in the list."""
    found: list[Burst] = []
    with quiet_gc(keep_gc=True):
        start, cpu = now(), time.process_time()
        yield found
        seconds, cpu_seconds = since(start), time.process_time() - cpu
    found.append(Burst(n / seconds, cpu_seconds / n * 1e3))


def slateboard_at_once(url: str, n: int, *, group_commit: bool = True) -> Burst:
    """`n` runs at once through `run_many(concurrency=n)`, on a store already open at `url`."""
    with Blackboard.open(url, group_commit=group_commit) as bb:
        controller = five_steps()

        async def runs() -> Burst:
            await controller.run(bb.board("warm-up"), ask("warm-up"))
            cases = [(f"run-{i}", ask(i)) for i in range(n)]
            with burst(n) as found:
                batch = await controller.run_many(bb, cases, concurrency=n)
            for result in batch.results:
                check_slateboard(result.status, result.reasons)
            if len(batch.results) != n:
                raise AssertionError(f"run_many finished {len(batch.results)} of {n} runs")
            return found[0]

        return anyio.run(runs)


def slateboard_concurrent(url: str, n: int, *, group_commit: bool = True) -> float:
    """`slateboard_at_once`'s runs a second."""
    return slateboard_at_once(url, n, group_commit=group_commit).rate


async def langgraph_at_once(app: Any, n: int, durability: str) -> Burst:
    """`n` `ainvoke`s in one task group."""

    async def one(i: int) -> None:
        check_langgraph(await app.ainvoke({"text": "five trivial steps"}, thread(i), durability=durability))

    await app.ainvoke({"text": "warm-up"}, thread("warm-up"), durability=durability)
    with burst(n) as found:
        async with anyio.create_task_group() as group:
            for i in range(n):
                group.start_soon(one, i)
    return found[0]


async def langgraph_all_at_once(app: Any, n: int, durability: str) -> float:
    """`langgraph_at_once`'s runs a second."""
    return (await langgraph_at_once(app, n, durability)).rate


def langgraph_concurrent(where: str, durability: str, n: int, base: Path | None) -> Burst:
    """The same with LangGraph: `AsyncSqliteSaver` on one aiosqlite connection, or `InMemorySaver`."""

    async def runs(tmp: Path) -> Burst:
        nodes = five_nodes(asynchronous=True)  # no executor thread a node: slateboard's agents run on the loop too
        if where == "memory":
            return await langgraph_at_once(nodes.compile(checkpointer=InMemorySaver()), n, durability)
        async with aiosqlite.connect(tmp / "langgraph.db") as conn:
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            await conn.execute(f"PRAGMA synchronous = {where}")
            return await langgraph_at_once(nodes.compile(checkpointer=saver), n, durability)

    return in_fresh_dir(base, lambda tmp: anyio.run(runs, tmp))


def concurrent_table(report: Report, n: int, repeats: int, base: Path | None) -> None:
    """Runs a second with `n` at once, slateboard against LangGraph per place and durability; then the CPU a run
    costs each side over the same spans (the process's CPU time / runs: the collector and the event loop included)."""
    places = (*SYNCHRONOUS, "memory")
    measurements: dict[tuple[str, str], Callable[[], Burst]] = {}
    for where in places:
        measurements[(where, "slateboard")] = lambda w=where: in_fresh_dir(  # type: ignore[misc]
            base, lambda tmp: slateboard_at_once(slateboard_url(w, tmp), n)
        )
        for durability in DURABILITIES:
            measurements[(where, durability)] = (
                lambda w=where, d=durability: langgraph_concurrent(w, d, n, base)  # type: ignore[misc]
            )
    found = rounds(repeats, measurements)
    rows, cpu = [], []
    for where in places:
        peer = "InMemorySaver" if where == "memory" else "AsyncSqliteSaver"
        label = "memory" if where == "memory" else f"SQLite file, synchronous={where}"
        ours = found[(where, "slateboard")]
        for durability in DURABILITIES:
            theirs, name = found[(where, durability)], f"{label}; LangGraph {peer}, durability={durability!r}"
            for table, unit, figure in ((rows, "runs/s", _rate), (cpu, "ms", _cpu_ms)):
                table.append(
                    Row(name, Sample.of(map(figure, ours)), unit, reference=Sample.of(map(figure, theirs)), n=n)
                )
    report.table(Table(f"{n:,} runs at once", tuple(rows), ratio="slateboard runs/s / LangGraph runs/s"))
    report.table(Table(f"CPU a run, {n:,} at once", tuple(cpu), ratio="slateboard CPU / LangGraph CPU"))


def _rate(burst: Burst) -> float:
    return burst.rate


def _cpu_ms(burst: Burst) -> float:
    return burst.cpu_ms


# --- appends -------------------------------------------------------------------------------------------------


def findings(n: int) -> list[Step1]:
    return [Step1(subject=f"run-{i % 100}", value=i, confidence=0.9) for i in range(n)]


def slateboard_appends(url: str, items: Sequence[Step1], batch: int) -> float:
    """Findings a second appended to one board, `batch` a call (1: `write`, else `write_many`)."""
    with Blackboard.open(url) as bb:
        board = bb.board("appends")

        async def appends() -> float:
            with quiet_gc():
                start = now()
                if batch == 1:
                    for item in items:
                        await board.write(item, author="bench")
                else:
                    for i in range(0, len(items), batch):
                        await board.write_many(items[i : i + batch], author="bench")
                return len(items) / since(start)

        return anyio.run(appends)


def eventsourcing_appends(items: Sequence[Step1], batch: int) -> float:
    """Events a second into eventsourcing's plain-Python recorder; each event's state is the finding's JSON."""
    recorder = POPOApplicationRecorder()
    topic = f"{Step1.__module__}:{Step1.__qualname__}"
    with quiet_gc():
        start = now()
        for i in range(0, len(items), batch):
            recorder.insert_events(
                [
                    StoredEvent("appends", i + k + 1, topic, item.model_dump_json().encode())
                    for k, item in enumerate(items[i : i + batch])
                ]
            )
        return len(items) / since(start)


def raw_sqlite_appends(path: Path, items: Sequence[Step1], batch: int) -> float:
    """Rows a second, raw sqlite3 inserting slateboard's exact JSON into the same table, `batch` a transaction."""
    rows = []
    for version, item in enumerate(items, 1):
        kind, schema_version, payload = encode_record(item)
        rows.append(("appends", version, kind, schema_version, "bench", "2026-11-30T12:00:00+00:00", payload, HASH))
    insert = (
        f"INSERT INTO {ENTRIES} (board, version, kind, schema_version, author, recorded_at, payload, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        for statement in schema_statements():
            conn.execute(statement)
        with quiet_gc():
            start = now()
            for i in range(0, len(rows), batch):
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(insert, rows[i : i + batch])
                conn.execute("COMMIT")
            return len(rows) / since(start)
    finally:
        conn.close()


def appends_table(report: Report, n: int, repeats: int, base: Path | None) -> None:
    items = findings(n)
    measurements: dict[str, Callable[[], float]] = {
        "memory 1": lambda: slateboard_appends("memory://", items, 1),
        "popo 1": lambda: eventsourcing_appends(items, 1),
        "memory 100": lambda: slateboard_appends("memory://", items, BATCH),
        "popo 100": lambda: eventsourcing_appends(items, BATCH),
        "sqlite 100": lambda: in_fresh_dir(
            base, lambda tmp: slateboard_appends(slateboard_url("FULL", tmp), items, BATCH)
        ),
        "raw 100": lambda: in_fresh_dir(base, lambda tmp: raw_sqlite_appends(tmp / "raw.db", items, BATCH)),
    }
    found = {key: Sample.of(values) for key, values in rounds(repeats, measurements).items()}
    rows = (
        Row("memory, 1 a call; eventsourcing POPO recorder", found["memory 1"], "entries/s", found["popo 1"], n),
        Row("memory, 100 a call; eventsourcing POPO recorder", found["memory 100"], "entries/s", found["popo 100"], n),
        Row("SQLite FULL, 100 a transaction; raw sqlite3", found["sqlite 100"], "entries/s", found["raw 100"], n),
    )
    report.table(Table("appends", rows, ratio="slateboard entries/s / peer entries/s"))


# --- PostgreSQL ----------------------------------------------------------------------------------------------


def libpq(server: str) -> str:
    """The server URL without slateboard's own options (`schema`, `pool_size`), for psycopg."""
    parts = urlsplit(server)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key not in ("schema", "pool_size")]
    return urlunsplit(parts._replace(query=urlencode(query)))


@contextlib.contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    """A new schema on `server` (made now), dropped with everything in it afterwards."""
    schema = f"peers_{uuid4().hex[:16]}"
    with psycopg.connect(libpq(server), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(libpq(server), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def server_counters(server: str) -> tuple[int, int]:
    """The server's WAL insert position in bytes, and the next transaction id it will assign (without taking one):
    the differences of two readings are the WAL a span generated and the transactions that wrote in it."""
    with psycopg.connect(libpq(server), autocommit=True) as conn:
        found = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint, "
            "pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
        ).fetchone()
    return (int(found[0]), int(found[1])) if found else (0, 0)


def per_run(server: str, before: tuple[int, int], rate: float, runs: int) -> Measured:
    """`rate` with the WAL bytes and the writing transactions (commits) since `before`, a run."""
    wal, xid = server_counters(server)
    return Measured(rate, (wal - before[0]) / runs, (xid - before[1]) / runs)


def slateboard_postgres(server: str, n: int, *, group_commit: bool = True) -> Measured:
    """`run_many` on slateboard's PostgreSQL store (a pool of `POOL`), its group commit on or off."""
    with fresh_schema(server) as schema:
        separator = "&" if "?" in server else "?"
        url = f"{server}{separator}schema={schema}&pool_size={POOL}"
        Blackboard.open(url).close()  # the store's tables, before the counters are read
        before = server_counters(server)
        rate = slateboard_concurrent(url, n, group_commit=group_commit)
        return per_run(server, before, rate, n + 1)  # the warm-up run is counted too


def langgraph_postgres(server: str, n: int) -> Measured:
    """`AsyncPostgresSaver` on a pool of `POOL` connections (autocommit, as its own `from_conn_string`)."""

    async def runs(schema: str) -> Measured:
        kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
        conninfo = f"{libpq(server)}{'&' if '?' in libpq(server) else '?'}options=-csearch_path%3D{schema}"
        async with AsyncConnectionPool(conninfo, min_size=2, max_size=POOL, kwargs=kwargs, open=False) as pool:
            saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
            await saver.setup()
            before = server_counters(server)
            rate = await langgraph_all_at_once(five_nodes(asynchronous=True).compile(checkpointer=saver), n, "sync")
            return per_run(server, before, rate, n + 1)

    with fresh_schema(server) as schema:
        return anyio.run(runs, schema)


POSTGRES_SIDES = {
    "grouped": "slateboard, group commit (the default)",
    "ungrouped": "slateboard, group_commit=False",
}


def postgres_table(report: Report, n: int, repeats: int, url: str | None) -> int:
    """The runs at once on PostgreSQL; 0, or the exit status when no server could be had."""
    with contextlib.ExitStack() as stack:
        try:
            server = url or stack.enter_context(throwaway_server(durable=True))
        except (Unavailable, RuntimeError) as exc:  # no binaries; initdb or the server failed
            required = os.environ.get(REQUIRE) == "1"
            print(f"peers on PostgreSQL: {exc}", file=sys.stderr)
            print(f"failed: {REQUIRE}=1" if required else "skipped", file=sys.stderr)
            return 1 if required else 0
        with psycopg.connect(libpq(server)) as conn:
            settings = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in ("fsync", "synchronous_commit")}  # type: ignore[index]
        print(f"PostgreSQL: {', '.join(f'{k}={v}' for k, v in settings.items())}\n", flush=True)
        found = rounds(
            repeats,
            {
                "grouped": lambda: slateboard_postgres(server, n),
                "ungrouped": lambda: slateboard_postgres(server, n, group_commit=False),
                "langgraph": lambda: langgraph_postgres(server, n),
            },
        )
    theirs = found["langgraph"]
    rows: list[Row] = []
    for side, label in POSTGRES_SIDES.items():
        ours = found[side]
        rows += [
            Row(
                f"{label}; LangGraph AsyncPostgresSaver, durability='sync'",
                Sample.of(m.rate for m in ours),
                "runs/s",
                reference=Sample.of(m.rate for m in theirs),
                n=n,
            ),
            Row(
                f"  commits a run (transactions that wrote), {side}",
                Sample.of(m.commits_per_run or 0.0 for m in ours),
                "commits",
                reference=Sample.of(m.commits_per_run or 0.0 for m in theirs),
            ),
            Row(
                f"  WAL bytes a run, {side}",
                Sample.of(m.bytes_per_run or 0.0 for m in ours),
                "bytes",
                reference=Sample.of(m.bytes_per_run or 0.0 for m in theirs),
            ),
        ]
    report.table(
        Table(f"{n:,} runs at once on PostgreSQL, pools of {POOL}", tuple(rows), ratio="slateboard / LangGraph")
    )
    grouping = Row(
        "group commit on (the default) / off",
        Sample.of(m.rate for m in found["grouped"]),
        "runs/s",
        reference=Sample.of(m.rate for m in found["ungrouped"]),
        n=n,
    )
    report.table(Table(f"{n:,} runs at once on PostgreSQL: group commit", (grouping,), ratio="on / off"))
    return 0


# --- the run -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Runs per sequential measurement, runs at once, entries appended; repeats."""

    sequential: int
    concurrent: int
    appends: int
    repeats: int


FULL_SIZES = Sizes(sequential=200, concurrent=1000, appends=10_000, repeats=3)
QUICK_SIZES = Sizes(sequential=5, concurrent=20, appends=500, repeats=1)
PARTS = ("sequential", "concurrent", "appends")  # `--only`: the parts on SQLite and in memory (PostgreSQL's: flags)

GUARANTEES = """\
What each side guarantees (the figures compare different promises):
  slateboard: each cycle's entries committed before the next cycle; a SHA-256 hash chain over every entry
    (verify); resume from the log without re-running answered agents; commits exactly once through a ledger.
  LangGraph 'sync': each step's checkpoint committed before the next step; 'async' (default): written while the
    next step runs (a crash may lose the last step); no hash chain, no exactly-once ledger.
  eventsourcing POPO recorder: a list in memory with a uniqueness check. raw sqlite3: the rows only.
"""


def main(argv: Sequence[str] | None = None) -> int:
    options = parser(__doc__)
    options.add_argument("--sequential", type=int, help="runs per sequential measurement")
    options.add_argument("--concurrent", type=int, help="runs at once (default 1,000)")
    options.add_argument("--appends", type=int, help="entries per append measurement")
    options.add_argument("--url", default=os.environ.get("SLATEBOARD_BENCH_POSTGRES"), help="a PostgreSQL server")
    options.add_argument("--no-postgres", action="store_true", help="skip the runs on PostgreSQL")
    options.add_argument("--postgres-only", action="store_true", help="only the runs at once on PostgreSQL")
    options.add_argument(
        "--only", metavar="PARTS", help=f"only these parts, comma-separated, of {', '.join(PARTS)} (default: all)"
    )
    args = options.parse_args(argv)
    parts = names(args.only, PARTS, "--only") if args.only else list(PARTS)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    sizes = replace(
        sizes,
        sequential=args.sequential or sizes.sequential,
        concurrent=args.concurrent or sizes.concurrent,
        appends=args.appends or sizes.appends,
        repeats=max(args.repeats or sizes.repeats, 1),
    )
    report = Report("peers", args, sizes, repeats=sizes.repeats, note=", LangGraph and eventsourcing beside it")
    print(GUARANTEES, flush=True)
    freeze()
    if not args.postgres_only:
        if "sequential" in parts:
            sequential_tables(report, sizes.sequential, sizes.repeats, args.dir)
            breakdown_table(report, sizes.sequential, args.dir)
        if "concurrent" in parts:
            concurrent_table(report, sizes.concurrent, sizes.repeats, args.dir)
        if "appends" in parts:
            appends_table(report, sizes.appends, sizes.repeats, args.dir)
    if not args.no_postgres:
        status = postgres_table(report, sizes.concurrent, sizes.repeats, args.url)
        if status:
            return status
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
