"""`slateboard run` and `slateboard list`, as real processes on the embedded SQLite default."""

import json
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


def test_run_prints_a_readable_account_and_resumes_without_redoing_anything(tmp_path: Path) -> None:
    result = slateboard("run", "support-case", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "slateboard.db").is_file()
    for expected in (
        "support-case on board support-case",
        "run      knowledge on 'support-case', attempt 1: ok",
        "verdict  allow for update Case/support-case",
        "verdict  needs_approval for send_reply",
        "commit   update Case/support-case to support_cases",
        "outcome: awaiting_approval",
        "waiting for a person: key pk-",
        "6 decision(s) and 2 verdict(s), all identical",
        "verify: OK: 26 entries",
    ):
        assert expected in result.stdout, expected
    again = slateboard("run", "support-case", cwd=tmp_path)
    assert "verify: OK: 26 entries" in again.stdout


def test_run_json_then_approve_commits_the_reply_once(tmp_path: Path) -> None:
    document = json.loads(slateboard("run", "support-case", "--board", "c7", "--json", cwd=tmp_path).stdout)
    assert document["ok"] is True
    assert document["outcome"]["status"] == "awaiting_approval"
    key = document["outcome"]["approvals"][0]["key"]
    approved = slateboard("approve", "c7", key, "--reviewer", "ana", cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert "outcome: committed" in approved.stdout
    assert '"revision": 1' in approved.stdout
    again = slateboard("approve", "c7", key, "--reviewer", "ana", cwd=tmp_path)
    assert again.returncode == 2
    assert "was already approved by ana" in again.stderr


def test_variants_list_and_errors(tmp_path: Path) -> None:
    conflict = slateboard("run", "support-case/conflict", cwd=tmp_path)
    assert "outcome: escalated" in conflict.stdout
    assert "entitlement contradicts a policy exception" in conflict.stdout
    listed = json.loads(slateboard("list", "--json", cwd=tmp_path).stdout)
    assert listed[0]["name"] == "support-case"
    assert "policy-conflict" in listed[0]["variants"]
    for args, message in (
        (("run", "nope"), "no built-in scenario 'nope'"),
        (("run", "support-case", "--variant", "sideways"), "has no variant 'sideways'"),
        (("approve", "missing", "pk-1", "--reviewer", "ana"), "board 'missing' has no entries"),
    ):
        failed = slateboard(*args, cwd=tmp_path)
        assert failed.returncode == 2
        assert message in failed.stderr
        assert "Traceback" not in failed.stderr
