"""The watchdog: a run with a deadline ends by it, with a reason naming the agent, whatever its agents do: a sync
agent with no timeout that never returns, an async agent that blocks the event loop, one that spins. Each runs in
its own OS process, given minutes; the test asserts what the run recorded, not how long it took."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from slateboard.agents.watchdog import guarded

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("mode", "agent"),
    [("sync", "waits_forever"), ("async", "sleeps_in_async"), ("busy", "spins"), ("inline", "spins_inline")],
)
def test_a_hung_agent_cannot_keep_a_run_past_its_deadline(mode: str, agent: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.agents.hung_agent", mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # a hang fails the test here instead of hanging the suite
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["status"] == "failed"
    assert [run["status"] for run in report["runs"]] == ["timeout"]
    assert agent in report["runs"][0]["error"] or mode in {"busy", "inline"}
    assert any(agent in reason for reason in report["reasons"])


def test_a_guarded_agent_that_awaits_is_unaffected() -> None:
    """The guard arms a timer per step: an agent that awaits (anyio.sleep) and returns in time succeeds."""

    async def polite() -> int:
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        return 7

    async def main() -> int:
        return int(await guarded(polite(), 30.0, "polite"))

    assert anyio.run(main) == 7


FOREIGN_ALARM = """
import signal, anyio
from slateboard.agents.watchdog import guarded

async def quick() -> int:
    return 1

anyio.run(lambda: guarded(quick(), 30.0, "quick"))
print("guarded", flush=True)
signal.raise_signal(signal.SIGALRM)
print("survived", flush=True)
"""


def test_after_a_guarded_agent_a_foreign_sigalrm_still_ends_the_process_as_by_default() -> None:
    """The guard leaves its handler installed; a SIGALRM that is not its timer's must act as the default."""
    done = subprocess.run(
        [sys.executable, "-c", FOREIGN_ALARM], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.split() == ["guarded"], done.stderr
    assert done.returncode == -signal.SIGALRM
