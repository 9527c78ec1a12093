"""The generated reference: docs/scenario-files.md and docs/schemas/ are what the format's models generate, and they
cover every field the loaders accept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from slateboard.policies.files import RULE_SPECS, PolicyFile
from slateboard.scenarios import reference
from slateboard.scenarios.format import AgentChange, AgentSpec, FileSpec, VariantSpec

DOCS = Path(__file__).resolve().parents[2] / "docs"
REGENERATE = "regenerate with `python -m slateboard.scenarios.reference docs`"


def test_the_committed_reference_is_what_the_models_generate() -> None:
    assert (DOCS / "scenario-files.md").read_text(encoding="utf-8") == reference.markdown(), REGENERATE
    for name, make in reference.SCHEMAS.items():
        committed = json.loads((DOCS / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))
        assert committed == make(), f"docs/schemas/{name}.schema.json: {REGENERATE}"


def test_write_produces_the_three_files(tmp_path: Path) -> None:
    written = reference.write(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "scenario-files.md",
        "schemas/scenario.schema.json",
        "schemas/policy.schema.json",
    ]
    assert json.loads(written[2].read_text())["title"] == "slateboard policy file"


@pytest.mark.parametrize("model", [FileSpec, AgentSpec, AgentChange, VariantSpec, PolicyFile, *RULE_SPECS])
def test_every_field_is_in_the_reference_with_a_description(model: type) -> None:
    text = reference.markdown()
    for name, info in model.model_fields.items():
        if name == "rule":
            assert f"### rule: {model.model_fields['rule'].annotation.__args__[0]}" in text
            continue
        assert f"| `{info.alias or name}` |" in text, name
        assert info.description, f"{model.__name__}.{name} has no description for the reference"


def test_the_scenario_schema_names_every_top_level_key_and_forbids_others() -> None:
    schema = reference.scenario_schema()
    assert set(schema["properties"]) == {info.alias or name for name, info in FileSpec.model_fields.items()}
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "agents", "inputs"}
    files = Path(__file__).parent / "files"
    for path in sorted(files.glob("*.yaml")):  # the keys of every example file are ones the schema knows
        assert set(yaml.safe_load(path.read_text())) <= set(schema["properties"]), path.name
    rules = reference.policy_schema()["properties"]["rules"]["items"]
    assert set(rules["discriminator"]["mapping"]) == {m.model_fields["rule"].annotation.__args__[0] for m in RULE_SPECS}
