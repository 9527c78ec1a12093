"""`slateboard mcp`: the store's boards as an MCP server over stdio, in a real subprocess, driven by the official
client; and the same server's tools registered in a ToolRegistry as read tools (MCP tools as registry tools)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from slateboard import Blackboard, Citation, ToolRegistry, scenarios
from slateboard.commit.mcp_tools import McpResult, add_mcp_tools
from slateboard.errors import ToolDeniedError, ToolError

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio"]), pytest.mark.slow]


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'boards.db'}"
    with Blackboard.open(url) as bb:
        assert scenarios.get("support-case").run_sync(bb, board="waiting").ok
        assert scenarios.get("support-case", "conflict").run_sync(bb, board="escalated").ok
    return url


def server(url: str) -> Client:
    command = StdioServerParameters(command=sys.executable, args=["-m", "slateboard.cli", "mcp", "--db", url])
    return Client(command)


def entries(url: str) -> int:
    with Blackboard.open(url) as bb:
        return sum(len(bb.store.read(name, after=0, upto=None, wait=True)) for name in bb.boards())


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result
    return result.structured_content["result"]


async def test_the_server_serves_boards_findings_timeline_decisions_and_waiting_approvals(store: str) -> None:
    before = entries(store)
    with anyio.fail_after(60):
        async with server(store) as client:
            listed = {t.name for t in (await client.list_tools()).tools}
            assert listed == {"boards", "findings", "timeline", "decisions", "approvals"}
            boards = {b["board"]: b for b in await call(client, "boards")}
            assert (boards["waiting"]["status"], boards["waiting"]["waiting"]) == ("awaiting_approval", 1)
            assert boards["escalated"]["status"] == "escalated"
            (entitlement,) = await call(client, "findings", board="waiting", kind="support.Entitlement")
            assert (entitlement["author"], entitlement["payload"]["entitled"]) == ("entitlement", True)
            decisions = await call(client, "decisions", board="escalated")
            assert decisions[-1]["payload"]["status"] == "escalate"
            assert "entitlement contradicts a policy exception" in json.dumps(decisions[-1]["payload"]["reasons"])
            timeline = await call(client, "timeline", board="waiting")
            assert [e["version"] for e in timeline] == list(range(1, len(timeline) + 1))
            (waiting,) = await call(client, "approvals")
            assert (waiting["board"], waiting["action"]) == ("waiting", "send_reply")
            assert waiting["reason"].startswith("require_approval")
            failed = await client.call_tool("findings", {"board": "nope"})
            assert failed.is_error
    assert entries(store) == before  # read-only: nothing was written


async def test_mcp_tools_become_registry_tools_with_scopes_and_citations(store: str) -> None:
    registry = ToolRegistry()
    with anyio.fail_after(60):
        async with server(store) as client:
            added = await add_mcp_tools(
                registry, client, scopes=["agent:assistant"], prefix="slateboard.", names=["approvals", "findings"]
            )
            assert [t.name for t in added] == ["slateboard.approvals", "slateboard.findings"]
            assert added[1].input.model_json_schema()["properties"]["board"]["type"] == "string"
            reader = registry.reader("assistant")
            found = await reader.read("slateboard.approvals", {"board": "waiting"})
            assert isinstance(found, McpResult)
            assert found.structured["result"][0]["action"] == "send_reply"  # type: ignore[call-overload,index]
            assert reader.citations == (
                Citation(source="tool:slateboard.approvals", locator='{"board":"waiting"}', approved=False),
            )
            with pytest.raises(ToolDeniedError):
                await registry.reader("intruder").read("slateboard.findings", {"board": "waiting"})
            with pytest.raises(ToolError, match="gave up after 3 attempt"):
                await reader.read("slateboard.findings", {"board": "nope"})  # the server's error, retried
            assert registry.dead_letters[-1].tool == "slateboard.findings"
            with pytest.raises(ToolError, match="offers no such tool"):
                await add_mcp_tools(registry, client, scopes=["*"], names=["write_everything"])
