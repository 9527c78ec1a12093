"""The support case (seed 000): a B2B warranty case through intake, routing, knowledge, entitlement, response,
action and review agents.

The field's rules, as the article states them: confidence gates (intake 0.75, entitlement 0.8, response 0.85);
citations required, approved for customer-facing use; an entitlement that a policy exception contradicts goes to a
person; one retry for a timed-out retrieval and none for a policy conflict. Agents propose; the action agent's
case update commits, and the customer reply (externally visible, irreversible) waits for a person's approval.

Variants: happy, low-intake, conflict, timeout, uncited, policy-conflict; and llm, whose intake, entitlement and
response agents are model-backed and answer from a shipped cassette (slateboard.scenarios.support_case_llm; it needs
the `llm` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Literal

import anyio

from slateboard import policies
from slateboard.agents.spec import Agent, AgentContext, agent
from slateboard.blackboard.records import Citation, Finding
from slateboard.commit import sinks
from slateboard.controller import rules
from slateboard.errors import ConflictError, ScenarioError
from slateboard.scenarios.model import Expectation, Scenario
from slateboard.state.proposal import Proposal

__all__ = ("VARIANTS", "support_case", "SupportCase", "Intake", "Route", "PolicyReference", "Entitlement", "Draft")

VARIANTS = ("happy", "low-intake", "conflict", "timeout", "uncited", "policy-conflict", "llm")
RETRIEVAL_TIMEOUT = 0.5  # seconds; the article's 8 s, scaled down so a staged timeout costs half a second
CRM = Citation(source="crm:contract/C-1042", approved=True, locator="warranty schedule")
KB = Citation(source="kb:warranty-policy", version="v7", approved=True, locator="section 2.1")
FORUM = Citation(source="community-forum:thread/889", approved=False)


class SupportCase(Finding):
    """The case as the intake form records it."""

    kind_name = "support.Case"
    description: str
    account: str
    product: str


class Intake(Finding):
    """Structured facts extracted from the case."""

    kind_name = "support.Intake"
    issue_type: Literal["warranty", "technical", "billing", "returns", "unknown"]
    urgency: Literal["low", "medium", "high"]
    customer_intent: str


class Route(Finding):
    """The workflow path the routing agent chose."""

    kind_name = "support.Route"
    path: Literal["warranty", "technical", "human"]


class PolicyReference(Finding):
    """What the approved knowledge base says about the product line's warranty."""

    kind_name = "support.PolicyReference"
    article: str
    excluded: bool


class Entitlement(Finding):
    """Whether the customer's contract or warranty covers the case."""

    kind_name = "support.Entitlement"
    entitled: bool
    source: Literal["contract", "warranty", "manual_review"]
    reason: str


class Draft(Finding):
    """The customer-facing reply the response agent drafted."""

    kind_name = "support.Draft"
    subject_line: str
    body: str


def support_case(variant: str = "happy") -> Scenario:
    """The support-case scenario, or one of its failure `VARIANTS`."""
    if variant not in VARIANTS:
        raise ScenarioError(f"support-case has no variant {variant!r}; variants: {', '.join(VARIANTS)}", file=__name__)
    return Scenario(
        name="support-case",
        variant=variant,
        description=__doc__.split("\n\n")[0].replace("\n", " ") if __doc__ else "",
        agents=_agents(variant) if variant != "llm" else _model_backed(),
        rules=(
            rules.escalate_below(Intake, confidence=0.75),
            rules.escalate_below(Entitlement, confidence=0.8),
            rules.contradiction(
                Entitlement,
                PolicyReference,
                when=lambda e, p: e.entitled and p.excluded,
                reason="entitlement contradicts a policy exception",
            ),
            rules.sufficient(Entitlement, min_confidence=0.8),
            rules.sufficient(Proposal),
        ),
        policy=policies.Policy(
            policies.min_confidence(0.85),
            policies.require_citations(approved=True),
            policies.escalate_on_conflict(),
            policies.require_approval(reason="a customer-facing reply waits for a person"),
            policies.allowed_fields(["Status", "Priority", "AI_Confidence__c"], actions=["update"]),
        ),
        sink=lambda: sinks.Table("support_cases"),
        inputs=_inputs if variant != "llm" else _llm_inputs,
        expect=_EXPECT[variant],
        kinds=(SupportCase, Intake, Route, PolicyReference, Entitlement, Draft, Proposal),
        source=__name__,
        variants={v: partial(support_case, v) for v in VARIANTS},  # so module:support_case --variant V works too
    )


def _inputs(board: str) -> Sequence[Finding]:
    return (
        SupportCase(
            subject=board,
            description="Pump P-200 stopped after three weeks; the distributor asks for a replacement under warranty.",
            account="ACME Distribution",
            product="P-200",
            confidence=1.0,
        ),
    )


