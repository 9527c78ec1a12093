"""Scenario and policy files written to hurt: each class of hostile file fails fast with a ScenarioError or a
PolicyError naming the file and the line, and nothing else is raised (issue 15)."""

from pathlib import Path

import pytest

from slateboard._internal import yamlpos
from slateboard.errors import PolicyError, ScenarioError
from slateboard.policies import files as policy_files
from slateboard.scenarios import files as scenario_files


def laughs(levels: int = 9) -> str:
    """A "billion laughs" tree: each level an anchored list of nine aliases of the level before (9**levels)."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_policy_of_500_bytes_fails_fast_naming_file_and_line(tmp_path: Path) -> None:
    text = laughs() + "default: deny\nrules: [{rule: min_confidence, threshold: *l8}]\n"
    assert len(text) <= 600
    path = tmp_path / "laughs.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match="aliases expand") as caught:
        policy_files.load(path)
    assert caught.value.file == str(path)
    assert caught.value.line in range(1, 10)


def test_a_billion_laughs_scenario_fails_as_a_scenario_error(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(laughs() + "name: x\n")
    with pytest.raises(ScenarioError, match="aliases expand") as caught:
        scenario_files.load(path)
    assert caught.value.file == str(path)
    assert caught.value.line is not None


def test_an_alias_inside_its_own_anchor_is_refused_not_looped_on() -> None:
    with pytest.raises(PolicyError, match=r"alias \*r refers to a node that contains it") as caught:
        policy_files.loads("default: deny\nrules: &r [*r]\n", format="yaml", file="loop.yaml")
    assert (caught.value.file, caught.value.line) == ("loop.yaml", 2)


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_deep_nesting_is_refused_at_its_line(opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    text = "name: x\nagents: " + opening * 10_000 + closing * 10_000 + "\n"
    with pytest.raises(ScenarioError, match=f"nested more than {yamlpos.MAX_DEPTH} levels") as caught:
        scenario_files.loads(text, file="deep.yaml")
    assert caught.value.line == 2


def test_nesting_within_the_limit_is_read() -> None:
    text = "default: deny\nrules: []\nx: " + "[" * (yamlpos.MAX_DEPTH - 2) + "]" * (yamlpos.MAX_DEPTH - 2) + "\n"
    with pytest.raises(PolicyError, match="unknown top-level key"):  # parsed: only the key is wrong
        policy_files.loads(text, format="yaml")


@pytest.mark.parametrize("digits", [yamlpos.MAX_INT_DIGITS + 1, 5_000, 100_000])
def test_an_integer_too_long_to_convert_names_its_line(digits: int) -> None:
    text = f"default: deny\nrules:\n  - {{rule: min_confidence, threshold: {'9' * digits}}}\n"
    with pytest.raises(PolicyError, match=f"an integer of {digits} digits") as caught:
        policy_files.loads(text, format="yaml", file="p.yaml")
    assert caught.value.line == 3


def test_a_toml_integer_too_long_to_convert_is_a_policy_error() -> None:
    text = "default = 'deny'\n[[rules]]\nrule = 'min_confidence'\nthreshold = " + "9" * 5_000 + "\n"
    with pytest.raises(PolicyError, match="not valid TOML") as caught:
        policy_files.loads(text, format="toml", file="p.toml")
    assert caught.value.file == "p.toml"


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("# padding\n" * (yamlpos.MAX_BYTES // 10 + 1))
    with pytest.raises(ScenarioError, match="the limit is") as caught:
        scenario_files.load(path)
    assert caught.value.file == str(path)
    with pytest.raises(PolicyError, match="the limit is"):
        policy_files.load(path)
    toml = tmp_path / "huge.toml"
    toml.write_text("# padding\n" * (yamlpos.MAX_BYTES // 10 + 1))
    with pytest.raises(PolicyError, match="the limit is"):
        policy_files.load(toml)


def test_a_file_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    composed: list[int] = []
    original = yamlpos._BoundedLoader.get_single_node

    def counting(self: yamlpos._BoundedLoader) -> object:
        composed.append(1)
        return original(self)

    monkeypatch.setattr(yamlpos._BoundedLoader, "get_single_node", counting)
    with pytest.raises(ScenarioError):
        scenario_files.loads("name: x\n", file="once.yaml")
    assert composed == [1]


KIND = """name: reserved-{n}
kinds:
  Thing: {{{field}: str}}
agents:
  - {{name: a, reads: [Thing], writes: Thing, emit: {{{field}: there}}}}
inputs:
  - {{kind: Thing, {field}: hi}}
"""


@pytest.mark.parametrize(
    "field",
    ["model_config", "model_dump", "model_fields", "json", "copy", "schema", "validate", "subject", "confidence",
     "citations", "kind_name", "schema_version", "_private", "__class__", "class", "None", "x-y", "1st"],
)  # fmt: skip
def test_a_field_name_pydantic_or_finding_reserves_is_refused_naming_it(field: str) -> None:
    with pytest.raises(ScenarioError, match="a field name must be an identifier") as caught:
        scenario_files.loads(KIND.format(n=abs(hash(field)), field=field), file="kinds.yaml")
    assert f"kinds.Thing.{field}" in str(caught.value)
    assert caught.value.line == 3


def test_an_ordinary_field_name_is_still_accepted() -> None:
    scenario = scenario_files.loads(KIND.format(n="ok", field="colour"), file="kinds.yaml")
    assert scenario.name == "reserved-ok"
