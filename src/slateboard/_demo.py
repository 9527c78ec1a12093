"""The first-run demo: a support case (after seed 000) written to a board, read back and verified.

Later issues replace it with the built-in scenarios; it stays as the smallest tour of the board.
"""

from __future__ import annotations

from dataclasses import dataclass

from slateboard.blackboard import Blackboard, BoardView, Citation, Entry, Finding, Head
from slateboard.errors import StaleVersionError

__all__ = ("DemoResult", "run_demo", "SupportCase", "Entitlement", "PolicyCheck")


class SupportCase(Finding):
    """A B2B support case as the intake form records it."""

    kind_name = "demo.SupportCase"
    description: str
    product: str


class Entitlement(Finding):
    """Whether the customer's contract covers the case."""

    kind_name = "demo.Entitlement"
    entitled: bool


class PolicyCheck(Finding):
    """What the knowledge base says about exceptions to the warranty policy."""

    kind_name = "demo.PolicyCheck"
    excluded: bool
    rule: str


@dataclass(frozen=True)
class DemoResult:
    board: str
    written: tuple[Entry, ...]
    refused: StaleVersionError
    first: BoardView
    latest: BoardView
    head: Head


async def run_demo(blackboard: Blackboard, board_name: str) -> DemoResult:
    """Write a case and three agents' findings, refuse a stale write, then read and verify the board."""
    board = blackboard.board(board_name)
    start = (await board.head()).version
    case = SupportCase(
        subject=board_name,
        description="Pump P-200 stopped after 3 weeks; customer asks for a replacement under warranty.",
        product="P-200",
        confidence=1.0,
    )
    written = [await board.write(case, author="intake-form", expected_version=start)]
    written += await board.write_many(
        [
            Entitlement(
                subject=board_name,
                entitled=True,
                confidence=0.92,
                citations=(Citation(source="crm:contract/C-1042", approved=True),),
            ),
            PolicyCheck(
                subject=board_name,
                excluded=False,
                rule="warranty covers defects within 12 months",
                confidence=0.88,
                citations=(Citation(source="kb:warranty-policy", version="v7", approved=True, locator="section 2.1"),),
            ),
        ],
        author="entitlement-agent",
        expected_version=start + 1,
    )
    try:  # a second writer that read the board before those findings: refused, nothing written
        await board.write(
            Entitlement(subject=board_name, entitled=False, confidence=0.4),
            author="stale-agent",
            expected_version=start + 1,
        )
    except StaleVersionError as exc:
        refused = exc
    first = await board.view(at=start + 1)
    latest = await board.view()
    head = await board.verify()
    return DemoResult(board_name, tuple(written), refused, first, latest, head)
