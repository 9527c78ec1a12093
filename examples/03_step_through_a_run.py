"""Stepping through a run, one cycle at a time: what a notebook (or a progress display, or a tracer) sees.

Run it: `python examples/03_step_through_a_run.py` (a memory store; `--db URL` to keep the boards).
It steps the built-in support-case scenario with `controller.iter`: each cycle is the controller's decision, the
agents it ran and the findings they wrote; the last one carries the outcome. Each `# %%` block is what one notebook
cell holds; in a notebook, which already runs an event loop, write the `async for` and `await`s at the top level
instead of inside `step_through`. Plain sync code uses `controller.iter_sync` the same way (the last block).
"""

from __future__ import annotations

import argparse

import anyio

from slateboard import Blackboard, Finding, Outcome, scenarios
from slateboard.controller import Cycle

# %% The scenario: agents, rules, policy and sink, as the command line runs it (`slateboard run support-case`).
SCENARIO = scenarios.get("support-case")


def show(cycle: Cycle) -> None:
    print(cycle)
    for entry in cycle.findings:
        finding = entry.payload
        confidence = f" ({finding.confidence:.2f})" if isinstance(finding, Finding) else ""
        print(f"    v{entry.version} {entry.author}: {type(finding).__name__}{confidence}")


async def step_through(bb: Blackboard) -> Outcome:
    # %% Step through the run: a cell that re-runs shows a finished board's last cycle again, marked "resumed".
    controller = SCENARIO.controller()
    board = bb.board("case-42")
    cycles = []
    async for cycle in controller.iter(board, *SCENARIO.inputs(board.name)):
        show(cycle)
        cycles.append(cycle)
    outcome = cycles[-1].outcome
    if outcome is None or outcome != await controller.outcome(board):
        raise SystemExit("the last cycle should carry the board's outcome")

    # %% Where the run stopped, and what a person does next.
    print(f"outcome: {outcome.status}")
    for reason in outcome.reasons:
        print(f"  - {reason}")
    for waiting in outcome.approvals:
        print(f"waiting for a person: {waiting.recommended}")
        outcome = await controller.approve(board, waiting.key, reviewer="ana")
    print(f"after approval: {outcome.status}; {await controller.replay(board)}")
    return outcome


def step_through_sync(bb: Blackboard) -> list[Cycle]:
    # %% The same from plain sync code: `iter_sync` is an ordinary iterator (its event loop runs in a thread).
    controller = SCENARIO.controller()
    board = bb.board("case-43")
    return list(controller.iter_sync(board, *SCENARIO.inputs(board.name)))


def main(url: str) -> None:
    with Blackboard.open(url) as bb:
        outcome = anyio.run(step_through, bb)
        if outcome.status != "committed":
            raise SystemExit(f"expected committed after the approval, got {outcome.status}")
        cycles = step_through_sync(bb)
        print(f"case-43 from sync code: {len(cycles)} cycles, {cycles[-1]}")
        if cycles[-1].outcome is None or cycles[-1].outcome.status != "awaiting_approval":
            raise SystemExit("case-43 should wait for the same approval")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", default="memory://", help="store URL (default: memory://)")
    parser.add_argument("--quick", action="store_true", help="accepted for the example runner; this example is quick")
    main(parser.parse_args().db)
