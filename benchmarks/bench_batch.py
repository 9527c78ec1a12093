"""Batches: cases per second through ``run_many`` at concurrency 1, 8 and 32, and against a plain loop, same run.

What runs: generated support cases, one board each, through one controller: two agents read the ``Case``
(``entitlement`` and ``knowledge``, one cycle), a third turns their findings into a ``Proposal`` (a second
cycle), ``rules.sufficient`` on the entitlement and the proposal, a policy (``min_confidence(0.85)``,
``require_citations(approved=True)``), and ``sinks.Table("cases")``: every case ends "committed", its update
applied exactly once in the store's own database. A board's log holds 13 entries from 8 appends (the input and
run start, three decisions, two agent batches, the verdict, the ``Commit`` entry), and the commit itself is one
more transaction (the ledger row and the table row). The cases come from a generator (the batch reads them as it goes).

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
batch. Every batch is checked: all cases committed, one table row each.

Run it from the repository root::

    python benchmarks/bench_batch.py              # full run: 10,000 cases (2,000 that wait), 10-15 minutes
    python benchmarks/bench_batch.py --quick      # smoke test, under 15 s
    python benchmarks/bench_batch.py --cases 2000 --stores memory --concurrency 1,4,16 --json results.json
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import anyio

from harness import machine  # benchmarks/harness: the script's folder is on sys.path
from slateboard import Blackboard, Citation, Controller, Finding, Proposal, agent, policies, rules, sinks
from slateboard.controller.batch import run_many

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


@dataclass(frozen=True)
class Result:
    """One store, workload and concurrency (0: the plain loop): median cases per second and every repeat's."""

    store: str
    workload: str
    concurrency: int
    cases: int
    per_s: float
    ratio: float
    per_s_runs: list[float]


def store_url(store: str, workdir: Path) -> str:
    return f"sqlite:///{workdir / 'batch.db'}" if store == "sqlite" else "memory://"


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
    with (
        tempfile.TemporaryDirectory(prefix="slateboard-bench-", dir=base) as tmp,
        Blackboard.open(store_url(store, Path(tmp))) as bb,
    ):

        async def loop() -> list[str]:
            return [(await controller.run(bb.board(name), case)).status for name, case in cases(n)]

        async def batch() -> list[str]:
            result = await run_many(controller, bb, cases(n), concurrency=concurrency)
            return [r.status for r in result.results]

        gc.collect()
        start = time.perf_counter()
        statuses = anyio.run(loop if concurrency == 0 else batch)
        seconds = time.perf_counter() - start
        check(bb, statuses, n)
    return seconds


def bench(sizes: Sizes, stores: Sequence[str], workloads: Sequence[str], base: Path | None) -> list[Result]:
    results = []
    for workload in workloads:
        LATENCY.seconds = sizes.latency if workload == WORKLOADS[1] else 0.0
        for store in stores:
            n = sizes.cases[workload][store]
            levels = (0, *sizes.concurrency)  # 0: the plain loop, the reference
            runs: dict[int, list[float]] = {c: [] for c in levels}
            for _ in range(sizes.repeats):
                for c in levels:
                    runs[c].append(n / one_batch(store, n, c, base))
                    level = "plain loop" if c == 0 else f"concurrency {c}"
                    print(f"  {workload}, {store}, {level}: {runs[c][-1]:,.0f} cases/s", file=sys.stderr, flush=True)
            base_rate = statistics.median(runs[sizes.concurrency[0]])
            for c in levels:
                rate = statistics.median(runs[c])
                results.append(Result(store, workload, c, n, rate, rate / base_rate, runs[c]))
    return results


def warm_up(stores: Sequence[str], base: Path | None) -> None:
    """A discarded small batch per store: the first runs in a process pay for imports and caches."""
    for store in stores:
        one_batch(store, 20, 4, base)
        one_batch(store, 20, 0, base)


def print_results(results: Sequence[Result], sizes: Sizes) -> None:
    print(f"{'workload':<20}{'store':<8}{'cases':>7}{'concurrency':>13}{'cases/s':>10}{'ms/case':>9}{'ratio':>7}")
    for r in results:
        level = "plain loop" if r.concurrency == 0 else f"{r.concurrency}"
        print(
            f"{r.workload:<20}{r.store:<8}{r.cases:>7,}{level:>13}{r.per_s:>10,.0f}{1e3 / r.per_s:>9.2f}{r.ratio:>7.2f}"
        )
    print(
        f"(ratio: cases/s over run_many at concurrency {sizes.concurrency[0]}, same store and workload; "
        f"'agents that wait': each of a board's 3 agents sleeps {sizes.latency * 1e3:.0f} ms, 2 rounds a board)"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--repeats", type=int, help="runs per measurement (median reported)")
    parser.add_argument("--cases", type=int, help="cases per batch, every store and workload")
    parser.add_argument("--concurrency", help="comma-separated levels (default 1,8,32; the first is the reference)")
    parser.add_argument("--latency", type=float, help="seconds each agent waits in 'agents that wait' (0.005)")
    parser.add_argument("--stores", default=",".join(STORES), help="comma-separated: sqlite,memory (default both)")
    parser.add_argument("--no-wait", action="store_true", help="skip the 'agents that wait' workload")
    parser.add_argument("--dir", type=Path, help="where to create the temporary databases (default: /tmp)")
    return parser.parse_args(argv)


def chosen_sizes(args: argparse.Namespace) -> Sizes:
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
    stores = [s for s in args.stores.split(",") if s]
    unknown = sorted(set(stores) - set(STORES))
    if unknown:
        raise SystemExit(f"unknown store(s): {', '.join(unknown)} (choose from {', '.join(STORES)})")
    workloads = WORKLOADS[:1] if args.no_wait else WORKLOADS
    meta = {**machine(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "sizes": asdict(sizes)}
    print(
        f"slateboard batch benchmark: Python {meta['python']}, SQLite {meta['sqlite']}, {meta['cpus']} CPUs, "
        f"median of {sizes.repeats} run(s) (SQLite file at synchronous=FULL)\n"
    )
    started = time.perf_counter()
    warm_up(stores, args.dir)
    results = bench(sizes, stores, workloads, args.dir)
    print_results(results, sizes)
    print(f"\n(the whole benchmark took {time.perf_counter() - started:.1f} s)")
    if args.json:
        report = {"meta": meta, "results": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
