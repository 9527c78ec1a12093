"""The PostgreSQL store's migrations and read-only opens, on a real server: the layout is checked before anything
is written, a layout-1 schema is migrated, processes opening one fresh schema at once apply each step once, and a
read-only open runs no DDL and writes nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest

from slateboard import Blackboard
from slateboard.blackboard.entries import GENESIS_HASH, PendingEntry
from slateboard.blackboard.stores import postgres_migrations
from slateboard.blackboard.stores.base import chain
from slateboard.blackboard.stores.ledger import LedgerRow
from slateboard.blackboard.stores.migrations import Step
from slateboard.blackboard.stores.postgres import PostgresStore, backend
from slateboard.blackboard.stores.postgres_queue import queue_statements
from slateboard.errors import ReadOnlyStoreError, SchemaVersionError, StoreError
from slateboard.testing.feed_conformance import FeedNote
from tests.blackboard.racing_opens import open_at_once

ROOT = Path(__file__).resolve().parents[2]
NEWEST = postgres_migrations.LAYOUT_VERSION


@pytest.fixture
def url(postgres_server: str, tmp_path: Path) -> str:
    return backend.fresh_url(tmp_path)


def schema(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


@contextmanager
def raw(url: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A plain connection to the server, its search_path on the store's schema."""
    with psycopg.connect(url.split("?", 1)[0], autocommit=True, options=f"-c search_path={schema(url)}") as conn:
        yield conn


def tables(url: str) -> set[str]:
    with raw(url) as conn:
        found = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema(url),)).fetchall()
    return {row[0] for row in found}


def columns(url: str, table: str) -> dict[str, str]:
    query = "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
    with raw(url) as conn:
        return dict(conn.execute(query, (schema(url), table)).fetchall())


def layout(url: str) -> str:
    with raw(url) as conn:
        found = conn.execute("SELECT value FROM slateboard_meta WHERE key = 'layout'").fetchone()
    assert found is not None
    return str(found[0])


def note(text: str) -> FeedNote:
    return FeedNote(subject="s", text=text, confidence=0.5)


def make_layout_1(url: str, boards: dict[str, list[str]], *, with_queue: bool = False) -> None:
    """A schema as slateboard wrote it before migrations: step 1's tables (and the work queue's, which that release
    also created), stamp 1, chained entries."""
    with raw(url) as conn, conn.transaction():
        conn.execute(f'CREATE SCHEMA "{schema(url)}"')  # type: ignore[arg-type]
        for statement in postgres_migrations.STEPS[0].sql(schema(url)):
            conn.execute(statement)  # type: ignore[arg-type]
        for statement in queue_statements(schema(url)) if with_queue else []:
            conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("INSERT INTO slateboard_meta (key, value) VALUES ('layout', '1')")
        for board, texts in boards.items():
            pending = [PendingEntry(FeedNote.kind_name, 1, "old", "2025-01-01T00:00:00+00:00",
                                    note(text).model_dump_json()) for text in texts]  # fmt: skip
            for entry, (version, digest) in zip(pending, chain(board, (0, GENESIS_HASH), pending, None), strict=True):
                conn.execute(
                    "INSERT INTO slateboard_entries (board, version, kind, schema_version, author, recorded_at, "
                    "payload, hash) VALUES (%s, %s, %s, 1, %s, %s, %s, %s)",
                    (board, version, entry.kind, entry.author, entry.recorded_at, entry.payload, digest),
                )


def stamped(url: str, stamp: str) -> None:
    with raw(url) as conn:
        conn.execute(f'CREATE SCHEMA "{schema(url)}"')  # type: ignore[arg-type]
        conn.execute("CREATE TABLE slateboard_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO slateboard_meta VALUES ('layout', %s)", (stamp,))


def schema_exists(url: str) -> bool:
    with raw(url) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema(url),)).fetchone() is not None


def test_a_fresh_schema_gets_every_step(url: str) -> None:
    Blackboard.open(url).close()
    assert layout(url) == str(NEWEST)
    assert {"slateboard_entries", "slateboard_meta", "slateboard_ledger", "slateboard_target_locks"} <= tables(url)
    assert columns(url, "slateboard_entries")["tx"] == "xid8"


@pytest.mark.parametrize("with_queue", [False, True])
def test_a_layout_1_schema_is_migrated_and_keeps_its_entries(url: str, with_queue: bool) -> None:
    make_layout_1(url, {"a": ["a1", "a2"], "b": ["b1"]}, with_queue=with_queue)
    assert "tx" not in columns(url, "slateboard_entries")

    async def use() -> list[str]:
        with Blackboard.open(url) as bb:
            await bb.board("a").verify()
            await bb.board("b").write(note("b2"), author="new")
            await bb.board("b").verify()
            return [item.entry.payload.text for item in await bb.feed()]  # type: ignore[attr-defined]

    assert anyio.run(use) == ["a1", "a2", "b1", "b2"]  # old rows: one migrating transaction, in seq order
    assert layout(url) == str(NEWEST)
    assert columns(url, "slateboard_entries")["tx"] == "xid8"
    assert "slateboard_work" in tables(url)


