"""Model-backed agents (the `llm` extra: `pip install 'slateboard[llm]'`), on pydantic-ai.

`model_agent` declares one (docs/agents-llm.md); `Cassette` records and replays a model's answers so a scenario
with model agents runs offline and identically. Masking, prices and usage records need no model library and live
in `slateboard.agents.masking` and `slateboard.agents.usage`, re-exported here.
"""

try:
    import pydantic_ai  # noqa: F401 - only to fail early with a clear message
except ImportError as exc:  # pragma: no cover - the extra is installed in development
    from slateboard.errors import ConfigurationError

    raise ConfigurationError(
        "model-backed agents need the llm extra: pip install 'slateboard[llm]' (pydantic-ai-slim)"
    ) from exc

from slateboard.agents.llm.cassette import Cassette, request_hash
from slateboard.agents.llm.model_agent import ReadTool, ToolReader, ToolSource, answer_model, model_agent
from slateboard.agents.masking import Masking
from slateboard.agents.usage import ModelUsage, Price, Prices

__all__ = (
    "model_agent",
    "answer_model",
    "Cassette",
    "request_hash",
    "Masking",
    "ModelUsage",
    "Price",
    "Prices",
    "ToolSource",
    "ToolReader",
    "ReadTool",
)
