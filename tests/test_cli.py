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


def test_demo_runs_a_case_on_the_default_sqlite_file_and_explains_each_decision(tmp_path: Path) -> None:
    result = slateboard("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "slateboard.db").is_file()
    for expected in (
        "finding  demo.SupportCase by input",
        "decision continue: agenda: intake on 'case-42'",
        "run      knowledge on 'case-42', attempt 1: ok",
        "outcome: sufficient at v11",
        "3 decision(s), all identical",
        "verify: OK: 11 entries",
    ):
        assert expected in result.stdout
    again = slateboard("demo", cwd=tmp_path)
    assert "outcome: sufficient at v11" in again.stdout  # resumed from its log: nothing re-run, nothing written
    assert "verify: OK: 11 entries" in again.stdout


def test_the_conflict_variant_goes_to_a_person(tmp_path: Path) -> None:
    result = slateboard("demo", "--board", "c9", "--variant", "conflict", cwd=tmp_path)
    assert "outcome: escalated" in result.stdout
    assert "entitlement contradicts a policy exception" in result.stdout
    bad = slateboard("demo", "--variant", "sideways", cwd=tmp_path)
    assert bad.returncode == 2
    assert "--variant must be one of happy, conflict" in bad.stderr


def test_audit_json_is_the_full_history(tmp_path: Path) -> None:
    slateboard("demo", "--board", "c1", cwd=tmp_path)
    result = slateboard("audit", "c1", "--json", cwd=tmp_path)
    rows = json.loads(result.stdout)
    assert [row["version"] for row in rows] == list(range(1, 12))
    entitlement = next(row for row in rows if row["kind"] == "demo.Entitlement")
    assert entitlement["payload"]["entitled"] is True
    assert entitlement["author"] == "entitlement"
    assert rows[-1]["payload"]["status"] == "sufficient"


def test_verify_names_the_tampered_version_and_exits_1(tmp_path: Path) -> None:
    slateboard("demo", "--board", "c1", cwd=tmp_path)
    slateboard("demo", "--board", "c2", cwd=tmp_path)
    assert slateboard("verify", cwd=tmp_path).returncode == 0
    conn = sqlite3.connect(tmp_path / "slateboard.db")
    conn.execute("DROP TRIGGER slateboard_entries_no_update")
    conn.execute(
        "UPDATE slateboard_entries SET payload = replace(payload, 'true', 'false') WHERE board = 'c2' AND version = 8"
    )
    conn.commit()
    conn.close()
    result = slateboard("verify", "--json", cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [h["board"] for h in report["heads"]] == ["c1"]
    assert report["tampered"] == [{"board": "c2", "version": 8, "reason": report["tampered"][0]["reason"]}]
    plain = slateboard("verify", "c2", cwd=tmp_path)
    assert "TAMPERED" in plain.stdout
    assert "version 8" in plain.stdout


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
