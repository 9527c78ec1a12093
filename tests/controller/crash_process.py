"""A controller run in its own OS process, for the crash test: `python -m tests.controller.crash_process URL`.

`intake` runs in the first cycle; `slow_policy` reads its finding in the second cycle and, when SLOW_POLICY is
set, hangs there so the test can kill the process mid-cycle.
"""

import os
import sys
import time

from slateboard import Blackboard, Controller, agent, rules
from tests.controller.kinds import Case, Intake, PolicyCheck


@agent(name="intake")
def intake(case: Case) -> Intake:
    return Intake(subject=case.subject, category="warranty", confidence=0.9)


@agent(name="slow_policy", timeout=None)
def slow_policy(case: Case, intake: Intake) -> PolicyCheck:
    if os.environ.get("SLOW_POLICY"):
        print("policy started", flush=True)
        time.sleep(60)
    return PolicyCheck(subject=case.subject, excluded=False, confidence=0.9)


CONTROLLER = Controller([intake, slow_policy], [rules.sufficient(PolicyCheck)])


def main() -> None:
    with Blackboard.open(sys.argv[1]) as bb:
        outcome = CONTROLLER.run_sync(bb.board("case-9"), Case(subject="case-9", confidence=1.0))
        print(outcome.status, flush=True)


if __name__ == "__main__":
    main()
