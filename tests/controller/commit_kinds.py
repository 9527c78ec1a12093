"""Finding kinds and agents for the commit-flow tests (module level, so annotations resolve).

Two scenarios from the field:

- A B2B support case (seed 000): entitlement, knowledge, response and Salesforce-action agents. The `Case`
  input carries what the action agent will propose (confidence, approved sources, reversibility), so one set
  of agents reaches every policy outcome.
- Lead-to-cash (seed 002): a sales agent and a service agent update the same field of the same account
  record (sales marks it healthy because the rep asked for a proposal; service downgrades it after three
  tickets), and a compliance agent raises a flag when the account is under review.
"""

from typing import Any

from slateboard import Citation, Finding, Proposal, agent, rules, sinks

# --- the support case (seed 000) ---------------------------------------------------------------------------


class Case(Finding):
    """A support case; the `propose_*` fields script what the action agent recommends."""

    kind_name = "tests.commitflow.Case"
    description: str = "distributor reports a failed controller board under warranty"
    propose_status: str = "Resolved"
    propose_confidence: float = 0.9
    approved_sources: bool = True
    reversible: bool = True


class Entitlement(Finding):
    kind_name = "tests.commitflow.Entitlement"
    entitled: bool


class PolicyCheck(Finding):
    kind_name = "tests.commitflow.PolicyCheck"
    excluded: bool
    article: str


class Response(Finding):
    kind_name = "tests.commitflow.Response"
    body: str


def case(subject: str = "case-42", **fields: object) -> Case:
    """A case input (authored "input" by the controller); `fields` override the scripted proposal."""
    return Case(subject=subject, confidence=1.0, **fields)  # type: ignore[arg-type]


def cite(source: str, *, approved: bool = True) -> tuple[Citation, ...]:
    return (Citation(source=source, version="2024-05", approved=approved),)


@agent(rating=10)
async def entitlement(case: Case) -> Entitlement:
    return Entitlement(subject=case.subject, entitled=True, confidence=0.9, citations=cite("contracts"))


@agent
async def knowledge(case: Case, entitlement: Entitlement) -> PolicyCheck:
    return PolicyCheck(
        subject=case.subject, excluded=False, article="KB-1042", confidence=0.95, citations=cite("kb/KB-1042")
    )


@agent
async def response_writer(case: Case, check: PolicyCheck) -> Response:
    body = f"Your board is covered under {check.article}; a replacement ships today."
    return Response(subject=case.subject, body=body, confidence=0.9, citations=check.citations)


@agent
async def salesforce_action(case: Case, response: Response) -> Proposal:
    """Proposes the case update; never commits (only the commit layer does)."""
    return Proposal(
        subject=case.subject,
        action="update",
        target=f"Case/{case.subject}",
        changes={"Status": case.propose_status},
        confidence=case.propose_confidence,
        citations=cite("kb/KB-1042", approved=case.approved_sources),
        reversible=case.reversible,
    )


SUPPORT_AGENTS = (entitlement, knowledge, response_writer, salesforce_action)
SUPPORT_RULES = (rules.sufficient(Entitlement, min_confidence=0.8), rules.sufficient(Proposal))


# --- lead-to-cash (seed 002) -------------------------------------------------------------------------------


class Account(Finding):
    """An account on which sales and service both act; `under_review` makes compliance raise a flag."""

    kind_name = "tests.commitflow.Account"
    open_tickets: int = 3
    under_review: bool = False


class ComplianceFlag(Finding):
    kind_name = "tests.commitflow.ComplianceFlag"
    reason: str


def account(subject: str = "acme", **fields: object) -> Account:
    return Account(subject=subject, confidence=1.0, **fields)  # type: ignore[arg-type]


def record(subject: str) -> str:
    """The CRM record both agents update."""
    return f"Account/{subject}"


@agent
async def sales_agent(account: Account) -> Proposal:
    """The rep asked for a proposal: sales marks the account healthy and the deal in negotiation."""
    return Proposal(
        subject=account.subject,
        action="update",
        target=record(account.subject),
        changes={"Health": "Green", "Stage": "Negotiation"},
        confidence=0.9,
        citations=cite("crm/opportunity"),
        domain="sales",
    )


@agent
async def service_agent(account: Account) -> Proposal:
    """Three tickets this week: service downgrades the same account's health."""
    return Proposal(
        subject=account.subject,
        action="update",
        target=record(account.subject),
        changes={"Health": "Red"},
        confidence=0.9,
        citations=cite("tickets/weekly"),
        domain="service",
    )


@agent
async def compliance_agent(account: Account) -> ComplianceFlag | None:
    if not account.under_review:
        return None
    return ComplianceFlag(
        subject=account.subject, reason="account under sanctions review", confidence=1.0, citations=cite("legal")
    )


LEAD_AGENTS = (sales_agent, service_agent)
LEAD_RULES = (rules.sufficient(Proposal),)


# --- the handoffs (seed 004) and failures ------------------------------------------------------------------


@agent
async def outreach(case: Case) -> list[Proposal]:
    """Two externally visible actions on one case: a CRM update and a customer email, both waiting for a person."""
    return [
        Proposal(
            subject=case.subject,
            action="update",
            target=f"Case/{case.subject}",
            changes={"Status": "Waiting on Customer"},
            confidence=0.9,
            citations=cite("kb/KB-1042"),
            reversible=False,
        ),
        Proposal(
            subject=case.subject,
            action="send_email",
            target=f"Contact/{case.subject}",
            changes={"Template": "warranty-replacement"},
            confidence=0.9,
            citations=cite("templates/warranty"),
            reversible=False,
        ),
    ]


@agent(retries=0)
async def crm_down(case: Case) -> Entitlement:
    raise RuntimeError("CRM is down")


class DownCRM(sinks.Memory):
    """A CRM that refuses every call while `down` (nothing is applied), and records like `Memory` once fixed."""

    def __init__(self) -> None:
        super().__init__(name="crm")
        self.down = True
        self.calls = 0

    def apply(self, proposal: Proposal, key: str) -> Any:
        self.calls += 1
        if self.down:
            raise RuntimeError("CRM is down")
        return super().apply(proposal, key)
