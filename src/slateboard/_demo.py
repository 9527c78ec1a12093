"""The first-run demo: a support case (after seed 000) run by a small controller on a real board.

Intake, entitlement and knowledge agents write findings; the controller decides after each change. The
"conflict" variant has the knowledge base report a warranty exception, which contradicts the entitlement:
the run goes to a person. Issue 5's built-in scenarios take over from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from slateboard.agents import agent
from slateboard.blackboard import Blackboard, Citation, Entry, Finding, Head
from slateboard.controller import Controller, Outcome, ReplayReport, rules

__all__ = ("DemoResult", "run_demo", "SupportCase", "Intake", "Entitlement", "PolicyCheck", "VARIANTS")

VARIANTS = ("happy", "conflict")


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


CONTROLLER = Controller(
    [intake, entitlement, knowledge],
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
    ],
    inputs=[SupportCase],
)


@dataclass(frozen=True)
class DemoResult:
    board: str
    outcome: Outcome
    history: tuple[Entry, ...]
    replay: ReplayReport
    head: Head


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
    return DemoResult(board_name, outcome, await board.history(), await CONTROLLER.replay(board), await board.verify())
