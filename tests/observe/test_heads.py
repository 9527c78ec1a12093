"""Signed heads through the Python API, on real SQLite files: a head exported and checked, a truncated log and a
re-chained rewrite caught, and every altered, malformed or wrongly keyed head file refused with its file and field."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Finding
from slateboard.errors import ConfigurationError, SignedHeadError, TamperedLogError
from slateboard.observe import heads
from tests.observe.tampering import TABLE, raw, rewrite, truncate


class Note(Finding):
    kind_name = "tests.heads.Note"
    text: str


def fill(path: Path, board: str = "case", size: int = 5) -> None:
    async def write() -> None:
        with Blackboard.open(f"sqlite:///{path}") as bb:
            for i in range(size):
                await bb.board(board).write(Note(subject="s", text=f"note {i}", confidence=0.5), author="a")

    anyio.run(write)


def with_board(path: Path, fn: Any, *args: Any) -> Any:
    with Blackboard.open(f"sqlite:///{path}") as bb:
        return fn(bb.board("case"), *args)


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """A five-entry board, a key pair and the board's signed head: (db, key, public key, head file)."""
    db, key = tmp_path / "board.db", tmp_path / "board.key"
    fill(db)
    _, public = heads.generate_key(key)
    with_board(db, heads.export_head_sync, key, tmp_path / "head.json")
    return db, key, public, tmp_path / "head.json"


def test_an_exported_head_checks_and_the_board_verifies_against_it(signed: tuple[Path, Path, Path, Path]) -> None:
    db, _, public, head = signed
    written = json.loads(head.read_text())
    assert (written["format"], written["board"], written["version"]) == (heads.FORMAT, "case", 5)
    verified = with_board(db, heads.verify_head_sync, head, public)
    assert (verified.version, verified.hash) == (5, written["hash"])
    fill(db, size=2)  # the board goes on after the export: still holds the signed head
    assert with_board(db, heads.verify_head_sync, head, public).version == 7


def test_a_truncated_log_is_caught(signed: tuple[Path, Path, Path, Path]) -> None:
    db, _, public, head = signed
    truncate(db, keep=3)
    with_board(db, lambda board: anyio.run(board.verify))  # the chain alone cannot tell
    with pytest.raises(TamperedLogError, match="truncated: the exported head is version 5, the log ends at 3"):
        with_board(db, heads.verify_head_sync, head, public)


def test_a_rechained_rewrite_of_the_same_length_is_caught(signed: tuple[Path, Path, Path, Path]) -> None:
    db, _, public, head = signed
    rewrite(db, version=2)
    with_board(db, lambda board: anyio.run(board.verify))  # the chain alone cannot tell
    with pytest.raises(TamperedLogError, match="tampered at version 5: the hash differs from the exported head"):
        with_board(db, heads.verify_head_sync, head, public)


def test_a_tampered_board_is_never_signed(tmp_path: Path) -> None:
    db, key = tmp_path / "board.db", tmp_path / "k"
    fill(db)
    heads.generate_key(key)
    with raw(db) as conn:
        conn.execute(f"UPDATE {TABLE} SET author='x' WHERE board='case' AND version=4")
    with pytest.raises(TamperedLogError, match="version 4"):
        with_board(db, heads.export_head_sync, key, tmp_path / "head.json")
    assert not (tmp_path / "head.json").exists()


