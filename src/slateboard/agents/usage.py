"""What a model-backed attempt used: the model, its provider, the prompt's hash, tokens, cost and latency.

A model-backed agent reports each model call with `report_usage` while the runner runs it; the runner puts what
its attempt used on the attempt (`Attempt.usage`), and the controller on the attempt's `AgentRun`. Cost comes
from a `Prices` table the user sets (dollars per million tokens), so a run is priced the same on every machine
and in every replay; a model the table does not list costs `None` (unknown), never a guess.

This module needs no model library: the records it defines are read by the state, the metrics and the budget
rule whether or not the `llm` extra is installed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token

from pydantic import Field

from slateboard.blackboard.records import FrozenModel
from slateboard.errors import BudgetError

__all__ = (
    "ModelUsage",
    "Price",
    "Prices",
    "report_usage",
    "collect_usage",
    "start_collecting",
    "stop_collecting",
    "combine",
)


class ModelUsage(FrozenModel):
    """One attempt's model use. `masked` lists the placeholders that stood in for sensitive values in what was
    sent (never the values themselves)."""

    model: str
    provider: str | None = None
    prompt_hash: str
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    requests: int = Field(default=1, ge=0)
    cost: float | None = Field(default=None, ge=0)
    latency: float = Field(default=0.0, ge=0)
    masked: tuple[str, ...] = ()


class Price(FrozenModel):
    """Dollars per million input and output tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class Prices:
    """A price table: model name -> `Price`. A name matches exactly, or as "provider:model" without its provider
    (so "openai:gpt-4o-mini" in the table prices a response from "gpt-4o-mini")."""

    def __init__(self, table: Mapping[str, Price | tuple[float, float]] | None = None) -> None:
        self._table: dict[str, Price] = {}
        for name, price in (table or {}).items():
            self.set(name, price)

    def set(self, model: str, price: Price | tuple[float, float]) -> None:
        """Set the price of `model` (a `Price` or (input, output) dollars per million tokens)."""
        if not isinstance(model, str) or not model:
            raise BudgetError(f"a price table names models by non-empty strings, got {model!r}")
        if isinstance(price, tuple):
            if len(price) != 2:
                raise BudgetError(f"price of {model!r}: give (input, output) dollars per million tokens")
            price = Price(input=price[0], output=price[1])
        self._table[model] = price

    def price(self, model: str, provider: str | None = None) -> Price | None:
        """The price of `model`, or None when the table does not list it."""
        for name in (model, f"{provider}:{model}" if provider else None):
            if name is not None and name in self._table:
                return self._table[name]
        for name, price in self._table.items():
            if name.partition(":")[2] == model:
                return price
        return None

    def cost(self, model: str, provider: str | None, input_tokens: int, output_tokens: int) -> float | None:
        """The dollars `input_tokens` and `output_tokens` of `model` cost; None when its price is unknown."""
        price = self.price(model, provider)
        if price is None:
            return None
        return round((input_tokens * price.input + output_tokens * price.output) / 1_000_000, 10)


_REPORTS: ContextVar[list[ModelUsage] | None] = ContextVar("slateboard_model_usage", default=None)


def report_usage(usage: ModelUsage) -> None:
    """Record one model call's use for the attempt running now (nothing happens outside an attempt)."""
    reports = _REPORTS.get()
    if reports is not None:
        reports.append(usage)


@contextmanager
def collect_usage() -> Iterator[list[ModelUsage]]:
    """Collect what the code inside reports; the runner wraps each attempt in it."""
    reports, token = start_collecting()
    try:
        yield reports
    finally:
        stop_collecting(token)


def start_collecting() -> tuple[list[ModelUsage], Token[list[ModelUsage] | None]]:
    """`collect_usage` without a generator, for the runner's inline path: the list reports go to, and the token
    that `stop_collecting` takes (call it in a `finally`)."""
    reports: list[ModelUsage] = []
    return reports, _REPORTS.set(reports)


def stop_collecting(token: Token[list[ModelUsage] | None]) -> None:
    """End what `start_collecting` began."""
    _REPORTS.reset(token)


def combine(reports: list[ModelUsage]) -> ModelUsage | None:
    """One attempt's use from its reports: the first call's model and prompt, every call's tokens, cost and time."""
    if not reports:
        return None
    first = reports[0]
    costs = [r.cost for r in reports]
    return first.model_copy(
        update={
            "input_tokens": sum(r.input_tokens for r in reports),
            "output_tokens": sum(r.output_tokens for r in reports),
            "requests": sum(r.requests for r in reports),
            "cost": None if any(c is None for c in costs) else sum(c for c in costs if c is not None),
            "latency": sum(r.latency for r in reports),
            "masked": tuple(dict.fromkeys(p for r in reports for p in r.masked)),
        }
    )
