"""Fuzzing the command line: whatever the arguments, `slateboard` exits 0, or 2 with one `error: ...` line on stderr
that shows the user's text as written (no Rich markup, no emoji code, no terminal control character acted on) and
no traceback."""

import contextlib
import io

from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from slateboard.cli.entry import app, main
from slateboard.errors import SlateboardError
from tests.fuzz.budget import fuzz

HOSTILE = st.one_of(
    st.sampled_from(
        [
            "[bold red]boom[/]",
            ":smile:",
            ":thumbs_up:",
            "\\[x]",
            "x\\",
            "\x1b[2J",
            "\u202eevil",
            "[/]",
            "[link=file:///etc/passwd]x[/link]",
        ]
    ),
    st.text(max_size=15),
)
COMMANDS = st.sampled_from(
    [
        lambda text: ["run", text],
        lambda text: ["audit", text, "--db", "memory://"],
        lambda text: ["verify", "--db", text],
        lambda text: ["replay", text, "--db", "memory://"],
        lambda text: ["metrics", "--db", text],
        lambda text: ["graph", text],
        lambda text: ["run", "support-case", "--variant", text],
        lambda text: [text],
        lambda text: ["run", f"--{text}"],
    ]
)


def invoke(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(args)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        else:
            code = 0
    return code, err.getvalue()


@fuzz(30)
@given(COMMANDS, HOSTILE)
def test_an_error_line_shows_the_users_text_as_written(command: object, text: str) -> None:
    args = command(text)  # type: ignore[operator]
    code, err = invoke(args)
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("error: "), err
        assert err.count("\n") == 1, err  # one line
        assert "\x1b" not in err  # shown as escapes, never sent to the terminal
        assert "\u202e" not in err
        assert "unexpected " not in err, err  # a bug would say "unexpected TypeError: ..."


def test_markup_and_emoji_codes_in_an_argument_print_as_written() -> None:
    code, err = invoke(["audit", "[bold]x[/bold] :smile:", "--db", "memory://"])
    assert code == 2
    assert "[bold]x[/bold] :smile:" in err
    assert "😄" not in err


def test_a_terminal_escape_in_an_argument_is_shown_not_sent() -> None:
    code, err = invoke(["audit", "x\x1b[2Jy", "--db", "memory://"])
    assert code == 2
    assert "\x1b" not in err
    assert "x\\x1b[2Jy" in err


@fuzz(25)
@given(COMMANDS, HOSTILE)
def test_through_typers_runner_a_command_raises_only_slateboard_errors(command: object, text: str) -> None:
    """The commands themselves (Typer's CliRunner, without `main`'s one-line handler): a usage error exits 2,
    anything else wrong is a SlateboardError, never another exception."""
    result = CliRunner().invoke(app, command(text))  # type: ignore[operator]
    assert result.exception is None or isinstance(result.exception, SystemExit | SlateboardError), result.exception
