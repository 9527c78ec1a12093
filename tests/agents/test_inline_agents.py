"""Sync agents declared `blocking=False`: the runner calls them as they are (no coroutine, no thread), under the
watchdog's timer, and records every way an attempt ends as it does for the other agents."""

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from slateboard import Finding, agent
from slateboard.agents.runner import Attempt, run_agent
from slateboard.agents.usage import ModelUsage, collect_usage, report_usage
from slateboard.errors import ConflictError

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


class Case(Finding):
    kind_name = "tests.agents.inline.Case"


class Answer(Finding):
    kind_name = "tests.agents.inline.Answer"


class Other(Finding):
    kind_name = "tests.agents.inline.Other"


CASE = Case(subject="case-1", confidence=1.0)


def with_case(number: int) -> dict[str, Any]:
    return {"case": CASE}


def statuses(attempts: list[Attempt]) -> list[str]:
    return [a.status for a in attempts]


def answering(result: Any) -> Any:
    """What an inline agent does to end its attempt with `result` (an exception is raised, anything else returned)."""

    def answer(case: Case) -> Answer:
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[no-any-return]

    return answer


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (Answer(subject="case-1", confidence=0.9), ["ok"]),
        (ConflictError("the two sources disagree"), ["conflict"]),
        (Other(subject="case-1", confidence=0.9), ["denied"]),
        ("not a finding", ["invalid"]),
        (None, ["invalid"]),
        (ValueError("a bug"), ["error", "error"]),
    ],
)
async def test_an_inline_attempt_ends_each_way_the_runner_knows(result: Any, expected: list[str]) -> None:
    inline = agent(name="inline", blocking=False, retries=1)(answering(result))
    threaded = agent(name="inline", blocking=True, retries=1)(answering(result))
    attempts = await run_agent(inline, with_case)
    assert statuses(attempts) == expected
    assert [a.number for a in attempts] == list(range(1, len(expected) + 1))
    # The same agent run in a worker thread ends the same way, with the same error.
    assert [(a.status, a.error, a.outputs) for a in attempts] == [
        (a.status, a.error, a.outputs) for a in await run_agent(threaded, with_case)
    ]


async def test_an_inline_agent_runs_without_a_checkpoint_and_on_the_loop_thread() -> None:
    """Nothing else in the loop runs while an inline agent does: a task started before it has not run after it."""
    ran: list[str] = []

    @agent(blocking=False)
    def quick(case: Case) -> Answer:
        ran.append("agent")
        return Answer(subject=case.subject, confidence=0.9)

    async def other() -> None:
        ran.append("other")

    async with anyio.create_task_group() as group:
        group.start_soon(other)
        attempts = await run_agent(quick, with_case)
        ran.append("after")
    assert statuses(attempts) == ["ok"]
    assert ran == ["agent", "after", "other"]


async def test_an_inline_agent_s_model_usage_lands_on_its_attempt_and_nowhere_else() -> None:
    used = ModelUsage(model="m-1", prompt_hash="h", input_tokens=3, output_tokens=4, cost=0.5)

    @agent(blocking=False)
    def priced(case: Case) -> Answer:
        report_usage(used)
        report_usage(used)
        return Answer(subject=case.subject, confidence=0.9)

    with collect_usage() as outside:
        attempts = await run_agent(priced, with_case)
    assert outside == []  # the attempt collected its own reports, and gave the caller's collector back
    usage = attempts[0].usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.requests, usage.cost) == (6, 8, 2, 1.0)


GUARD = """
import json, signal
import anyio
from slateboard import Finding, agent
from slateboard.agents.runner import run_agent
from slateboard.agents.watchdog import guarded_call
from slateboard.errors import AgentTimeoutError

class Case(Finding):
    kind_name = "tests.agents.inline.guard.Case"

class Answer(Finding):
    kind_name = "tests.agents.inline.guard.Answer"

calls = []

@agent(name="spins_once", timeout=0.2, retries=1, blocking=False)
def spins_once(case: Case) -> Answer:
    calls.append(1)
    while len(calls) == 1:
        pass
    return Answer(subject=case.subject, confidence=1.0)

def spin():
    while True:
        pass

report = {}
try:
    guarded_call(spin, {}, 0.2, "spinner")
except AgentTimeoutError as exc:
    report["cut"] = str(exc)
report["value"] = guarded_call(lambda x: x + 1, {"x": 1}, 30.0, "quick")
report["timer"] = list(signal.getitimer(signal.ITIMER_REAL))
attempts = anyio.run(run_agent, spins_once, lambda n: {"case": Case(subject="c", confidence=1.0)})
report["attempts"] = [[a.status, a.error] for a in attempts]
report["timer_after"] = list(signal.getitimer(signal.ITIMER_REAL))
print(json.dumps(report), flush=True)
signal.raise_signal(signal.SIGALRM)
print("survived", flush=True)
"""


def test_the_watchdog_cuts_an_inline_call_disarms_after_and_leaves_a_foreign_alarm_to_the_default() -> None:
    """In a process of its own (the timer is a process signal, and only the main thread receives it)."""
    done = subprocess.run(
        [sys.executable, "-c", GUARD], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stderr  # "survived" is never printed: the foreign SIGALRM ends the process
    report = json.loads(lines[0])
    assert "'spinner' blocked the event loop past its limit of 0.2 s" in report["cut"]
    assert report["value"] == 2
    assert report["timer"] == [0.0, 0.0]
    assert report["attempts"][0][0] == "timeout"
    assert "spins_once" in report["attempts"][0][1]
    assert report["attempts"][1] == ["ok", ""]
    assert report["timer_after"] == [0.0, 0.0]
    assert done.returncode == -signal.SIGALRM
