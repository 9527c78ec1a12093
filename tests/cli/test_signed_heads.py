"""`slateboard keygen` and `slateboard verify --export-head / --head` on real files: a support case's head signed
and checked, a truncated log and a re-chained rewrite caught (exit 1), and a wrong key, an altered or malformed head
file, or options that do not go together refused (exit 2) naming the file and the field; once through real
processes, as a user's shell runs them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke
from tests.observe.tampering import rewrite, truncate

BOARD = "case"


@pytest.fixture
def signed(slateboard: Invoke, tmp_path: Path) -> Path:
    """A support case on ./slateboard.db (board "case"), a key pair and the board's signed head at ./case.head."""
    assert slateboard("run", "support-case", "--board", BOARD).code == 0
    made = slateboard("keygen", "board.key")
    assert made.code == 0, made.stderr
    assert "board.key (mode 0600)" in made.stdout
    exported = slateboard("verify", BOARD, "--export-head", "case.head", "--key", "board.key")
    assert exported.code == 0, exported.stderr
    assert "written to case.head" in exported.stdout
    return tmp_path / "slateboard.db"


def test_the_signed_head_checks_and_the_store_is_not_touched(slateboard: Invoke, signed: Path) -> None:
    before = signed.read_bytes()
    checked = slateboard("verify", "--head", "case.head", "--public-key", "board.key.pub")
    assert checked.code == 0, checked.stderr
    assert checked.stdout.startswith(f"OK  {BOARD}: ")
    as_json = slateboard("verify", "--head", "case.head", "--public-key", "board.key.pub", "--json")
    found = json.loads(as_json.stdout)
    assert found["ok"] is True
    assert (
        found["head"]["version"] == found["signed"]["version"] == json.loads(Path("case.head").read_text())["version"]
    )
    assert signed.read_bytes() == before
    assert stat.S_IMODE(Path("board.key").stat().st_mode) == 0o600


def test_a_truncated_log_exits_1_naming_the_versions(slateboard: Invoke, signed: Path) -> None:
    version = json.loads(Path("case.head").read_text())["version"]
    truncate(signed, keep=version - 2)
    assert slateboard("verify", BOARD).code == 0  # the chain alone cannot tell
    caught = slateboard("verify", "--head", "case.head", "--public-key", "board.key.pub")
    assert caught.code == 1
    assert f"truncated: the exported head is version {version}, the log ends at {version - 2}" in caught.stdout
    as_json = json.loads(slateboard("verify", "--head", "case.head", "--public-key", "board.key.pub", "--json").stdout)
    assert as_json == {
        "ok": False,
        "tampered": [
            {
                "board": BOARD,
                "version": version - 1,
                "reason": f"truncated: the exported head is version {version}, the log ends at {version - 2}",
            }
        ],
    }


def test_a_rechained_rewrite_exits_1(slateboard: Invoke, signed: Path) -> None:
    rewrite(signed, version=3)
    assert slateboard("verify", BOARD).code == 0  # the chain alone cannot tell
    caught = slateboard("verify", "--head", "case.head", "--public-key", "board.key.pub")
    assert caught.code == 1
    assert "the hash differs from the exported head" in caught.stdout


def test_a_wrong_key_an_altered_or_malformed_head_exit_2_naming_file_and_field(
    slateboard: Invoke, signed: Path
) -> None:
    assert slateboard("keygen", "other.key").code == 0
    wrong = slateboard("verify", "--head", "case.head", "--public-key", "other.key.pub")
    assert wrong.code == 2
    assert "case.head: field 'key_id': signed by key" in wrong.stderr
    assert "the wrong public key" in wrong.stderr

    data = json.loads(Path("case.head").read_text())
    Path("altered.head").write_text(json.dumps({**data, "version": data["version"] - 1}))
    altered = slateboard("verify", "--head", "altered.head", "--public-key", "board.key.pub")
    assert altered.code == 2
    assert "altered.head: field 'signature': the signature does not match" in altered.stderr

    Path("malformed.head").write_text(json.dumps({**data, "hash": 42}))
    malformed = slateboard("verify", "--head", "malformed.head", "--public-key", "board.key.pub")
    assert malformed.code == 2
    assert "malformed.head: field 'hash': " in malformed.stderr

    private_as_public = slateboard("verify", "--head", "case.head", "--public-key", "board.key")
    assert private_as_public.code == 2
    assert "board.key: not a PEM public key (this is a private key: give its .pub file)" in private_as_public.stderr


def test_options_that_do_not_go_together_are_refused(slateboard: Invoke, signed: Path) -> None:
    for args, said in (
        (("verify", BOARD, "--export-head", "x.head"), "--export-head FILE and --key KEYFILE go together"),
        (("verify", "--head", "case.head"), "--head FILE and --public-key KEYFILE go together"),
        (("verify", "--export-head", "x.head", "--key", "board.key"), "name the board whose head to export"),
        (("verify", "nothing", "--export-head", "x.head", "--key", "board.key"), "board 'nothing' has no entries"),
        (
            ("verify", BOARD, "--export-head", "x", "--key", "board.key", "--head", "case.head", "--public-key", "k"),
            "either export a head (--export-head) or check one (--head), not both",
        ),
    ):
        refused = slateboard(*args)
        assert refused.code == 2, args
        assert said in refused.stderr, (args, refused.stderr)
    assert not Path("x.head").exists()
    again = slateboard("keygen", "board.key")
    assert again.code == 2
    assert "board.key: already exists" in again.stderr


def test_real_processes_export_check_and_catch_a_truncation(tmp_path: Path) -> None:
    env = {**os.environ, "SLATEBOARD_DB": f"sqlite:///{tmp_path / 'shell.db'}"}

    def shell(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "slateboard.cli", *args]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)

    assert shell("run", "support-case", "--board", BOARD).returncode == 0
    assert shell("keygen", "k.pem").returncode == 0
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    exported = shell("verify", BOARD, "--export-head", "h.json", "--key", "k.pem")
    assert exported.returncode == 0, exported.stderr
    assert shell("verify", "--head", "h.json", "--public-key", "k.pem.pub").returncode == 0
    truncate(tmp_path / "shell.db", keep=4)
    caught = shell("verify", "--head", "h.json", "--public-key", "k.pem.pub")
    assert caught.returncode == 1
    assert "TAMPERED" in caught.stdout
    assert "truncated" in caught.stdout
