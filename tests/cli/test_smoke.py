"""The installed `slateboard` console script as a real process: the first run on a fresh SQLite file, and an error.

Every other CLI test runs the same `main` in-process; these two check what only a process shows: the entry point
is installed, it exits with the code `main` chose, and stdout and stderr are the process's own.
"""

import subprocess
import sys
from pathlib import Path

SLATEBOARD = Path(sys.executable).parent / "slateboard"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert SLATEBOARD.is_file(), f"no console script at {SLATEBOARD}: pip install -e . into this interpreter's env"
    return subprocess.run([str(SLATEBOARD), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_the_first_run_succeeds_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    result = _run("run", "support-case", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "slateboard.db").is_file()
    assert result.stdout.startswith("support-case on board support-case (sqlite:///slateboard.db)\n")
    assert "outcome: awaiting_approval at v22" in result.stdout
    assert "verify: OK: 26 entries" in result.stdout
    assert result.stderr == ""


def test_an_error_is_one_line_on_stderr_with_exit_code_2(tmp_path: Path) -> None:
    result = _run("audit", "missing", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "error: slateboard.db does not exist (a read-only open creates nothing) (store sqlite:///slateboard.db)\n"
    )
    assert not (tmp_path / "slateboard.db").exists()  # a read-only command creates nothing
    assert result.stdout == ""
