"""A controller process killed mid-cycle resumes from its log: finished agents are not run again; on a SQLite file
and on PostgreSQL (a fresh schema on the session's throwaway server)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from slateboard import AgentRun, Blackboard, Decision
from slateboard.blackboard.stores.registry import backend_for_tests
from tests.controller.crash_process import CONTROLLER
from tests.controller.kinds import Case

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store's URL: a SQLite file, or a new schema on the throwaway PostgreSQL server (or a skip)."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres_server")
    return backend_for_tests(request.param).fresh_url(tmp_path)


def test_a_run_killed_mid_cycle_resumes_without_rerunning_finished_agents(url: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.controller.crash_process", url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SLOW_POLICY": "1"},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "policy started"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    async def resume() -> None:
        with Blackboard.open(url) as bb:
            board = bb.board("case-9")
            before = await board.history()
            assert [e.payload.agent for e in before if isinstance(e.payload, AgentRun)] == ["intake"]
            assert [e.payload.status for e in before if isinstance(e.payload, Decision)] == ["continue", "continue"]
            outcome = await CONTROLLER.run(board, Case(subject="case-9", confidence=1.0))
            assert outcome.status == "sufficient"
            after = await board.history()
            ran = [(e.payload.agent, e.payload.status) for e in after if isinstance(e.payload, AgentRun)]
            assert ran == [("intake", "ok"), ("slow_policy", "ok")]
            assert after[: len(before)] == before  # the log was only appended to
            assert (await CONTROLLER.replay(board)).identical
            await board.verify()

    anyio.run(resume)
