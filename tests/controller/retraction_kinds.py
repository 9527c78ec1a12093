"""A small knowledge-base workflow for the retraction tests: an entitlement from the CRM, a policy reference from a
versioned knowledge base (`KB` says which version retrieval returns now), and a proposal drawn from both."""

from slateboard import Citation, Controller, Finding, Proposal, agent, policies, rules, sinks

KB: dict[str, str] = {"version": "v7"}
"""The knowledge base's current article version: what the knowledge agent retrieves (a test moves it on)."""


class Ticket(Finding):
    kind_name = "tests.retraction.Ticket"


class Coverage(Finding):
    kind_name = "tests.retraction.Coverage"
    entitled: bool


class Article(Finding):
    kind_name = "tests.retraction.Article"
    section: str


@agent
async def crm(ticket: Ticket) -> Coverage:
    return Coverage(subject=ticket.subject, entitled=True, confidence=0.9, citations=(Citation(source="crm"),))


@agent
async def knowledge(ticket: Ticket, coverage: Coverage) -> Article:
    cited = Citation(source="kb:warranty", version=KB["version"], approved=True)
    return Article(subject=ticket.subject, section="2.1", confidence=0.95, citations=(cited,))


@agent
async def action(ticket: Ticket, article: Article) -> Proposal:
    version = article.citations[0].version or ""
    return Proposal(
        subject=ticket.subject,
        action="update",
        target=f"Case/{ticket.subject}",
        changes={"Status": "Covered", "Policy": version},
        confidence=0.9,
    )


def everything(proposal: Proposal) -> bool:
    """Every case update waits for a person."""
    return True


def controller(*, approval: bool, sink: sinks.Memory | None = None) -> Controller:
    """The workflow; with `approval`, every proposal waits for a person, else it is committed to `sink`."""
    gate = policies.require_approval(everything, id="a person approves") if approval else policies.allow()
    return Controller(
        [crm, knowledge, action],
        [rules.sufficient(Proposal, min_confidence=0.8)],
        policy=policies.Policy(policies.min_confidence(0.8), gate),
        sink=sink if sink is not None else sinks.Memory(),
    )


def ticket(subject: str = "t-1") -> Ticket:
    return Ticket(subject=subject, confidence=1.0)
