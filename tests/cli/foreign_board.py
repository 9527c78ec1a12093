"""A board of finding kinds the test process never imports: `python -m tests.cli.foreign_board URL`.

Run in its own process (never imported by a test), so the audit and replay that read its board afterwards see
kinds unknown to them, as a store written by another program is.
"""

import sys

from slateboard import Blackboard, Citation, Controller, Finding, agent, rules


class Claim(Finding):
    kind_name = "tests.cli.Claim"
    text: str


class Check(Finding):
    kind_name = "tests.cli.Check"
    holds: bool


@agent
async def checker(claim: Claim) -> Check:
    return Check(subject=claim.subject, holds=True, confidence=0.9, citations=(Citation(source="ledger:7"),))


def main() -> None:
    with Blackboard.open(sys.argv[1]) as blackboard:
        controller = Controller([checker], [rules.sufficient(Check, min_confidence=0.8)])
        outcome = controller.run_sync(blackboard.board("own"), Claim(subject="own", text="paid", confidence=1.0))
        print(outcome.status, flush=True)


if __name__ == "__main__":
    main()
