"""Signed heads on the command line: `verify BOARD --export-head FILE --key KEY`, `verify --head FILE
--public-key KEY` and `keygen KEY` (docs/signed-heads.md).

Exit codes as for `verify`: 1 when the board is tampered with (truncated or rewritten since the head was signed),
2 for an unusable head file or key (the error names the file and the field).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from slateboard._internal.sync import run_sync
from slateboard.blackboard import Blackboard
from slateboard.cli.console import console, print_json
from slateboard.cli.console import shown as escape
from slateboard.cli.options import FLAG
from slateboard.errors import ConfigurationError, TamperedLogError
from slateboard.observe import heads

__all__ = ("export", "check", "keygen", "signed_heads", "HeadOptions")


class HeadOptions:
    """What `verify` was given for signed heads: an export (`export_to` and `key`) or a check (`head` and
    `public_key`), never both; `active` when either was asked for."""

    def __init__(self, export_to: Path | None, key: Path | None, head: Path | None, public_key: Path | None) -> None:
        if (export_to is None) != (key is None):
            raise ConfigurationError("verify: --export-head FILE and --key KEYFILE go together")
        if (head is None) != (public_key is None):
            raise ConfigurationError("verify: --head FILE and --public-key KEYFILE go together")
        if export_to is not None and head is not None:
            raise ConfigurationError("verify: either export a head (--export-head) or check one (--head), not both")
        self.export_to, self.key, self.head, self.public_key = export_to, key, head, public_key

    @property
    def active(self) -> bool:
        return self.export_to is not None or self.head is not None


def signed_heads(blackboard: Blackboard, board: str | None, options: HeadOptions, *, as_json: bool) -> None:
    """`verify`'s signed-head work: the export or the check that `options` ask for."""
    (export if options.export_to is not None else check)(blackboard, board, options, as_json=as_json)


def export(blackboard: Blackboard, board: str | None, options: HeadOptions, *, as_json: bool) -> None:
    """Verify `board` and write its signed head; exit 1 (writing nothing) when its chain is tampered with."""
    if board is None:
        raise ConfigurationError("verify --export-head: name the board whose head to export (verify BOARD ...)")
    if options.export_to is None or options.key is None:
        raise ConfigurationError("verify --export-head needs --key KEYFILE")
    if board not in blackboard.boards():
        raise ConfigurationError(f"verify --export-head: board {board!r} has no entries in {blackboard.url}")
    try:
        signed = run_sync(heads.export_head, blackboard.board(board), options.key, options.export_to)
    except TamperedLogError as exc:
        _tampered(exc, as_json=as_json)
    if as_json:
        print_json({"ok": True, "exported": str(options.export_to), "head": signed.model_dump(mode="json")})
        return
    console().print(
        f"[green]OK[/green]  {escape(signed.board)}: {signed.version} entries, head {signed.hash}; "
        f"signed head (key {signed.key_id}) written to {escape(str(options.export_to))}"
    )


def check(blackboard: Blackboard, board: str | None, options: HeadOptions, *, as_json: bool) -> None:
    """Check the signed head's signature, then `board` (default: the head's own) against it; exit 1 when the board
    was truncated or rewritten since."""
    if options.head is None or options.public_key is None:
        raise ConfigurationError("verify --head needs --public-key KEYFILE")
    signed = heads.read_head(options.head)
    name = board or signed.board  # a board the store does not hold reads as truncated to nothing
    try:
        head = run_sync(heads.verify_head, blackboard.board(name), options.head, options.public_key)
    except TamperedLogError as exc:
        _tampered(exc, as_json=as_json)
    if as_json:
        print_json({"ok": True, "signed": signed.model_dump(mode="json"), "head": head.model_dump()})
        return
    console().print(
        f"[green]OK[/green]  {escape(head.board)}: {head.version} entries, head {head.hash}; holds the head signed "
        f"at {signed.exported_at.isoformat()} (version {signed.version}, key {signed.key_id})"
    )


def _tampered(exc: TamperedLogError, *, as_json: bool) -> None:
    if as_json:
        print_json({"ok": False, "tampered": [{"board": exc.board, "version": exc.version, "reason": exc.reason}]})
    else:
        console().print(f"[red]TAMPERED[/red]  {escape(str(exc))}")
    raise typer.Exit(1)


def keygen(
    key: Annotated[Path, typer.Argument(metavar="KEYFILE", help="Where to write the private key (mode 0600).")],
    public: Annotated[
        Path | None, typer.Option("--public", metavar="FILE", help="The public key's file; default KEYFILE.pub.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", metavar=FLAG, help="Overwrite existing key files.")] = False,
) -> None:
    """Make an Ed25519 key pair for signed board heads: the private key (keep it away from the store's writers)
    signs with `verify BOARD --export-head FILE --key KEYFILE`; the public one checks with `--public-key`."""
    private_path, public_path = heads.generate_key(key, public, force=force)
    out = console()
    out.print(f"private key written to {escape(str(private_path))} (mode 0600)")
    out.print(f"public key written to {escape(str(public_path))}")
