"""Cold start: opening and resuming a large board, from its snapshot against from its whole log, in the same run.

What runs: a board of ``--entries`` findings (default 100,000; ``--quick``: 5,000) written in batches of 1,000
(a ``Case`` with a ~100-character description and one citation, over 500 subjects, two authors), then one
snapshot (``save_state``: the board's entries and the controller's state after them) covering all but the last
``--tail`` entries (default 1%). Each measurement opens the store again (a new ``Blackboard``: nothing decoded in
memory, the operating system's file cache warm) and loads the board the way ``Controller.run`` does:

* figure: ``resumed_state(board, agents)`` with the snapshot: one snapshot row read, checked against the log's hash
  at its version and unpickled (the entries stay columns, decoded when read; the controller's state comes back
  packed, its findings read from the index on demand), then only the tail read, decoded and folded;
* reference: the same call on a copy of the store without the snapshot: every row read, decoded
  (``decode_record``) and folded into the state (``BoardState.ingest``), which is what every load did before.

Breakdowns (medians, same runs): the figure's CPU time (this process's, which a loaded machine inflates less than
the clock); each step of it (reading the snapshot's row, the log's entry at its version, checking the seal,
unpickling, ``board.restore()`` whole, reviving the controller's state, reading and decoding the tail, folding it);
the whole log's read and decode alone; and what keeping the snapshot costs (``save_state``) with its size. Stores:
a SQLite file at ``synchronous=FULL`` and ``memory://``. The goal is a cold open of a 100,000-entry board under 100 ms.

Each figure is the median of ``--repeats`` runs (default 3), figure and reference interleaved, a full garbage
collection before each and the collector kept on (a cold open's cost includes it).

Run it from the repository root::

    python benchmarks/bench_coldstart.py              # 100,000 entries: a few minutes on a quiet 2-core machine
    python benchmarks/bench_coldstart.py --quick      # CI's smoke test
    python benchmarks/bench_coldstart.py --entries 20000 --stores sqlite --json coldstart.json
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import anyio

from harness import Report, Row, Sample, Table, freeze, in_fresh_dir, names, now, parser, quiet_gc, rounds, since
from slateboard import Blackboard, Citation, Finding, agent
from slateboard.blackboard.entries import PendingEntry
from slateboard.blackboard.snapshots import load, seal_snapshot, shelf_of
from slateboard.state.projection import BoardState
from slateboard.state.resume import resumed_state, revive, save_state

STORES = ("sqlite", "memory")
BATCH = 1000
GOAL_MS = 100.0
CITATION = (Citation(source="kb/warranty-policy", version="2026-10", approved=True),)


class Case(Finding):
    kind_name = "bench.coldstart.Case"
    description: str


class Answer(Finding):
    kind_name = "bench.coldstart.Answer"
    text: str


@agent
def answer(case: Case) -> Answer:
    """The controller's one agent (it reads every case, so the state marks work on every subject)."""
    return Answer(subject=case.subject, text="ok", confidence=1.0)


AGENTS = (answer,)


@dataclass(frozen=True)
class Sizes:
    entries: int
    tail: int
    repeats: int


FULL_SIZES = Sizes(entries=100_000, tail=1000, repeats=3)
QUICK_SIZES = Sizes(entries=5000, tail=50, repeats=1)


def cases(start: int, n: int) -> list[Case]:
    return [
        Case(
            subject=f"case-{i % 500}",
            description="controller fails its self-test after the firmware update; site down",
            confidence=0.9,
            citations=CITATION,
        )
        for i in range(start, start + n)
    ]


async def build(bb: Blackboard, sizes: Sizes) -> tuple[float, int]:
    """The board, with a snapshot `sizes.tail` entries before its end: (seconds `save_state` took, body bytes)."""
    board = bb.board("big")
    covered = sizes.entries - sizes.tail
    for start in range(0, covered, BATCH):
        await board.write_many(cases(start, min(BATCH, covered - start)), author=f"intake-{start % 2}")
    with quiet_gc(keep_gc=True):
        start_at = now()
        await save_state(board, BoardState.of(await board.view(), AGENTS))
        saving = since(start_at)
    for start in range(covered, sizes.entries, BATCH):
        await board.write_many(cases(start, min(BATCH, sizes.entries - start)), author="intake-late")
    shelf = shelf_of(bb.store)
    row = shelf.get("big", wait=True) if shelf else None
    if row is None or row.version != covered:
        raise AssertionError(f"the snapshot should cover {covered} entries, found {row}")
    return saving, len(row.body)


