"""Lead to cash (seed 002): a supervisor with qualification, routing, engagement, call-summary and proposal
specialists on one Salesforce lead.

The article's architecture, as slateboard runs it: the supervisor's routing, sequencing and conflict resolution
are the controller's and the policy's; what the supervisor writes (the context package it assembles from the
routing rules) is the `supervisor` agent's. Specialists never write to Salesforce: they return structured output
and proposals, and only the commit layer applies them (single-writer commits). Two proposals on one record are
resolved by priority (compliance > service > sales: the sales update is recorded as overridden); a compliance
flag freezes every action; the first outreach to a lead waits for a person ("human in the loop for the first
touch"). The routing specialist proposes the lead's update as one transaction (status, score, rep, task, notes).

Variants: happy, low-confidence, unavailable, follow-up, conflict, compliance.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from slateboard import policies
from slateboard.agents.spec import Agent, agent
from slateboard.blackboard.records import Finding
from slateboard.blackboard.view import BoardView
from slateboard.commit import sinks
from slateboard.controller import rules
from slateboard.errors import ScenarioError
from slateboard.scenarios.model import Expectation, Scenario
from slateboard.state.proposal import Proposal

__all__ = (
    "VARIANTS",
    "lead_to_cash",
    "Lead",
    "ContextPackage",
    "ComplianceFlag",
    "Qualification",
    "Assignment",
    "OutreachDraft",
    "CallTranscript",
    "CallSummary",
    "ProposalDraft",
    "SupportActivity",
    "HealthAssessment",
)

VARIANTS = ("happy", "low-confidence", "unavailable", "follow-up", "conflict", "compliance")
QUALIFICATION_GATE = 0.75  # a specialist less sure than this goes to a person before anything is proposed
# The sales team's capacity data the routing specialist receives: territory, expertise and open pipeline load.
REPS = (
    ("rep-maya", "west", "enterprise", 4),
    ("rep-jonas", "west", "enterprise", 9),
    ("rep-ines", "east", "mid-market", 2),
)
_AFTER_CALL = ("follow-up", "conflict")  # variants where the rep's first call has happened


class Lead(Finding):
    """The lead a demo-request form created: source, company size and stated use cases."""

    kind_name = "lead2cash.Lead"
    company: str
    contact: str
    employees: int
    territory: str
    use_cases: tuple[str, ...]
    source: str


class ContextPackage(Finding):
    """What the supervisor assembles from its routing rules before it dispatches the specialists."""

    kind_name = "lead2cash.ContextPackage"
    track: str
    multi_product: bool
    attribution: str | None


class ComplianceFlag(Finding):
    """The compliance screen of the lead's contact; `frozen` stops every action on the record."""

    kind_name = "lead2cash.ComplianceFlag"
    frozen: bool
    reason: str


class Qualification(Finding):
    """The qualification specialist's assessment: fit score, intent signals, first-call questions, a risk flag."""

    kind_name = "lead2cash.Qualification"
    fit_score: int
    intent_signals: tuple[str, ...]
    questions: tuple[str, ...]
    risk: str | None


class Assignment(Finding):
    """The rep the routing specialist chose, and why."""

    kind_name = "lead2cash.Assignment"
    rep: str
    reason: str


class OutreachDraft(Finding):
    """The engagement specialist's personalised email, for the rep's draft queue."""

    kind_name = "lead2cash.OutreachDraft"
    first_touch: bool
    subject_line: str
    body: str


class CallTranscript(Finding):
    """The rep's call with the prospect, as recorded."""

    kind_name = "lead2cash.CallTranscript"
    text: str


class CallSummary(Finding):
    """The call-summary specialist's summary: the pain points and requirements the prospect named."""

    kind_name = "lead2cash.CallSummary"
    pain_points: tuple[str, ...]
    requirements: tuple[str, ...]
    asked_for_proposal: bool


class ProposalDraft(Finding):
    """The proposal specialist's materials, written from the full thread (lead, qualification, call summary)."""

    kind_name = "lead2cash.ProposalDraft"
    title: str
    sections: tuple[str, ...]


class SupportActivity(Finding):
    """Service's view of the account this week."""

    kind_name = "lead2cash.SupportActivity"
    tickets_this_week: int


class HealthAssessment(Finding):
    """The service specialist's account health."""

    kind_name = "lead2cash.HealthAssessment"
    health: str
    reason: str


