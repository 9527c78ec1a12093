"""The run start a controller records is built once and reused while what it names stays the same; set a new
scenario (or agents, or rules) on the controller and the next run records that instead. The lookups a run's
decisions use return their own copies."""

import pytest

from slateboard import Blackboard, Controller, Finding, agent, rules
from slateboard.state.projection import BoardState
from slateboard.state.records import RunStarted

pytestmark = pytest.mark.anyio


class Ask(Finding):
    kind_name = "tests.controller.run_start.Ask"


class Answer(Finding):
    kind_name = "tests.controller.run_start.Answer"


class Sure(Answer):
    kind_name = "tests.controller.run_start.Sure"


@agent(blocking=False)
def answer(ask: Ask) -> Answer:
    return Answer(subject=ask.subject, confidence=1.0)


async def starts(bb: Blackboard, name: str) -> list[RunStarted]:
    view = await bb.board(name).view()
    return [e.payload for e in view.entries() if isinstance(e.payload, RunStarted)]


async def test_each_run_records_what_the_controller_is_at_that_run() -> None:
    controller = Controller([answer], [rules.sufficient(Answer)], scenario="first")
    with Blackboard.open("memory://") as bb:
        for name in ("a", "b"):
            await controller.run(bb.board(name), Ask(subject=name, confidence=1.0))
        controller.scenario = "second"
        await controller.run(bb.board("c"), Ask(subject="c", confidence=1.0))
        controller.rules = (*controller.rules, rules.sufficient(Ask))
        await controller.run(bb.board("d"), Ask(subject="d", confidence=1.0))
        (a,), (b,), (c,), (d,) = [await starts(bb, name) for name in "abcd"]
        assert (
            a
            == b
            == RunStarted(
                controller=controller.fingerprint,
                agents=("answer",),
                rules=("sufficient(tests.controller.run_start.Answer)",),
                scenario="first",
            )
        )
        assert c == a.model_copy(update={"scenario": "second"})
        assert d.rules == (*a.rules, "sufficient(tests.controller.run_start.Ask)")
        for name in "abcd":
            assert (await controller.replay(bb.board(name))).identical


async def test_newest_per_author_is_a_copy_and_merges_subclasses() -> None:
    with Blackboard.open("memory://") as bb:
        board = bb.board("s")
        await board.write(Answer(subject="s", confidence=1.0), author="x")
        await board.write(Sure(subject="s", confidence=1.0), author="y")
        await board.write(Sure(subject="s", confidence=1.0), author="x")
        state = BoardState.of(await board.view())
    assert state.newest_per_author(Sure, "s") == {"y": 2, "x": 3}
    assert state.newest_per_author(Answer, "s") == {"x": 3, "y": 2}  # Sure is an Answer
    (state.newest_per_author(Sure, "s"))["z"] = 9  # the caller's own dict
    assert state.newest_per_author(Sure, "s") == {"y": 2, "x": 3}
    assert (state.newest(Sure, "s"), state.newest(Answer, "s"), state.newest(Ask, "s")) == (3, 3, 0)
