"""Model-backed agents on pydantic-ai, with FunctionModel standing in for the model (no network): what the model may
set, citations from the tools it actually read, usage on the attempt, masking, and record/replay cassettes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, field_validator
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from slateboard import Blackboard, Finding, RateLimit, ToolRegistry
from slateboard.agents import AgentContext
from slateboard.agents.llm import Cassette, Masking, Prices, answer_model, model_agent
from slateboard.agents.runner import Attempt, run_agent
from slateboard.agents.spec import Agent
from slateboard.errors import ConfigurationError, ModelError

pytestmark = pytest.mark.anyio


class Case(Finding):
    kind_name = "llmtest.Case"
    description: str
    email: str


class Entitlement(Finding):
    kind_name = "llmtest.Entitlement"
    entitled: bool
    plan: str
    note: str = ""

    @field_validator("plan")
    @classmethod
    def known_plan(cls, plan: str) -> str:
        if plan == "Platinum":
            raise ValueError("no such plan")
        return plan


class Account(BaseModel):
    account: str


class Contract(BaseModel):
    plan: str
    contact: str


def registry() -> ToolRegistry:
    tools = ToolRegistry()

    @tools.tool(scopes=["agent:entitlement"], approved=True, rate=RateLimit(calls=5, per=1))
    async def contracts(args: Account) -> Contract:
        """The customer's contract, from the billing system."""
        return Contract(plan="Gold", contact="ana@acme.example")

    @tools.tool(scopes=["agent:someone-else"])
    async def payroll(args: Account) -> Contract:
        """Not for the entitlement agent."""
        raise AssertionError("never offered")

    return tools


CASE = Case(
    subject="case-1",
    description="Replace the unit; card 4111 1111 1111 1111 was charged twice.",
    email="jo@acme.example",
    confidence=1.0,
)


def final(info: AgentInfo, **fields: Any) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, fields)])


async def attempts_of(entitlement: Agent, case: Case = CASE, board: str = "case-1") -> list[Attempt]:
    with Blackboard.open("memory://") as bb:
        view = await bb.board(board).view()
        context = AgentContext(agent=entitlement.name, subject=case.subject, attempt=1, view=view)
        return await run_agent(entitlement, lambda n: {"case": case, "slateboard_context": context})


def entitlement_agent(fn: Any, **options: Any) -> Agent:
    return model_agent(
        "entitlement",
        model=FunctionModel(fn, model_name="judge-1"),
        reads={"case": Case},
        writes=Entitlement,
        prompt=lambda case: f"Is this customer entitled? {case.description} Contact: {case.email}",
        instructions="Answer from the contract only.",
        **options,
    )


def test_the_model_is_offered_only_the_fields_the_finding_kind_lets_it_set() -> None:
    schema = answer_model(Entitlement, hidden={"note"}).model_json_schema()
    assert set(schema["properties"]) == {"entitled", "plan", "confidence"}
    assert schema["additionalProperties"] is False
    with pytest.raises(ConfigurationError, match="fixed field 'subject' is not one Entitlement sets"):
        entitlement_agent(lambda m, i: None, fixed={"subject": "x"})


async def test_slateboard_fills_the_subject_and_cites_only_what_the_tools_returned() -> None:
    offered: list[list[str]] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        offered.append([t.name for t in info.function_tools])
        if len(messages) == 1:  # first turn: read the contract
            return ModelResponse(parts=[ToolCallPart("contracts", {"account": "ACME"})])
        return final(info, entitled=True, plan="Gold", confidence=0.9)

    (attempt,) = await attempts_of(entitlement_agent(model, tools=registry(), fixed={"note": "set by us"}))
    assert attempt.status == "ok", attempt.error
    (finding,) = attempt.outputs
    assert isinstance(finding, Entitlement)
    assert (finding.subject, finding.entitled, finding.plan, finding.note) == ("case-1", True, "Gold", "set by us")
    (citation,) = finding.citations
    assert (citation.source, citation.locator, citation.approved) == ("tool:contracts", '{"account":"ACME"}', True)
    assert offered[0] == ["contracts"]  # the tool outside the agent's scope is never offered


async def test_a_model_that_reads_nothing_cites_nothing_and_cannot_set_citations_or_subject() -> None:
    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:  # it tries to fill what slateboard fills: refused by the schema, asked again
            evil = {"citations": [{"source": "made-up", "approved": True}], "subject": "other"}
            return final(info, entitled=True, plan="Gold", confidence=0.9, **evil)
        return final(info, entitled=True, plan="Gold", confidence=0.9)

    (attempt,) = await attempts_of(entitlement_agent(model))
    (finding,) = attempt.outputs
    assert finding.citations == ()
    assert finding.subject == "case-1"


async def test_every_attempt_records_model_provider_prompt_hash_tokens_cost_and_latency() -> None:
    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return final(info, entitled=False, plan="Basic", confidence=0.7)

    prices = Prices({"judge-1": (2.0, 10.0)})
    (first,) = await attempts_of(entitlement_agent(model, prices=prices))
    (again,) = await attempts_of(entitlement_agent(model, prices=prices))
    usage = first.usage
    assert usage is not None
    assert (usage.model, usage.requests) == ("judge-1", 1)
    assert usage.input_tokens > 0
    assert usage.output_tokens > 0
    assert usage.cost == pytest.approx((usage.input_tokens * 2.0 + usage.output_tokens * 10.0) / 1e6)
    assert usage.latency >= 0
    assert again.usage is not None
    assert again.usage.prompt_hash == usage.prompt_hash  # the same question hashes the same
    (unpriced,) = await attempts_of(entitlement_agent(model))
    assert unpriced.usage is not None
    assert unpriced.usage.cost is None  # a model the table does not list: unknown, not zero


