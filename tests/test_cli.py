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
        "proposal update Case/case-42 by action",
        "verdict  allow for update Case/case-42 (v13): min_confidence(0.85)",
        "commit   update Case/case-42 to cases: receipt",
        "outcome: committed at v14",
        '"revision": 1',
        "4 decision(s) and 1 verdict(s), all identical",
        "verify: OK: 16 entries",
    ):
        assert expected in result.stdout
    again = slateboard("demo", cwd=tmp_path)
    assert "outcome: committed at v14" in again.stdout  # resumed from its log: nothing re-run, nothing written
    assert "verify: OK: 16 entries" in again.stdout
    assert '"revision": 1' in again.stdout  # the table row was written once, not twice


def test_the_conflict_variant_goes_to_a_person(tmp_path: Path) -> None:
    result = slateboard("demo", "--board", "c9", "--variant", "conflict", cwd=tmp_path)
    assert "outcome: escalated" in result.stdout
    assert "entitlement contradicts a policy exception" in result.stdout
    bad = slateboard("demo", "--variant", "sideways", cwd=tmp_path)
    assert bad.returncode == 2
    assert "--variant must be one of happy, conflict, approval" in bad.stderr


def test_an_irreversible_action_waits_for_approval_and_commits_once_when_approved(tmp_path: Path) -> None:
    waiting = slateboard("demo", "--board", "c5", "--variant", "approval", cwd=tmp_path)
    assert "outcome: awaiting_approval" in waiting.stdout
    line = next(x for x in waiting.stdout.splitlines() if x.startswith("waiting for a person: key "))
    key = line.split()[5].rstrip(":")
    approved = slateboard("approve", "c5", key, "--reviewer", "ana", "--edit", "Email=Sent by Ana", cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert "outcome: committed" in approved.stdout
    assert "approved by ana" in approved.stdout
    assert '"Email": "Sent by Ana"' in approved.stdout
    again = slateboard("approve", "c5", key, "--reviewer", "bob", cwd=tmp_path)
    assert again.returncode == 2
    assert "was already approved by ana" in again.stderr
    rows = json.loads(slateboard("audit", "c5", "--json", cwd=tmp_path).stdout)
    kinds = [row["kind"] for row in rows]
    assert kinds.count("slateboard.Commit") == 1
    decision = next(row for row in rows if row["kind"] == "slateboard.ApprovalDecision")
    assert decision["author"] == "ana"
    assert decision["payload"]["edits"] == {"Email": "Sent by Ana"}


def test_a_rejection_needs_a_reason_and_ends_the_case_rejected(tmp_path: Path) -> None:
    waiting = slateboard("demo", "--board", "c6", "--variant", "approval", cwd=tmp_path)
    key = next(x for x in waiting.stdout.splitlines() if x.startswith("waiting for a person")).split()[5].rstrip(":")
    empty = slateboard("reject", "c6", key, "--reviewer", "ana", "--reason", " ", cwd=tmp_path)
    assert empty.returncode == 2
    assert "reason must be a non-empty string" in empty.stderr
    rejected = slateboard("reject", "c6", key, "--reviewer", "ana", "--reason", "wrong product line", cwd=tmp_path)
    assert "outcome: rejected" in rejected.stdout
    assert "rejected by ana: wrong product line" in rejected.stdout
    unknown = slateboard("approve", "c6", "pk-nope", "--reviewer", "ana", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "no live proposal has this key" in unknown.stderr


def test_audit_json_is_the_full_history(tmp_path: Path) -> None:
    slateboard("demo", "--board", "c1", cwd=tmp_path)
    result = slateboard("audit", "c1", "--json", cwd=tmp_path)
    rows = json.loads(result.stdout)
    assert [row["version"] for row in rows] == list(range(1, 17))
    entitlement = next(row for row in rows if row["kind"] == "demo.Entitlement")
    assert entitlement["payload"]["entitled"] is True
    assert entitlement["author"] == "entitlement"
    assert rows[13]["payload"]["status"] == "sufficient"
    assert [row["kind"] for row in rows[14:]] == ["slateboard.Verdict", "slateboard.Commit"]


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
