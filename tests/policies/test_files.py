"""Policies from TOML and YAML files: every rule type, the same judgement as code, errors that point at the line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slateboard import Blackboard, Citation, Finding, Proposal, policies
from slateboard.blackboard.board import Board
from slateboard.errors import PolicyError
from slateboard.policies import Policy, file_format, files


class Flag(Finding):
    kind_name = "tests.policies.files.Flag"
    frozen: bool = True


TOML = """\
# every rule type, in the order of the docs
default = "deny"

[[rules]]
rule = "allow"
actions = ["update", "notify"]

[[rules]]
rule = "min_confidence"
threshold = 0.8

[[rules]]
rule = "require_citations"
approved = true

[[rules]]
rule = "escalate_on_conflict"

[[rules]]
rule = "freeze_on"
kind = "tests.policies.files.Flag"
where = { frozen = true }

[[rules]]
rule = "priority"
domains = ["compliance", "service", "sales"]

[[rules]]
rule = "require_approval"
irreversible = true
actions = ["notify"]

[[rules]]
rule = "max_changes"
limit = 2
actions = ["update"]

[[rules]]
rule = "allowed_fields"
fields = ["Status", "Owner", "To"]
"""

YAML = """\
# every rule type, in the order of the docs
default: deny
rules:
  - rule: allow
    actions: [update, notify]
  - rule: min_confidence
    threshold: 0.8
  - rule: require_citations
    approved: true
  - rule: escalate_on_conflict
  - rule: freeze_on
    kind: tests.policies.files.Flag
    where: {frozen: true}
  - rule: priority
    domains: [compliance, service, sales]
  - rule: require_approval
    irreversible: true
    actions: [notify]
  - rule: max_changes
    limit: 2
    actions: [update]
  - rule: allowed_fields
    fields: [Status, Owner, To]
"""


def in_code() -> Policy:
    """The policy of TOML and YAML, written in code."""
    return Policy(
        policies.allow(actions=["update", "notify"]),
        policies.min_confidence(0.8),
        policies.require_citations(approved=True),
        policies.escalate_on_conflict(),
        policies.freeze_on(Flag, when=lambda f: f.frozen),
        policies.priority("compliance", "service", "sales"),
        policies.require_approval(lambda p: not p.reversible or p.action == "notify", id="require_approval"),
        policies.max_changes(2, actions=["update"]),
        policies.allowed_fields(["Status", "Owner", "To"]),
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=["memory", "sqlite"])
def board(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Board]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'files.db'}"
    with Blackboard.open(url) as bb:
        yield bb.board("case-1")


APPROVED = (Citation(source="kb", approved=True),)

# (author, proposal fields) and the outcome each gets; one or more per rule type.
SCENARIO: list[tuple[str, dict[str, Any], str]] = [
    ("service", {"target": "Case/1"}, "allow"),
    ("service", {"target": "Case/2", "confidence": 0.5}, "escalate"),  # min_confidence
    ("service", {"target": "Case/3", "citations": (Citation(source="forum"),)}, "deny"),  # require_citations
    ("service", {"target": "Case/4", "changes": {"Status": "A", "Owner": "B", "To": "C"}}, "deny"),  # max_changes
    ("service", {"target": "Case/5", "changes": {"Price": 0}}, "deny"),  # allowed_fields
    ("service", {"target": "Case/6", "action": "notify", "changes": {"To": "ana"}}, "needs_approval"),
    ("service", {"target": "Case/7", "reversible": False}, "needs_approval"),  # require_approval irreversible
    # allow lists other actions, but min_confidence and require_citations passing are allows too (affirmative checks)
    ("service", {"target": "Case/8", "action": "delete"}, "allow"),
    ("sales", {"target": "Case/9", "changes": {"Status": "Closed"}}, "deny"),  # priority: overridden
    ("service", {"target": "Case/9", "changes": {"Status": "Escalated"}}, "allow"),
    ("bot-x", {"target": "Case/10", "changes": {"Status": "X"}}, "escalate"),  # escalate_on_conflict
    ("bot-y", {"target": "Case/10", "changes": {"Status": "Y"}}, "escalate"),
    ("service", {"subject": "frozen", "target": "Case/11"}, "deny"),  # freeze_on where frozen = true
    ("service", {"subject": "thawed", "target": "Case/12"}, "allow"),  # a flag with frozen = false
]


async def scenario_view(board: Board) -> Any:
    await board.write(Flag(subject="frozen", frozen=True, confidence=1.0), author="compliance")
    await board.write(Flag(subject="thawed", frozen=False, confidence=1.0), author="compliance")
    for author, fields in ((a, f) for a, f, _ in SCENARIO):
        defaults: dict[str, Any] = {
            "subject": "case-1",
            "action": "update",
            "changes": {"Status": "Open"},
            "confidence": 0.9,
            "citations": APPROVED,
        }
        await board.write(Proposal(**{**defaults, **fields}), author=author)
    return await board.view()


@pytest.mark.anyio
async def test_toml_yaml_and_code_judge_every_rule_type_alike(board: Board, tmp_path: Path) -> None:
    from_toml = policies.load(write(tmp_path, "policy.toml", TOML))
    from_yaml = policies.load(write(tmp_path, "policy.yaml", YAML))
    view = await scenario_view(board)
    expected = [outcome for _, _, outcome in SCENARIO]
    judged = {
        name: policy.judge(view) for name, policy in (("toml", from_toml), ("yaml", from_yaml), ("code", in_code()))
    }
    for name, verdicts in judged.items():
        assert [v.outcome for v in verdicts] == expected, name
    reasons = {name: [[r.rule for r in v.reasons] for v in verdicts] for name, verdicts in judged.items()}
    assert reasons["toml"] == reasons["yaml"] == reasons["code"]
    assert judged["toml"][8].overridden_by == judged["toml"][9].proposal
    assert [r.rule for r in judged["toml"][12].reasons] == ["freeze_on(tests.policies.files.Flag)"]


def test_toml_and_yaml_give_one_version_and_code_with_the_same_parameters_too(tmp_path: Path) -> None:
    from_toml = policies.load(write(tmp_path, "policy.toml", TOML))
    from_yaml = policies.load(write(tmp_path, "policy.yml", YAML))
    assert from_toml.version == from_yaml.version
    assert from_toml.source == str(tmp_path / "policy.toml")
    assert Policy.from_file(tmp_path / "policy.toml").version == from_toml.version
    # The code policy's predicates are functions, the file's are data: they are different parameters.
    assert in_code().version != from_toml.version
    plain = """
