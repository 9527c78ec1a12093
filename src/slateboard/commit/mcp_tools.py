"""MCP tools as registry tools: the tools an MCP server offers, called through the `ToolRegistry`'s scopes, rate
limits, timeouts, retries and dead letters like any other.

```python
from mcp import Client
from mcp.client.stdio import StdioServerParameters

async with Client(StdioServerParameters(command="crm-mcp-server")) as client:
    await add_mcp_tools(registry, client, scopes=["agent:entitlement"], prefix="crm.", approved=True)
    reader = registry.reader("entitlement")
    found = await reader.read("crm.get_contract", {"account": "ACME"})   # an McpResult; cited as tool:crm.get_contract
```

The client is anything with the official SDK client's `list_tools()` and `call_tool(name, arguments)` (a typed
protocol: this module does not import `mcp`). A tool's input schema is the one the server declares, shown as is to
a model; its output is an `McpResult`: the text parts and the structured content. An answer the server marks as an
error raises `ToolError`, so the registry retries it and dead-letters it in the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, JsonValue

from slateboard.commit.tools import RateLimit, Retry, Tool, ToolMode, ToolRegistry
from slateboard.errors import ToolError

__all__ = ("McpArguments", "McpClient", "McpResult", "add_mcp_tools")


class McpClient(Protocol):
    """What the registry needs of an MCP client session (`mcp.Client` has it)."""

    async def list_tools(self) -> Any: ...
    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> Any: ...


class McpArguments(BaseModel):
    """A call's arguments, checked by the MCP server against the schema it declared (kept in `mcp_schema`)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    mcp_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The server's own input schema, as a model calling the tool should see it."""
        return dict(cls.mcp_schema)


class McpResult(BaseModel):
    """What an MCP tool answered: its text parts and its structured content, if any."""

    model_config = ConfigDict(frozen=True)
    text: tuple[str, ...] = ()
    structured: JsonValue = None


def _arguments(name: str, schema: dict[str, Any]) -> type[McpArguments]:
    return type(f"{name}Arguments", (McpArguments,), {"mcp_schema": schema, "__doc__": f"Arguments of {name}."})


def _call(client: McpClient, name: str) -> Any:
    async def call(args: McpArguments) -> McpResult:
        result = await client.call_tool(name, args.model_dump())
        texts = tuple(str(part.text) for part in result.content if getattr(part, "type", "") == "text")
        if result.is_error:
            raise ToolError(name, f"the MCP server answered with an error: {' '.join(texts) or 'no detail'}")
        return McpResult(text=texts, structured=result.structured_content)

    return call


async def add_mcp_tools(
    registry: ToolRegistry,
    client: McpClient,
    *,
    scopes: Iterable[str],
    prefix: str = "",
    names: Sequence[str] | None = None,
    mode: ToolMode = "read",
    target: str | None = None,
    idempotent: bool = False,
    rate: RateLimit | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109 - each registered tool's timeout per call, not this function's
    retry: Retry | None = None,
    approved: bool = False,
) -> tuple[Tool, ...]:
    """Register the tools `client`'s server lists (only `names`, when given) as `prefix + name`, with the options
    of `ToolRegistry.tool`; the registered tools. A name asked for that the server does not list is a `ToolError`."""
    listed = (await client.list_tools()).tools
    offered = {tool.name: tool for tool in listed}
    missing = [n for n in names or () if n not in offered]
    if missing:
        raise ToolError(missing[0], f"the MCP server offers no such tool; it offers: {', '.join(offered) or 'none'}")
    added = []
    for name in names or list(offered):
        declared = offered[name]
        added.append(
            registry.add(
                Tool(
                    f"{prefix}{name}",
                    _call(client, name),
                    input=_arguments(name, dict(declared.input_schema or {"type": "object"})),
                    output=McpResult,
                    mode=mode,
                    target=target,
                    scopes=tuple(scopes),
                    idempotent=idempotent,
                    rate=rate,
                    timeout=timeout,
                    retry=retry or Retry(),
                    approved=approved,
                    description=declared.description or "",
                )
            )
        )
    return tuple(added)
