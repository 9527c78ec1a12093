"""`extends:` in scenario files: a file starts from another and overrides inputs, agents, expectation and policy.

Files are real files in `tmp_path` (a base in one directory, the files extending it in another); the scenarios
run on real stores; every error is checked for the file and the line it names.
"""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import pytest

from slateboard import Blackboard, scenarios
from slateboard.errors import ScenarioError
from slateboard.scenarios.files import load
from slateboard.scenarios.reference import markdown, scenario_schema

pytestmark = pytest.mark.anyio

BASE = """\
name: ext-claims
kinds:
  Claim: {text: str, paper: str}
  Support: {supported: bool}
agents:
  - name: reader
    reads: [Claim]
    writes: Support
    emit: {supported: true, confidence: 0.9, citations: [{source: "doi:{Claim.paper}", approved: true}]}
  - name: second-reader
    reads: [Claim]
    writes: Support
    emit: {supported: true, confidence: 0.85, citations: [{source: pubmed, approved: true}]}
  - name: recorder
    reads: [Claim, Support]
    writes: Proposal
    emit:
      action: record
      target: "Claim/{subject}"
      changes: {Verdict: supported}
      confidence: 0.9
      citations: [{source: pubmed, approved: true}]
rules:
  - disagreement: {kind: Support, field: supported}
  - sufficient: {kind: Support, min_confidence: 0.8, min_sources: 2}
  - sufficient: {kind: Proposal}
policy: policy.yaml
inputs:
  - {kind: Claim, text: "drug X lowers blood pressure", paper: "10.1000/{subject}"}
expect: {status: committed, commits: 1}
variants:
  one-reader:
    remove_agents: [second-reader]
    expect: {status: insufficient}
"""

