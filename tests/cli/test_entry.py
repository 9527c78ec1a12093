"""The command as a whole: its help, and every error as one line on stderr with exit code 2, never a traceback."""

import json
import runpy
import sys
from pathlib import Path

import pytest
import typer

from slateboard import cli, scenarios
from tests.cli.conftest import Invoke


def test_errors_are_one_line_without_a_traceback(slateboard: Invoke) -> None:
    for args, message in (
        (("audit", "missing"), "slateboard.db does not exist (a read-only open creates nothing)"),
        (("boards", "--db", "sqlite:///no/dir/x.db"), "directory no/dir does not exist"),
        (("verify", "--db", "mysql://x"), "is not understood"),
        (("audit",), "Missing argument 'board'. (see slateboard audit --help)"),
        (("replay", "b", "--bogus"), "No such option: --bogus (see slateboard replay --help)"),
        (("sideways",), "No such command 'sideways'. (see slateboard --help)"),
        (("bench", "--cases", "0"), "bench needs cases >= 1 and concurrency >= 1, got 0 and 8"),
    ):
        result = slateboard(*args)
        assert result.code == 2, args
        assert result.stderr.startswith("error: "), args
        assert message in result.stderr, args
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stdout == ""


def test_markup_and_emoji_codes_in_a_message_are_printed_as_written(slateboard: Invoke) -> None:
    failed = slateboard("run", "pkg_not_here:x:[bold]y")
    assert failed.code == 2
    assert failed.stderr.startswith("error: pkg_not_here:x:[bold]y: cannot load the scenario (No module named ")


def test_help_lists_the_commands_in_order_and_hides_the_deprecated_one(slateboard: Invoke) -> None:
    listed = slateboard("--help")
    assert listed.code == 0
    names = [line.split()[1] for line in listed.stdout.splitlines() if line.startswith("│ ") and "  " in line[2:12]]
    order = ["run", "list", "graph", "approve", "reject", "audit", "replay", "verify", "boards", "metrics", "bench"]
    assert [n for n in names if n in order] == order
    assert "demo" not in names
    bare = slateboard()
    assert bare.code == 2  # no command: the help, as Typer prints it for a missing command
    assert "Usage: slateboard" in bare.stdout + bare.stderr
    assert "--scenario" in slateboard("approve", "--help").stdout


def test_an_abort_is_one_line_too(slateboard: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object) -> None:
        raise typer.Abort  # what Typer raises when a person interrupts a prompt

    monkeypatch.setattr(scenarios, "resolve", interrupted)
    result = slateboard("run", "support-case")
    assert (result.code, result.stderr) == (2, "error: aborted\n")


def test_python_dash_m_slateboard_cli_is_the_same_command(
    slateboard: Invoke, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["slateboard", "list", "--json"])
    with pytest.raises(SystemExit) as exited:
        # What `python -m slateboard.cli` executes (run by path: pytest's import hook owns the package's modules).
        runpy.run_path(str(Path(cli.__file__).parent / "__main__.py"), run_name="__main__")
    assert exited.value.code == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "support-case"
