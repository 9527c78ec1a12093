"""`support-case/llm`: the support case with model-backed intake, entitlement and response agents, answering from the
cassette shipped in the package: offline, identical from run to run, citing only what the tools returned, and never
showing a model the buyer's email."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from slateboard import Blackboard, scenarios
from slateboard.scenarios import support_case_llm as llm
from slateboard.scenarios.support_case import Draft, Entitlement, Intake

pytestmark = pytest.mark.anyio
EMAIL = "jo.rivera@acme-distribution.example"


def contents(history: tuple[Any, ...]) -> list[tuple[str, str, str]]:
    """What a board says, without the times it was said at."""
    return [(e.kind, e.author, json.dumps(e.payload.model_dump(mode="json"), sort_keys=True)) for e in history]


async def test_the_llm_variant_runs_offline_from_the_shipped_cassette_and_writes_the_same_board_twice() -> None:
    boards = []
    for _ in range(2):
        with Blackboard.open("memory://") as bb:
            run = await scenarios.get("support-case", "llm").run(bb, board="case-7")
            assert run.problems == []
            assert (await run.controller.replay(run.board)).identical
            boards.append(contents(await run.board.history()))
    assert boards[0] == boards[1]


async def test_citations_come_from_the_tools_read_and_the_email_never_reaches_a_model() -> None:
    with Blackboard.open("memory://") as bb:
        run = await scenarios.get("support-case/llm").run(bb, board="case-7")
        view = await run.board.view()
    (entitlement,) = view.findings(Entitlement)
    assert [(c.source, c.approved) for c in entitlement.citations] == [("tool:crm.contract", True)]
    (intake,) = view.findings(Intake)
    assert intake.citations == ()  # it read nothing, so it cites nothing
    (draft,) = view.findings(Draft)
    assert EMAIL in draft.body  # the model wrote a placeholder; slateboard put the address back
    (request,) = run.outcome.approvals
    assert {c.source for c in request.citations} == {"tool:kb.search"}
    recorded = llm.CASSETTE.read_text()
    assert EMAIL not in recorded
    assert "<email:" in recorded  # what the model saw, and answered with


def test_the_cassette_can_be_recorded_again_and_replays_what_it_recorded(tmp_path: Path) -> None:
    path = tmp_path / "support.json"
    assert llm.record_cassette(path) == "awaiting_approval"
    models = {e["model"] for e in json.loads(path.read_text())["responses"].values()}
    assert models == {llm.ROUTER, llm.REVIEWER}  # one cheap router, one strong reviewer
    base = scenarios.get("support-case", "llm")
    replayed = {a.name: a for a in llm.llm_agents(cassette=path)}
    scenario = replace(base, agents=tuple(replayed.get(a.name, a) for a in base.agents))
    with Blackboard.open("memory://") as bb:
        run = scenario.run_sync(bb, board="case-8")
    assert run.problems == []
