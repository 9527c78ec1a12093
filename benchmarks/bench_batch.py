"""Batches: cases per second through ``run_many`` at concurrency 1, 8 and 32, and against a plain loop, same run.

What runs: generated support cases, one board each, through one controller: two agents read the ``Case``
(``entitlement`` and ``knowledge``, one cycle), a third turns their findings into a ``Proposal`` (a second
cycle), ``rules.sufficient`` on the entitlement and the proposal, a policy (``min_confidence(0.85)``,
``require_citations(approved=True)``), and ``sinks.Table("cases")``: every case ends "committed", its update
applied exactly once in the store's own database. A board's log holds 13 entries from 5 appends (the input, run start
and first decision; each agent batch with the decision after it; the verdict; the ``Commit`` entry), and the commit
itself is one more transaction (the ledger row and the table row). Boards that run at once share their appends'
transactions (group commit; ``--no-group-commit`` turns it off), and ``--durability relaxed`` opens the SQLite store
with appends that skip their own fsync (the ledger's commit still fsyncs). The cases come from a generator (the batch
reads them as it goes).

Two workloads:

* "in-process agents": the agents compute their answer and return (deterministic lookups). A board's time is the
  controller's own work and the store's transactions; nothing waits, so concurrency can only add overhead (and,
  on SQLite, each transaction's fsync runs inline: one at a time).
* "agents that wait": each agent first awaits ``anyio.sleep(--latency)`` (default 5 ms), standing in for a
  retrieval or tool call. Here concurrency overlaps the waiting.

For each store (the embedded SQLite default, ``sqlite:///<tmp>/batch.db`` at ``synchronous=FULL``, and
``memory://``) and workload: ``run_many(controller, bb, cases, concurrency=c)`` for c in 1, 8 and 32, each on a
fresh store, and the reference, a plain ``for`` loop of ``await controller.run(board, case)`` on a fresh store
(the cost of ``run_many`` itself at concurrency 1). Ratios are cases/s over the concurrency-1 figure of the same
run. Each figure is the median of ``--repeats`` runs (default 1: a 10,000-case SQLite batch takes over a minute),
the configurations interleaved, after a discarded warm-up batch; a full garbage collection precedes every timed
batch, and the collector stays on during it (a batch's throughput includes it; benchmarks/harness), with what the
imports and the warm-up left frozen out of its sight. Every batch is checked: all cases committed, one table row
each.

Run it from the repository root::

    python benchmarks/bench_batch.py              # full run: 10,000 cases (2,000 that wait), 10-15 minutes
    python benchmarks/bench_batch.py --quick      # CI's smoke test, under 15 s
    python benchmarks/bench_batch.py --cases 2000 --stores memory --concurrency 1,4,16 --json results.json
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from harness import Report, Row, Sample, Table, freeze, in_fresh_dir, names, now, parser, quiet_gc, rounds, since
from slateboard import Blackboard, Citation, Controller, Finding, Proposal, agent, policies, rules, sinks
from slateboard.controller import run_many

STORES = ("sqlite", "memory")
WORKLOADS = ("in-process agents", "agents that wait")
TABLE = "cases"
KB = (Citation(source="kb/KB-1042", version="2026-10", approved=True),)
CONTRACTS = (Citation(source="contracts", approved=True),)


class Case(Finding):
    """A generated support case."""

    kind_name = "bench.batch.Case"
    customer: str
    description: str


class Entitlement(Finding):
    kind_name = "bench.batch.Entitlement"
    entitled: bool


class PolicyCheck(Finding):
    kind_name = "bench.batch.PolicyCheck"
    excluded: bool


@dataclass
class Latency:
    """How long each agent waits before it answers (0: not at all); set per workload."""

    seconds: float = 0.0

    async def wait(self) -> None:
        if self.seconds:
            await anyio.sleep(self.seconds)


LATENCY = Latency()


@agent
async def entitlement(case: Case) -> Entitlement:
    await LATENCY.wait()
    return Entitlement(subject=case.subject, entitled=True, confidence=0.95, citations=CONTRACTS)


@agent
async def knowledge(case: Case) -> PolicyCheck:
    await LATENCY.wait()
    return PolicyCheck(subject=case.subject, excluded=False, confidence=0.97, citations=KB)


@agent
async def action(case: Case, ent: Entitlement, check: PolicyCheck) -> Proposal:
    await LATENCY.wait()
    return Proposal(
        subject=case.subject,
        action="update",
        target=f"Case/{case.subject}",
        changes={"Status": "Replacement shipped"},
        confidence=0.95,
        citations=KB,
    )


def make_controller() -> Controller:
    return Controller(
        [entitlement, knowledge, action],
        [rules.sufficient(Entitlement, min_confidence=0.8), rules.sufficient(Proposal)],
        policy=policies.Policy(policies.min_confidence(0.85), policies.require_citations(approved=True)),
        sink=sinks.Table(TABLE),
    )


def cases(n: int) -> Iterator[tuple[str, Case]]:
    for i in range(n):
        case = Case(
            subject=f"case-{i}",
            customer=f"customer-{i % 500}",
            description="controller fails its self-test after the firmware update",
            confidence=1.0,
        )
        yield f"case-{i}", case


@dataclass(frozen=True)
class Sizes:
    """Cases per batch, per workload; the concurrencies; repeats."""

    cases: dict[str, dict[str, int]]  # workload -> store -> cases
    concurrency: tuple[int, ...]
    repeats: int
    latency: float = 0.005


FULL_SIZES = Sizes(
    cases={WORKLOADS[0]: {"sqlite": 10_000, "memory": 10_000}, WORKLOADS[1]: {"sqlite": 2000, "memory": 2000}},
    concurrency=(1, 8, 32),
    repeats=1,
)
QUICK_SIZES = Sizes(
    cases={WORKLOADS[0]: {"sqlite": 40, "memory": 150}, WORKLOADS[1]: {"sqlite": 20, "memory": 40}},
    concurrency=(1, 8, 32),
    repeats=1,
)


# Set from --durability and --no-group-commit: how every batch opens its store.
OPEN: dict[str, Any] = {"durability": "cycle", "group_commit": True}


def store_url(store: str, workdir: Path) -> str:
    if store != "sqlite":
        return "memory://"
    url = f"sqlite:///{workdir / 'batch.db'}"
    return url if OPEN["durability"] == "cycle" else f"{url}?durability={OPEN['durability']}"


def check(bb: Blackboard, statuses: Sequence[str], n: int) -> None:
    """Every case committed, and the table holds one row per case."""
    if len(statuses) != n or set(statuses) != {"committed"}:
        raise AssertionError(f"{len(statuses)} cases ended {sorted(set(statuses))}, expected {n} committed")
    rows = len(sinks.Table(TABLE).rows(bb))
    if rows != n:
        raise AssertionError(f"the table holds {rows} rows, expected {n}")


def one_batch(store: str, n: int, concurrency: int, base: Path | None) -> float:
    """Seconds for `n` cases through `run_many` at `concurrency` (0: a plain loop of controller.run)."""
    controller = make_controller()

    def run(workdir: Path) -> float:
        with Blackboard.open(store_url(store, workdir), group_commit=OPEN["group_commit"]) as bb:

            async def loop() -> list[str]:
                return [(await controller.run(bb.board(name), case)).status for name, case in cases(n)]

            async def batch() -> list[str]:
                result = await run_many(controller, bb, cases(n), concurrency=concurrency)
                return [r.status for r in result.results]

            # keep_gc: a batch's throughput includes the collector, as in any long-running process.
            with quiet_gc(keep_gc=True):
                start = now()
                statuses = anyio.run(loop if concurrency == 0 else batch)
                seconds = since(start)
            check(bb, statuses, n)
        return seconds

    return in_fresh_dir(base, run)


def measure(store: str, n: int, concurrency: int, workload: str, base: Path | None) -> float:
    """Cases per second of one batch, also reported on stderr as it ends (a full run takes minutes)."""
    rate = n / one_batch(store, n, concurrency, base)
    level = "plain loop" if concurrency == 0 else f"concurrency {concurrency}"
    print(f"  {workload}, {store}, {level}: {rate:,.0f} cases/s", file=sys.stderr, flush=True)
    return rate


def bench(sizes: Sizes, stores: Sequence[str], workloads: Sequence[str], base: Path | None) -> list[Row]:
    """Every store and workload: the plain loop and each concurrency, beside the first concurrency's figure."""
    rows = []
    for workload in workloads:
        LATENCY.seconds = sizes.latency if workload == WORKLOADS[1] else 0.0
        for store in stores:
            n = sizes.cases[workload][store]
            levels = (0, *sizes.concurrency)  # 0: the plain loop
            found = rounds(sizes.repeats, {c: partial(measure, store, n, c, workload, base) for c in levels})
            reference = Sample.of(found[sizes.concurrency[0]])
            for c in levels:
                label = f"{workload}, {store}: " + ("plain loop" if c == 0 else f"concurrency {c}")
                rows.append(Row(label, Sample.of(found[c]), "cases/s", reference, n))
    return rows