def lead_to_cash(variant: str = "happy") -> Scenario:
    """The lead-to-cash scenario, or one of its failure `VARIANTS`."""
    if variant not in VARIANTS:
        raise ScenarioError(f"lead-to-cash has no variant {variant!r}; variants: {', '.join(VARIANTS)}", file=__name__)
    return Scenario(
        name="lead-to-cash",
        variant=variant,
        description=__doc__.split("\n\n")[0].replace("\n", " ") if __doc__ else "",
        agents=_agents(variant),
        rules=_rules(variant),
        policy=policies.Policy(
            policies.freeze_on(ComplianceFlag, when=is_frozen),
            policies.priority("compliance", "service", "sales"),
            policies.escalate_on_conflict(),
            policies.min_confidence(0.8),
            policies.require_approval(is_first_touch, reason="the first outreach to a lead waits for a person"),
        ),
        sink=lambda: sinks.Table("lead_to_cash"),
        inputs=lambda board: _inputs(board, variant),
        expect=_EXPECT[variant],
        kinds=(Lead, CallTranscript, SupportActivity, Proposal),
        source=__name__,
        variants={v: partial(lead_to_cash, v) for v in VARIANTS},  # so module:lead_to_cash --variant V works too
    )


def is_frozen(flag: ComplianceFlag) -> bool:
    """The compliance screen froze the record."""
    return flag.frozen


def is_first_touch(proposal: Proposal) -> bool:
    """The proposal is the first outreach to the lead."""
    return proposal.action == "queue_outreach" and proposal.changes.get("Touch") == "first"


def _rules(variant: str) -> tuple[rules.Rule, ...]:
    # The run is sufficient once every specialist with work on this lead has reported: the last output of each
    # branch of the workflow. The post-call branches exist only once a call happened (and tickets came in).
    last: list[type[Finding]] = [ComplianceFlag, Assignment, OutreachDraft]
    if variant in _AFTER_CALL:
        last.append(ProposalDraft)
    if variant == "conflict":
        last.append(HealthAssessment)
    return (
        rules.escalate_below(Qualification, confidence=QUALIFICATION_GATE),
        rules.sufficient(Qualification, min_confidence=QUALIFICATION_GATE),
        *(rules.sufficient(kind) for kind in last),
        rules.sufficient(Proposal),
    )


def _inputs(board: str, variant: str) -> Sequence[Finding]:
    lead = Lead(
        subject=board,
        company="Northwind Logistics",
        contact="Dana Reyes",
        employees=1200,
        territory="west",
        use_cases=("fleet telematics", "route optimisation", "driver safety"),
        source="paid_campaign:q3-demo",
        confidence=1.0,
    )
    found: list[Finding] = [lead]
    if variant in _AFTER_CALL:
        text = (
            "Dana: dispatch runs on spreadsheets; we lose two hours a day re-planning routes. "
            "Our insurer wants driver-safety reports by Q4. Send me a proposal for all three modules."
        )
        found.append(CallTranscript(subject=board, text=text, confidence=1.0))
    if variant == "conflict":
        found.append(SupportActivity(subject=board, tickets_this_week=3, confidence=1.0))
    return tuple(found)


_EXPECT = {
    "happy": Expectation(status="awaiting_approval", reasons=("the first outreach",), commits=1, approvals=1),
    "low-confidence": Expectation(
        status="escalated", reasons=("escalate_below(lead2cash.Qualification < 0.75)",), commits=0
    ),
    "unavailable": Expectation(status="failed", reasons=("agent routing failed",), commits=0),
    "follow-up": Expectation(status="committed", commits=3, approvals=0),
    "conflict": Expectation(status="committed", commits=3, approvals=0),
    "compliance": Expectation(
        status="rejected", reasons=("freeze_on(lead2cash.ComplianceFlag)",), commits=0, approvals=0
    ),
}