def cold_load(open_cold: Callable[[], Blackboard], expected: int, *, from_snapshot: bool) -> tuple[float, float]:
    """(seconds, CPU seconds of this process) to load the board's state on a new handle (the controller's load)."""

    async def go() -> tuple[float, float]:
        with open_cold() as bb:
            board = bb.board("big")
            with quiet_gc(keep_gc=True):
                start, cpu = now(), time.process_time()
                state = await resumed_state(board, AGENTS, keep=False)
                seconds, cpu = since(start), time.process_time() - cpu
            read = board.cache_info().rows_loaded
        if state.version != expected or (from_snapshot and read >= expected):
            raise AssertionError(f"loaded {state.version} of {expected} entries, {read} rows read")
        return seconds, cpu

    return anyio.run(go)


def snapshot_parts(open_cold: Callable[[], Blackboard]) -> dict[str, float]:
    """Seconds each step of a cold load from the snapshot takes, on new handles: the snapshot's row read, the
    log's entry at its version read, its seal checked, its body unpickled and unpacked (these four are what
    `board.restore()` does, which is timed whole too), the controller's state revived, the tail read and decoded,
    and the tail folded into the state."""
    parts: dict[str, float] = {}
    with open_cold() as bb:
        shelf = shelf_of(bb.store)
        if shelf is None:
            raise AssertionError("the store keeps no snapshots")
        with quiet_gc(keep_gc=True):
            start = now()
            row = shelf.get("big", wait=True)
            parts["row"] = since(start)
            if row is None:
                raise AssertionError("no snapshot")
            start = now()
            (anchor,) = bb.store.read("big", after=row.version - 1, upto=row.version, wait=True)
            parts["anchor"] = since(start)
            start = now()
            seal_snapshot(row.board, row.version, row.hash, row.format, row.body)
            parts["seal"] = since(start)
            start = now()
            load(row, anchor.hash)
            parts["unpickle"] = since(start) - parts["seal"]

    async def steps() -> None:
        with open_cold() as bb, quiet_gc(keep_gc=True):
            board = bb.board("big")
            start = now()
            restored = await board.restore()
            parts["restore"] = since(start)
            start = now()
            state = await revive(board, restored, AGENTS)
            parts["revive"] = since(start)
            start = now()
            view = await board.view()
            parts["tail"] = since(start)
            start = now()
            for entry in view.since(state.version):
                state.ingest(entry)
            parts["fold"] = since(start)

    anyio.run(steps)
    return parts


def log_decode(open_cold: Callable[[], Blackboard]) -> float:
    """Seconds to read and decode the whole log on a new handle (no state)."""

    async def go() -> float:
        with open_cold() as bb, quiet_gc(keep_gc=True):
            start = now()
            await bb.board("big").view()
            return since(start)

    return anyio.run(go)


def measure(store: str, sizes: Sizes, base: Path | None) -> list[Row]:
    def run(tmp: Path) -> list[Row]:
        url = "memory://" if store == "memory" else f"sqlite:///{tmp / 'big.db'}"
        with Blackboard.open(url) as bb:
            saving, size = anyio.run(build, bb, sizes)
            if store == "memory":
                without = Blackboard.open("memory://")  # the same entries, no snapshot: a copy of the log
                for start in range(0, sizes.entries, BATCH):
                    rows = bb.store.read("big", after=start, upto=start + BATCH, wait=True)
                    pending = [PendingEntry(r.kind, r.schema_version, r.author, r.recorded_at, r.payload) for r in rows]
                    without.store.append("big", pending, expected_version=start, wait=True)

                def with_snapshot() -> Blackboard:
                    return Blackboard(bb.store)

                def log_only() -> Blackboard:
                    return Blackboard(without.store)

                return rows_of(store, sizes, with_snapshot=with_snapshot, log_only=log_only, saving=saving, size=size)
        shutil.copy(tmp / "big.db", tmp / "log-only.db")
        with sqlite3.connect(tmp / "log-only.db") as conn:
            conn.execute("DELETE FROM slateboard_snapshots")
        return rows_of(
            store,
            sizes,
            with_snapshot=lambda: Blackboard.open(url),
            log_only=lambda: Blackboard.open(f"sqlite:///{tmp / 'log-only.db'}"),
            saving=saving,
            size=size,
        )

    return in_fresh_dir(base, run)


