"""The throwaway server of `slateboard.testing.postgres`: the test settings skip flushing, durable=True keeps
PostgreSQL's defaults (what a benchmark of what users run needs)."""

from __future__ import annotations

import os

import psycopg
import pytest

from slateboard.testing.postgres import REQUIRE, VARIABLE, Unavailable, throwaway_server

DURABILITY = ("fsync", "synchronous_commit", "full_page_writes")


def durability(url: str) -> tuple[str, ...]:
    with psycopg.connect(url) as conn:
        return tuple(str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in DURABILITY)  # type: ignore[index]


def test_the_session_server_skips_flushing(postgres_session: str) -> None:
    if os.environ.get(VARIABLE):
        pytest.skip(f"{VARIABLE} names a server of its own; its settings are not ours")
    assert durability(postgres_session) == ("off", "off", "off")


def test_a_durable_throwaway_server_flushes_every_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)  # start one here, whatever server the tests were given
    try:
        with throwaway_server(durable=True) as url:
            assert durability(url) == ("on", "on", "on")
            with psycopg.connect(url, autocommit=True) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
    except Unavailable as exc:
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{REQUIRE}=1 but {exc}", pytrace=False)
        pytest.skip(str(exc))
