"""Variants of every kind of scenario: a file's `variants:`, a Python scenario's `Variant`s, the built-ins'; each is
checked by name, recorded on the board it runs, and rebuilt from that record."""

from __future__ import annotations

from pathlib import Path

import pytest

from slateboard import Blackboard, scenarios
from slateboard.errors import PolicyError, ScenarioError
from slateboard.policies import files as policy_files
from slateboard.scenarios import Expectation, Scenario, Variant, scripted
from slateboard.scenarios.files import load, loads
from slateboard.scenarios.model import split_ref
from slateboard.scenarios.support_case import SupportCase
from slateboard.state.proposal import Proposal
from slateboard.state.records import RunStarted

pytestmark = pytest.mark.anyio

CLAIMS = Path(__file__).parent / "files" / "claims.yaml"
TEXT = CLAIMS.read_text()


@pytest.mark.parametrize(
    ("variant", "status", "board"),
    [
        (None, "committed", "claim-review"),
        ("disagree", "escalated", "claim-review-disagree"),
        ("retracted", "rejected", "claim-review-retracted"),
        ("one-reader", "insufficient", "claim-review-one-reader"),
    ],
)
async def test_each_variant_of_a_file_runs_to_its_own_expectation_on_its_own_board(
    bb: Blackboard, variant: str | None, status: str, board: str
) -> None:
    scenario = scenarios.resolve(str(CLAIMS), variant)
    run = await scenario.run(bb)
    assert (run.board.name, run.outcome.status, run.problems) == (board, status, [])
    (started,) = [e.payload for e in await run.board.history() if isinstance(e.payload, RunStarted)]
    assert started.scenario == str(CLAIMS.resolve()) + (f"#{variant}" if variant else "")
    assert started.scenario is not None
    rebuilt, _ = scenarios.controller_for(bb, board)  # what approve, replay and settle do
    assert rebuilt.fingerprint == run.controller.fingerprint
    assert (await rebuilt.replay(run.board)).identical


def test_variants_change_only_what_they_name() -> None:
    base = load(CLAIMS)
    assert base.variant_names == ("happy", "disagree", "retracted", "one-reader")
    disagree = base.with_variant("disagree")
    assert [a.name for a in disagree.agents] == ["reader", "second-reader", "recorder"]
    assert disagree.agents[0] is base.agents[0]  # unchanged agents are the base's own
    assert disagree.agents[1] is not base.agents[1]
    assert disagree.rules == base.rules
    assert disagree.policy is base.policy
    assert disagree.expect == Expectation("escalated", ("disagree",))
    assert disagree.description == "the second reader finds the claim unsupported"
    assert [a.name for a in base.with_variant("retracted").agents][-1] == "retraction-watch"
    assert "second-reader" not in [a.name for a in base.with_variant("one-reader").agents]
    assert disagree.with_variant("happy") is base  # every variant knows its siblings
    assert disagree.with_variant("one-reader").title == "claim-review/one-reader"


