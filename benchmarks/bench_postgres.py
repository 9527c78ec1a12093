"""PostgreSQL appends: slateboard's PostgreSQL store against raw psycopg doing the same inserts, in the same run.

What it measures, on a durable server (PostgreSQL's defaults: ``fsync=on``, ``synchronous_commit=on``): every run
gets a new schema, and drops it after.

* slateboard: ``await board.write(finding, author="bench")`` (batches of 1) or ``await board.write_many(batch,
  author="bench")`` (batches of 100) in a loop inside one ``anyio.run`` (asyncio backend), on one board or
  round-robin over many boards (one transaction each).
* Reference: raw ``psycopg`` (one autocommit connection, the same ``search_path``) doing what the store's append
  must do, in the same transactions: per transaction ``BEGIN``; the board's advisory lock
  (``pg_advisory_xact_lock(hashtextextended(board, 0))``); the head read (``SELECT version, hash ... ORDER BY
  version DESC LIMIT 1``); ``INSERT`` of the same rows (board, version, kind, schema_version, author, recorded_at,
  payload, hash) into the same table (the DDL from ``schema_statements``), ``executemany`` for a batch;
  ``COMMIT``. The payloads are slateboard's exact JSON and the hashes a fixed 64-hex string, computed before the
  clock starts: the reference neither validates nor hashes, so it is the floor.

Each figure is the median of ``--repeats`` runs (default 3), slateboard and raw interleaved, after one short,
discarded warm-up round; every timed region starts with a full garbage collection and runs with the collector off.
After each run the board's versions are checked (1..n, no gap), so a run that wrote less fails instead of looking fast.

The server: ``--url`` (or ``SLATEBOARD_BENCH_POSTGRES``), a postgresql:// URL of a server where the benchmark may
create and drop schemas; otherwise a throwaway durable server from ``slateboard.testing.postgres`` (initdb in the
system's temporary directory; ``--dir`` is not used). When none can be had the run says why and exits 0, or 1
with ``SLATEBOARD_REQUIRE_POSTGRES=1`` (CI). The report's header names the server's version and durability
settings: with ``fsync=on`` a transaction's figure is bounded by the WAL flush at each commit, then by the round
trips to the server (five a transaction for the reference).

Run it from the repository root::

    python benchmarks/bench_postgres.py              # full run, about a minute
    python benchmarks/bench_postgres.py --quick      # CI's smoke test
    python benchmarks/bench_postgres.py --url postgresql://me@db:5432/bench --json results.json
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import uuid4

import anyio
import psycopg

from harness import Report, Row, Sample, Table, freeze, parser, rounds, timed
from slateboard import Blackboard, Citation, Finding

# Internals the raw reference reproduces: the log's DDL and the exact payload JSON. A move fails the import.
from slateboard.blackboard.records import encode_record
from slateboard.blackboard.stores.postgres_schema import ENTRIES, schema_statements
from slateboard.testing.postgres import REQUIRE, Unavailable, throwaway_server

URL_VARIABLE = "SLATEBOARD_BENCH_POSTGRES"
AUTHOR = "bench"
BATCH = 100
BOARDS = 100  # "many boards": transactions go round-robin over this many
GOAL_RATIO = 0.5
HASH = "9f" * 32
RECORDED_AT = "2026-11-30T12:00:00.000000+00:00"
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
HEAD = f"SELECT version, hash FROM {ENTRIES} WHERE board = %s ORDER BY version DESC LIMIT 1"
INSERT = (
    f"INSERT INTO {ENTRIES} (board, version, kind, schema_version, author, recorded_at, payload, hash) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
DESCRIPTION = (
    "Customer reports that the replacement controller shipped under the extended warranty fails its "
    "self-test after the firmware update; the site is down and they ask for an on-site engineer today."
)
CITATION = Citation(source="kb/warranty-policy", version="2026-10", approved=True, locator="sec-4.2")
SETTINGS = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")


class Case(Finding):
    """The store benchmark's finding: a ~200-character description, one citation (349 bytes of JSON)."""

    description: str


