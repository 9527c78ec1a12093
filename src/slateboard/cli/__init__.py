"""The `slateboard` command (Typer + Rich): `slateboard --help`.

`main` is the console script; `app` the Typer app, for embedding or testing in-process.
"""

from slateboard.cli.entry import app, main

__all__ = ("app", "main")
