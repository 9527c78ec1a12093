"""`slateboard mcp --db URL`: the store's boards, read-only, as an MCP server over stdio (the `mcp` extra).

An assistant connected to it can list the boards, read a board's findings, timeline and decisions, and see the
proposals waiting for a person's approval, all from the stored rows (`slateboard.observe`), so finding kinds need
not be importable. Nothing it offers writes: approving stays with `slateboard approve` and the review page.
"""

from __future__ import annotations

from typing import Any

from slateboard.blackboard.board import Blackboard
from slateboard.cli.options import DbOption, store_url
from slateboard.errors import ConfigurationError
from slateboard.observe.audit import AuditEvent, board_audit
from slateboard.observe.boards import board_summaries
from slateboard.observe.rows import board_rows, key_book

__all__ = ("build_server", "mcp", "FINDING_EVENTS")

FINDING_EVENTS = frozenset({"input", "finding", "proposal"})
_INSTRUCTIONS = (
    "Read-only access to slateboard boards: typed findings written by agents, the controller's decisions and the "
    "proposals waiting for a person's approval. Start with `boards`; name a board in the other tools."
)


def _event(event: AuditEvent) -> dict[str, Any]:
    return event.model_dump(mode="json", exclude={"hash"})


def build_server(blackboard: Blackboard) -> Any:
    """The MCP server over `blackboard` (an `mcp.server.mcpserver.MCPServer`; typed loosely: the extra is optional)."""
    try:
        from mcp.server.mcpserver import MCPServer  # noqa: PLC0415 - the mcp extra is optional
    except ImportError as exc:
        raise ConfigurationError(f"slateboard mcp needs the mcp extra (pip install 'slateboard[mcp]'): {exc}") from exc
    server = MCPServer("slateboard", instructions=_INSTRUCTIONS)

    @server.tool()
    def boards() -> list[dict[str, Any]]:
        """Every board of the store: its entries, the scenario that ran it, its status, keys waiting and committed."""
        return [summary.model_dump(mode="json") for summary in board_summaries(blackboard)]

    @server.tool()
    def findings(board: str, kind: str | None = None) -> list[dict[str, Any]]:
        """The findings, inputs and proposals on `board` in log order (only those of `kind`, e.g. "support.Intake",
        when given): version, kind, author and fields, with their citations."""
        events = board_audit(blackboard, board).timeline
        return [_event(e) for e in events if e.type in FINDING_EVENTS and (kind is None or e.kind == kind)]

    @server.tool()
    def timeline(board: str) -> list[dict[str, Any]]:
        """Every entry of `board` in log order: what each agent read and wrote, decisions, verdicts, commits."""
        return [_event(e) for e in board_audit(blackboard, board).timeline]

    @server.tool()
    def decisions(board: str) -> list[dict[str, Any]]:
        """The controller's decisions on `board`, oldest first: status, reasons (rule, message) and agenda."""
        return [_event(e) for e in board_audit(blackboard, board).timeline if e.type == "decision"]

    @server.tool()
    def approvals(board: str | None = None) -> list[dict[str, Any]]:
        """The proposals waiting for a person's approval, on `board` or on every board: key, action, target,
        changes, confidence, citations and why they wait."""
        names = [board] if board else blackboard.boards()
        return [item for name in names for item in _waiting(blackboard, name)]

    return server


def _waiting(blackboard: Blackboard, board: str) -> list[dict[str, Any]]:
    found = []
    for state in key_book(board_rows(blackboard, board)).live():
        if state.status == "awaiting_approval" and state.request is not None:
            found.append({"board": board, **state.request.model_dump(mode="json")})
    return found


def mcp(db: DbOption = "") -> None:
    """Serve the store's boards read-only over MCP on stdio: findings, timeline, decisions, waiting approvals."""
    with Blackboard.open(store_url(db)) as blackboard:
        build_server(blackboard).run("stdio")
