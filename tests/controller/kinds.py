"""Finding kinds and agents shared by the controller tests (module level, so annotations resolve)."""

from slateboard import Citation, Finding, Proposal, agent
from slateboard.errors import ConflictError


class Case(Finding):
    kind_name = "tests.controller.Case"
    description: str = "a case"


class Entitlement(Finding):
    kind_name = "tests.controller.Entitlement"
    entitled: bool


class PolicyCheck(Finding):
    kind_name = "tests.controller.PolicyCheck"
    excluded: bool


class Intake(Finding):
    kind_name = "tests.controller.Intake"
    category: str


def case(subject: str = "case-1") -> Case:
    return Case(subject=subject, confidence=1.0)


def cite(source: str) -> tuple[Citation, ...]:
    return (Citation(source=source, approved=True),)


@agent(rating=10)
async def crm_entitlement(case: Case) -> Entitlement:
    return Entitlement(subject=case.subject, entitled=True, confidence=0.9, citations=cite("crm"))


@agent
async def contract_entitlement(case: Case) -> Entitlement:
    return Entitlement(subject=case.subject, entitled=True, confidence=0.85, citations=cite("contracts"))


@agent
async def knowledge(case: Case, entitlement: Entitlement) -> PolicyCheck:
    return PolicyCheck(subject=case.subject, excluded=False, confidence=0.95, citations=cite("kb"))


@agent
async def strict_knowledge(case: Case, entitlement: Entitlement) -> PolicyCheck:
    return PolicyCheck(subject=case.subject, excluded=True, confidence=0.95, citations=cite("kb"))


@agent(name="knowledge_conflict")
async def conflicted(case: Case) -> PolicyCheck:
    raise ConflictError("warranty exception 4.2 applies to this product line")


@agent
async def proposer(case: Case, policy: PolicyCheck) -> Proposal:
    return Proposal(
        subject=case.subject,
        action="update",
        target=f"Case/{case.subject}",
        changes={"Status": "Approved"},
        confidence=0.9,
        citations=cite("kb"),
    )
