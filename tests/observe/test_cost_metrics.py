"""Model cost in the workflow metrics: per agent and per completed run, from `AgentRun.usage` in stored rows; the
`slateboard metrics` text and JSON; and boards written before usage existed read as they did."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from slateboard import AgentRun, Blackboard, Decision
from slateboard.agents.usage import ModelUsage
from slateboard.cli.entry import app
from slateboard.observe.metrics import metrics
from slateboard.state.records import CONTROLLER

pytestmark = pytest.mark.anyio


def run(agent: str, attempt: int, cost: float | None, status: str = "ok") -> AgentRun:
    usage = ModelUsage(model="m-1", provider="p", prompt_hash="h", input_tokens=100, output_tokens=10, cost=cost)
    return AgentRun(agent=agent, subject="s", inputs=(), attempt=attempt, status=status, usage=usage)  # type: ignore[arg-type]


def decision(status: str) -> Decision:
    return Decision(cycle=1, status=status, reasons=())  # type: ignore[arg-type]


async def fill(bb: Blackboard) -> None:
    done = [
        run("router", 1, 0.001),
        run("reviewer", 1, 0.02, "error"),
        run("reviewer", 2, 0.03),
        decision("sufficient"),
    ]
    await bb.board("done").write_many(done, author=CONTROLLER)
    await bb.board("going").write_many([run("router", 1, 0.001), decision("continue")], author=CONTROLLER)
    await bb.board("unpriced").write_many([run("router", 1, None), decision("escalate")], author=CONTROLLER)
    plain = AgentRun(agent="lookup", subject="s", inputs=(), attempt=1, status="ok")  # no model: no usage
    await bb.board("plain").write_many([plain, decision("sufficient")], author=CONTROLLER)


async def test_cost_per_agent_and_per_completed_run() -> None:
    with Blackboard.open("memory://") as bb:
        await fill(bb)
        found = metrics(bb)
    agents = {a.agent: a for a in found.agents}
    assert agents["reviewer"].cost == pytest.approx(0.05)  # the failed attempt was paid for too
    assert (agents["router"].model_attempts, agents["router"].unpriced) == (3, 1)
    assert agents["router"].cost == pytest.approx(0.002)
    assert agents["lookup"].model_attempts == 0
    assert agents["lookup"].cost is None
    cost = found.cost
    assert (cost.model_attempts, cost.unpriced, cost.input_tokens, cost.output_tokens) == (5, 1, 500, 50)
    assert cost.total == pytest.approx(0.052)
    # Completed: "done" (0.051), "unpriced" (0 known) and "plain" (0); "going" is still running.
    assert cost.completed_runs == 3
    assert cost.per_completed_run == pytest.approx(0.051 / 3)


def test_the_command_prints_cost_per_agent_and_per_completed_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with Blackboard.open(url) as bb:
        anyio.run(fill, bb)
    text = CliRunner().invoke(app, ["metrics", "--db", url]).output
    assert "model cost: $0.052000 over 5 model attempt(s) (500 input, 50 output tokens, 1 unpriced)" in text
    assert "per completed run $0.017000 (3 completed)" in text
    assert "reviewer: $0.050000 over 2 attempt(s)" in text
    data = json.loads(CliRunner().invoke(app, ["metrics", "--db", url, "--json"]).output)
    assert data["cost"]["total"] == pytest.approx(0.052)
    assert {a["agent"]: a["cost"] for a in data["agents"]}["lookup"] is None


async def test_a_store_without_model_agents_reports_no_cost() -> None:
    with Blackboard.open("memory://") as bb:
        plain = AgentRun(agent="lookup", subject="s", inputs=(), attempt=1, status="ok")
        await bb.board("b").write_many([plain, decision("sufficient")], author=CONTROLLER)
        found = metrics(bb)
    assert found.cost.model_attempts == 0
    assert found.cost.total is None
    assert found.cost.per_completed_run is None
