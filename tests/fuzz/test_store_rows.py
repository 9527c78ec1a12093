"""Tampered rows in a real SQLite file: whatever a column of an entry is changed to (another value, another type),
`verify` raises TamperedLogError naming that entry's version, and reading the board raises a SlateboardError;
nothing else. Rows are changed with sqlite3 directly, as an attacker with the file would (the append-only triggers
dropped first)."""

import contextlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slateboard import Blackboard
from slateboard.errors import SlateboardError, TamperedLogError
from slateboard.scenarios import catalog
from tests.fuzz.budget import fuzz

BOARD, VERSION = "case", 3
COLUMNS = ["version", "kind", "schema_version", "author", "recorded_at", "payload", "hash"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding one support-case run."""
    path = tmp_path_factory.mktemp("rows") / "reference.db"
    with Blackboard.open(f"sqlite:///{path}") as bb:
        catalog.get("support-case").run_sync(bb, board=BOARD)
    return path


def tampered(reference: Path, directory: Path, column: str, value: Any) -> str:
    path = directory / "tampered.db"
    shutil.copy(reference, path)
    with sqlite3.connect(path) as conn:
        for (trigger,) in conn.execute("select name from sqlite_master where type = 'trigger'").fetchall():
            conn.execute(f'drop trigger "{trigger}"')
        rowid, original = conn.execute(
            f"select rowid, {column} from slateboard_entries where board = ? and version = ?", (BOARD, VERSION)
        ).fetchone()
        try:
            conn.execute(f"update slateboard_entries set {column} = ? where rowid = ?", (value, rowid))
        except sqlite3.IntegrityError:  # onto another entry's version: the unique index refuses it
            return ""
        (stored,) = conn.execute(f"select {column} from slateboard_entries where rowid = ?", (rowid,)).fetchone()
    conn.close()
    # The column's affinity may turn the value back into the original ('3' into 3): then nothing changed.
    return "" if stored == original and type(stored) is type(original) else f"sqlite:///{path}"


def verify(url: str) -> SlateboardError | None:
    async def check() -> SlateboardError | None:
        with Blackboard.open(url, read_only=True) as bb:
            try:
                await bb.board(BOARD).verify()
            except SlateboardError as exc:
                return exc
        return None

    return anyio.run(check)


def read(url: str) -> None:
    async def history() -> None:
        with Blackboard.open(url, read_only=True) as bb, contextlib.suppress(SlateboardError):
            await bb.board(BOARD).history()

    anyio.run(history)


VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["3", "three", "{}", "null", "[", "slateboard.Decision", "2026-01-01T00:00:00+00:00", "0" * 64]),
)


@fuzz(60)
@given(column=st.sampled_from(COLUMNS), value=VALUES)
def test_verify_names_the_version_of_any_tampered_column(
    reference: Path, tmp_path_factory: pytest.TempPathFactory, column: str, value: Any
) -> None:
    url = tampered(reference, tmp_path_factory.mktemp("t"), column, value)
    if not url:
        return  # the same value: nothing was tampered with
    found = verify(url)
    if column == "version" and isinstance(value, int) and value > VERSION:
        # Moved past the end (or onto a later version, refused by the unique index): a gap at 3 either way.
        assert found is None or isinstance(found, TamperedLogError | SlateboardError)
        return
    assert isinstance(found, TamperedLogError), (column, value, found)
    if column == "version":
        # A version moved below its place (0.5) is read first, so the chain breaks at the version it displaced.
        assert found.version is not None
        assert 1 <= found.version <= VERSION
    else:
        assert found.version == VERSION


TYPE_CHANGES = [("version", "three"), ("version", 3.5), ("payload", 7), ("payload", "{"), ("hash", 5), ("author", 5),
                ("kind", 5), ("schema_version", "x")]  # fmt: skip


@pytest.mark.parametrize(("column", "value"), TYPE_CHANGES)
def test_a_column_of_another_type_is_tampering_with_its_version(
    reference: Path, tmp_path: Path, column: str, value: Any
) -> None:
    found = verify(tampered(reference, tmp_path, column, value))
    assert isinstance(found, TamperedLogError)
    assert found.version == VERSION


def test_a_blob_payload_is_tampering_with_its_version(reference: Path, tmp_path: Path) -> None:
    found = verify(tampered(reference, tmp_path, "payload", b"\xff\x00"))
    assert isinstance(found, TamperedLogError)


@pytest.mark.parametrize(("column", "value"), [("schema_version", "x"), ("recorded_at", 5)])
def test_reading_a_tampered_row_raises_a_slateboard_error(
    reference: Path, tmp_path: Path, column: str, value: Any
) -> None:
    read(tampered(reference, tmp_path, column, value))  # raises only a SlateboardError, caught inside
