"""The first-run demo: a support case (after seed 000) run by a small controller on a real board.

Intake, entitlement and knowledge agents write findings; an action agent proposes a case update; the controller
decides after each change; the policy judges the proposal; the commit layer applies it once, to a table in the
same SQLite file. The "conflict" variant has the knowledge base report a warranty exception, which contradicts
the entitlement: the run goes to a person. The "approval" variant proposes an irreversible action (a customer
email), which waits for a person's approval. Issue 5's built-in scenarios take over from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from slateboard import policies
from slateboard.agents import agent
from slateboard.blackboard import Blackboard, Citation, Entry, Finding, Head
from slateboard.commit import Proposal, sinks
from slateboard.controller import Controller, Outcome, ReplayReport, rules

__all__ = ("DemoResult", "run_demo", "SupportCase", "Intake", "Entitlement", "PolicyCheck", "VARIANTS", "CASES")

VARIANTS = ("happy", "conflict", "approval")
CASES = sinks.Table("cases")


class SupportCase(Finding):
    """A B2B support case as the intake form records it."""

    kind_name = "demo.SupportCase"
    description: str
    product: str
    variant: str = "happy"


class Intake(Finding):
    """How the case was classified."""

    kind_name = "demo.Intake"
    category: str


class Entitlement(Finding):
    """Whether the customer's contract covers the case."""

    kind_name = "demo.Entitlement"
    entitled: bool


class PolicyCheck(Finding):
    """What the knowledge base says about exceptions to the warranty policy."""

    kind_name = "demo.PolicyCheck"
    excluded: bool
    rule: str


@agent(name="intake")
async def intake(case: SupportCase) -> Intake:
    return Intake(subject=case.subject, category="warranty claim", confidence=0.92)


@agent(name="entitlement", rating=10)
async def entitlement(case: SupportCase, triage: Intake) -> Entitlement:
    source = Citation(source="crm:contract/C-1042", approved=True)
    return Entitlement(subject=case.subject, entitled=True, confidence=0.92, citations=(source,))


@agent(name="knowledge", capabilities={"warranty"})
def knowledge(case: SupportCase, triage: Intake) -> PolicyCheck:
    excluded = case.variant == "conflict"
    rule = "exception 4.2: pumps run dry are excluded" if excluded else "warranty covers defects within 12 months"
    source = Citation(source="kb:warranty-policy", version="v7", approved=True, locator="section 2.1")
    return PolicyCheck(subject=case.subject, excluded=excluded, rule=rule, confidence=0.9, citations=(source,))


@agent(name="action")
def action(case: SupportCase, ent: Entitlement, policy: PolicyCheck) -> Proposal:
    """Proposes the case update; it never writes to the case itself."""
    cited = (*ent.citations, *policy.citations)
    if case.variant == "approval":
        email = {"Email": "Replacement approved under warranty (policy section 2.1)."}
        return Proposal(
            subject=case.subject,
            action="email_customer",
            target=f"Case/{case.subject}",
            changes=email,
            reversible=False,
            confidence=0.9,
            citations=cited,
        )
    changes = {"Status": "Working", "Priority": "High", "Resolution": "replace under warranty"}
    return Proposal(
        subject=case.subject,
        action="update",
        target=f"Case/{case.subject}",
        changes=changes,
        confidence=0.9,
        citations=cited,
    )


POLICY = policies.Policy(
    policies.min_confidence(0.85),
    policies.require_citations(approved=True),
    policies.escalate_on_conflict(),
    policies.require_approval(),
    policies.allowed_fields(["Status", "Priority", "Resolution", "Email"]),
)

CONTROLLER = Controller(
    [intake, entitlement, knowledge, action],
    [
        rules.escalate_below(Intake, confidence=0.75),
        rules.contradiction(
            Entitlement,
            PolicyCheck,
            when=lambda e, p: e.entitled and p.excluded,
            reason="entitlement contradicts a policy exception",
        ),
        rules.sufficient(Entitlement, min_confidence=0.8),
        rules.sufficient(PolicyCheck, min_confidence=0.85),
        rules.sufficient(Proposal, min_confidence=0.85),
    ],
    inputs=[SupportCase],
    policy=POLICY,
    sink=CASES,
)


@dataclass(frozen=True)
class DemoResult:
    board: str
    outcome: Outcome
    history: tuple[Entry, ...]
    replay: ReplayReport
    head: Head
    record: dict[str, object] | None


async def run_demo(blackboard: Blackboard, board_name: str, variant: str = "happy") -> DemoResult:
    """Run the support case on `board_name`, then replay and verify the board."""
    board = blackboard.board(board_name)
    case = SupportCase(
        subject=board_name,
        description="Pump P-200 stopped after 3 weeks; the customer asks for a replacement under warranty.",
        product="P-200",
        variant=variant,
        confidence=1.0,
    )
    outcome = await CONTROLLER.run(board, case)
    record = CASES.rows(blackboard).get(f"Case/{board_name}")
    history, replay = await board.history(), await CONTROLLER.replay(board)
    return DemoResult(board_name, outcome, history, replay, await board.verify(), record)