POLICY = """\
rules:
  - {rule: min_confidence, threshold: 0.85}
  - {rule: require_citations, approved: true}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One base per process: a scenario file's kinds are registered by name, once.
    root = tmp_path_factory.mktemp("extends")
    write(root / "base" / "policy.yaml", POLICY)
    write(root / "base" / "claims.yaml", BASE)
    return root


@pytest.fixture
def runs(shared: Path) -> Path:
    """Where the files of the tests that run live: the same files for every store a test runs on."""
    return shared / "runs"


@pytest.fixture
def base(shared: Path) -> Path:
    return shared / "base" / "claims.yaml"


@pytest.fixture
def tmp_path(shared: Path) -> Path:
    """The extending files of each test in their own directory beside the shared base (`../base/claims.yaml`)."""
    return Path(tempfile.mkdtemp(dir=shared))


def child(tmp_path: Path, text: str, name: str = "child.yaml") -> Path:
    return write(tmp_path / name, text)


async def test_an_agent_overridden_by_name_changes_the_outcome(runs: Path, base: Path, bb: Blackboard) -> None:
    path = child(
        runs,
        """\
        extends: ../base/claims.yaml
        name: ext-claims-disputed
        agents:
          - {name: second-reader, reads: [Claim], writes: Support, emit: {supported: false, confidence: 0.85}}
        expect: {status: escalated, reasons: [disagree]}
        """,
        name="disputed.yaml",
    )
    scenario = scenarios.resolve(str(path))  # as `slateboard run FILE` does: the board records the file
    assert [a.name for a in scenario.agents] == ["reader", "second-reader", "recorder"]  # in the base's order
    run = await scenario.run(bb)
    assert (run.board.name, run.outcome.status, run.problems) == ("ext-claims-disputed", "escalated", [])
    # The kinds are the base's own, so boards of both files hold the same kinds.
    assert {k.kind_name for k in scenario.kinds} == {"ext-claims.Claim", "ext-claims.Support"}
    assert set(scenario.kinds) == set(load(base).kinds)
    assert scenario.source == str(path)
    # The board remembers the extending file; approve, replay, settle and whatif rebuild the same controller.
    rebuilt, _ = scenarios.controller_for(bb, run.board.name)
    assert rebuilt.fingerprint == run.controller.fingerprint
    assert (await rebuilt.replay(run.board)).identical


async def test_inputs_policy_and_expectation_are_replaced_and_agents_added(
    runs: Path, base: Path, bb: Blackboard
) -> None:
    write(runs / "strict.toml", '[[rules]]\nrule = "min_confidence"\nthreshold = 0.95\n')
    path = child(
        runs,
        """\
        extends: ../base/claims.yaml
        name: ext-claims-strict
        kinds:
          Note: {text: str}
        agents:
          - {name: annotator, reads: [Claim], writes: Note, emit: {text: "read {Claim.paper}"}}
        inputs:
          - {kind: Claim, text: "drug Y", paper: "10.2000/{subject}"}
        policy: strict.toml
        expect: {status: escalated, commits: 0}
        """,
        name="strict.yaml",
    )
    scenario = load(path)
    assert [a.name for a in scenario.agents] == ["reader", "second-reader", "recorder", "annotator"]
    assert {k.kind_name for k in scenario.kinds} == {"ext-claims.Claim", "ext-claims.Support", "ext-claims-strict.Note"}
    (claim,) = scenario.inputs("case-9")
    assert claim.paper == "10.2000/case-9"  # type: ignore[attr-defined]
    run = await scenario.run(bb)
    assert (run.outcome.status, run.problems) == ("escalated", [])
    assert any("min_confidence" in reason for reason in run.outcome.reasons), run.outcome.reasons


async def test_the_base_variants_come_along_and_a_chain_merges_them(runs: Path, base: Path, bb: Blackboard) -> None:
    child(runs, "extends: ../base/claims.yaml\nname: ext-claims-middle\n", name="middle.yaml")
    path = child(
        runs,
        """\
        extends: middle.yaml
        name: ext-claims-last
        variants:
          disagree:
            agents: {second-reader: {emit: {supported: false, confidence: 0.85}}}
            expect: {status: escalated}
        """,
        name="last.yaml",
    )
    scenario = load(path)
    assert scenario.variant_names == ("happy", "one-reader", "disagree")
    for variant, status in [(None, "committed"), ("one-reader", "insufficient"), ("disagree", "escalated")]:
        run = await scenarios.resolve(str(path), variant).run(bb)
        assert (run.outcome.status, run.problems) == (status, [])


def error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load(path)
    return caught.value


def test_a_missing_base_is_named_at_the_extends_line(tmp_path: Path) -> None:
    path = child(tmp_path, "name: x-missing\nextends: nowhere.yaml\n")
    found = error(path)
    assert (found.file, found.line) == (str(path), 2)
    assert "no scenario file 'nowhere.yaml'" in str(found)


def test_a_cycle_is_named_at_the_extends_line_of_the_file_that_closes_it(tmp_path: Path) -> None:
    first = child(tmp_path, "name: x-first\nextends: second.yaml\n", name="first.yaml")
    second = child(tmp_path, "name: x-second\n\nextends: first.yaml\n", name="second.yaml")
    found = error(first)
    assert (found.file, found.line) == (str(second), 3)
    assert "cycle" in str(found)
    assert f"{first.resolve()} -> {second.resolve()} -> {first.resolve()}" in str(found)
    itself = error(child(tmp_path, "name: x-self\nextends: self.yaml\n", name="self.yaml"))
    assert "cycle" in str(itself)
    assert itself.line == 2


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("extends: ../base/claims.yaml\n", 1, "gives its own name"),
        ("extends: ../base/claims.yaml\nname: ext-claims\n", 2, "a name of its own"),
        ("name: x-bad\nextends: ../base/policy.toml\n", 2, "(.yaml or .yml)"),
        ("name: x-bad\nextends: [a.yaml]\n", 2, "(.yaml or .yml)"),
        ("name: x-bad\nextends: ../base/claims.yaml\nagents:\n  - {name: reader, reads: [Claim]}\n", 4, "writes"),
        ("name: x-bad\nextends: ../base/claims.yaml\nexpect: {status: done}\n", 3, "expect.status"),
    ],
    ids=["no-name", "same-name", "not-yaml", "not-a-path", "bad-agent", "bad-expect"],
)
def test_mistakes_in_the_extending_file_name_its_lines(
    tmp_path: Path, base: Path, text: str, line: int, message: str
) -> None:
    path = child(tmp_path, text)
    found = error(path)
    assert (found.file, found.line) == (str(path), line), found
    assert message in str(found)


def test_a_mistake_inherited_from_the_base_names_the_base_file_and_line(tmp_path: Path) -> None:
    broken = BASE.replace("name: ext-claims", "name: ext-broken").replace("supported}", "supported, extra: 1}")
    base = write(tmp_path / "broken.yaml", broken)
    found = error(child(tmp_path, "name: x-inherits\nextends: broken.yaml\n"))
    assert (found.file, found.line) == (str(base), BASE.splitlines().index("rules:") + 2)
    assert "extra" in str(found)
    write(base, "name: [not, yaml: at all\n")
    unreadable = error(child(tmp_path, "name: x-inherits\nextends: broken.yaml\n"))
    assert unreadable.file == str(base)
    assert "not valid YAML" in str(unreadable)


def test_the_reference_and_the_schema_document_extends() -> None:
    assert "| `extends` |" in markdown()
    assert "extends" in scenario_schema()["properties"]
