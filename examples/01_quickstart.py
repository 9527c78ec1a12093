"""Quickstart: typed findings, two agents, rules, a policy and a commit that happens once.

Run it: `python examples/01_quickstart.py` (a SQLite file in a temporary directory; `--db URL` to keep one).
An entitlement agent and a knowledge agent write findings; when the evidence suffices, an action agent proposes a
case update and a customer email. The policy allows the update (it commits, once, to a table in the same SQLite
file) and holds the irreversible email for a person; approving it commits it. Then the board is replayed and
verified.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import anyio

from slateboard import Blackboard, Citation, Controller, Finding, Proposal, agent, policies, rules, sinks

CRM = Citation(source="crm:contract/C-7", approved=True)
KB = Citation(source="kb:returns-policy", version="v3", approved=True)


class Case(Finding):
    kind_name = "quickstart.Case"
    description: str


class Entitlement(Finding):
    kind_name = "quickstart.Entitlement"
    entitled: bool


class PolicyCheck(Finding):
    kind_name = "quickstart.PolicyCheck"
    excluded: bool


@agent
async def entitlement(case: Case) -> Entitlement:
    return Entitlement(subject=case.subject, entitled=True, confidence=0.92, citations=(CRM,))


@agent
async def knowledge(case: Case) -> PolicyCheck:
    return PolicyCheck(subject=case.subject, excluded=False, confidence=0.9, citations=(KB,))


@agent
async def action(case: Case, ent: Entitlement, check: PolicyCheck) -> list[Proposal]:
    cited = (*ent.citations, *check.citations)
    update = Proposal(
        subject=case.subject,
        action="update",
        target=f"Case/{case.subject}",
        changes={"Status": "Working"},
        confidence=0.9,
        citations=cited,
    )
    email = Proposal(
        subject=case.subject,
        action="email",
        target=f"Case/{case.subject}/email",
        changes={"Body": "Refund approved."},
        reversible=False,
        confidence=0.9,
        citations=cited,
    )
    return [update, email]


CONTROLLER = Controller(
    [entitlement, knowledge, action],
    [
        rules.contradiction(Entitlement, PolicyCheck, when=lambda e, p: e.entitled and p.excluded, reason="exception"),
        rules.sufficient(Entitlement, min_confidence=0.8),
        rules.sufficient(Proposal, min_confidence=0.85),
    ],
    policy=policies.Policy(
        policies.min_confidence(0.85),
        policies.require_citations(approved=True),
        policies.escalate_on_conflict(),
        policies.require_approval(lambda p: not p.reversible),
    ),
    sink=sinks.Table("cases"),
)


async def main(url: str) -> None:
    with Blackboard.open(url) as bb:
        board = bb.board("case-1")
        outcome = await CONTROLLER.run(board, Case(subject="case-1", description="refund request", confidence=1.0))
        print(f"outcome: {outcome.status}")
        for reason in outcome.reasons:
            print(f"  - {reason}")
        (waiting,) = outcome.approvals
        print(f"waiting for a person: {waiting.recommended}")
        outcome = await CONTROLLER.approve(board, waiting.key, reviewer="ana")
        print(f"after approval: {outcome.status}; committed: {[c.action for c in outcome.commits]}")
        print(f"records: {sinks.Table('cases').rows(bb)}")
        print(await CONTROLLER.replay(board))
        print(f"verified: {(await board.verify()).version} entries")
        if outcome.status != "committed":
            raise SystemExit(f"expected committed, got {outcome.status}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", help="store URL (default: a SQLite file in a temporary directory)")
    parser.add_argument("--quick", action="store_true", help="accepted for the example runner; this example is quick")
    arguments = parser.parse_args()
    if arguments.db:
        anyio.run(main, arguments.db)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            anyio.run(main, f"sqlite:///{Path(tmp) / 'quickstart.db'}")