[[rules]]
rule = "min_confidence"
threshold = 0.85

[[rules]]
rule = "require_citations"
approved = true
min_count = 2

[[rules]]
rule = "priority"
domains = ["compliance", "sales"]

[[rules]]
rule = "allowed_fields"
fields = ["Status"]
actions = ["update"]
"""
    same = Policy(
        policies.min_confidence(0.85),
        policies.require_citations(approved=True, min_count=2),
        policies.priority("compliance", "sales"),
        policies.allowed_fields(["Status"], actions=["update"]),
    )
    assert policies.loads(plain, format="toml").version == same.version
    changed = plain.replace("0.85", "0.9")
    assert policies.loads(changed, format="toml").version != same.version


@pytest.mark.anyio
async def test_a_file_allow_with_actions_leaves_other_actions_to_default_deny(board: Board, tmp_path: Path) -> None:
    toml = '[[rules]]\nrule = "allow"\nactions = ["update"]\n\n[[rules]]\nrule = "max_changes"\nlimit = 1\n'
    yaml = "rules:\n  - {rule: allow, actions: [update]}\n  - {rule: max_changes, limit: 1}\n"
    loaded = [policies.load(write(tmp_path, "a.toml", toml)), policies.load(write(tmp_path, "a.yaml", yaml))]
    code = Policy(policies.allow(actions=["update"]), policies.max_changes(1))
    assert {p.version for p in loaded} == {code.version}
    for action, changes in (("update", {"S": 1}), ("delete", {"S": 1}), ("update", {"S": 1, "T": 2})):
        item = Proposal(
            subject="case-1", action=action, target=f"Case/{action}{len(changes)}", changes=changes, confidence=1.0
        )
        await board.write(item, author="agent")
    view = await board.view()
    for policy in (*loaded, code):
        verdicts = policy.judge(view)
        assert [v.outcome for v in verdicts] == ["allow", "deny", "deny"]
        assert [[r.rule for r in v.reasons] for v in verdicts] == [
            ["allow(update)"],
            ["default-deny"],
            ["max_changes(1)"],
        ]


def test_file_rules_keep_their_ids(tmp_path: Path) -> None:
    text = """
