"""The support case's `llm` variant: intake, entitlement and response are model-backed (`model_agent`), each on its
own model (a cheap one routes the intake, a strong one judges entitlement and drafts the reply), and they answer
from a cassette shipped with slateboard, so `slateboard run support-case --variant llm` needs no network and
writes the same board every time.

The entitlement and response agents read through the tool registry (the CRM contract, the knowledge base); their
citations are what those tools returned, approved because the tools are declared approved sources, never because
a model said so. The buyer's email in the case is masked before any model sees it.

The cassette was recorded from scripted stand-ins (pydantic-ai `FunctionModel`s named after the models, with
pydantic-ai's token estimates), not from a provider: `record_cassette(path)` records it again, and a test checks the
shipped one still answers every request this variant makes. The prices are illustrative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel

from slateboard.agents.llm import Cassette, Masking, Prices, model_agent
from slateboard.agents.spec import Agent
from slateboard.blackboard.records import Finding
from slateboard.commit.tools import ToolRegistry
from slateboard.scenarios.support_case import Draft, Entitlement, Intake, PolicyReference, Route, SupportCase

__all__ = ("CASSETTE", "PRICES", "llm_agents", "llm_inputs", "record_cassette", "tools")

CASSETTE = Path(__file__).with_name("cassettes") / "support_case_llm.json"
ROUTER, REVIEWER = "gpt-4o-mini", "claude-sonnet-4-5"  # one cheap router, one strong reviewer
PRICES = Prices({f"openai:{ROUTER}": (0.15, 0.60), f"anthropic:{REVIEWER}": (3.00, 15.00)})
# A fixed salt: the same placeholder for the same value on every board, so the one cassette serves any board name.
MASKING = Masking(patterns=("email", "card"), salt="support-case-llm")


class AccountQuery(BaseModel):
    """Which account's contract to read."""

    account: str


class Contract(BaseModel):
    """A contract as the CRM holds it."""

    contract: str
    warranty_months: int
    covers_parts: bool


class ArticleQuery(BaseModel):
    """What to look up in the knowledge base."""

    topic: str


class Article(BaseModel):
    """A knowledge-base article."""

    article: str
    text: str


def tools() -> ToolRegistry:
    """The read tools of the variant: the CRM's contracts and the approved knowledge base."""
    registry = ToolRegistry(name="support-tools")

    @registry.tool(name="crm.contract", scopes=["agent:entitlement"], approved=True)
    async def contract(args: AccountQuery) -> Contract:
        """The account's service contract, from the CRM."""
        return Contract(contract="C-1042", warranty_months=12, covers_parts=True)

    @registry.tool(name="kb.search", scopes=["agent:response"], approved=True)
    async def kb(args: ArticleQuery) -> Article:
        """Approved knowledge-base articles, for customer-facing use."""
        return Article(article="warranty-policy v7 section 2.1", text="Defects within 12 months are covered.")

    return registry


def llm_inputs(board: str) -> Sequence[Finding]:
    """The case as the intake form records it, with the buyer's email that must never reach a model."""
    description = (
        "Pump P-200 stopped after three weeks; the distributor asks for a replacement under warranty. "
        "Reply to buyer jo.rivera@acme-distribution.example."
    )
    return (
        SupportCase(subject=board, description=description, account="ACME Distribution", product="P-200", confidence=1),
    )


