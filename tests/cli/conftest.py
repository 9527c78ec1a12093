"""The `slateboard` command in-process: `main(args)` with stdout and stderr captured, in a fresh directory, so the
embedded SQLite default (`./slateboard.db`) is each test's own."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from slateboard.cli import main


@dataclass(frozen=True)
class Result:
    """What one command did: its exit code and everything it printed."""

    code: int
    stdout: str
    stderr: str

    @property
    def waiting_key(self) -> str:
        """The first key printed as `waiting for a person: key KEY: ...`."""
        line = next(x for x in self.stdout.splitlines() if x.startswith("waiting for a person: key "))
        return line.split()[5].rstrip(":")


Invoke = Callable[..., Result]


@pytest.fixture
def slateboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Invoke:
    """`slateboard("run", "support-case")`: the command line as the console script runs it, minus the process."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLATEBOARD_DB", raising=False)

    def invoke(*args: str) -> Result:
        capsys.readouterr()  # what the test printed before is not the command's
        with pytest.raises(SystemExit) as exited:  # main always exits, as the console script does
            main(list(args))
        out, err = capsys.readouterr()
        code = exited.value.code
        return Result(0 if code is None else code if isinstance(code, int) else 1, out, err)

    return invoke