@pytest.mark.parametrize(("stamp", "message"), [("99", "newer slateboard"), ("2.5", "not a layout number")])
def test_a_newer_or_unreadable_stamp_is_refused_and_nothing_created(url: str, stamp: str, message: str) -> None:
    stamped(url, stamp)
    for read_only in (False, True):
        with pytest.raises(SchemaVersionError, match=message) as caught:
            Blackboard.open(url, read_only=read_only)
        assert schema(url) in str(caught.value)
        assert (caught.value.found, caught.value.newest) == (stamp, NEWEST)
        assert tables(url) == {"slateboard_meta"}
        assert layout(url) == stamp


def test_a_failing_step_rolls_back_every_step(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    Blackboard.open(url).close()
    broken = Step(NEWEST + 1, "a table, then a typo", ("CREATE TABLE half (n INT)", "CREATE TABEL oops (n INT)"))
    monkeypatch.setattr(postgres_migrations, "STEPS", (*postgres_migrations.STEPS, broken))
    with pytest.raises(StoreError, match=rf"migration step {NEWEST + 1} \(a table, then a typo\) failed"):
        Blackboard.open(url)
    assert layout(url) == str(NEWEST)
    assert "half" not in tables(url)


def test_threads_opening_one_fresh_schema_at_once_apply_each_step_once(
    postgres_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A step that fails when run twice and counts its runs, and lingers so that the openers overlap.
    probe = Step(
        NEWEST + 1, "probe", ("CREATE TABLE probe (n INT)", "INSERT INTO probe VALUES (1)", "SELECT pg_sleep(0.1)")
    )
    monkeypatch.setattr(postgres_migrations, "STEPS", (*postgres_migrations.STEPS, probe))
    for _ in range(3):
        fresh = backend.fresh_url(tmp_path)
        start = threading.Barrier(3)
        errors: list[BaseException] = []

        def open_it(
            address: str = fresh, start: threading.Barrier = start, errors: list[BaseException] = errors
        ) -> None:
            start.wait()
            try:
                PostgresStore.from_url(address).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert layout(fresh) == str(NEWEST + 1)
        with raw(fresh) as conn:
            assert conn.execute("SELECT count(*) FROM probe").fetchone() == (1,)


def test_processes_opening_one_fresh_schema_at_once_all_open_it(url: str) -> None:
    open_at_once(url)
    assert layout(url) == str(NEWEST)  # step 2's ALTER TABLE would have failed in a second process without the lock


def test_read_only_on_a_missing_schema_creates_nothing(url: str) -> None:
    with pytest.raises(StoreError, match="holds no slateboard store") as caught:
        Blackboard.open(url, read_only=True)
    assert schema(url) in str(caught.value)
    assert not schema_exists(url)


@pytest.mark.anyio
async def test_read_only_reads_and_refuses_every_write(url: str) -> None:
    with Blackboard.open(url) as writer:
        await writer.board("a").write_many([note("a1"), note("a2")], author="w")
    before = tables(url)
    with Blackboard.open(url, read_only=True) as bb:
        await bb.board("a").verify()
        assert [item.entry.payload.text for item in await bb.feed()] == ["a1", "a2"]  # type: ignore[attr-defined]
        with pytest.raises(ReadOnlyStoreError, match="append to board 'a'"):
            await bb.board("a").write(note("no"), author="w")
        with pytest.raises(ReadOnlyStoreError, match="opened read-only"):
            bb.store.ledger.claim(LedgerRow("k", "h", "a", "t", "pending"), wait=True)
        store = bb.store
        assert isinstance(store, PostgresStore)
        assert store.query(lambda conn: conn.execute("SHOW default_transaction_read_only").fetchone(), wait=True) == (
            "on",
        )
        with pytest.raises(StoreError, match="read-only transaction"):  # the server itself refuses, too
            store.query(lambda conn: conn.execute("CREATE TABLE sneaky (n INT)"), wait=True)
    assert tables(url) == before
    assert layout(url) == str(NEWEST)


def test_read_only_on_a_layout_1_schema_asks_for_a_migration_and_changes_nothing(url: str) -> None:
    make_layout_1(url, {"a": ["a1"]})
    with pytest.raises(SchemaVersionError, match=f"needs migrating to layout {NEWEST}") as caught:
        Blackboard.open(url, read_only=True)
    assert "without read_only" in str(caught.value)
    assert layout(url) == "1"
    assert "tx" not in columns(url, "slateboard_entries")
