"""The `slateboard` command, run as a real process: readable output, clear one-line errors, exit codes."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path


def slateboard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slateboard.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_writes_reads_and_verifies_on_the_default_sqlite_file(tmp_path: Path) -> None:
    result = slateboard("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "slateboard.db").is_file()
    for expected in (
        "wrote v1",
        "demo.SupportCase",
        "refused",
        "nothing was written",
        "history of demo-case",
        "verify: OK: 3 entries",
    ):
        assert expected in result.stdout
    again = slateboard("demo", cwd=tmp_path)
    assert "verify: OK: 6 entries" in again.stdout  # a second run continues the same board


def test_audit_json_is_the_full_history(tmp_path: Path) -> None:
    slateboard("demo", "--board", "c1", cwd=tmp_path)
    result = slateboard("audit", "c1", "--json", cwd=tmp_path)
    rows = json.loads(result.stdout)
    assert [row["version"] for row in rows] == [1, 2, 3]
    assert rows[1]["payload"]["entitled"] is True
    assert rows[1]["author"] == "entitlement-agent"


def test_verify_names_the_tampered_version_and_exits_1(tmp_path: Path) -> None:
    slateboard("demo", "--board", "c1", cwd=tmp_path)
    slateboard("demo", "--board", "c2", cwd=tmp_path)
    assert slateboard("verify", cwd=tmp_path).returncode == 0
    conn = sqlite3.connect(tmp_path / "slateboard.db")
    conn.execute("DROP TRIGGER slateboard_entries_no_update")
    conn.execute(
        "UPDATE slateboard_entries SET payload = replace(payload, 'true', 'false') WHERE board = 'c2' AND version = 2"
    )
    conn.commit()
    conn.close()
    result = slateboard("verify", "--json", cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [h["board"] for h in report["heads"]] == ["c1"]
    assert report["tampered"] == [{"board": "c2", "version": 2, "reason": report["tampered"][0]["reason"]}]
    plain = slateboard("verify", "c2", cwd=tmp_path)
    assert "TAMPERED" in plain.stdout
    assert "version 2" in plain.stdout


def test_errors_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    for args, message in (
        (("audit", "missing"), "board 'missing' has no entries"),
        (("boards", "--db", "sqlite:///no/dir/x.db"), "directory no/dir does not exist"),
        (("verify", "--db", "mysql://x"), "is not understood"),
    ):
        result = slateboard(*args, cwd=tmp_path)
        assert result.returncode == 2
        assert message in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_boards_lists_what_has_entries(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'other.db'}"
    slateboard("demo", "--db", db, "--board", "zeta", cwd=tmp_path)
    slateboard("demo", "--db", db, "--board", "alpha", cwd=tmp_path)
    assert slateboard("boards", "--db", db, cwd=tmp_path).stdout.split() == ["alpha", "zeta"]
