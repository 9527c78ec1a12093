"""The tool registry: every call to an outside system, for writing or for reading, goes through one place.

```python
registry = ToolRegistry()

@registry.tool(mode="write", target="Ticket/", scopes=["action:open_ticket"], idempotent=True,
               rate=RateLimit(calls=5, per=1.0), timeout=2.0, retry=Retry(attempts=3, backoff=0.1))
async def open_ticket(args: TicketIn, call: ToolCall) -> TicketOut:   # input and output schemas: pydantic models
    return await ticketing.create(args, idempotency_key=call.key)

@registry.tool(scopes=["agent:crm"], rate=RateLimit(calls=10, per=1.0), approved=True)
def crm_order(args: OrderQuery) -> OrderRecord: ...                    # a read tool (the default mode)

controller = Controller(agents=..., sink=registry)   # proposals on "Ticket/..." commit through open_ticket
```

A tool declares its input and output schemas (its annotations), who may call it (`scopes`: patterns matched
against "agent:<name>" for reads and "action:<action>" for commits), whether it honours the idempotency key
(`idempotent`: its system ignores a key it has seen, so a call whose outcome is unknown may be repeated), a rate
limit, a timeout per call and a retry policy. The registry is a `CommitLayer`: a commit keeps the ledger's
guarantees (at most once per key, in doubt rather than repeated when a non-idempotent tool timed out after it
started), under the tool's own retry policy; a call that exhausts its retries is dead-lettered, in the ledger and
in `registry.dead_letters`. Reads go through `registry.reader(agent)`, whose `citations` are exactly the sources
its tools returned: what an agent cites is what it read.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
import threading
import typing
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, TypeVar

import anyio
import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from slateboard._internal.sync import sync_twin
from slateboard.blackboard.board import Board
from slateboard.blackboard.records import Citation
from slateboard.commit.calls import error_text
from slateboard.commit.layer import CallPlan, CommitLayer, Settled
from slateboard.errors import CommitError, ConfigurationError, ToolDeniedError, ToolError, ToolRateLimitedError
from slateboard.state.proposal import Proposal
from slateboard.state.records import CommitFailure

__all__ = ("ToolRegistry", "Tool", "ToolCall", "RateLimit", "Retry", "DeadLetter", "Reader", "ToolMode")

ToolMode = Literal["read", "write"]
M = TypeVar("M", bound=BaseModel)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RateLimit(_Frozen):
    """At most `calls` calls start in any `per` seconds; a caller waits for a free slot, or fails after
    `max_wait` seconds (None: waits as long as it takes)."""

    calls: int = Field(ge=1)
    per: float = Field(gt=0)
    max_wait: float | None = Field(default=None, ge=0)


class Retry(_Frozen):
    """`attempts` calls at most (the first included), `backoff` seconds before the second, doubling after."""

    attempts: int = Field(default=3, ge=1)
    backoff: float = Field(default=0.05, ge=0)


class ToolCall(_Frozen):
    """What a tool's function is told about its call: who calls, under which key, which attempt, and for a commit
    the proposal being applied."""

    tool: str
    caller: str
    key: str | None = None
    attempt: int = 1
    proposal: Proposal | None = None


class DeadLetter(_Frozen):
    """A call that exhausted its retries: the tool, the caller, the key, what was sent and the last error."""

    tool: str
    caller: str
    key: str | None
    input: dict[str, JsonValue]
    error: str
    attempts: int


@dataclass(frozen=True, eq=False)
class Tool:
    """One declared tool (see the module docstring); made by `ToolRegistry.tool` or `Tool.of`."""

    name: str
    fn: Callable[..., Any]
    input: type[BaseModel]
    output: type[BaseModel]
    mode: ToolMode = "read"
    target: str | None = None
    scopes: tuple[str, ...] = ()
    idempotent: bool = False
    rate: RateLimit | None = None
    timeout: float = 30.0
    retry: Retry = field(default_factory=Retry)
    approved: bool = False
    description: str = ""
    takes_call: bool = field(init=False)
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "takes_call", len(inspect.signature(self.fn).parameters) >= 2)
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.fn))

    @classmethod
    def of(cls, fn: Callable[..., Any], **options: Any) -> Tool:
        """A tool from `fn(args: In[, call: ToolCall]) -> Out`; its schemas are its annotations."""
        name = options.pop("name", None) or getattr(fn, "__name__", "")
        hints = _hints(name, fn)
        params = list(inspect.signature(fn).parameters)
        if not params or len(params) > 2 or not _is_model(hints.get(params[0])):
            raise ConfigurationError(f"tool {name!r}: its first parameter must be annotated with a pydantic model")
        if not _is_model(hints.get("return")):
            raise ConfigurationError(f"tool {name!r}: its return annotation must be a pydantic model (its output)")
        tool = cls(name, fn, hints[params[0]], hints["return"], description=inspect.getdoc(fn) or "", **options)
        tool.check()
        return tool

    def check(self) -> None:
        """Refuse a declaration that cannot work, naming the tool and the option."""
        if not self.name or not self.name.isprintable():
            raise ConfigurationError(f"tool {self.fn!r} needs a name")
        if self.mode == "write" and self.target is None:
            raise ConfigurationError(f"tool {self.name!r}: a write tool names the target prefix it commits to")
        if self.mode == "read" and self.target is not None:
            raise ConfigurationError(f"tool {self.name!r}: a read tool commits nothing, so it takes no target")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float) or self.timeout <= 0:
            raise ConfigurationError(f"tool {self.name!r}: timeout must be a positive number, got {self.timeout!r}")

    def allows(self, caller: str) -> bool:
        """Whether `caller` ("agent:<name>" or "action:<action>") matches one of the tool's scopes."""
        return any(fnmatch.fnmatchcase(caller, scope) for scope in self.scopes)

    def cite(self, args: BaseModel) -> Citation:
        """The citation a read of this tool with `args` gives: the tool and what was asked, approved only if the
        tool's declaration says its answers are fit for customer-facing use."""
        return Citation(source=f"tool:{self.name}", locator=_canonical(args), approved=self.approved)


