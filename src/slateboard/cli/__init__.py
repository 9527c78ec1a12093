"""The `slateboard` command (Typer + Rich): `slateboard --help`."""

from slateboard.cli.commands import app, main

__all__ = ("app", "main")
