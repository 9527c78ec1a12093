"""Model-backed agents on pydantic-ai: an ordinary `Agent` whose work is one model run.

```python
triage = model_agent(
    "triage",
    model="openai:gpt-4o-mini",                 # a model name, a pydantic-ai Model, or a pydantic-ai Agent
    reads={"case": Case},                       # parameter name -> the finding kind (or list[Kind]) it receives
    writes=Triage,                              # the one finding kind it writes
    prompt="Route this case: {case.description}",   # or a function of the inputs returning the prompt
    instructions="You route B2B support cases.",
    tools=registry,                             # read tools in the agent's scope; what they return is cited
    masking=Masking(patterns=("email", "card")),
    prices=Prices({"openai:gpt-4o-mini": (0.15, 0.60)}),
)
```

The model is offered only the fields of the finding kind it may set: never `subject` (slateboard fills it with
the task's subject), never `citations` (built from the sources the agent's read tools actually returned, approved
only when the tool's declaration says so), nor any field given in `fixed` (set by slateboard). Every attempt
reports its model, provider, prompt hash, tokens, cost and latency (`ModelUsage`), which the controller keeps on
the attempt's `AgentRun`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import anyio
import anyio.to_thread
import sniffio
from pydantic import BaseModel, ConfigDict, create_model
from pydantic_ai import Agent as ModelRunner
from pydantic_ai import Tool as ModelTool
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models import Model
from pydantic_ai.toolsets import FunctionToolset

from slateboard.agents.llm.cassette import LATENCY
from slateboard.agents.masking import Masker, Masking
from slateboard.agents.spec import DEFAULT_TIMEOUT, Agent, AgentContext, agent
from slateboard.agents.usage import ModelUsage, Prices, report_usage
from slateboard.blackboard.records import Citation, Finding, Record
from slateboard.errors import ConfigurationError, ModelError

__all__ = ("model_agent", "answer_model", "ToolSource", "ToolReader", "ReadTool", "SET_BY_SLATEBOARD")

SET_BY_SLATEBOARD = frozenset({"subject", "citations"})
_CONTEXT = "slateboard_context"


class ReadTool(Protocol):
    """A read tool as a model sees it: a name, a description and an input schema."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def input(self) -> type[BaseModel]: ...


class ToolReader(Protocol):
    """One agent's handle on its read tools, which remembers what it read (`slateboard.Reader`)."""

    @property
    def tools(self) -> tuple[ReadTool, ...]: ...
    @property
    def citations(self) -> tuple[Citation, ...]: ...
    async def read(self, name: str, args: BaseModel | dict[str, Any]) -> BaseModel: ...


class ToolSource(Protocol):
    """Where an agent's read tools come from (`slateboard.ToolRegistry`)."""

    def reader(self, agent: str) -> ToolReader: ...


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


def answer_model(kind: type[Finding], hidden: Iterable[str] = ()) -> type[BaseModel]:
    """The model's output schema for `kind`: its fields less those slateboard sets (`SET_BY_SLATEBOARD`, `hidden`)."""
    skip = SET_BY_SLATEBOARD | set(hidden)
    fields: dict[str, Any] = {n: (f.annotation, f) for n, f in kind.model_fields.items() if n not in skip}
    answer: type[BaseModel] = create_model(f"{kind.__name__}Answer", __base__=_Answer, **fields)
    answer.__doc__ = kind.__doc__
    return answer


def model_agent(
    name: str,
    *,
    model: str | Model | ModelRunner[Any, Any],
    reads: Mapping[str, Any],
    writes: type[Finding],
    prompt: str | Callable[..., str],
    instructions: str = "",
    fixed: Mapping[str, Any] | None = None,
    tools: ToolSource | None = None,
    masking: Masking | None = None,
    prices: Prices | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    retries: int = 1,
    rating: int = 0,
    capabilities: Iterable[str] = (),
) -> Agent:
    """Declare a model-backed agent (see the module docstring); it is an `Agent` like any other."""
    fixed = dict(fixed or {})
    unknown = [f for f in fixed if f not in writes.model_fields or f in SET_BY_SLATEBOARD]
    if unknown:
        raise ConfigurationError(f"model agent {name!r}: fixed field {unknown[0]!r} is not one {writes.__name__} sets")
    if _CONTEXT in reads:
        raise ConfigurationError(f"model agent {name!r}: {_CONTEXT!r} is slateboard's own parameter name")
    runner = model if isinstance(model, ModelRunner) else ModelRunner(model)
    call = _Call(
        name=name,
        runner=runner,
        writes=writes,
        answer=answer_model(writes, fixed),
        prompt=prompt,
        instructions=instructions,
        fixed=fixed,
        tools=tools,
        masking=masking or Masking(patterns=()),
        prices=prices or Prices(),
    )

    async def run(**arguments: Any) -> Finding:
        return await call(arguments.pop(_CONTEXT), arguments)

    parameters = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=k) for n, k in reads.items()]
    parameters.append(inspect.Parameter(_CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=AgentContext))
    run.__signature__ = inspect.Signature(parameters, return_annotation=writes)  # type: ignore[attr-defined]
    run.__annotations__ = {**reads, _CONTEXT: AgentContext, "return": writes}
    run.__name__ = name
    run.__doc__ = instructions or f"Model-backed agent writing {writes.kind_name}."
    declared = agent(name=name, timeout=timeout, retries=retries, rating=rating, capabilities=capabilities)
    return declared(run)


