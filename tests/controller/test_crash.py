"""A controller process killed mid-cycle resumes from its log: finished agents are not run again."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio

from slateboard import AgentRun, Blackboard, Decision
from tests.controller.crash_process import CONTROLLER
from tests.controller.kinds import Case

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_killed_mid_cycle_resumes_without_rerunning_finished_agents(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
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
