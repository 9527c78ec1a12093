"""The `slateboard_fresh` factory fixture: a new store per hypothesis example, with the health check left on.

The property tests here use the fixture inside `@given` with hypothesis' default health checks (none suppressed);
an inner pytester session shows the same check failing a `@given` test that asks for the function-scoped
`slateboard_store`, so the check was on. Stores are real (memory, SQLite files); the tamper test edits the SQLite
file behind the board's back.
"""

import sqlite3
import textwrap
from functools import partial
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Board
from slateboard.errors import ConfigurationError
from slateboard.testing import strategies as sb
from slateboard.testing.fresh import FreshStores
from tests.controller.kinds import Entitlement

pytest_plugins = ["pytester"]


@settings(max_examples=15, deadline=None)
@given(ev=sb.evidence(Entitlement, "entitled", sources=st.integers(1, 3)))
def test_each_example_gets_an_empty_store_of_its_own(
    slateboard_fresh: FreshStores, ev: sb.Evidence[Entitlement]
) -> None:
    before = slateboard_fresh.made
    with slateboard_fresh.board() as board:
        assert board.store.boards() == []  # nothing from an earlier example
        anyio.run(ev.write, board)
        assert anyio.run(board.view).version == len(ev.pairs)
    assert slateboard_fresh.made == before + 1


@settings(max_examples=10, deadline=None)
@given(count=st.integers(0, 3))
def test_a_fresh_blackboard_is_closed_and_its_files_removed(slateboard_fresh: FreshStores, count: int) -> None:
    with slateboard_fresh.blackboard() as bb:
        assert isinstance(bb, Blackboard)
        directory = slateboard_fresh.directory / f"store-{slateboard_fresh.made}"
        assert directory.is_dir()
        assert bb.boards() == []
    assert not directory.exists()


def test_a_tampered_board_fails_when_the_example_ends(tmp_path: Path) -> None:
    stores = FreshStores("sqlite", tmp_path)
    fresh = stores.board("b")
    board = fresh.__enter__()
    anyio.run(partial(board.write, Entitlement(subject="case-1", entitled=True, confidence=0.9), author="crm"))
    conn = sqlite3.connect(board.store.path, isolation_level=None)  # type: ignore[attr-defined]
    conn.execute("DROP TRIGGER IF EXISTS slateboard_entries_no_update")
    conn.execute("UPDATE slateboard_entries SET author = 'mallory'")
    conn.close()
    with pytest.raises(pytest.fail.Exception, match=r"verification failed when the example ended:\n.*'b'.*version 1"):
        fresh.__exit__(None, None, None)
    assert not (tmp_path / "store-1").exists()  # closed and removed all the same


def test_an_error_in_the_body_is_the_error_that_shows(tmp_path: Path) -> None:
    def body() -> None:
        with FreshStores("memory", tmp_path).board() as board:
            assert isinstance(board, Board)
            raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        body()


@pytest.mark.anyio
async def test_async_tests_use_async_with(tmp_path: Path) -> None:
    stores = FreshStores("sqlite", tmp_path)
    async with stores.board("b") as board:
        entry = await board.write(Entitlement(subject="case-1", entitled=False, confidence=0.5), author="crm")
        assert entry.version == 1
    with pytest.raises(ConfigurationError, match="async with"), stores.board("b") as board:
        await board.write(Entitlement(subject="case-1", entitled=False, confidence=0.5), author="crm")


def test_the_health_check_stays_on_and_only_the_fresh_factory_passes_it(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(
        test_inner=textwrap.dedent(
            """
            from hypothesis import given, settings, strategies as st

            @settings(max_examples=5, database=None, deadline=None)  # a new SQLite file per example
            @given(n=st.integers(0, 3))
            def test_fresh(slateboard_fresh, n):
                with slateboard_fresh.board() as board:
                    assert board.store.boards() == []

            @settings(max_examples=5, database=None)
            @given(n=st.integers(0, 3))
            def test_store(slateboard_store, n):
                pass
            """
        )
    )
    result = pytester.runpytest_inprocess("-v", "--slateboard-store=both")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*test_fresh?memory? PASSED*", "*test_fresh?sqlite? PASSED*"])
    result.stdout.fnmatch_lines(["*FailedHealthCheck*function-scoped fixture 'slateboard_store'*"])