def test_the_private_key_is_created_0600_whatever_the_umask_and_never_overwritten(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        private, public = heads.generate_key(tmp_path / "k")
    finally:
        os.umask(old)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    before = private.read_bytes()
    with pytest.raises(SignedHeadError, match=f"{private}: already exists"):
        heads.generate_key(private)
    assert private.read_bytes() == before
    heads.generate_key(private, force=True)
    assert private.read_bytes() != before


def test_a_head_checked_with_another_key_names_both_keys(signed: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    db, _, _, head = signed
    _, other = heads.generate_key(tmp_path / "other")
    with pytest.raises(SignedHeadError, match=rf"{head}: field 'key_id': signed by key [0-9a-f]{{16}}, but") as caught:
        with_board(db, heads.verify_head_sync, head, other)
    assert caught.value.field == "key_id"


def test_a_key_file_of_the_wrong_kind_is_named(signed: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    db, key, public, head = signed
    with pytest.raises(SignedHeadError, match=r"this is a private key: give its \.pub file"):
        with_board(db, heads.verify_head_sync, head, key)
    with pytest.raises(SignedHeadError, match=f"{public}: not an unencrypted PEM private key"):
        heads.sign_head(with_board(db, lambda board: anyio.run(board.head)), public)
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(SignedHeadError, match=f"{missing}: cannot read the public key"):
        with_board(db, heads.verify_head_sync, head, missing)


def test_a_head_of_another_board_is_refused(signed: tuple[Path, Path, Path, Path]) -> None:
    db, _, public, head = signed
    fill(db, board="other")
    with Blackboard.open(f"sqlite:///{db}") as bb, pytest.raises(SignedHeadError, match="field 'board'"):
        heads.verify_head_sync(bb.board("other"), head, public)


def test_without_the_signing_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(__import__("sys").modules, "cryptography.hazmat.primitives", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'slateboard\[signing\]'"):
        heads.generate_key(tmp_path / "k")


# Every way a head file can be altered after signing: (field changed, its new value, the field the error names).
DELETE, FLIP = object(), object()
ALTERATIONS: dict[str, tuple[str, Any, str]] = {
    "board": ("board", "another", "signature"),
    "version": ("version", 4, "signature"),
    "version as text": ("version", "5", "version"),
    "version negative": ("version", -1, "version"),
    "version a bool": ("version", True, "version"),
    "hash": ("hash", "0" * 64, "signature"),
    "hash short": ("hash", "abc", "hash"),
    "exported_at": ("exported_at", "2020-01-01T00:00:00Z", "signature"),
    "exported_at garbage": ("exported_at", "yesterday", "exported_at"),
    "signature flipped": ("signature", FLIP, "signature"),
    "signature not base64": ("signature", "%%%", "signature"),
    "signature short": ("signature", base64.b64encode(b"x" * 10).decode(), "signature"),
    "key_id": ("key_id", "0123456789abcdef", "key_id"),
    "format": ("format", "slateboard.signed-head/0", "format"),
    "extra field": ("surprise", 1, "surprise"),
    "missing field": ("hash", DELETE, "hash"),
}


def alter(data: dict[str, Any], how: str) -> dict[str, Any]:
    changed = dict(data)
    if how == "none":
        return changed
    name, value, _ = ALTERATIONS[how]
    if value is DELETE:
        del changed[name]
    elif value is FLIP:
        signature = bytearray(base64.b64decode(changed[name]))
        signature[0] ^= 1
        changed[name] = base64.b64encode(bytes(signature)).decode()
    else:
        changed[name] = value
    return changed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=st.sampled_from(["none", *sorted(ALTERATIONS)]))
def test_property_every_altered_head_file_is_refused_naming_its_field(
    signed: tuple[Path, Path, Path, Path], how: str
) -> None:
    db, _, public, head = signed
    altered = head.with_name("altered.json")
    altered.write_text(json.dumps(alter(json.loads(head.read_text()), how)))
    event(how)
    if how == "none":  # the unaltered file, so the property also sees the outcome where a head checks
        checked = heads.check_signature(heads.read_head(altered), public, file=str(altered))
        assert checked == with_board(db, lambda board: anyio.run(board.verify))
        return
    with pytest.raises(SignedHeadError) as caught:
        heads.check_signature(heads.read_head(altered), public, file=str(altered))
    assert (caught.value.file, caught.value.field) == (str(altered), ALTERATIONS[how][2])
    assert str(caught.value).startswith(f"{altered}: field {ALTERATIONS[how][2]!r}: ")


def test_a_head_file_that_is_not_a_json_object_names_the_file(tmp_path: Path) -> None:
    for text, said in (("not json", "not JSON"), ("[1, 2]", "a JSON list")):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(SignedHeadError, match=f"{bad}: {said}"):
            heads.read_head(bad)


def test_a_path_that_cannot_be_written_is_named(signed: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    db, key, _, _ = signed
    nowhere = tmp_path / "no" / "such" / "dir"
    with pytest.raises(SignedHeadError, match=f"{nowhere / 'h.json'}: cannot write the signed head"):
        with_board(db, heads.export_head_sync, key, nowhere / "h.json")
    with pytest.raises(SignedHeadError, match=f"{nowhere / 'k'}: cannot write the key"):
        heads.generate_key(nowhere / "k")
