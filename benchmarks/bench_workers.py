"""Workers: boards/s for 1, 2 and 4 `slateboard worker` processes on one PostgreSQL database, in the same run.

What it measures, on a durable server (PostgreSQL's defaults: ``fsync=on``, ``synchronous_commit=on``): for each
worker count, a new schema; the workers (``slateboard worker --scenario support-case --concurrency C``, real
processes) are started and left idle, then ``--boards`` boards of the built-in support-case scenario are enqueued
(one transaction, NOTIFY wakes the workers) and the clock runs until no board is queued or leased: every board
reached its outcome ("awaiting_approval", with its one commit applied through ``sinks.Table`` in the ledger's
transaction). Each board is about 26 entries and 15 write transactions. Figure: boards/s; reference: one worker,
measured in the same round; ratio: n workers / 1 worker. The worker counts are interleaved within each round.

Also printed: how busy the machine's CPUs were during each measurement (``/proc/stat``, all processes: workers,
the PostgreSQL server and this script), which says what bounds the figure: near 100% of every core is CPU-bound
(more workers than cores cannot help), well below it is commit latency or locks.

The server: ``--url`` (or ``SLATEBOARD_BENCH_POSTGRES``), else a throwaway durable server from
``slateboard.testing.postgres``; when none can be had the run says why and exits 0 (1 with
``SLATEBOARD_REQUIRE_POSTGRES=1``, as in CI).

Run it from the repository root::

    python benchmarks/bench_workers.py              # full run, a few minutes
    python benchmarks/bench_workers.py --quick      # CI's smoke test
    python benchmarks/bench_workers.py --workers 1,2,4,8 --concurrency 8 --json results.json
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import psycopg

from harness import Report, Row, Sample, Table, parser
from slateboard import Blackboard
from slateboard.testing.postgres import REQUIRE, Unavailable, throwaway_server
from slateboard.workers import enqueue_sync

URL_VARIABLE = "SLATEBOARD_BENCH_POSTGRES"
ROOT = Path(__file__).resolve().parents[1]
GOAL = 3.0  # 4 workers against 1, where the CPUs allow it


@dataclass(frozen=True)
class Sizes:
    boards: int
    repeats: int
    concurrency: int


FULL = Sizes(boards=400, repeats=3, concurrency=4)
QUICK = Sizes(boards=40, repeats=1, concurrency=4)


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat (0, 0 where there is none)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


@contextlib.contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    """A store URL on a new schema of `server`, dropped afterwards."""
    schema = f"bench_{uuid4().hex[:16]}"
    separator = "&" if "?" in server else "?"
    try:
        yield f"{server}{separator}schema={schema}"
    finally:
        with psycopg.connect(server.split("?", 1)[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def start_workers(url: str, count: int, concurrency: int) -> list[subprocess.Popen[str]]:
    """`count` idle worker processes, returned once each has said it is up (their output is drained after)."""
    command = [sys.executable, "-m", "slateboard.cli", "worker", "--db", url, "--scenario", "support-case"]
    command += ["--concurrency", str(concurrency), "--poll", "1", "--grace", "5"]
    workers = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
        for _ in range(count)
    ]
    for worker in workers:
        up = threading.Event()
        threading.Thread(target=drain, args=(worker, up), daemon=True).start()
        if not up.wait(60) or worker.poll() is not None:
            raise RuntimeError(f"a worker did not start: {worker.stderr.read() if worker.stderr else ''}")
    return workers


def drain(worker: subprocess.Popen[str], up: threading.Event) -> None:
    """Read a worker's lines (one per board) so that its pipe never fills; `up` is set by the first."""
    for _ in worker.stdout or ():
        up.set()
    up.set()