def _agents(variant: str) -> tuple[Agent, ...]:
    @agent(name="supervisor", rating=20)
    async def supervisor(lead: Lead) -> ContextPackage:
        """Evaluates the new lead against the routing rules and assembles the context package."""
        return ContextPackage(
            subject=lead.subject,
            track="enterprise" if lead.employees > 500 else "commercial",
            multi_product=len(lead.use_cases) >= 3,
            attribution=lead.source if lead.source.startswith("paid_campaign") else None,
            confidence=1.0,
        )

    @agent(name="compliance", rating=20)
    async def compliance(lead: Lead) -> ComplianceFlag:
        """Screens the lead's contact before anyone acts on the record."""
        if variant == "compliance":
            reason = f"{lead.contact} filed a GDPR erasure request; no processing until legal clears it"
            return ComplianceFlag(subject=lead.subject, frozen=True, reason=reason, confidence=1.0)
        return ComplianceFlag(subject=lead.subject, frozen=False, reason="no restrictions found", confidence=1.0)

    @agent(name="qualification", timeout=30)
    async def qualification(lead: Lead, package: ContextPackage) -> Qualification:
        """Scores and enriches the lead from the context package (the model's structured assessment)."""
        return Qualification(
            subject=lead.subject,
            fit_score=86 if package.track == "enterprise" else 55,
            intent_signals=("requested a demo", f"{len(lead.use_cases)} product categories"),
            questions=("Who signs off since the merger?", "Which depots go live first?"),
            risk="merged with Contoso Freight in May: verify the current decision-maker",
            confidence=0.55 if variant == "low-confidence" else 0.9,
        )

    @agent(name="routing", timeout=30)
    async def routing(lead: Lead, package: ContextPackage, qual: Qualification) -> list[Assignment | Proposal]:
        """Assigns the best-fit rep by territory, expertise and pipeline load; proposes the lead's update."""
        if variant == "unavailable":
            raise ConnectionError("the routing model's endpoint answered 503 Service Unavailable")
        fits = [r for r in REPS if r[1] == lead.territory and r[2] == package.track] or list(REPS)
        rep, territory, expertise, load = min(fits, key=lambda r: r[3])
        reason = f"{territory} territory, {expertise} expertise, lightest pipeline ({load} open deals)"
        notes = f"fit {qual.fit_score}; {'; '.join(qual.intent_signals)}; risk: {qual.risk}"
        update = Proposal(
            subject=lead.subject,
            action="update",
            target=f"Lead/{lead.subject}",
            changes={
                "Status": "Qualified",
                "Lead_Score__c": qual.fit_score,
                "OwnerId": rep,
                "Qualification_Notes__c": notes,
                "Next_Task": f"First call within 24 h: {qual.questions[0]}",
            },
            confidence=qual.confidence,
            domain="sales",
        )
        return [Assignment(subject=lead.subject, rep=rep, reason=reason, confidence=0.95), update]

    @agent(name="engagement")
    async def engagement(
        lead: Lead, qual: Qualification, who: Assignment, view: BoardView
    ) -> list[OutreachDraft | Proposal]:
        """Drafts the personalised outreach from the qualification context, into the rep's draft queue."""
        first = view.latest(CallTranscript, subject=lead.subject) is None
        opener = "Thanks for requesting a demo" if first else "Thanks for your time on the call"
        body = f"{opener}, {lead.contact}. {', '.join(lead.use_cases)}: {qual.questions[1]}"
        draft = OutreachDraft(
            subject=lead.subject,
            first_touch=first,
            subject_line=f"{lead.company} x fleet platform",
            body=body,
            confidence=0.9,
        )
        queue = Proposal(
            subject=lead.subject,
            action="queue_outreach",
            target=f"Lead/{lead.subject}/outreach",
            changes={
                "Owner": who.rep,
                "Subject": draft.subject_line,
                "Body": body,
                "Touch": "first" if first else "follow-up",
            },
            reversible=False,  # once the rep sends it, it cannot be unsent
            confidence=draft.confidence,
            domain="sales",
        )
        return [draft, queue]

    @agent(name="call-summary")
    async def call_summary(lead: Lead, call: CallTranscript) -> CallSummary:
        """Summarises the rep's call: the prospect's pain points and requirements."""
        return CallSummary(
            subject=lead.subject,
            pain_points=("dispatch runs on spreadsheets", "two hours a day lost re-planning routes"),
            requirements=("driver-safety reports for the insurer by Q4",),
            asked_for_proposal="proposal" in call.text,
            confidence=0.9,
        )

    @agent(name="proposal")
    async def proposal(lead: Lead, qual: Qualification, call: CallSummary) -> list[ProposalDraft | Proposal]:
        """Drafts the proposal from the full thread; the rep asked for one, so sales moves the deal on."""
        draft = ProposalDraft(
            subject=lead.subject,
            title=f"{lead.company}: {', '.join(lead.use_cases)}",
            sections=(*call.pain_points, *call.requirements, f"decision-maker: {qual.risk}"),
            confidence=0.9,
        )
        sales = Proposal(
            subject=lead.subject,
            action="update",
            target=f"Opportunity/{lead.subject}",
            changes={"StageName": "Negotiation", "Health__c": "Green", "Proposal_Draft__c": draft.title},
            confidence=0.88,
            domain="sales",
        )
        return [draft, sales]

    @agent(name="service")
    async def service(lead: Lead, activity: SupportActivity) -> list[HealthAssessment | Proposal]:
        """Rates the account's health from this week's support tickets; downgrades it when they pile up."""
        health = "Red" if activity.tickets_this_week >= 3 else "Green"
        reason = f"{activity.tickets_this_week} support tickets this week"
        downgrade = Proposal(
            subject=lead.subject,
            action="update",
            target=f"Opportunity/{lead.subject}",
            changes={"Health__c": health, "Health_Reason__c": reason},
            confidence=0.9,
            domain="service",
        )
        return [HealthAssessment(subject=lead.subject, health=health, reason=reason, confidence=0.9), downgrade]

    return (supervisor, compliance, qualification, routing, engagement, call_summary, proposal, service)