@dataclass(frozen=True)
class Sizes:
    """Entries appended per run, for batches of 1 and of `BATCH`."""

    single: int
    batch: int
    repeats: int


FULL_SIZES = Sizes(single=2000, batch=20_000, repeats=3)
QUICK_SIZES = Sizes(single=200, batch=2000, repeats=3)


@dataclass(frozen=True)
class Mode:
    """One configuration: entries per transaction, and how many boards the transactions go round-robin over."""

    batch: int
    boards: int

    @property
    def label(self) -> str:
        per = "1 entry" if self.batch == 1 else f"{self.batch} entries"
        where = "one board" if self.boards == 1 else f"{self.boards} boards"
        return f"{per} a transaction, {where}"

    def boards_of(self, transactions: int) -> list[str]:
        """The board each transaction writes to, in order."""
        return [f"board-{t % self.boards}" for t in range(transactions)]


MODES = (Mode(1, 1), Mode(BATCH, 1), Mode(1, BOARDS), Mode(BATCH, BOARDS))


# --- schemas ------------------------------------------------------------------------------------------------


def with_schema(server: str, schema: str) -> str:
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}schema={schema}"


def libpq(server: str) -> str:
    """The server URL without slateboard's own options (a given URL may carry some)."""
    return server.split("?", 1)[0]