def _hints(name: str, fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception as exc:
        raise ConfigurationError(f"tool {name!r}: cannot resolve its annotations ({exc})") from exc


def _is_model(hint: object) -> bool:
    return isinstance(hint, type) and issubclass(hint, BaseModel)


def _fits(tool: Tool, changes: dict[str, Any]) -> bool:
    try:
        tool.input.model_validate(changes)
    except ValidationError:
        return False
    return True


def _canonical(args: BaseModel) -> str:
    return json.dumps(args.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _Window:
    """A sliding-window rate limit: each call reserves its start time first, so no `per` window holds more than
    `calls` starts, whatever the interleaving of callers (a reservation never awaits)."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()  # the registry may be shared by event loops in several threads

    def reserve(self, now: float) -> float:
        """Reserve the next free start time; the seconds to wait for it."""
        with self._lock:
            while self._starts and self._starts[0] <= now - self.limit.per:
                self._starts.popleft()
            start = max(now, self._starts[-1]) if self._starts else now
            if len(self._starts) >= self.limit.calls:
                start = max(start, self._starts[-self.limit.calls] + self.limit.per)
            wait = start - now
            if self.limit.max_wait is not None and wait > self.limit.max_wait:
                return -wait  # refused: nothing reserved
            self._starts.append(start)
            return wait


class ToolRegistry(CommitLayer):
    """The registry of tools, and the commit layer for proposals whose target a write tool covers.

    `lock_wait` and `lease` are the commit layer's (see `CommitLayer`); attempts, backoff and timeout are each
    tool's own. Register every tool before a controller uses the registry.
    """

    def __init__(self, *, name: str = "tool-registry", lock_wait: float = 10.0, lease: float = 300.0) -> None:
        self.name = name
        self._tools: dict[str, Tool] = {}
        self._windows: dict[str, _Window] = {}
        self.dead_letters: list[DeadLetter] = []
        super().__init__(_Dispatch(self), attempts=1, backoff=0, timeout=0, lock_wait=lock_wait, lease=lease)

    # --- declaring ---------------------------------------------------------------------------------------------

    def tool(
        self,
        *,
        name: str | None = None,
        mode: ToolMode = "read",
        target: str | None = None,
        scopes: Iterable[str],
        idempotent: bool = False,
        rate: RateLimit | None = None,
        timeout: float = 30.0,
        retry: Retry | None = None,
        approved: bool = False,
    ) -> Callable[[Callable[..., Any]], Tool]:
        """Declare a tool from a function (see the module docstring); the decorated name becomes the `Tool`."""

        def register(fn: Callable[..., Any]) -> Tool:
            return self.add(
                Tool.of(
                    fn,
                    name=name,
                    mode=mode,
                    target=target,
                    scopes=tuple(scopes),
                    idempotent=idempotent,
                    rate=rate,
                    timeout=timeout,
                    retry=retry or Retry(),
                    approved=approved,
                )
            )

        return register

    def add(self, tool: Tool) -> Tool:
        """Register `tool`; a second tool of the same name, or a second write tool for a target, is refused."""
        tool.check()
        if tool.name in self._tools:
            raise ConfigurationError(f"tool registry {self.name!r} already has a tool named {tool.name!r}")
        clash = [t.name for t in self.writers if t.target == tool.target and tool.mode == "write"]
        if clash:
            raise ConfigurationError(f"tools {clash[0]!r} and {tool.name!r} both commit to target {tool.target!r}")
        self._tools[tool.name] = tool
        if tool.rate is not None:
            self._windows[tool.name] = _Window(tool.rate)
        return tool

    @property
    def tools(self) -> tuple[Tool, ...]:
        """Every registered tool, in registration order."""
        return tuple(self._tools.values())

    @property
    def writers(self) -> tuple[Tool, ...]:
        """The write tools."""
        return tuple(t for t in self._tools.values() if t.mode == "write")

    def get(self, name: str) -> Tool:
        """The tool called `name`; a `ToolError` naming the registered ones otherwise."""
        found = self._tools.get(name)
        if found is None:
            raise ToolError(name, f"no such tool; registered: {', '.join(self._tools) or 'none'}")
        return found

    def writer_for(self, target: str) -> Tool | None:
        """The write tool whose target prefix is the longest that `target` starts with."""
        matching = [t for t in self.writers if t.target is not None and target.startswith(t.target)]
        return max(matching, key=lambda t: len(t.target or ""), default=None)

    # --- committing (the CommitLayer's side) ---------------------------------------------------------------------

    def plan(self, proposal: Proposal) -> CallPlan:
        """The tool's retry policy and idempotency for `proposal`; the tool bounds each call itself (timeout 0)."""
        tool = self.writer_for(proposal.target)
        if tool is None or not tool.allows(f"action:{proposal.action}") or not _fits(tool, proposal.changes):
            return CallPlan(1, 0.0, 0.0, False)  # apply refuses it, once: asking again would not change the answer
        return CallPlan(tool.retry.attempts, tool.retry.backoff, 0.0, tool.idempotent)

    @property
    def idempotent(self) -> bool:
        """Whether every write tool honours the idempotency key."""
        return bool(self.writers) and all(t.idempotent for t in self.writers)

    async def commit(self, board: Board, proposal: Proposal, key: str, version: int) -> Settled:
        """Commit `proposal` through its target's write tool; a key that exhausted its retries is dead-lettered."""
        settled = await super().commit(board, proposal, key, version)
        if isinstance(settled, CommitFailure) and settled.status == "dead":
            tool = self.writer_for(proposal.target)
            letter = DeadLetter(
                tool=tool.name if tool else "",
                caller=f"action:{proposal.action}",
                key=key,
                input=proposal.changes,
                error=settled.error,
                attempts=settled.attempts,
            )
            if letter not in self.dead_letters:
                self.dead_letters.append(letter)
        return settled

    async def _write(self, proposal: Proposal, key: str, *, attempt: int = 1) -> JsonValue:
        """One call of the write tool for `proposal` under `key` (no retry: the commit layer retries); its receipt,
        the tool's output as JSON. Tools' own errors pass through unchanged, as the ledger records them."""
        tool = self.writer_for(proposal.target)
        if tool is None:
            covered = ", ".join(t.target or "" for t in self.writers) or "none"
            raise CommitError(f"no tool is registered for target {proposal.target!r}; registered prefixes: {covered}")
        caller = f"action:{proposal.action}"
        self._check_scope(tool, caller)
        args = self._input(tool, proposal.changes)
        call = ToolCall(tool=tool.name, caller=caller, key=key, attempt=attempt, proposal=proposal)
        output = await self._invoke(tool, args, call)
        return output.model_dump(mode="json")

    # --- reading ---------------------------------------------------------------------------------------------------

    def reader(self, agent: str) -> Reader:
        """A reader for `agent`: its calls are scoped as "agent:<agent>" and it keeps what it read."""
        return Reader(self, agent)

    async def read(self, name: str, args: BaseModel | dict[str, Any], *, caller: str) -> BaseModel:
        """Call read tool `name` for `caller` ("agent:<name>"), retrying under its policy; its output."""
        tool = self.get(name)
        if tool.mode != "read":
            raise ToolError(name, "it is a write tool: it runs only through a commit")
        self._check_scope(tool, caller)
        validated = self._input(tool, args)
        error = ""
        for attempt in range(1, tool.retry.attempts + 1):
            if attempt > 1:
                await anyio.sleep(tool.retry.backoff * 2 ** (attempt - 2))
            call = ToolCall(tool=name, caller=caller, attempt=attempt)
            try:
                return await self._invoke(tool, validated, call)
            except ToolRateLimitedError:
                raise
            except Exception as exc:  # a read changes nothing outside: always safe to repeat
                error = error_text(exc)
        self.dead_letters.append(
            DeadLetter(
                tool=name,
                caller=caller,
                key=None,
                input=validated.model_dump(mode="json"),
                error=error,
                attempts=tool.retry.attempts,
            )
        )
        raise ToolError(name, f"gave up after {tool.retry.attempts} attempt(s): {error}")

    read_sync = sync_twin(read)

    # --- one call ---------------------------------------------------------------------------------------------------

    def _check_scope(self, tool: Tool, caller: str) -> None:
        if not tool.allows(caller):
            raise ToolDeniedError(tool.name, caller, tool.scopes)

    @staticmethod
    def _input(tool: Tool, args: BaseModel | dict[str, Any]) -> BaseModel:
        try:
            if isinstance(args, tool.input):
                return args
            return tool.input.model_validate(args.model_dump() if isinstance(args, BaseModel) else args)
        except ValidationError as exc:
            raise ToolError(tool.name, f"input does not match {tool.input.__name__}: {exc}") from exc

    async def _invoke(self, tool: Tool, args: BaseModel, call: ToolCall) -> BaseModel:
        """Wait for a rate slot, then call the tool within its timeout and check its output."""
        window = self._windows.get(tool.name)
        if window is not None:
            wait = window.reserve(anyio.current_time())
            if wait < 0:
                raise ToolRateLimitedError(tool.name, f"no call slot within {tool.rate and tool.rate.max_wait:g} s")
            await anyio.sleep(wait)
        arguments = (args, call) if tool.takes_call else (args,)
        try:
            with anyio.fail_after(tool.timeout):
                if tool.is_async:
                    result = await tool.fn(*arguments)
                else:  # a sync tool that overruns is abandoned; its outcome is unknown, as for an async one
                    result = await anyio.to_thread.run_sync(partial(tool.fn, *arguments), abandon_on_cancel=True)
        except TimeoutError:
            # Raised as TimeoutError: the commit layer then treats the outcome as unknown (repeat only if idempotent).
            raise TimeoutError(f"tool {tool.name!r}: no answer within {tool.timeout:g} s") from None
        try:
            return result if isinstance(result, tool.output) else tool.output.model_validate(result)
        except ValidationError as exc:
            raise ToolError(tool.name, f"its answer does not match {tool.output.__name__}: {exc}") from exc


class _Dispatch:
    """The sink inside the registry's commit layer: each proposal goes to the write tool for its target."""

    blocking = False

    def __init__(self, registry: ToolRegistry) -> None:
        self.registry = registry
        self.name = registry.name

    async def apply(self, proposal: Proposal, key: str) -> JsonValue:
        return await self.registry._write(proposal, key)


class Reader:
    """An agent's handle on the read tools: every read is scoped to the agent, and remembered as a source."""

    def __init__(self, registry: ToolRegistry, agent: str) -> None:
        self.registry = registry
        self.agent = agent
        self._citations: list[Citation] = []

    @property
    def caller(self) -> str:
        """How the tools' scopes see this reader: "agent:<name>"."""
        return f"agent:{self.agent}"

    @property
    def tools(self) -> tuple[Tool, ...]:
        """The read tools this agent may call."""
        return tuple(t for t in self.registry.tools if t.mode == "read" and t.allows(self.caller))

    async def read(self, name: str, args: BaseModel | dict[str, Any]) -> BaseModel:
        """Call read tool `name`; its output, and its citation added to `citations`."""
        tool = self.registry.get(name)
        output = await self.registry.read(name, args, caller=self.caller)
        citation = tool.cite(self.registry._input(tool, args))
        if citation not in self._citations:
            self._citations.append(citation)
        return output

    read_sync = sync_twin(read)

    @property
    def citations(self) -> tuple[Citation, ...]:
        """The sources this reader's tools returned, in the order first read: the only ones it may cite."""
        return tuple(self._citations)

    def cites(self, citations: Sequence[Citation]) -> bool:
        """Whether every one of `citations` is a source this reader actually read."""
        return all(c in self._citations for c in citations)