def warm_up(stores: Sequence[str], base: Path | None) -> None:
    """A discarded small batch per store: the first runs in a process pay for imports and caches."""
    for store in stores:
        one_batch(store, 20, 4, base)
        one_batch(store, 20, 0, base)


def parse_args(argv: Sequence[str] | None) -> Any:
    found = parser(__doc__, repeats=1)
    found.add_argument("--cases", type=int, help="cases per batch, every store and workload")
    found.add_argument("--concurrency", help="comma-separated levels (default 1,8,32; the first is the reference)")
    found.add_argument("--latency", type=float, help="seconds each agent waits in 'agents that wait' (0.005)")
    found.add_argument("--stores", default=",".join(STORES), help="comma-separated: sqlite,memory (default both)")
    found.add_argument("--no-wait", action="store_true", help="skip the 'agents that wait' workload")
    found.add_argument("--durability", default="cycle", choices=("cycle", "relaxed"), help="the store's (cycle)")
    found.add_argument("--no-group-commit", action="store_true", help="every append its own transaction")
    return found.parse_args(argv)


def chosen_sizes(args: Any) -> Sizes:
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.repeats:
        sizes = replace(sizes, repeats=max(args.repeats, 1))
    if args.cases:
        sizes = replace(sizes, cases={w: dict.fromkeys(STORES, args.cases) for w in WORKLOADS})
    if args.concurrency:
        sizes = replace(sizes, concurrency=tuple(int(c) for c in args.concurrency.split(",") if c))
    if args.latency is not None:
        sizes = replace(sizes, latency=args.latency)
    if not sizes.concurrency or min(sizes.concurrency) < 1:
        raise SystemExit("--concurrency takes positive integers")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = chosen_sizes(args)
    stores = names(args.stores, STORES, "--stores")
    workloads = WORKLOADS[:1] if args.no_wait else WORKLOADS
    OPEN.update(durability=args.durability, group_commit=not args.no_group_commit)
    grouping = "group commit off" if args.no_group_commit else "group commit on"
    note = f" (SQLite file at synchronous=FULL, durability={args.durability}, {grouping})"
    report = Report("batch", args, sizes, repeats=sizes.repeats, note=note)
    started = now()
    warm_up(stores, args.dir)
    freeze()  # what the imports and the warm-up left is not the batches' heap: no collection need scan it again
    rows = bench(sizes, stores, workloads, args.dir)
    report.table(
        Table(
            f"cases per second ('agents that wait': each of a board's 3 agents sleeps {sizes.latency * 1e3:.0f} ms, "
            "2 rounds a board)",
            tuple(rows),
            ratio=f"cases/s / run_many at concurrency {sizes.concurrency[0]}, same store and workload",
        )
    )
    print(f"(the whole benchmark took {since(started):.1f} s)")
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
