"""Finding kinds and hand-written agents for the scripted-agent tests (module level, so annotations resolve)."""

from pydantic import Field

from slateboard import AgentContext, Citation, Finding, Record, agent


class Case(Finding):
    kind_name = "tests.scripted.Case"
    description: str = "distributor reports a failed controller board under warranty"


class Entitlement(Finding):
    kind_name = "tests.scripted.Entitlement"
    entitled: bool


class PolicyCheck(Finding):
    kind_name = "tests.scripted.PolicyCheck"
    excluded: bool
    article: str = "KB-1042"


class Response(Finding):
    kind_name = "tests.scripted.Response"
    body: str


class Note(Record):
    """A record that is not a finding: no subject, no confidence."""

    kind_name = "tests.scripted.Note"
    text: str = Field(min_length=1)


def case(subject: str = "case-42") -> Case:
    return Case(subject=subject, confidence=1.0)


def cite(source: str) -> tuple[Citation, ...]:
    return (Citation(source=source, approved=True),)


@agent(name="knowledge", timeout=8, retries=2, rating=50, capabilities={"warranty"})
async def knowledge(case: Case, entitlement: Entitlement) -> PolicyCheck:
    """The hand-written agent a scripted `knowledge` stands in for."""
    return PolicyCheck(subject=case.subject, excluded=False, confidence=0.95)


@agent(name="responder", when=lambda policy_check: not policy_check.excluded)
async def responder(case: Case, policy_check: PolicyCheck, context: AgentContext) -> list[Response | Entitlement]:
    return []
