"""Record and replay: a model's responses stored in a JSON file, by the hash of the request that got them.

```python
model = Cassette("tests/cassettes/support.json")                          # replay: offline, no key needed
model = Cassette("tests/cassettes/support.json", record="openai:gpt-4o")  # record: calls the model, stores
```

A request's hash covers what the model was asked (instructions, the messages' text, tool calls and tool returns)
and which output and tools it was offered, not timestamps or run ids, so the same scenario asks the same
questions and replays the same answers, with the recorded model name, token counts and latency: a replayed run
writes the same board. A request the file does not hold fails with a `ModelError` naming its hash, instead of
reaching the network.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelRequest, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, infer_model
from pydantic_ai.settings import ModelSettings
from pydantic_core import to_jsonable_python

from slateboard.errors import ModelError

__all__ = ("Cassette", "request_hash", "LATENCY")

LATENCY = "slateboard.latency"  # the provider_details key a recorded response keeps its latency under
_PART_FIELDS = ("content", "tool_name", "args", "tool_call_id")


def request_hash(messages: list[ModelMessage], parameters: ModelRequestParameters) -> str:
    """The stable hash of one model request (see the module docstring)."""
    asked: list[Any] = []
    for message in messages:
        parts = [
            {"kind": part.part_kind, **{f: getattr(part, f) for f in _PART_FIELDS if hasattr(part, f)}}
            for part in message.parts
        ]
        instructions = message.instructions if isinstance(message, ModelRequest) else None
        asked.append({"kind": message.kind, "instructions": instructions, "parts": parts})
    offered = {
        "output": sorted((t.name, t.parameters_json_schema) for t in parameters.output_tools),
        "tools": sorted((t.name, t.parameters_json_schema) for t in parameters.function_tools),
    }
    text = json.dumps(to_jsonable_python([asked, offered]), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class Cassette(Model):
    """A pydantic-ai `Model` that answers from a file of recorded responses (see the module docstring)."""

    def __init__(self, path: str | Path, *, record: Model | str | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.recorder = infer_model(record) if record is not None else None
        self._lock = threading.Lock()
        self._entries: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            if self.recorder is None:
                raise ModelError(f"cassette {self.path} does not exist; record it first (Cassette(path, record=model))")
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            entries = data["responses"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"cassette {self.path} is not a slateboard cassette: {exc}") from exc
        if not isinstance(entries, dict):
            raise ModelError(f"cassette {self.path}: 'responses' must map request hashes to responses")
        return entries

    @property
    def model_name(self) -> str:
        """The recorded model's name (the first entry's), or the recorder's."""
        if self.recorder is not None:
            return self.recorder.model_name
        for entry in self._entries.values():
            return str(entry.get("model", "cassette"))
        return "cassette"

    @property
    def system(self) -> str:
        """The provider of the recorded model."""
        if self.recorder is not None:
            return self.recorder.system
        for entry in self._entries.values():
            return str(entry.get("provider") or "cassette")
        return "cassette"

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        """The recorded response to this request; in record mode, the model's, stored on the way."""
        key = request_hash(messages, model_request_parameters)
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None:
            (response,) = ModelMessagesTypeAdapter.validate_python([entry["response"]])
            if not isinstance(response, ModelResponse):
                raise ModelError(f"cassette {self.path}: entry {key} holds a request, not a response")
            return response
        if self.recorder is None:
            raise ModelError(
                f"cassette {self.path} holds no response for request {key}: the prompt, the instructions or the "
                "tools changed since it was recorded; record it again (Cassette(path, record=model))"
            )
        return await self._record(key, messages, model_settings, model_request_parameters)

    async def _record(
        self,
        key: str,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        parameters: ModelRequestParameters,
    ) -> ModelResponse:
        import anyio  # noqa: PLC0415 - only recording measures time

        if self.recorder is None:  # unreachable: request checked it
            raise ModelError(f"cassette {self.path} is not recording")
        started = anyio.current_time()
        response = await self.recorder.request(messages, model_settings, parameters)
        latency = round(anyio.current_time() - started, 6)
        details = {**(response.provider_details or {}), LATENCY: latency}
        response.provider_details = details
        (stored,) = ModelMessagesTypeAdapter.dump_python([response], mode="json")
        with self._lock:
            provider = response.provider_name or self.recorder.system
            self._entries[key] = {"model": response.model_name, "provider": provider, "response": stored}
            # Merged with what the file holds now: several agents' cassettes may record into one file.
            merged = {**(self._load() if self.path.exists() else {}), **self._entries}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"version": 1, "responses": merged}, indent=1, sort_keys=True)
            self.path.write_text(text + "\n", encoding="utf-8")
        return response