PARTS = (
    ("row", "reading the snapshot's row"),
    ("anchor", "reading the log's entry at its version"),
    ("seal", "checking its seal (SHA-256 over the body)"),
    ("unpickle", "unpickling and unpacking its columns"),
    ("restore", "board.restore(): the four above, and the index"),
    ("revive", "reviving the controller's state"),
    ("tail", "reading and decoding the tail"),
    ("fold", "folding the tail into the state"),
)


def rows_of(
    store: str,
    sizes: Sizes,
    *,
    with_snapshot: Callable[[], Blackboard],
    log_only: Callable[[], Blackboard],
    saving: float,
    size: int,
) -> list[Row]:
    n = sizes.entries
    found = rounds(
        sizes.repeats,
        {
            "snapshot": lambda: cold_load(with_snapshot, n, from_snapshot=True),
            "log": lambda: cold_load(log_only, n, from_snapshot=False),
            "parts": lambda: snapshot_parts(with_snapshot),
            "decode": lambda: log_decode(log_only) * 1e3,
        },
    )
    loads: list[tuple[float, float]] = found["snapshot"]  # type: ignore[assignment]
    logs: list[tuple[float, float]] = found["log"]  # type: ignore[assignment]
    figure, reference = Sample.of(w * 1e3 for w, _ in loads), Sample.of(w * 1e3 for w, _ in logs)
    cpu, reference_cpu = Sample.of(c * 1e3 for _, c in loads), Sample.of(c * 1e3 for _, c in logs)
    goal = f"goal < {GOAL_MS:g} ms: {'met' if figure.median < GOAL_MS else 'MISSED'}"
    parts: list[dict[str, float]] = found["parts"]  # type: ignore[assignment]
    return [
        Row(f"{store}: cold load, snapshot + tail of {sizes.tail:,}", figure, "ms", reference, n, note=goal),
        Row(f"{store}: the same, CPU time of this process", cpu, "ms", reference_cpu, n),
        *(Row(f"{store}:   {label}", Sample.of(p[key] * 1e3 for p in parts), "ms") for key, label in PARTS),
        Row(f"{store}: the whole log read and decoded, no state", Sample.of(found["decode"]), "ms"),  # type: ignore[arg-type]
        Row(f"{store}: keeping the snapshot (save_state)", Sample.of([saving * 1e3]), "ms"),
        Row(f"{store}: the snapshot's size", Sample.of([size / 1e6]), "MB"),
    ]


def main(argv: list[str] | None = None) -> int:
    options = parser(__doc__)
    options.add_argument("--entries", type=int, help="entries on the board (default 100,000)")
    options.add_argument("--tail", type=int, help="entries after the snapshot (default 1%% of them)")
    options.add_argument("--stores", default=",".join(STORES), help=f"comma-separated: {', '.join(STORES)}")
    args = options.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    entries = args.entries or sizes.entries
    sizes = replace(
        sizes,
        entries=entries,
        tail=args.tail if args.tail is not None else max(entries // 100, 1),
        repeats=max(args.repeats or sizes.repeats, 1),
    )
    if not 0 < sizes.tail < sizes.entries:
        raise SystemExit(f"--tail must be between 1 and {sizes.entries - 1}")
    report = Report("coldstart", args, sizes, repeats=sizes.repeats)
    freeze()
    rows = [row for store in names(args.stores, STORES, "--stores") for row in measure(store, sizes, args.dir)]
    report.table(Table(f"cold load of a {sizes.entries:,}-entry board", tuple(rows), ratio="snapshot / whole log"))
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
