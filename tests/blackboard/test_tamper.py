"""Invariant 7: any edited, deleted or reordered entry of a real SQLite file is found by `verify`."""

import sqlite3
import tempfile
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Finding, Head
from slateboard.blackboard.entries import GENESIS_HASH, PendingEntry, seal
from slateboard.blackboard.stores.base import chain
from slateboard.errors import TamperedLogError

TABLE = "slateboard_entries"
EDITABLE = ("kind", "schema_version", "author", "recorded_at", "payload", "hash")


class Memo(Finding):
    kind_name = "tests.tamper.Memo"
    text: str


def make_board(path: Path, size: int) -> Head:
    async def fill() -> Head:
        with Blackboard.open(f"sqlite:///{path}") as bb:
            board = bb.board("case")
            for i in range(size):
                await board.write(Memo(subject="s", text=f"memo {i}", confidence=0.5), author=f"agent{i % 3}")
            await bb.board("other").write(Memo(subject="s", text="elsewhere", confidence=0.5), author="x")
            return await board.head()

    return anyio.run(fill)


def raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")
    conn.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_delete")
    return conn


def verify(path: Path, head: Head | None = None) -> Head:
    async def run() -> Head:
        with Blackboard.open(f"sqlite:///{path}") as bb:
            return await bb.board("case").verify(head=head)

    return anyio.run(run)


def edit(conn: sqlite3.Connection, version: int, column: str) -> None:
    if column == "schema_version":
        conn.execute(
            f"UPDATE {TABLE} SET schema_version = schema_version + 1 WHERE board='case' AND version=?",
            (version,),
        )
    elif column == "hash":
        conn.execute(f"UPDATE {TABLE} SET hash = ? WHERE board='case' AND version=?", ("ab" * 32, version))
    else:
        conn.execute(f"UPDATE {TABLE} SET {column} = {column} || ' ' WHERE board='case' AND version=?", (version,))


def swap(conn: sqlite3.Connection, first: int, second: int) -> None:
    for version, temp in ((first, -1), (second, first), (-1, second)):
        conn.execute(f"UPDATE {TABLE} SET version=? WHERE board='case' AND version=?", (temp, version))


def rechain_from(conn: sqlite3.Connection, version: int) -> None:
    """What a careful attacker does after an edit: recompute every hash from there on."""
    rows = conn.execute(
        f"SELECT version, kind, schema_version, author, recorded_at, payload FROM {TABLE} "
        "WHERE board='case' ORDER BY version"
    ).fetchall()
    prev = GENESIS_HASH
    for v, kind, sv, author, at, payload in rows:
        if v >= version:
            digest = seal(prev, "case", v, PendingEntry(kind, sv, author, at, payload))
            conn.execute(f"UPDATE {TABLE} SET hash=? WHERE board='case' AND version=?", (digest, v))
        prev = conn.execute(f"SELECT hash FROM {TABLE} WHERE board='case' AND version=?", (v,)).fetchone()[0]


tampering = st.one_of(
    st.tuples(st.just("edit"), st.integers(1, 12), st.sampled_from(EDITABLE)),
    st.tuples(st.just("delete"), st.integers(1, 12), st.just("")),
    st.tuples(st.just("swap"), st.integers(1, 12), st.integers(1, 12)),
    st.tuples(st.just("move"), st.integers(1, 12), st.just("")),
    st.tuples(st.just("append"), st.just(0), st.just("")),
    st.tuples(st.just("rechain"), st.integers(1, 12), st.sampled_from(("payload", "author"))),
)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(2, 12), tamper=tampering)
def test_invariant_7_random_tampering_is_always_detected(size: int, tamper: tuple[str, int, object]) -> None:
    how, version, extra = tamper
    version = min(version, size)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "board.db"
        exported = make_board(path, size)
        assert verify(path, exported) == exported
        conn = raw(path)
        expected: int | None = version
        if how == "edit":
            edit(conn, version, str(extra))
        elif how == "delete":
            conn.execute(f"DELETE FROM {TABLE} WHERE board='case' AND version=?", (version,))
            expected = version if version < size else None  # a removed tail needs the exported head
        elif how == "swap":
            other = min(int(str(extra)), size)
            if other == version:
                other = version % size + 1
            swap(conn, version, other)
            expected = min(version, other)
        elif how == "move":
            conn.execute(f"UPDATE {TABLE} SET board='other', version=100 WHERE board='case' AND version=?", (version,))
            expected = version if version < size else None
        elif how == "append":
            conn.execute(
                f"INSERT INTO {TABLE} (board, version, kind, schema_version, author, recorded_at, payload, hash) "
                "SELECT board, version + 1, kind, schema_version, author, recorded_at, payload, hash "
                f"FROM {TABLE} WHERE board='case' AND version=?",
                (size,),
            )
            expected = size + 1
        else:
            edit(conn, version, str(extra))
            rechain_from(conn, version)
            expected = None  # a consistent rewrite is only caught against an exported head
        conn.close()
        if expected is not None:
            with pytest.raises(TamperedLogError) as caught:
                verify(path)
            assert caught.value.version == expected
            assert caught.value.board == "case"
        if how != "append":
            with pytest.raises(TamperedLogError):
                verify(path, exported)


def test_truncation_is_named_against_the_exported_head(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    exported = make_board(path, 5)
    raw(path).execute(f"DELETE FROM {TABLE} WHERE board='case' AND version >= 4")
    assert verify(path).version == 3  # without the head, a shorter log is self-consistent
    with pytest.raises(TamperedLogError, match="truncated: the exported head is version 5, the log ends at 3"):
        verify(path, exported)


def test_a_handle_that_read_the_log_sees_a_rewrite_behind_its_back(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    make_board(path, 4)

    async def run() -> None:
        with Blackboard.open(f"sqlite:///{path}") as bb:
            board = bb.board("case")
            await board.view()
            conn = raw(path)
            edit(conn, 2, "payload")
            rechain_from(conn, 2)
            conn.close()
            with pytest.raises(TamperedLogError, match="differs from what this process read earlier") as caught:
                await board.verify()
            assert caught.value.version == 2

    anyio.run(run)


def test_the_log_refuses_update_and_delete(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    make_board(path, 2)
    conn = sqlite3.connect(path)
    for statement in (f"UPDATE {TABLE} SET author='x'", f"DELETE FROM {TABLE}"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement)
    conn.close()
    assert verify(path).version == 2


def test_chain_is_the_one_rule_both_stores_use() -> None:
    entry = PendingEntry("k", 1, "a", "2026-01-01T00:00:00+00:00", "{}")
    ((v1, h1), (v2, h2)) = chain("b", (0, GENESIS_HASH), [entry, entry], None)
    assert (v1, v2) == (1, 2)
    assert h1 != h2  # same content at another version hashes differently
    assert seal(GENESIS_HASH, "b", 1, entry) == h1
    assert seal(GENESIS_HASH, "c", 1, entry) != h1  # and on another board