@pytest.mark.parametrize(
    "reference",
    [str(CLAIMS), "slateboard.scenarios.support_case:support_case", "support-case", "tests.scenarios.test_variants:PY"],
)
def test_an_unknown_variant_is_refused_naming_the_known_ones(reference: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenarios.resolve(reference, "nonsense")
    message = str(caught.value)
    assert "no variant 'nonsense'" in message
    known = {
        str(CLAIMS): "variants: happy, disagree, retracted, one-reader",
        "tests.scenarios.test_variants:PY": "variants: happy, loud",
    }.get(reference, "variants: happy, low-intake, conflict, timeout, uncited, policy-conflict")
    assert known in message
    with pytest.raises(ScenarioError, match="names variant 'disagree', but variant 'nonsense'"):
        scenarios.resolve(f"{reference}#disagree", "nonsense")


def test_a_python_function_scenario_takes_its_variants_and_records_them() -> None:
    chosen = scenarios.resolve("slateboard.scenarios.support_case:support_case", "conflict")
    assert (chosen.title, chosen.ref) == (
        "support-case/conflict",
        "slateboard.scenarios.support_case:support_case#conflict",
    )
    assert scenarios.resolve(chosen.ref).controller().fingerprint == chosen.controller().fingerprint
    built_in = scenarios.get("support-case").with_variant("timeout")
    assert built_in.ref == "support-case/timeout"  # a built-in's variant is recorded as family/variant, as before


def _reply(board: str) -> list[SupportCase]:
    return [SupportCase(subject=board, description="d", account="a", product="p", confidence=1.0)]


PY = Scenario(
    name="py",
    agents=(
        scripted.agent(
            "act",
            reads=[SupportCase],
            writes=Proposal,
            template=True,
            emit={"action": "update", "target": "Case/{subject}", "changes": {"By": "{Case.account}"}},
        ),
    ),
    rules=(scenarios.catalog.get("support-case").rules[-1],),
    inputs=_reply,
    expect=Expectation("sufficient"),
    variants={
        "loud": Variant(
            agents=(scripted.agent("act", reads=[SupportCase], writes=Proposal, conflict="too loud"),),
            expect=Expectation("escalated", ("too loud",)),
        )
    },
)


async def test_a_python_scenario_declares_variants_as_overrides(bb: Blackboard) -> None:
    happy = await PY.run(bb, board="b-1")
    assert happy.outcome.status == "sufficient", happy.outcome.reasons
    (proposal,) = happy.outcome.proposals
    assert (proposal.target, proposal.changes) == ("Case/b-1", {"By": "a"})  # {subject} and {Kind.field} filled
    loud = await PY.with_variant("loud").run(bb)
    assert (loud.board.name, loud.outcome.status, loud.problems) == ("py-loud", "escalated", [])
    with pytest.raises(ScenarioError, match=r"removes unknown agent\(s\) nobody \(agents: act\)"):
        Scenario(**{**PY.__dict__, "variants": {"x": Variant(remove_agents=("nobody",))}}).with_variant("x")
    lone = Scenario(name="lone", agents=PY.agents, rules=PY.rules, inputs=_reply)
    with pytest.raises(ScenarioError, match=r"no variant 'x': it declares no variants \(Scenario\(\.\.\., variants="):
        lone.with_variant("x")


async def test_placeholders_give_each_board_its_own_row(bb: Blackboard) -> None:
    scenario = load(CLAIMS)
    first, second = await scenario.run(bb, board="c-1"), await scenario.run(bb, board="c-2")
    rows = [(c.target, c.changes) for run in (first, second) for c in run.outcome.commits]
    assert rows == [
        ("Claim/c-1", {"Verdict": "supported", "Paper": "10.1000/c-1", "Note": "{checked}"}),
        ("Claim/c-2", {"Verdict": "supported", "Paper": "10.1000/c-2", "Note": "{checked}"}),
    ]
    (claim,) = (await first.board.view()).findings(scenario.kinds[0])
    assert claim.paper == "10.1000/c-1"  # type: ignore[attr-defined]


MISTAKES = [  # (text, replaced by, what the error says, a fragment of the line it names)
    (
        'target: "Claim/{subject}"',
        'target: "Claim/{subjct}"',
        "agents.2.emit.target: unknown placeholder {subjct}: did you mean {subject}",
        "target:",
    ),
    (
        'Paper: "{Claim.paper}"',
        'Paper: "{Claim.papr}"',
        "emit.changes.Paper: unknown placeholder {Claim.papr}: did you mean {Claim.paper}",
        "changes:",
    ),
    ('paper: "10.1000/{subject}"', 'paper: "{board}"', "inputs.0.paper: unknown placeholder {board}", "{board}"),
    (
        "kind: Retracted, where",
        "kind: Retracted2, where",
        "policy: rule #1 (freeze_on): unknown finding kind 'Retracted2'; did you mean 'Retracted'?",
        "Retracted2",
    ),
    ("reads: [Claim, Support]", "reads: [Claim, Suport]", "unknown kind 'Suport'; did you mean 'Support'?", "Suport"),
    (
        "second-reader: {emit",
        "third-reader: {emit",
        "variants.disagree.agents.third-reader: no agent 'third-reader' to change",
        "third-reader",
    ),
    (
        "remove_agents: [second-reader]",
        "remove_agents: [secnd-reader]",
        "unknown agent 'secnd-reader'; did you mean 'second-reader'",
        "secnd-reader",
    ),
    (
        "emit: {retracted: true}",
        "emit: {retracted: maybe}",
        "variants.retracted.agents.retraction-watch: scripted agent",
        "retraction-watch:",
    ),
    ("status: rejected", "status: refused", "variants.retracted.expect.status: Input should be", "refused"),
    ("  disagree:\n", "  happy:\n", "variants.happy: 'happy' is the file itself", "happy:"),
    ("  disagree:\n", "  dis agree:\n", "variants.dis agree: a variant's name is letters", "dis agree:"),
    ("variants:\n", "variant:\n", "variant: Extra inputs are not permitted; did you mean 'variants'?", "variant:"),
    (
        "remove_agents:",
        "remove_agent:",
        "remove_agent: Extra inputs are not permitted; did you mean 'remove_agents'",
        "_agent:",
    ),
]


@pytest.mark.parametrize(
    ("rule", "message", "hint"),
    [
        ("{rule: min_confidnce, threshold: 0.5}", "rule: Input tag 'min_confidnce'", "did you mean 'min_confidence'?"),
        (
            "{rule: min_confidence, treshold: 0.5}",
            "treshold: Extra inputs are not permitted",
            "did you mean 'threshold'?",
        ),
    ],
)
def test_a_misspelt_policy_rule_or_key_names_the_one_to_use(rule: str, message: str, hint: str) -> None:
    with pytest.raises(PolicyError) as caught:
        policy_files.loads(f"rules:\n  - {rule}\n", format="yaml", file="p.yaml")
    assert str(caught.value).startswith("p.yaml:2: rule #1 (")
    assert message in str(caught.value)
    assert str(caught.value).endswith(hint)


def test_a_hash_inside_a_path_is_not_a_variant() -> None:
    assert split_ref("claims.yaml#disagree") == ("claims.yaml", "disagree")
    assert split_ref("claims:review#one-reader") == ("claims:review", "one-reader")
    assert split_ref("runs#2/claims.yaml") == ("runs#2/claims.yaml", None)
    assert split_ref("runs#claims.yaml") == ("runs#claims.yaml", None)
    assert split_ref("support-case/conflict") == ("support-case/conflict", None)


@pytest.mark.parametrize(("old", "new", "message", "at"), MISTAKES)
def test_mistakes_in_placeholders_kinds_and_variants_name_the_line_and_the_name_to_use(
    old: str, new: str, message: str, at: str
) -> None:
    text = TEXT.replace(old, new, 1)
    assert text != TEXT
    with pytest.raises(ScenarioError) as caught:
        loads(text.replace("name: claim-review", "name: claim-broken"), file="claims.yaml")
    assert message in str(caught.value)
    assert caught.value.line == 1 + next(i for i, line in enumerate(text.splitlines()) if at in line)


def test_a_kind_declared_in_the_file_is_named_by_its_short_name_in_a_policy_file_beside_it(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("rules:\n  - {rule: freeze_on, kind: Retracted}\n  - {rule: allow}\n")
    text = TEXT.split("policy:\n")[0] + "policy: policy.yaml\nsink: memory\n" + TEXT.split("sink: table:claims\n")[1]
    (tmp_path / "s.yaml").write_text(text.replace("name: claim-review", "name: claim-beside"))
    scenario = load(tmp_path / "s.yaml")
    assert scenario.policy is not None
    assert "claim-beside.Retracted" in str(scenario.policy.rules[0].id)
    (tmp_path / "policy.yaml").write_text("rules:\n  - {rule: freeze_on, kind: Retract}\n")
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path / "s.yaml")
    assert "policy.yaml:2: rule #1 (freeze_on): unknown finding kind 'Retract'; did you mean 'Retracted'? " in str(
        caught.value
    )
    assert "(kinds of the scenario file: Claim, Support, Retracted)" in str(caught.value)


def test_a_reference_with_its_variant_works_wherever_a_scenario_is_named() -> None:
    from slateboard.testing.plugin import resolve_scenario  # noqa: PLC0415 - the pytest plugin's own resolution

    chosen = resolve_scenario(f"{CLAIMS}#one-reader")
    assert (chosen.title, chosen.ref) == ("claim-review/one-reader", f"{CLAIMS.resolve()}#one-reader")
    assert "second-reader" not in [a.name for a in chosen.agents]