@dataclass
class _Call:
    """One model-backed agent's work on one task: mask, prompt, run, record, build the finding."""

    name: str
    runner: ModelRunner[Any, Any]
    writes: type[Finding]
    answer: type[BaseModel]
    prompt: str | Callable[..., str]
    instructions: str
    fixed: dict[str, Any]
    tools: ToolSource | None
    masking: Masking
    prices: Prices

    async def __call__(self, context: AgentContext, inputs: dict[str, Any]) -> Finding:
        masker = self.masking.masker(context.view.board)
        shown = {k: _mask_input(masker, v) for k, v in inputs.items()}
        text = masker.text(self.prompt(**shown) if callable(self.prompt) else self.prompt.format(**shown))
        instructions = masker.text(self.instructions) or None
        reader = self.tools.reader(self.name) if self.tools is not None else None
        toolset = FunctionToolset(_model_tools(reader, masker)) if reader is not None else None
        run = partial(
            self.runner.run,
            text,
            output_type=self.answer,
            instructions=instructions,
            toolsets=[toolset] if toolset else None,
        )
        started = anyio.current_time()
        result = await _on_asyncio(run)
        report_usage(self._usage(result, text, instructions, anyio.current_time() - started, masker))
        fields = masker.unmask(result.output.model_dump())
        cited = reader.citations if reader is not None else ()
        return self.writes(subject=context.subject, citations=cited, **self.fixed, **fields)

    def _usage(self, result: Any, text: str, instructions: str | None, latency: float, masker: Masker) -> ModelUsage:
        usage = result.usage  # a property (a method in older pydantic-ai: both have the counts as attributes)
        responses = [m for m in result.new_messages() if isinstance(m, ModelResponse)]
        recorded = [(r.provider_details or {}).get(LATENCY) for r in responses]
        numbers = [float(v) for v in recorded if isinstance(v, int | float)]
        if responses and len(numbers) == len(recorded):
            latency = sum(numbers)  # a replayed cassette: the recorded latency, so the board is the same
        last = responses[-1] if responses else None
        model = (last.model_name if last and last.model_name else None) or _model_name(self.runner)
        provider = last.provider_name if last and last.provider_name else _provider(self.runner)
        asked = {
            "model": model,
            "instructions": instructions,
            "prompt": text,
            "answer": self.answer.model_json_schema(),
            "tools": sorted(t.name for t in (self.tools.reader(self.name).tools if self.tools else ())),
        }
        digest = hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()[:16]
        tokens_in, tokens_out = int(usage.input_tokens or 0), int(usage.output_tokens or 0)
        return ModelUsage(
            model=model,
            provider=provider,
            prompt_hash=digest,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            requests=int(usage.requests or 0),
            cost=self.prices.cost(model, provider, tokens_in, tokens_out),
            latency=round(max(latency, 0.0), 6),
            masked=masker.used,
        )


async def _on_asyncio(run: Callable[[], Awaitable[Any]]) -> Any:
    """Await `run()`; under trio, on an asyncio loop of its own in a worker thread (pydantic-ai runs on asyncio)."""
    if sniffio.current_async_library() == "asyncio":
        return await run()
    return await anyio.to_thread.run_sync(partial(anyio.run, run, backend="asyncio"), abandon_on_cancel=True)


def _mask_input(masker: Masker, value: Any) -> Any:
    if isinstance(value, Record):
        return masker.finding(value)
    if isinstance(value, list | tuple):
        return [masker.finding(v) if isinstance(v, Record) else v for v in value]
    return value


def _model_tools(reader: ToolReader, masker: Masker) -> list[ModelTool[Any]]:
    """The reader's tools as the model calls them; what they return is masked before the model sees it."""

    def make(tool: ReadTool) -> ModelTool[Any]:
        async def call(**arguments: Any) -> Any:
            output = await reader.read(tool.name, masker.unmask(arguments))
            return masker.value(output.model_dump(mode="json"))

        schema = tool.input.model_json_schema()
        return ModelTool.from_schema(call, _tool_name(tool.name), tool.description or tool.name, schema)

    return [make(t) for t in reader.tools]


def _tool_name(name: str) -> str:
    """A tool name every provider accepts (letters, digits, `_` and `-`)."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)


def _model_name(runner: ModelRunner[Any, Any]) -> str:
    model = runner.model
    if isinstance(model, Model):
        return model.model_name
    if isinstance(model, str):
        return model.partition(":")[2] or model
    raise ModelError("a model-backed agent needs a model: pass model= a name, a pydantic-ai Model or Agent")


def _provider(runner: ModelRunner[Any, Any]) -> str | None:
    model = runner.model
    if isinstance(model, Model):
        return model.system
    return model.partition(":")[0] if isinstance(model, str) and ":" in model else None
