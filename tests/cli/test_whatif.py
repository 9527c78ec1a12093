"""`slateboard whatif`, `run --dry-run`, and how `run` finds a `module:attribute` scenario (and what it refuses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke

STRICT = 'default = "deny"\n\n[[rules]]\nrule = "min_confidence"\nthreshold = 0.99\n'
LOOSE = 'default = "allow"\n'


@pytest.fixture
def recorded(slateboard: Invoke, tmp_path: Path) -> Path:
    """Two recorded boards in the default store: handoffs (committed) and support-case (waiting for a person)."""
    for scenario in ("handoffs", "support-case"):
        assert slateboard("run", scenario).code == 0
    (tmp_path / "strict.toml").write_text(STRICT)
    (tmp_path / "loose.toml").write_text(LOOSE)
    return tmp_path


def test_whatif_text_has_a_line_per_change_and_a_summary(slateboard: Invoke, recorded: Path) -> None:
    result = slateboard("whatif", "--all", "--policy", "strict.toml")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "whatif 'handoffs': 3 change(s) in 4 decision(s), 3 proposal(s)"
    assert sum("verdict allow -> escalate, committed -> escalated" in line for line in lines) == 4  # 3 + 1
    assert "  outcome: committed -> escalated" in lines
    assert "  outcome: awaiting_approval -> escalated" in lines
    assert any("because now min_confidence(0.99) votes escalate: confidence 0.9" in line for line in lines)
    assert lines[-1] == "2 board(s) re-judged: 2 would change (5 change(s) in all)"


def test_whatif_json_and_fail_on_change(slateboard: Invoke, recorded: Path) -> None:
    result = slateboard("whatif", "support-case", "--policy", "loose.toml", "--json")
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["checked"], document["changed"]) == (1, 1)
    (board,) = document["boards"]
    assert (board["board"], board["outcome"], board["would_be"], board["changed"]) == (
        "support-case",
        "awaiting_approval",
        "committed",
        True,
    )
    changed = [p for p in board["proposals"] if p["changed"]]
    assert [(p["recorded_verdict"], p["would_be_verdict"]) for p in changed] == [("needs_approval", "allow")]
    assert not any(d["changed"] for d in board["decisions"])
    assert slateboard("whatif", "support-case", "--policy", "loose.toml", "--fail-on-change").code == 1
    assert slateboard("whatif", "handoffs", "--policy", "loose.toml", "--fail-on-change").code == 0


def test_whatif_takes_rules_by_module_attribute_from_the_current_directory(
    slateboard: Invoke, recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(recorded))])
    (recorded / "myrules.py").write_text(
        "from slateboard import rules\n"
        "from slateboard.scenarios.handoffs import handoffs\n"
        "STRICTER = [*handoffs().rules, rules.budget(max_cycles=1)]\n"
        "NOT_RULES = 'sufficient'\n"
    )
    result = slateboard("whatif", "handoffs", "--rules", "myrules:STRICTER")
    assert result.code == 0, result.stderr
    assert "decision v" in result.stdout
    assert "continue -> failed because now budget: the run has used its 1 cycles" in result.stdout
    refused = slateboard("whatif", "handoffs", "--rules", "myrules:NOT_RULES")
    assert refused.code == 2
    assert "myrules:NOT_RULES: is a str, not a list or tuple of rules" in refused.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("whatif", "--policy", "strict.toml"), "name the boards to re-judge, or give --all"),
        (("whatif", "handoffs"), "give the changed policy (--policy FILE)"),
        (("whatif", "handoffs", "--policy", "nope.toml"), "cannot read the policy file"),
        (("whatif", "nope", "--policy", "strict.toml"), "board 'nope' has no entries"),
    ],
)
def test_whatif_errors_are_one_line(slateboard: Invoke, recorded: Path, args: tuple[str, ...], message: str) -> None:
    result = slateboard(*args)
    assert result.code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_dry_run_records_what_it_would_apply_on_a_throwaway_store(slateboard: Invoke, tmp_path: Path) -> None:
    result = slateboard("run", "handoffs", "--dry-run")
    assert result.code == 0, result.stderr
    assert "dry run: 3 application(s) recorded, none applied" in result.stdout
    assert "would apply open_ticket Ticket/handoffs: Queue='fulfilment'" in result.stdout
    assert not (tmp_path / "slateboard.db").exists()  # nothing reached the default store
    as_json = json.loads(slateboard("run", "handoffs", "--dry-run", "--json").stdout)
    assert [p["action"] for p in as_json["dry_run"]] == ["update", "open_ticket", "record"]
    assert as_json["outcome"]["status"] == "committed"
    refused = slateboard("run", "handoffs", "--dry-run", "--db", "sqlite:///x.db")
    assert refused.code == 2
    assert "--dry-run runs on a throwaway memory:// store" in refused.stderr


def test_run_imports_module_attribute_from_the_current_directory_and_calls_only_scenarios(
    slateboard: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    (tmp_path / "claims.py").write_text(
        "from slateboard.scenarios.model import Scenario\n"
        "from slateboard.scenarios.handoffs import handoffs\n"
        "CALLED = []\n"
        "def scenario() -> Scenario:\n"
        "    return handoffs()\n"
        "def untyped():\n"
        "    CALLED.append('untyped')\n"
        "    return handoffs()\n"
        "def needs(variant: str) -> Scenario:\n"
        "    return handoffs(variant)\n"
    )
    assert slateboard("run", "claims:scenario", "--board", "c1").code == 0
    for reference, kind in (("claims:untyped", "function"), ("claims:needs", "function"), ("sys:exit", "builtin")):
        refused = slateboard("run", reference, "--board", "c2")
        assert refused.code == 2, reference
        assert f"{reference}: is a {kind}" in refused.stderr
        assert "a function annotated `-> Scenario` that needs no arguments (nothing else is called)" in refused.stderr
    assert sys.modules["claims"].CALLED == []  # refused, never called


def test_help_says_what_each_command_takes(slateboard: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    run = slateboard("run", "--help").stdout
    assert "a YAML scenario file, or package.module:attribute" in run
    assert "the current directory is importable" in run
    assert "--db" in run
    assert "URL" in run
    assert "<bool>  Print JSON" not in run  # a flag shows no type
    whatif = slateboard("whatif", "--help").stdout
    for option in ("--all", "--policy", "--rules", "--fail-on-change", "--json", "--db", "--scenario"):
        assert option in whatif


def test_the_command_line_starts_without_loading_hypothesis() -> None:
    # `whatif` reaches slateboard.testing, which brings hypothesis: only that command may pay for it at start-up.
    code = "import sys, slateboard.cli.entry; print('hypothesis' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert found.stdout.strip() == "False"