def _model_backed() -> tuple[Agent, ...]:
    """The happy path's agents, with intake, entitlement and response model-backed (the llm variant)."""
    try:
        from slateboard.scenarios.support_case_llm import llm_agents  # noqa: PLC0415 - needs the llm extra
    except ImportError as exc:
        raise ScenarioError(f"support-case/llm needs the llm extra (pip install 'slateboard[llm]'): {exc}") from exc
    models = {a.name: a for a in llm_agents()}
    return tuple(models.get(a.name, a) for a in _agents("happy"))


def _llm_inputs(board: str) -> Sequence[Finding]:
    from slateboard.scenarios.support_case_llm import llm_inputs  # noqa: PLC0415 - built with the llm agents

    return llm_inputs(board)


_EXPECT = {
    "happy": Expectation(
        status="awaiting_approval", reasons=("a customer-facing reply waits",), commits=1, approvals=1
    ),
    "llm": Expectation(status="awaiting_approval", reasons=("a customer-facing reply waits",), commits=1, approvals=1),
    "timeout": Expectation(status="awaiting_approval", commits=1, approvals=1),
    "low-intake": Expectation(status="escalated", reasons=("escalate_below(support.Intake < 0.75)",), commits=0),
    "conflict": Expectation(status="escalated", reasons=("entitlement contradicts a policy exception",), commits=0),
    "uncited": Expectation(status="rejected", reasons=("require_citations(approved)",), commits=0),
    "policy-conflict": Expectation(status="escalated", reasons=("agent-conflict",), commits=0),
}


def _agents(variant: str) -> tuple[Agent, ...]:
    @agent(name="intake", timeout=8)
    async def intake(case: SupportCase) -> Intake:
        """Extracts structured facts from the case."""
        confidence = 0.6 if variant == "low-intake" else 0.92
        intent = "replacement under warranty"
        return Intake(
            subject=case.subject, issue_type="warranty", urgency="high", customer_intent=intent, confidence=confidence
        )

    @agent(name="routing")
    async def routing(case: SupportCase, facts: Intake) -> Route:
        """Decides the workflow path."""
        path = "warranty" if facts.issue_type == "warranty" else "human"
        return Route(subject=case.subject, path=path, confidence=facts.confidence)

    @agent(name="knowledge", timeout=RETRIEVAL_TIMEOUT, retries=1, capabilities={"retrieval"})
    async def knowledge(case: SupportCase, route: Route, ctx: AgentContext) -> PolicyReference:
        """Retrieves approved articles and policy references."""
        if variant == "timeout" and ctx.attempt == 1:
            await anyio.sleep(RETRIEVAL_TIMEOUT * 4)  # the retrieval service hangs once
        excluded = variant == "conflict"
        article = "exception 4.2: pumps run dry are excluded" if excluded else "defects within 12 months are covered"
        return PolicyReference(
            subject=case.subject, article=article, excluded=excluded, confidence=0.9, citations=(KB,)
        )

    @agent(name="entitlement", timeout=8, rating=10)
    async def entitlement(case: SupportCase, route: Route) -> Entitlement:
        """Validates warranty and contract status."""
        reason = "contract C-1042 includes a 12-month parts warranty"
        return Entitlement(
            subject=case.subject, entitled=True, source="contract", reason=reason, confidence=0.92, citations=(CRM,)
        )

    @agent(name="response", timeout=10)
    async def response(case: SupportCase, ent: Entitlement, ref: PolicyReference) -> Draft:
        """Drafts the customer-facing reply, citing what it relies on."""
        cited = (FORUM,) if variant == "uncited" else (*ent.citations, *ref.citations)
        body = f"Your {case.product} is covered ({ent.reason}); a replacement ships within 2 business days."
        return Draft(
            subject=case.subject, subject_line="Your warranty claim", body=body, confidence=0.9, citations=cited
        )

    @agent(name="review")
    async def review(case: SupportCase, draft: Draft, ref: PolicyReference) -> None:
        """Checks the draft against policy; a conflict goes to a person and is never retried."""
        if variant == "policy-conflict":
            raise ConflictError("the draft promises a replacement the product line's policy reserves for managers")

    @agent(name="action", rating=-10)
    async def action(case: SupportCase, facts: Intake, draft: Draft) -> list[Proposal]:
        """Proposes the Salesforce updates; it never commits them itself."""
        update = Proposal(
            subject=case.subject,
            action="update",
            target=f"Case/{case.subject}",
            changes={"Status": "Working", "Priority": facts.urgency.title(), "AI_Confidence__c": draft.confidence},
            confidence=draft.confidence,
            citations=draft.citations,
        )
        reply = Proposal(
            subject=case.subject,
            action="send_reply",
            target=f"Case/{case.subject}/reply",
            changes={"Subject": draft.subject_line, "Body": draft.body},
            reversible=False,
            confidence=draft.confidence,
            citations=draft.citations,
        )
        return [update, reply]

    return (intake, routing, knowledge, entitlement, response, review, action)
