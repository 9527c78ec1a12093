"""`run` drives the same loop as `iter` but builds no `Cycle` for the cycles before the last: for random lines of
agents (inline, threaded or async; some failing on some attempts, some answering too weakly), `run` writes the
log `iter` writes and ends with the outcome `iter`'s last cycle carries."""

from collections.abc import Callable
from typing import Any

import anyio
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Controller, Finding, agent, rules
from slateboard.agents import Agent
from slateboard.controller import Cycle


class Step0(Finding):
    kind_name = "tests.controller.drains.Step0"


class Step1(Finding):
    kind_name = "tests.controller.drains.Step1"


class Step2(Finding):
    kind_name = "tests.controller.drains.Step2"


class Step3(Finding):
    kind_name = "tests.controller.drains.Step3"


STEPS: tuple[type[Finding], ...] = (Step0, Step1, Step2, Step3)
MODES = ("inline", "threaded", "async")


def step_agent(index: int, mode: str, fails: int, confidence: float) -> Agent:
    """Agent `index` reads STEPS[index] and writes STEPS[index + 1]; its first `fails` attempts raise."""
    source, target = STEPS[index], STEPS[index + 1]
    calls: list[int] = []

    def answer(previous: Finding) -> Finding:
        calls.append(1)
        if len(calls) <= fails:
            raise RuntimeError(f"attempt {len(calls)} of step {index} failed")
        return target(subject=previous.subject, confidence=confidence)

    answer.__annotations__ = {"previous": source, "return": target}
    name = f"step{index}"
    if mode == "async":

        async def answer_async(previous: Finding) -> Finding:
            return answer(previous)

        answer_async.__annotations__ = answer.__annotations__
        return agent(name=name, retries=1)(answer_async)
    return agent(name=name, retries=1, blocking=mode == "threaded")(answer)


Plan = list[tuple[str, int, float]]
plans = st.lists(
    st.tuples(st.sampled_from(MODES), st.integers(0, 2), st.sampled_from((0.5, 0.95))), min_size=1, max_size=3
)


def controller_for(plan: Plan, make: Callable[[int, str, int, float], Agent]) -> Controller:
    agents = [make(i, mode, fails, confidence) for i, (mode, fails, confidence) in enumerate(plan)]
    last = STEPS[len(plan)]
    return Controller(agents, [rules.sufficient(last, min_confidence=0.9)])


def logged(history: tuple[Any, ...]) -> list[tuple[int, str, Any]]:
    return [(e.version, e.author, e.payload) for e in history]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans)
def test_run_writes_what_iter_writes_and_ends_as_its_last_cycle(plan: Plan) -> None:
    async def main() -> tuple[Any, ...]:
        with Blackboard.open("memory://") as bb:
            ask = Step0(subject="s", confidence=1.0)
            outcome = await controller_for(plan, step_agent).run(bb.board("ran"), ask)
            cycles: list[Cycle] = [c async for c in controller_for(plan, step_agent).iter(bb.board("stepped"), ask)]
            ran, stepped = await bb.board("ran").history(), await bb.board("stepped").history()
            again = await controller_for(plan, step_agent).replay(bb.board("ran"))
            return outcome, cycles, ran, stepped, again

    outcome, cycles, ran, stepped, again = anyio.run(main)
    event(f"outcome: {outcome.status}")
    assert logged(ran) == logged(stepped)
    final = cycles[-1].outcome
    assert final is not None
    assert final.model_dump(exclude={"board"}) == outcome.model_dump(exclude={"board"})
    assert all(c.outcome is None for c in cycles[:-1])
    assert again.identical
