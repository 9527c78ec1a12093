"""A run whose only agent hangs, in its own OS process: `python -m tests.agents.hung_agent sync|async|busy`.

- sync: a sync agent with no timeout that never returns (it waits on an event nobody sets);
- async: an async agent that blocks the event loop (`time.sleep` inside `async def`), with no timeout;
- busy: an async agent that spins without awaiting (a CPU-bound loop), with a timeout of its own;
- inline: the same spin in a sync agent declared `blocking=False` (it runs on the event loop's thread).

The run has a deadline (`rules.budget(deadline=1)`). It prints one JSON line: the outcome's status and reasons,
and every attempt's status and error. The test gives the process minutes: the run must end, not hang.
"""

import json
import sys
import threading
import time

from slateboard import AgentRun, Blackboard, Controller, Finding, agent, rules

NEVER = threading.Event()


class Case(Finding):
    kind_name = "tests.agents.hung.Case"


class Answer(Finding):
    kind_name = "tests.agents.hung.Answer"


@agent(name="waits_forever", timeout=None)
def waits_forever(case: Case) -> Answer:
    NEVER.wait()
    return Answer(subject=case.subject, confidence=1.0)


@agent(name="sleeps_in_async", timeout=None)
async def sleeps_in_async(case: Case) -> Answer:
    time.sleep(3600)  # noqa: ASYNC251 - the point: it blocks the event loop
    return Answer(subject=case.subject, confidence=1.0)


@agent(name="spins", timeout=1, retries=0)
async def spins(case: Case) -> Answer:
    while True:
        pass


@agent(name="spins_inline", timeout=1, retries=0, blocking=False)
def spins_inline(case: Case) -> Answer:
    while True:
        pass


AGENTS = {"sync": waits_forever, "async": sleeps_in_async, "busy": spins, "inline": spins_inline}


def main() -> None:
    chosen = AGENTS[sys.argv[1]]
    controller = Controller([chosen], [rules.sufficient(Answer), rules.budget(deadline=1.0)])
    with Blackboard.open("memory://") as bb:
        board = bb.board("case")
        outcome = controller.run_sync(board, Case(subject="case", confidence=1.0))
        runs = [e.payload for e in board.history_sync() if isinstance(e.payload, AgentRun)]
    report = {
        "status": outcome.status,
        "reasons": list(outcome.reasons),
        "runs": [{"agent": r.agent, "status": r.status, "error": r.error} for r in runs],
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
