"""Structured logs: one `logging` record per decision, verdict and commit that lands on a board, with the board and
the entry's version as `extra` fields; nothing for what a replay only re-derives."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from slateboard import Blackboard, Controller, Decision, Verdict, policies, scenarios
from slateboard.commit import CommitLayer
from slateboard.state.records import Commit, CommitFailure
from tests.controller.commit_kinds import SUPPORT_AGENTS, SUPPORT_RULES, DownCRM, case

pytestmark = pytest.mark.anyio
POLICY = policies.Policy(policies.min_confidence(0.85), policies.require_citations(approved=True))


@pytest.fixture
def sqlite_bb(tmp_path: Path) -> Any:
    with Blackboard.open(f"sqlite:///{tmp_path / 'logged.db'}") as bb:
        yield bb


def events(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger]


def entries(history: list[Any], kind: type) -> list[tuple[int, Any]]:
    return [(e.version, e.payload) for e in history if isinstance(e.payload, kind)]


async def test_every_decision_verdict_and_commit_is_one_event_naming_its_board_and_version(
    sqlite_bb: Blackboard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="slateboard")
    run = await scenarios.get("support-case").run(sqlite_bb, board="case-42")
    history = await run.board.history()

    decisions = events(caplog, "slateboard.controller")
    assert [(r.board, r.version, r.event, r.status, r.cycle) for r in decisions] == [  # type: ignore[attr-defined]
        ("case-42", v, "decision", d.status, d.cycle) for v, d in entries(history, Decision)
    ]
    assert decisions[-1].agenda == []  # type: ignore[attr-defined]
    assert decisions[0].agenda  # type: ignore[attr-defined]  # the first decision schedules agents

    verdicts = events(caplog, "slateboard.policy")
    assert [(r.board, r.version, r.key, r.outcome) for r in verdicts] == [  # type: ignore[attr-defined]
        ("case-42", v, d.key, d.outcome) for v, d in entries(history, Verdict)
    ]
    assert {tuple(r.rules) for r in verdicts} == {
        tuple(v.rule for v in d.reasons) for _, d in entries(history, Verdict)
    }  # type: ignore[attr-defined]

    (commit,) = events(caplog, "slateboard.commit")
    ((version, recorded),) = entries(history, Commit)
    assert (commit.board, commit.version, commit.event, commit.key, commit.sink) == (  # type: ignore[attr-defined]
        "case-42", version, "commit", recorded.key, recorded.sink,
    )  # fmt: skip
    assert commit.levelno == logging.INFO
    assert f"case-42 v{version}: committed update" in commit.getMessage()

    # Replaying re-derives every decision and verdict without writing one: no event.
    caplog.clear()
    assert (await run.controller.replay(run.board)).identical
    assert events(caplog, "slateboard.controller") == events(caplog, "slateboard.policy") == []


async def test_a_dead_lettered_commit_is_an_error_event_with_its_error(
    sqlite_bb: Blackboard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="slateboard")
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=POLICY, sink=CommitLayer(DownCRM(), backoff=0))
    board = sqlite_bb.board("case-d")
    outcome = await controller.run(board, case("case-d"))
    assert outcome.status == "failed"
    (failure,) = events(caplog, "slateboard.commit")
    ((version, recorded),) = entries(await board.history(), CommitFailure)
    assert failure.levelno == logging.ERROR
    assert (failure.event, failure.version, failure.status, failure.error) == (  # type: ignore[attr-defined]
        "commit_failure", version, "dead", recorded.error,
    )  # fmt: skip
    assert "CRM is down" in failure.getMessage()


async def test_nothing_is_built_when_the_loggers_are_quiet(
    sqlite_bb: Blackboard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="slateboard")
    await scenarios.get("support-case").run(sqlite_bb, board="case-q")
    assert [r for r in caplog.records if r.name.startswith("slateboard.")] == []


def test_without_logging_configured_a_failure_prints_nothing_on_stderr(tmp_path: Path) -> None:
    """Python's last-resort handler would print WARNING and above; a library leaves that to the application."""
    script = textwrap.dedent(
        """
        from slateboard import Blackboard, Controller, policies
        from slateboard.commit import CommitLayer
        from tests.controller.commit_kinds import SUPPORT_AGENTS, SUPPORT_RULES, DownCRM, case
        policy = policies.Policy(policies.min_confidence(0.5))
        controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=policy, sink=CommitLayer(DownCRM(), backoff=0))
        with Blackboard.open("memory://") as bb:
            print(controller.run_sync(bb.board("x"), case("x")).status)
        """
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120, check=False
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "failed", "")
