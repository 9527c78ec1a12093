"""`--variant` on every kind of scenario, checked by name; a board run by a variant is answered and replayed from
what it recorded; `slateboard schema` prints the file formats' JSON Schemas."""

import json
from pathlib import Path

from tests.cli.conftest import Invoke

CLAIMS = Path(__file__).parent.parent / "scenarios" / "files" / "claims.yaml"


def test_run_a_file_s_variant_then_replay_its_board_from_the_recorded_reference(slateboard: Invoke) -> None:
    ran = slateboard("run", str(CLAIMS), "--variant", "disagree", "--json")
    assert ran.code == 0, ran.stderr
    document = json.loads(ran.stdout)
    assert (document["scenario"], document["board"], document["ok"]) == (
        "claim-review/disagree", "claim-review-disagree", True,
    )  # fmt: skip
    assert document["outcome"]["status"] == "escalated"
    replayed = slateboard("replay", "claim-review-disagree")
    assert replayed.code == 0, replayed.stderr
    assert "all identical" in replayed.stdout
    happy = json.loads(slateboard("run", str(CLAIMS), "--json").stdout)
    assert (happy["board"], happy["outcome"]["status"]) == ("claim-review", "committed")
    assert happy["outcome"]["commits"][0]["target"] == "Claim/claim-review"  # the subject, filled in


def test_an_unknown_variant_fails_naming_the_known_ones_for_every_kind_of_scenario(slateboard: Invoke) -> None:
    for reference, known in (
        (str(CLAIMS), "variants: happy, disagree, retracted, one-reader"),
        ("slateboard.scenarios.support_case:support_case", "variants: happy, low-intake, conflict"),
        ("support-case", "variants: happy, low-intake, conflict"),
    ):
        for command in ("run", "graph"):
            failed = slateboard(command, reference, "--variant", "nonsense")
            assert failed.code == 2, (command, reference)
            assert "no variant 'nonsense'" in failed.stderr
            assert known in failed.stderr
            assert failed.stdout == ""
    python = slateboard("run", "slateboard.scenarios.support_case:support_case", "--variant", "conflict")
    assert python.code == 0, python.stderr
    assert "support-case/conflict on board support-case-conflict" in python.stdout


def test_schema_prints_the_json_schema_of_each_file_format(slateboard: Invoke) -> None:
    scenario = json.loads(slateboard("schema", "scenario").stdout)
    assert scenario["title"] == "slateboard scenario file"
    assert "variants" in scenario["properties"]
    policy = json.loads(slateboard("schema", "policy").stdout)
    assert policy["properties"]["default"]["enum"] == ["deny", "allow"]
    wrong = slateboard("schema", "scenarios")
    assert wrong.code == 2
    assert wrong.stderr == "error: schema takes one of scenario, policy, got 'scenarios'\n"
