"""The command as a whole: its help, and every error as one line on stderr with exit code 2, never a traceback."""

from tests.cli.conftest import Invoke


def test_errors_are_one_line_without_a_traceback(slateboard: Invoke) -> None:
    for args, message in (
        (("audit", "missing"), "board 'missing' has no entries"),
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
