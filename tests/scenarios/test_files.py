"""Scenario files (YAML): they run like Python scenarios, and every mistake names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from slateboard import AgentRun, Blackboard, Verdict
from slateboard.errors import ScenarioError
from slateboard.scenarios.files import load, loads

pytestmark = pytest.mark.anyio

REFUND = Path(__file__).parent / "files" / "refund.yaml"
TEXT = REFUND.read_text()


async def test_a_scenario_file_runs_to_its_expected_outcome(bb: Blackboard) -> None:
    scenario = load(REFUND)
    assert scenario.name == "refund-check"
    assert [k.kind_name for k in scenario.kinds] == [
        "refund-check.Case",
        "refund-check.Entitlement",
        "refund-check.Check",
    ]
    run = await scenario.run(bb, board="r1")
    assert run.problems == []
    assert run.outcome.status == "committed"
    history = await run.board.history()
    attempts = [(e.payload.agent, e.payload.status) for e in history if isinstance(e.payload, AgentRun)]
    assert attempts[:2] == [("entitlement", "error"), ("entitlement", "ok")]  # fail_times: 1, retried once
    (verdict,) = [e.payload for e in history if isinstance(e.payload, Verdict)]
    assert verdict.outcome == "allow"
    assert (await run.controller.replay(run.board)).identical
    assert load(REFUND).controller().fingerprint == run.controller.fingerprint  # loading again: the same scenario


async def test_the_contradiction_from_the_file_escalates(bb: Blackboard) -> None:
    text = TEXT.replace("emit: {excluded: false, confidence: 0.95}", "emit: {excluded: true, confidence: 0.95}")
    run = await loads(text.replace("name: refund-check", "name: refund-conflict"), file="conflict.yaml").run(bb)
    assert run.outcome.status == "escalated"
    assert any("entitlement contradicts a policy exception" in r for r in run.outcome.reasons)
    assert run.problems == ["status is 'escalated', expected 'committed'", "0 commit(s), expected 1"]


async def test_kinds_from_an_imported_module_and_a_policy_file_beside_the_scenario(
    bb: Blackboard, tmp_path: Path
) -> None:
    (tmp_path / "policy.toml").write_text('default = "allow"\n')
    (tmp_path / "s.yaml").write_text(
        "name: imported\n"
        "import: [slateboard.scenarios.support_case]\n"
        "agents:\n"
        "  - {name: act, reads: [support.Case], writes: Proposal,\n"
        "     emit: {action: update, target: Case/1, changes: {Status: Working}, confidence: 0.9}}\n"
        "rules: [{sufficient: {kind: Proposal}}]\n"
        "policy: policy.toml\n"
        "sink: memory\n"
        "inputs: [{kind: support.Case, description: d, account: a, product: p}]\n"
        "expect: {status: committed, commits: 1}\n"
    )
    run = await load(tmp_path / "s.yaml").run(bb)
    assert run.problems == []


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("threshold: 0.85", "threshold: 1.85", 27, "policy: rule #1 (min_confidence): threshold: Input should be less"),
        ("reads: [Case, Check]", "reads: [Case, Chek]", 18, "agents.2.reads.1: unknown kind 'Chek'"),
        ("fail_times: 1", "fail_times: -1", 12, "agents.0.fail_times: Input should be greater than or equal to 0"),
        ("Check: {excluded: bool}", "Check: {excluded: boolean}", 6, "kinds.Check.excluded: unknown type 'boolean'"),
        ("sink: table:refunds", "sink: bucket", 29, "sink: sink must be 'memory' or 'table:NAME'"),
        ("confidence: 0.95}", "confidenc: 0.95}", 13, "agents.1: scripted agent 'checker': emit does not make"),
        ("status: committed", "status: done", 32, "expect.status: Input should be 'committed'"),
        ("  - sufficient: {kind: Proposal}", "  - wobble: {}", 23, "rules.1.wobble: Extra inputs are not permitted"),
        ('{kind: Case, description: "pump failed"}', "{kind: Case, size: 3}", 31, "inputs.0: invalid Case"),
        ('{kind: Case, description: "pump failed"}', "{description: x}", 31, "inputs.0: an input names its kind"),
        ("name: refund-check", "name: refund check", 1, "name: String should match pattern"),
        ("sink: table:refunds", "sink: [", None, "not valid YAML"),
    ],
)
def test_errors_name_the_file_the_line_and_the_field(old: str, new: str, line: int | None, message: str) -> None:
    assert old in TEXT
    with pytest.raises(ScenarioError) as caught:
        loads(TEXT.replace(old, new, 1), file=str(REFUND))
    assert message in str(caught.value)
    assert caught.value.file == str(REFUND)
    if line is not None:
        assert caught.value.line == line
        assert str(caught.value).startswith(f"{REFUND}:{line}: ")


def test_two_files_with_one_scenario_name_are_refused_with_what_to_do() -> None:
    load(REFUND)
    with pytest.raises(
        ScenarioError, match=r"already declared by .*refund.yaml: two scenario files named 'refund-check'"
    ):
        loads(TEXT, file="copy.yaml")


def test_unsafe_yaml_is_refused_and_other_files_are_named(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(ScenarioError, match="not valid YAML"):
        loads(f"name: !!python/object/apply:os.system ['touch {marker}']\n", file="evil.yaml")
    assert not marker.exists()
    with pytest.raises(ScenarioError, match=r"must end in \.yaml or \.yml"):
        load(tmp_path / "s.json")
    with pytest.raises(ScenarioError, match="cannot read the scenario file") as caught:
        load(tmp_path / "missing.yaml")
    assert caught.value.file == str(tmp_path / "missing.yaml")


QUORUM = (
    TEXT.replace("name: refund-check", "name: refund-quorum")
    .replace(
        "  - sufficient: {kind: Entitlement, min_confidence: 0.8}\n",
        "  - sufficient: {kind: Entitlement, min_confidence: 0.8, min_source_confidence: 0.5}\n"
        "  - quorum: {kind: Entitlement, agents: [entitlement, contracts]}\n",
    )
    .replace(
        "  - name: checker\n",
        "  - name: contracts\n    reads: [Case]\n    writes: Entitlement\n    emit: {entitled: true, confidence: 0.9}\n"
        "    fail_times: 9\n    retries: 1\n  - name: checker\n",
    )
)


async def test_a_quorum_from_the_file_refuses_sufficiency_while_an_agent_that_failed_is_missing(
    bb: Blackboard,
) -> None:
    run = await loads(QUORUM, file="quorum.yaml").run(bb)
    assert run.outcome.status == "failed"
    assert any("contracts" in r and "quorum" in r for r in run.outcome.reasons), run.outcome.reasons
    assert [f.agent for f in run.outcome.agent_failures] == ["contracts"]
    assert run.outcome.commits == ()
    assert (await run.controller.replay(run.board)).identical


def test_a_quorum_needs_its_agents_named() -> None:
    with pytest.raises(ScenarioError) as caught:
        loads(QUORUM.replace("agents: [entitlement, contracts]", "agents: []"), file="quorum.yaml")
    assert "rules.1.quorum.agents: List should have at least 1 item" in str(caught.value)
    quorum_line = 1 + QUORUM.splitlines().index("  - quorum: {kind: Entitlement, agents: [entitlement, contracts]}")
    assert caught.value.line == quorum_line