def outstanding(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    found = conn.execute("SELECT count(*) FROM slateboard_work WHERE state IN ('queued', 'leased')").fetchone()
    return int(found[0]) if found else 0


def measure(server: str, workers: int, sizes: Sizes) -> tuple[float, float]:
    """(boards/s, CPU busy share) of `workers` processes running `sizes.boards` boards on a fresh schema."""
    with fresh_schema(server) as url:
        with Blackboard.open(url) as bb:
            running = start_workers(url, workers, sizes.concurrency)
            try:
                schema = url.rsplit("schema=", 1)[1]
                with psycopg.connect(server.split("?", 1)[0], options=f"-c search_path={schema}") as conn:
                    conn.autocommit = True
                    busy0, total0 = cpu_ticks()
                    started = time.perf_counter()
                    enqueue_sync(bb, "support-case", count=sizes.boards, prefix="b-")
                    while outstanding(conn):
                        time.sleep(0.01)  # a benchmark polls the database; tests wait on events
                    seconds = time.perf_counter() - started
                    busy1, total1 = cpu_ticks()
                    states = conn.execute("SELECT state, count(*) FROM slateboard_work GROUP BY state").fetchall()
            finally:
                for worker in running:
                    worker.send_signal(signal.SIGTERM)
                for worker in running:
                    worker.wait(timeout=60)
        if states != [("waiting", sizes.boards)]:
            raise RuntimeError(f"the boards did not all reach their outcome: {states}")
    share = (busy1 - busy0) / (total1 - total0) if total1 > total0 else float("nan")
    return sizes.boards / seconds, share


def run(server: str, counts: list[int], sizes: Sizes, report: Report) -> None:
    speed: dict[int, list[float]] = {n: [] for n in counts}
    busy: dict[int, list[float]] = {n: [] for n in counts}
    for round_number in range(sizes.repeats):
        for n in counts:
            boards_per_s, share = measure(server, n, sizes)
            speed[n].append(boards_per_s)
            busy[n].append(100 * share)
            print(f"  round {round_number + 1}: {n} worker(s): {boards_per_s:.1f} boards/s, CPU {100 * share:.0f}%")
    one = Sample.of(speed[counts[0]])
    rows = []
    for n in counts:
        figure = Sample.of(speed[n])
        cpu = Sample.of(busy[n])
        note = f"CPU busy {cpu.median:.0f}% of {os.cpu_count()} cores"
        if n == 4 and counts[0] == 1:
            met = figure.median / one.median >= GOAL
            note += f"; goal {GOAL:g}x {'met' if met else 'not met'}"
        rows.append(Row(f"{n} worker(s) x {sizes.concurrency} slots", figure, "boards/s", one, sizes.boards, note))
    report.table(Table("support-case boards through the work queue", tuple(rows), f"n workers / {counts[0]} worker"))


def main() -> int:
    args_parser = parser(__doc__)
    args_parser.add_argument("--url", help="a postgresql:// server where the benchmark may create schemas")
    args_parser.add_argument("--workers", default="1,2,4", help="worker process counts (default 1,2,4)")
    args_parser.add_argument("--concurrency", type=int, help="boards each worker runs at once (default 4)")
    args_parser.add_argument("--boards", type=int, help="boards per measurement (default 400, --quick 40)")
    args = args_parser.parse_args()
    sizes = QUICK if args.quick else FULL
    sizes = Sizes(args.boards or sizes.boards, args.repeats or sizes.repeats, args.concurrency or sizes.concurrency)
    counts = [int(n) for n in args.workers.split(",") if n]
    given = args.url or os.environ.get(URL_VARIABLE)
    try:
        with contextlib.nullcontext(given) if given else throwaway_server(durable=True) as server:
            report = Report("workers", args, sizes, repeats=sizes.repeats, note=f", PostgreSQL at {server}")
            run(server, counts, sizes, report)
            return report.finish()
    except Unavailable as exc:
        print(f"bench_workers: skipped: {exc}", file=sys.stderr)
        return 1 if os.environ.get(REQUIRE) == "1" else 0


if __name__ == "__main__":
    sys.exit(main())
