"""A controller running model-backed agents: each attempt's usage lands on its AgentRun, the metrics price the run,
and `rules.budget(max_cost=)` escalates a run whose model calls reached the limit, naming it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from slateboard import AgentRun, Blackboard, Controller, Finding, rules
from slateboard.agents.llm import Prices, model_agent
from slateboard.errors import ConfigurationError
from slateboard.observe.metrics import metrics

pytestmark = pytest.mark.anyio


class Ticket(Finding):
    kind_name = "usagetest.Ticket"
    text: str


class Triage(Finding):
    kind_name = "usagetest.Triage"
    queue: str


class Review(Finding):
    kind_name = "usagetest.Review"
    verdict: str


def answer(**fields: Any) -> FunctionModel:
    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, fields)])

    return FunctionModel(respond, model_name="m-1")


PRICES = Prices({"m-1": (1000.0, 1000.0)})  # a dollar per thousand tokens: a few cents a call


def agents() -> list[Any]:
    triage = model_agent(
        "triage",
        model=answer(queue="billing", confidence=0.9),
        reads={"ticket": Ticket},
        writes=Triage,
        prompt="Route: {ticket.text}",
        prices=PRICES,
    )
    review = model_agent(
        "review",
        model=answer(verdict="ok", confidence=0.9),
        reads={"ticket": Ticket, "triage": Triage},
        writes=Review,
        prompt="Review the routing of {ticket.text} to {triage.queue}",
        prices=PRICES,
    )
    return [triage, review]


async def test_each_attempt_records_its_usage_on_its_agent_run_and_the_metrics_price_the_run(bb: Blackboard) -> None:
    controller = Controller(agents=agents(), rules=[rules.sufficient(Review, min_confidence=0.5)])
    outcome = await controller.run(bb.board("t-1"), Ticket(subject="t-1", text="double charge", confidence=1.0))
    assert outcome.status == "sufficient"
    runs = [e.payload for e in await bb.board("t-1").history() if isinstance(e.payload, AgentRun)]
    assert [r.agent for r in runs] == ["triage", "review"]
    for run in runs:
        assert run.usage is not None
        assert run.usage.model == "m-1"
        assert run.usage.input_tokens > 0
        assert run.usage.cost == pytest.approx((run.usage.input_tokens + run.usage.output_tokens) / 1000)
    assert (await controller.replay(bb.board("t-1"))).identical
    found = metrics(bb)
    assert found.cost.model_attempts == 2
    assert found.cost.total == pytest.approx(sum(r.usage.cost for r in runs if r.usage and r.usage.cost))
    assert found.cost.completed_runs == 1


async def test_a_run_whose_model_calls_reach_the_budget_escalates_naming_it(bb: Blackboard) -> None:
    limit = rules.budget(max_cost=0.01)  # less than the first call costs
    controller = Controller(agents=agents(), rules=[rules.sufficient(Review, min_confidence=0.5), limit])
    outcome = await controller.run(bb.board("t-2"), Ticket(subject="t-2", text="double charge", confidence=1.0))
    assert outcome.status == "escalated"
    assert any("budget(max_cost=0.01)" in r and "reaching its limit of $0.0100" in r for r in outcome.reasons)
    runs = [e.payload.agent for e in await bb.board("t-2").history() if isinstance(e.payload, AgentRun)]
    assert runs == ["triage"]  # nothing ran after the limit was reached
    assert (await controller.replay(bb.board("t-2"))).identical


def test_a_cost_limit_is_a_budget_of_its_own() -> None:
    with pytest.raises(ConfigurationError, match="give max_cost in a budget of its own"):
        rules.budget(max_cycles=5, max_cost=1.0)
    with pytest.raises(ConfigurationError, match="budget max_cost must be a positive number"):
        rules.budget(max_cost=0)


async def test_the_llm_variant_records_each_agents_model_and_the_metrics_price_it() -> None:
    from slateboard import scenarios  # noqa: PLC0415

    with Blackboard.open("memory://") as bb:
        await scenarios.get("support-case/llm").run(bb, board="case-9")
        runs = [e.payload for e in await bb.board("case-9").history() if isinstance(e.payload, AgentRun)]
        found = metrics(bb)
    models = {r.agent: r.usage.model for r in runs if r.usage is not None}
    assert models == {"intake": "gpt-4o-mini", "entitlement": "claude-sonnet-4-5", "response": "claude-sonnet-4-5"}
    assert all(r.usage.masked for r in runs if r.usage is not None)  # the buyer's email was masked for each
    costs = {a.agent: a.cost for a in found.agents if a.model_attempts}
    assert set(costs) == {"intake", "entitlement", "response"}
    assert costs["intake"] is not None
    assert costs["entitlement"] is not None
    assert costs["intake"] < costs["entitlement"]  # the cheap router costs less than the strong reviewer
    assert found.cost.completed_runs == 1
    assert found.cost.per_completed_run == pytest.approx(sum(c for c in costs.values() if c is not None))