[[rules]]
rule = "allow"
id = "updates-are-fine"
actions = ["update"]

[[rules]]
rule = "min_confidence"
id = "floor"
threshold = 0.5
"""
    policy = policies.load(write(tmp_path, "ids.toml", text))
    assert [r.id for r in policy.rules] == ["updates-are-fine", "floor"]


def test_default_allow_and_an_empty_rule_list(tmp_path: Path) -> None:
    assert policies.load(write(tmp_path, "open.toml", 'default = "allow"\n')).default == "allow"
    assert policies.load(write(tmp_path, "closed.yaml", "rules: []\n")).default == "deny"


# Errors ---------------------------------------------------------------------------------------------------


def error_of(tmp_path: Path, name: str, text: str) -> PolicyError:
    path = write(tmp_path, name, text)
    with pytest.raises(PolicyError) as caught:
        policies.load(path)
    assert caught.value.file == str(path)
    return caught.value


TOML_ERRORS = [
    # text, line, rule, words in the message
    (
        '[[rules]]\nrule = "allow"\n\n[[rules]]\nrule = "min_confidence"\nthreshold = 1.5\n',
        6,
        "#2 (min_confidence)",
        "threshold",
    ),
    ('[[rules]]\nrule = "min_confidence"\nthreshold = nan\n', 3, "#1 (min_confidence)", "threshold"),
    ('[[rules]]\nrule = "min_confidence"\nthreshold = 0.5\neffect = "allow"\n', 4, "#1 (min_confidence)", "effect"),
    ('[[rules]]\nrule = "min_confidence"\nthreshhold = 0.5\n', 3, "#1 (min_confidence)", "threshhold"),
    (
        '[[rules]]\nrule = "allow"\n\n[[rules]]\n# what is this?\nrule = "frobnicate"\n',
        6,
        "#2 (frobnicate)",
        "frobnicate",
    ),
    ("[[rules]]\nthreshold = 0.5\n", 1, "#1", "rule"),
    ('[[rules]]\nrule = "max_changes"\nactions = ["update"]\n', 1, "#1 (max_changes)", "limit"),
    (
        '[[rules]]\nrule = "freeze_on"\neffect = "deny"\nkind = "tests.policies.files.Flga"\n',
        4,
        "#1 (freeze_on)",
        "Flga",
    ),
    ('[[rules]]\nrule = "freeze_on"\nkind = "slateboard.Verdict"\n', 3, "#1 (freeze_on)", "not a Finding"),
    (
        '[[rules]]\nrule = "freeze_on"\nkind = "tests.policies.files.Flag"\nwhere = { frozn = true }\n',
        4,
        "#1 (freeze_on)",
        "frozn",
    ),
    (
        '[[rules]]\nrule = "freeze_on"\nkind = "tests.policies.files.Flag"\neffect = "thaw"\n',
        4,
        "#1 (freeze_on)",
        "effect",
    ),
    ('[[rules]]\nrule = "require_approval"\nreason = "why"\n', 1, "#1 (require_approval)", "irreversible"),
    ('[[rules]]\nrule = "priority"\ndomains = []\n', 3, "#1 (priority)", "domains"),
    ('[[rules]]\nrule = "allow"\nactions = []\n', 1, "#1 (allow)", "actions"),
    ('[[rules]]\nrule = "allow"\n\n[[rules]]\nrule = "allow"\n', 4, "#2 (allow)", "same id"),
    (
        '[[rules]]\nrule = "priority"\ndomains = ["a"]\n\n[[rules]]\nrule = "priority"\nid = "p2"\ndomains = ["b"]\n',
        5,
        "#2 (priority)",
        "at most one priority",
    ),
]


@pytest.mark.parametrize(("text", "line", "rule", "words"), TOML_ERRORS)
def test_a_bad_toml_rule_is_reported_at_its_line(tmp_path: Path, text: str, line: int, rule: str, words: str) -> None:
    error = error_of(tmp_path, "bad.toml", text)
    assert (error.line, error.rule) == (line, rule)
    assert words in str(error)
    assert str(error).startswith(f"{tmp_path / 'bad.toml'}:{line}: rule {rule}: ")


YAML_ERRORS = [
    ("rules:\n  - rule: allow\n  - rule: min_confidence\n    threshold: 2\n", 4, "#2 (min_confidence)", "threshold"),
    ("rules:\n  - rule: allow\n  - rule: frobnicate\n", 3, "#2 (frobnicate)", "frobnicate"),
    ("rules:\n  - rule: max_changes\n    actions: [update]\n", 2, "#1 (max_changes)", "limit"),
    ("rules:\n  - rule: freeze_on\n    kind: Nope.Kind\n", 3, "#1 (freeze_on)", "Nope.Kind"),
    (
        "rules:\n  - rule: allow\n    id: same\n  - rule: min_confidence\n    threshold: 0.5\n    id: same\n",
        6,
        "#2 (min_confidence)",
        "same id",
    ),
]


@pytest.mark.parametrize(("text", "line", "rule", "words"), YAML_ERRORS)
def test_a_bad_yaml_rule_is_reported_at_its_line(tmp_path: Path, text: str, line: int, rule: str, words: str) -> None:
    error = error_of(tmp_path, "bad.yaml", text)
    assert (error.line, error.rule) == (line, rule)
    assert words in str(error)


@pytest.mark.parametrize(
    ("name", "text", "line", "words"),
    [
        ("syntax.toml", '[[rules]]\nrule = "allow"\nactions = [\n\n"update"\nthreshold =\n', 6, "not valid TOML"),
        ("syntax.toml", 'default = "deny"\n[[rules]\nrule = "allow"\n', 2, "not valid TOML"),
        ("syntax.yaml", "rules:\n  - rule: allow\n   actions: [update\n", 3, "not valid YAML"),
        ("syntax.yaml", "default: deny\nrules:\n  - rule: allow\n    actions: [a, b\n", 5, "not valid YAML"),
        ("top.toml", 'default = "deny"\npolicy_version = 3\n\n[[rules]]\nrule = "allow"\n', 2, "policy_version"),
        ("top.toml", '[[rules]]\nrule = "allow"\n\n[extras]\nx = 1\n', 4, "extras"),
        ("top.yaml", "default: deny\nrules: []\nrulez: []\n", 3, "rulez"),
        ("default.toml", '\ndefault = "maybe"\n', 2, "default must be"),
        ("default.yaml", "rules: []\ndefault: maybe\n", 2, "default must be"),
        ("list.toml", 'rules = "allow"\n', 1, "must be a list"),
    ],
)
def test_file_level_errors_give_the_line(tmp_path: Path, name: str, text: str, line: int, words: str) -> None:
    error = error_of(tmp_path, name, text)
    assert error.line == line
    assert error.rule is None
    assert words in str(error)


def test_a_wrong_suffix_is_refused(tmp_path: Path) -> None:
    error = error_of(tmp_path, "policy.json", '{"rules": []}')
    assert ".toml, .yaml or .yml" in str(error)


def test_a_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(PolicyError, match="cannot read") as caught:
        policies.load(path)
    assert caught.value.file == str(path)


def test_a_file_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    error = error_of(tmp_path, "list.yaml", "- rule: allow\n")
    assert error.line == 1
    assert "table" in str(error)


@pytest.mark.parametrize(
    "text",
    [
        'rules:\n  - !!python/object/apply:os.system ["touch {marker}"]\n',
        'rules:\n  - rule: min_confidence\n    threshold: !!python/object/apply:os.system ["touch {marker}"]\n',
        "default: !!python/name:os.system\n",
        'rules: !!python/object/new:subprocess.check_call [["touch", "{marker}"]]\n',
    ],
)
def test_yaml_is_loaded_safely_a_python_tag_is_refused_not_run(tmp_path: Path, text: str) -> None:
    marker = tmp_path / "executed"
    error = error_of(tmp_path, "evil.yaml", text.format(marker=marker))
    assert "not valid YAML" in str(error)
    assert "python/" in str(error)
    assert error.line is not None
    assert not marker.exists()


def test_the_format_models_stay_importable_from_policies_files() -> None:
    # The models moved to policies.file_format; every name policies.files offered is still there, the same object.
    for name in ("PolicyFile", "RULE_SPECS", "FieldsMatch", "ApprovalWhen"):
        assert getattr(files, name) is getattr(file_format, name)
    assert {"load", "loads", "PolicyFile", "RULE_SPECS"} <= set(files.__all__)
    assert len(files.RULE_SPECS) == 9