def llm_agents(models: dict[str, Model] | None = None, *, cassette: Path = CASSETTE) -> tuple[Agent, ...]:
    """The three model-backed agents, on `cassette` (the shipped one by default), or on `models` by agent name."""
    shared = Cassette(cassette) if models is None else None
    registry = tools()

    def model(name: str) -> Model:
        return models[name] if models is not None else shared  # type: ignore[return-value]

    intake = model_agent(
        "intake",
        model=model("intake"),
        reads={"case": SupportCase},
        writes=Intake,
        prompt="Classify this B2B support case.\nAccount: {case.account}\nProduct: {case.product}\n{case.description}",
        instructions="You triage support cases. Set confidence to how sure you are of the issue type.",
        masking=MASKING,
        prices=PRICES,
        timeout=8,
    )
    entitlement = model_agent(
        "entitlement",
        model=model("entitlement"),
        reads={"case": SupportCase, "route": Route},
        writes=Entitlement,
        prompt="Is {case.account} entitled to a replacement {case.product}? The case: {case.description}",
        instructions="Judge entitlement from the CRM contract only; read it with the crm_contract tool.",
        tools=registry,
        masking=MASKING,
        prices=PRICES,
        timeout=8,
        rating=10,
    )
    response = model_agent(
        "response",
        model=model("response"),
        reads={"case": SupportCase, "ent": Entitlement, "ref": PolicyReference},
        writes=Draft,
        prompt=lambda case, ent, ref: (
            f"Draft the reply to the customer of this case: {case.description}\n"
            f"Entitlement: {ent.reason}\nPolicy: {ref.article}"
        ),
        instructions="Write a short, warm reply. Cite the knowledge base: read it with the kb_search tool.",
        tools=registry,
        masking=MASKING,
        prices=PRICES,
        timeout=10,
    )
    return (intake, entitlement, response)


# --- the scripted stand-ins the shipped cassette was recorded from --------------------------------------------------


def _answer(info: AgentInfo, model: str, provider: str, **fields: Any) -> ModelResponse:
    call = ToolCallPart(info.output_tools[0].name, fields)
    return ModelResponse(parts=[call], model_name=model, provider_name=provider)


def _read_first(tool: str, args: dict[str, Any], messages: list[ModelMessage], info: AgentInfo) -> ModelResponse | None:
    if len(messages) == 1:  # the first turn reads; the second answers from what was read
        return ModelResponse(parts=[ToolCallPart(tool, args)], model_name=REVIEWER, provider_name="anthropic")
    return None


def _intake(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    intent = "replacement under warranty"
    return _answer(
        info, ROUTER, "openai", issue_type="warranty", urgency="high", customer_intent=intent, confidence=0.9
    )


def _entitlement(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    reading = _read_first("crm_contract", {"account": "ACME Distribution"}, messages, info)
    reason = "contract C-1042 includes a 12-month parts warranty"
    return reading or _answer(
        info, REVIEWER, "anthropic", entitled=True, source="contract", reason=reason, confidence=0.92
    )


def _response(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    reading = _read_first("kb_search", {"topic": "P-200 warranty"}, messages, info)
    if reading is not None:
        return reading
    prompt = str(getattr(messages[0].parts[-1], "content", ""))
    buyer = next((w.rstrip(".") for w in prompt.split() if w.startswith("<email:")), "there")
    body = f"Hello {buyer}, your P-200 is covered by contract C-1042; a replacement ships within 2 business days."
    return _answer(info, REVIEWER, "anthropic", subject_line="Your warranty claim", body=body, confidence=0.9)


def record_cassette(path: Path) -> str:
    """Record the variant's cassette at `path` afresh from the stand-ins, by running the scenario once in memory;
    the run's status ("awaiting_approval" when all went as the shipped one did)."""
    from slateboard.blackboard.board import Blackboard  # noqa: PLC0415 - only recording runs a scenario here
    from slateboard.scenarios.support_case import support_case  # noqa: PLC0415 - it imports this module lazily

    path.unlink(missing_ok=True)
    stand_ins = {"intake": _intake, "entitlement": _entitlement, "response": _response}
    names = {"intake": ROUTER, "entitlement": REVIEWER, "response": REVIEWER}
    models: dict[str, Model] = {
        agent: Cassette(path, record=FunctionModel(fn, model_name=names[agent])) for agent, fn in stand_ins.items()
    }
    recording = {a.name: a for a in llm_agents(models)}
    base = support_case("happy")
    scenario = replace(base, agents=tuple(recording.get(a.name, a) for a in base.agents), inputs=llm_inputs)
    with Blackboard.open("memory://") as blackboard:
        return scenario.run_sync(blackboard, board="support-case-llm").outcome.status


if __name__ == "__main__":  # python -m slateboard.scenarios.support_case_llm [PATH]: record the cassette again
    import sys

    print(record_cassette(Path(sys.argv[1]) if len(sys.argv) > 1 else CASSETTE))