@contextlib.contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    """A new schema's name on `server`, dropped (with everything in it) afterwards."""
    schema = f"bench_{uuid4().hex[:16]}"
    try:
        yield schema
    finally:
        with psycopg.connect(libpq(server), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def check_versions(conn: psycopg.Connection[Any], boards: int, n: int) -> None:
    """Every board holds versions 1..k without gaps, n entries in all: the run wrote what it claims."""
    found = conn.execute(f"SELECT count(*), min(version), max(version) FROM {ENTRIES} GROUP BY board").fetchall()
    # (board, version) is unique, so 1..count means no gap.
    gapless = all(low == 1 and high == count for count, low, high in found)
    if len(found) != boards or sum(row[0] for row in found) != n or not gapless:
        raise AssertionError(f"expected {n} entries on {boards} boards, versions 1..k each; found {found}")


# --- one timed run ------------------------------------------------------------------------------------------


def chunks(items: Sequence[Case], size: int) -> list[Sequence[Case]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_slateboard(server: str, mode: Mode, cases: Sequence[Case]) -> float:
    """Findings per second appended through `Board.write` (batches of 1) or `Board.write_many`."""
    groups = chunks(cases, mode.batch)
    with fresh_schema(server) as schema, Blackboard.open(with_schema(server, schema)) as bb:
        plan = [(bb.board(name), group) for name, group in zip(mode.boards_of(len(groups)), groups, strict=True)]

        async def write_each() -> None:
            for board, group in plan:
                await board.write(group[0], author=AUTHOR)

        async def write_batches() -> None:
            for board, group in plan:
                await board.write_many(group, author=AUTHOR)

        seconds = timed(lambda: anyio.run(write_each if mode.batch == 1 else write_batches))
        with psycopg.connect(libpq(server), options=f"-c search_path={schema}") as conn:
            check_versions(conn, min(mode.boards, len(groups)), len(cases))
    return len(cases) / seconds


def raw_rows(cases: Sequence[Case]) -> list[tuple[str, int, str, str, str, str]]:
    """Each case's (kind, schema_version, author, recorded_at, payload, hash): slateboard's exact payload JSON."""
    rows = []
    for case in cases:
        kind, schema_version, payload = encode_record(case)
        rows.append((kind, schema_version, AUTHOR, RECORDED_AT, payload, HASH))
    return rows  # type: ignore[return-value]


def run_raw(server: str, mode: Mode, cases: Sequence[Case]) -> float:
    """Rows per second inserted by plain psycopg: lock, head, insert, in the same transactions as slateboard's."""
    rows = raw_rows(cases)
    groups = [rows[i : i + mode.batch] for i in range(0, len(rows), mode.batch)]
    plan = list(zip(mode.boards_of(len(groups)), groups, strict=True))
    with (
        fresh_schema(server) as schema,
        psycopg.connect(libpq(server), autocommit=True, options=f"-c search_path={schema}") as conn,
    ):
        with conn.transaction():
            for statement in schema_statements(schema):
                conn.execute(statement)

        def insert() -> None:
            with conn.cursor() as cursor:
                for board, group in plan:
                    with conn.transaction():
                        cursor.execute(LOCK, (board,))
                        head = cursor.execute(HEAD, (board,)).fetchone()
                        version = head[0] if head else 0
                        values = [(board, version + i, *row) for i, row in enumerate(group, 1)]
                        if len(values) == 1:
                            cursor.execute(INSERT, values[0])
                        else:
                            cursor.executemany(INSERT, values)

        seconds = timed(insert)
        check_versions(conn, min(mode.boards, len(groups)), len(rows))
    return len(rows) / seconds


# --- the measurements ---------------------------------------------------------------------------------------


def make_cases(n: int) -> list[Case]:
    return [
        Case(subject=f"case-{i % 1000}", description=DESCRIPTION, confidence=0.9, citations=(CITATION,))
        for i in range(n)
    ]


def bench(server: str, mode: Mode, n: int, repeats: int) -> Row:
    """slateboard's findings/s against raw psycopg's rows/s, interleaved, each run on a new schema."""
    cases = make_cases(n)
    found = rounds(
        repeats,
        {"slateboard": lambda: run_slateboard(server, mode, cases), "raw": lambda: run_raw(server, mode, cases)},
    )
    ours, raw = Sample.of(found["slateboard"]), Sample.of(found["raw"])
    verdict = "met" if ours.median / raw.median >= GOAL_RATIO else "MISSED"
    return Row(mode.label, ours, "findings/s", reference=raw, n=n, note=f"goal >= {GOAL_RATIO}: {verdict}")


def settings(server: str) -> dict[str, str]:
    """What bounds the figures on this server: its version and durability settings."""
    with psycopg.connect(libpq(server)) as conn:
        return {name: str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in SETTINGS}  # type: ignore[index]


def measure(server: str, args: Any, sizes: Sizes) -> int:
    found = settings(server)
    note = ", PostgreSQL " + ", ".join(f"{k}={v}" for k, v in found.items())
    report = Report("postgres", args, sizes, repeats=sizes.repeats, note=note)
    report.meta["postgres"] = found
    for mode in MODES[:2]:  # warm-up: imports, the pool, the server's caches
        run_slateboard(server, mode, make_cases(100))
        run_raw(server, mode, make_cases(100))
    freeze()
    rows = tuple(bench(server, mode, sizes.single if mode.batch == 1 else sizes.batch, sizes.repeats) for mode in MODES)
    report.table(Table("appends", rows, ratio="slateboard findings/s / raw psycopg rows/s"))
    return report.finish()


def main(argv: Sequence[str] | None = None) -> int:
    options = parser(__doc__)
    options.add_argument(
        "--url",
        default=os.environ.get(URL_VARIABLE),
        help=f"a PostgreSQL server where schemas may be made (default: ${URL_VARIABLE}, else a throwaway durable one)",
    )
    args = options.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.repeats:
        sizes = replace(sizes, repeats=max(args.repeats, 1))
    with contextlib.ExitStack() as stack:
        try:
            server = args.url or stack.enter_context(throwaway_server(durable=True))
        except (Unavailable, RuntimeError) as exc:  # no binaries; initdb or the server failed
            required = os.environ.get(REQUIRE) == "1"
            print(f"postgres benchmark: no PostgreSQL server: {exc}", file=sys.stderr)
            print(f"failed: {REQUIRE}=1" if required else "skipped (exit 0)", file=sys.stderr)
            return 1 if required else 0
        return measure(server, args, sizes)
    return 1  # unreachable: the block returns


if __name__ == "__main__":
    raise SystemExit(main())
