"""A model-backed agent with tools: the model judges, slateboard fills what the model must not, the registry acts.

Run it: `python examples/04_model_backed_agent.py` (no network: a pydantic-ai FunctionModel stands in for the model;
pass `model="openai:gpt-4o-mini"` to `model_agent` to use a real one, with `pip install 'slateboard[llm]'
pydantic-ai-slim[openai]` and a key).

The entitlement agent is a `model_agent`: its model reads the customer's contract through a read tool of the
`ToolRegistry` (so the finding cites that contract, approved because the tool is an approved source) and answers
only the fields `Entitlement` lets it set. The customer's email is masked before the model sees anything. A plain
agent proposes a ticket; the registry's write tool opens it, once, under the proposal's idempotency key.
"""

from __future__ import annotations

import argparse
import json

import anyio
from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from slateboard import Blackboard, Controller, Finding, Proposal, Retry, ToolCall, ToolRegistry, agent, policies, rules
from slateboard.agents.llm import Masking, Prices, model_agent


class Case(Finding):
    kind_name = "example04.Case"
    description: str
    email: str


class Entitlement(Finding):
    kind_name = "example04.Entitlement"
    entitled: bool
    reason: str


class Account(BaseModel):
    account: str


class Contract(BaseModel):
    contract: str
    covers_parts: bool


class TicketIn(BaseModel):
    queue: str
    summary: str


class TicketOut(BaseModel):
    id: str


tickets: dict[str, str] = {}  # the outside ticketing system: one ticket per idempotency key
sent_to_model: list[str] = []
tools = ToolRegistry()


@tools.tool(scopes=["agent:entitlement"], approved=True)
async def contracts(args: Account) -> Contract:
    """The account's contract, from the CRM."""
    return Contract(contract="C-7", covers_parts=True)


@tools.tool(mode="write", target="Ticket/", scopes=["action:open_ticket"], idempotent=True, retry=Retry(attempts=3))
async def open_ticket(args: TicketIn, call: ToolCall) -> TicketOut:
    """Opens a ticket; the ticketing system ignores a key it has seen."""
    key = call.key or ""
    tickets.setdefault(key, f"T-{len(tickets) + 1}")
    return TicketOut(id=tickets[key])


def stand_in(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """What a model would do: read the contract first, then answer."""
    sent_to_model.append(str(messages))
    if len(messages) == 1:
        return ModelResponse(parts=[ToolCallPart("contracts", {"account": "ACME"})])
    answer = {"entitled": True, "reason": "contract C-7 covers parts", "confidence": 0.9}
    return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, answer)])


entitlement = model_agent(
    "entitlement",
    model=FunctionModel(stand_in, model_name="stand-in"),
    reads={"case": Case},
    writes=Entitlement,
    prompt="Is this customer entitled to a replacement? {case.description} (contact: {case.email})",
    instructions="Judge from the contract only; read it with the contracts tool.",
    tools=tools,
    masking=Masking(patterns=("email",)),
    prices=Prices({"stand-in": (0.15, 0.60)}),
)


@agent
async def propose(case: Case, ent: Entitlement) -> Proposal:
    summary = f"Replace the unit: {ent.reason}"
    return Proposal(
        subject=case.subject,
        action="open_ticket",
        target=f"Ticket/{case.subject}",
        changes={"queue": "fulfilment", "summary": summary},
        confidence=ent.confidence,
        citations=ent.citations,
    )


async def main() -> None:
    controller = Controller(
        agents=[entitlement, propose],
        rules=[rules.sufficient(Entitlement, min_confidence=0.8), rules.sufficient(Proposal)],
        policy=policies.Policy(policies.min_confidence(0.85), policies.require_citations(approved=True)),
        sink=tools,  # commits go through the registry's write tools
    )
    case = Case(subject="case-1", description="The pump failed.", email="jo@acme.example", confidence=1.0)
    with Blackboard.open("memory://") as bb:
        outcome = await controller.run(bb.board("case-1"), case)
        found = (await bb.board("case-1").view()).latest(Entitlement, subject="case-1")
    assert outcome.status == "committed", outcome.reasons
    assert found is not None
    print(f"outcome: {outcome.status}; ticket {outcome.commits[0].receipt}")
    print(f"entitlement: {found.entitled} ({found.reason}), subject {found.subject!r} set by slateboard")
    print("cited:", json.dumps([c.model_dump() for c in found.citations]))
    assert [c.source for c in found.citations] == ["tool:contracts"]
    assert "jo@acme.example" not in "".join(sent_to_model)  # the model saw a placeholder, never the address
    print("the model never saw the email address:", "jo@acme.example" not in "".join(sent_to_model))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the same run (it is already small)")
    parser.parse_args()
    anyio.run(main)