async def test_a_failed_attempt_keeps_the_usage_of_the_model_call_it_made() -> None:
    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return final(info, entitled=True, plan="Platinum", confidence=0.9)  # the finding's own check refuses it

    (attempt,) = await attempts_of(entitlement_agent(model, retries=1))
    assert attempt.status == "invalid"
    assert "no such plan" in attempt.error
    assert attempt.usage is not None
    assert attempt.usage.model == "judge-1"  # the call was made and paid for: it is recorded


async def test_sensitive_values_never_reach_the_model_and_come_back_unmasked() -> None:
    seen: list[str] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(json.dumps([_texts(m) for m in messages]))
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("contracts", {"account": "ACME"})])
        placeholder = next(p for p in _placeholders(seen[-1]) if p.startswith("<email:"))
        return final(info, entitled=True, plan=f"Gold for {placeholder}", confidence=0.9)

    masking = Masking(patterns=("email", "card"), blocklist=frozenset({"ACME"}))
    (attempt,) = await attempts_of(entitlement_agent(model, tools=registry(), masking=masking))
    sent = "".join(seen)
    for raw in ("jo@acme.example", "4111 1111 1111 1111", "ana@acme.example"):  # the tool's answer is masked too
        assert raw not in sent
    (finding,) = attempt.outputs
    assert finding.plan == "Gold for jo@acme.example"  # the placeholder the model used, put back
    assert attempt.usage is not None
    assert {p.split(":")[0] for p in attempt.usage.masked} == {"<email", "<card"}
    assert all(":" in p and "@" not in p for p in attempt.usage.masked)  # placeholders only, never values


async def test_the_same_value_gets_the_same_placeholder_on_a_board_and_another_on_another_board() -> None:
    prompts: list[str] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompts.append(json.dumps(_texts(messages[0])))
        return final(info, entitled=True, plan="Gold", confidence=0.9)

    masking = Masking(patterns=("email",))
    await attempts_of(entitlement_agent(model, masking=masking), board="b-1")
    await attempts_of(entitlement_agent(model, masking=masking), board="b-1")
    await attempts_of(entitlement_agent(model, masking=masking), board="b-2")
    first, same, other = (_placeholders(p) for p in prompts)
    assert first == same
    assert first
    assert first != other


async def test_a_cassette_replays_offline_the_answers_it_recorded(tmp_path: Path) -> None:
    calls = 0

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        nonlocal calls
        calls += 1
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("contracts", {"account": "ACME"})])
        return final(info, entitled=True, plan="Gold", confidence=0.9)

    path = tmp_path / "cassette.json"
    recorder = FunctionModel(model, model_name="judge-1")
    prices = Prices({"judge-1": (1.0, 1.0)})

    def agent_on(cassette: Cassette) -> Agent:
        return model_agent(
            "entitlement",
            model=cassette,
            reads={"case": Case},
            writes=Entitlement,
            prompt="Is {case.subject} entitled?",
            tools=registry(),
            prices=prices,
        )

    (recorded,) = await attempts_of(agent_on(Cassette(path, record=recorder)))
    assert calls == 2
    assert len(json.loads(path.read_text())["responses"]) == 2
    (replayed,) = await attempts_of(agent_on(Cassette(path)))
    assert calls == 2  # no model was called
    assert replayed.outputs == recorded.outputs
    assert replayed.usage == recorded.usage  # recorded model, tokens, cost and latency: the same board

    def changed_prompt() -> Agent:
        return model_agent(
            "entitlement", model=Cassette(path), reads={"case": Case}, writes=Entitlement, prompt="Other {case.subject}"
        )

    (missing,) = (await attempts_of(changed_prompt()))[:1]
    assert missing.status == "error"
    assert "holds no response for request" in missing.error
    with pytest.raises(ModelError, match="does not exist"):
        Cassette(tmp_path / "none.json")


def _texts(message: ModelMessage) -> list[str]:
    parts = message.parts
    if isinstance(message, ModelRequest):
        return [str(getattr(p, "content", "")) for p in parts] + [message.instructions or ""]
    return [p.content if isinstance(p, TextPart) else str(getattr(p, "args", "")) for p in parts]


def _placeholders(text: str) -> list[str]:
    import re  # noqa: PLC0415

    return re.findall(r"<[a-z-]+:[0-9a-f]{8}>", text)


async def test_an_agent_from_a_pydantic_ai_agent_or_a_model_name() -> None:
    from pydantic_ai import Agent as PydanticAgent  # noqa: PLC0415

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return final(info, entitled=True, plan="Gold", confidence=0.8)

    runner = PydanticAgent(FunctionModel(model, model_name="judge-2"), instructions="Be brief.")
    from_agent = model_agent("entitlement", model=runner, reads={"case": Case}, writes=Entitlement, prompt="{case}")
    (attempt,) = await attempts_of(from_agent)
    assert attempt.status == "ok", attempt.error
    assert attempt.usage is not None
    assert attempt.usage.model == "judge-2"
    # "test" is pydantic-ai's TestModel by name: any answer that fits the schema, subject still slateboard's
    by_name = model_agent("entitlement", model="test", reads={"case": Case}, writes=Entitlement, prompt="{case}")
    (tested,) = await attempts_of(by_name)
    assert tested.status == "ok", tested.error
    assert tested.outputs[0].subject == "case-1"
    assert tested.outputs[0].citations == ()
