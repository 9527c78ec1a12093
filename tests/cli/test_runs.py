"""`slateboard run` (and its deprecated alias `demo`), `list` and `graph`, in-process on the embedded SQLite
default."""

import json
from pathlib import Path

from tests.cli.conftest import Invoke

REFUND = Path(__file__).parent.parent / "scenarios" / "files" / "refund.yaml"


def test_run_prints_a_readable_account_and_resumes_without_redoing_anything(slateboard: Invoke, tmp_path: Path) -> None:
    result = slateboard("run", "support-case")
    assert result.code == 0, result.stderr
    assert (tmp_path / "slateboard.db").is_file()
    for expected in (
        "support-case on board support-case (sqlite:///slateboard.db)",
        "  v1   finding  support.Case by input: account='ACME Distribution', product='P-200' (confidence 1.0)",
        "decision continue: agenda: intake on 'support-case'",
        "run      knowledge on 'support-case', attempt 1: ok",
        "proposal update Case/support-case by action",
        "verdict  allow for update Case/support-case (v20): min_confidence(0.85)",
        "verdict  needs_approval for send_reply",
        "commit   update Case/support-case to support_cases: receipt",
        "outcome: awaiting_approval at v22",
        "  - sufficient(support.Entitlement): 1 independent source(s)",
        "): committed\n",
        "waiting for a person: key pk-",
        "replay: replay of 'support-case': 6 decision(s) and 2 verdict(s), all identical",
        "verify: OK: 26 entries",
    ):
        assert expected in result.stdout, expected
    assert result.stderr == ""
    again = slateboard("run", "support-case")
    assert "outcome: awaiting_approval at v22" in again.stdout  # resumed from its log: nothing re-run or written
    assert "verify: OK: 26 entries" in again.stdout
    assert again.stdout.count(" run      ") == result.stdout.count(" run      ") == 7


def test_run_json_is_the_whole_outcome(slateboard: Invoke) -> None:
    result = slateboard("run", "support-case", "--board", "c7", "--json")
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"scenario", "board", "ok", "problems", "outcome", "replay_identical", "head"}
    assert (document["scenario"], document["board"], document["ok"], document["problems"]) == (
        "support-case", "c7", True, [],
    )  # fmt: skip
    assert document["outcome"]["status"] == "awaiting_approval"
    assert (
        document["outcome"]["reasons"] == document["outcome"]["decision_reasons"] + document["outcome"]["key_reasons"]
    )
    assert document["replay_identical"] is True
    assert (document["head"]["board"], document["head"]["version"]) == ("c7", 26)


def test_a_variant_goes_to_a_person_and_the_board_follows_its_name(slateboard: Invoke) -> None:
    conflict = slateboard("run", "support-case/conflict")
    assert conflict.code == 0, conflict.stderr  # escalated is what the conflict variant expects
    assert "support-case/conflict on board support-case-conflict" in conflict.stdout
    assert "outcome: escalated at v14" in conflict.stdout
    assert "entitlement contradicts a policy exception" in conflict.stdout
    same = slateboard("run", "support-case", "--variant", "conflict", "--json")
    assert json.loads(same.stdout)["board"] == "support-case-conflict"
    assert slateboard("boards").stdout.split() == ["support-case-conflict"]


def test_an_outcome_other_than_the_expected_one_exits_1_and_says_how(slateboard: Invoke) -> None:
    slateboard("run", "support-case", "--board", "b1")
    # The conflict variant on a board the happy path already decided: it resumes, and the outcome is not "escalated".
    resumed = slateboard("run", "support-case/conflict", "--board", "b1")
    assert resumed.code == 1
    assert "unexpected: status is 'awaiting_approval', expected 'escalated'" in resumed.stdout
    document = json.loads(slateboard("run", "support-case/conflict", "--board", "b1", "--json").stdout)
    assert document["ok"] is False
    assert "status is 'awaiting_approval', expected 'escalated'" in document["problems"]


def test_list_names_every_family_and_its_variants(slateboard: Invoke) -> None:
    listed = json.loads(slateboard("list", "--json").stdout)
    assert [f["name"] for f in listed] == ["support-case", "lead-to-cash", "handoffs"]
    assert listed[0]["seed"] == "000"
    assert "policy-conflict" in listed[0]["variants"]
    text = slateboard("list")
    assert text.code == 0
    assert "support-case (seed 000): a B2B warranty case" in text.stdout
    assert "  variants: happy, low-intake, conflict, timeout, uncited, policy-conflict" in text.stdout


def test_run_errors_are_one_line(slateboard: Invoke) -> None:
    for args, message in (
        (("run", "nope"), "no built-in scenario 'nope'"),
        (("run", "support-case", "--variant", "sideways"), "has no variant 'sideways'"),
        (("run", "support-case/conflict", "--variant", "timeout"), "names variant 'conflict', but variant 'timeout'"),
        (("run", "support-case", "--db", "mysql://x"), "is not understood"),
    ):
        failed = slateboard(*args)
        assert failed.code == 2, args
        assert message in failed.stderr
        assert failed.stderr.startswith("error: ")
        assert len(failed.stderr.strip().splitlines()) == 1
        assert failed.stdout == ""


def test_graph_draws_each_agent_and_kind_as_mermaid(slateboard: Invoke) -> None:
    drawn = slateboard("graph", "support-case", "--variant", "timeout")
    assert drawn.code == 0, drawn.stderr
    lines = drawn.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    for name in ("intake", "routing", "knowledge", "entitlement", "response", "review", "action"):
        assert f'(["{name}"])' in drawn.stdout, name
    kinds = {line.split("[/")[1].strip('"/]') for line in lines if "[/" in line}
    assert kinds == {
        "support.Case", "support.Intake", "support.Route", "support.PolicyReference", "support.Entitlement",
        "support.Draft", "slateboard.Proposal",
    }  # fmt: skip
    assert slateboard("graph", str(REFUND)).stdout.startswith("flowchart LR\n")  # any scenario, not only built-ins
    unknown = slateboard("graph", "nope")
    assert unknown.code == 2
    assert "no built-in scenario 'nope'" in unknown.stderr


def test_run_takes_a_scenario_file_or_a_python_scenario(slateboard: Invoke, tmp_path: Path) -> None:
    from_file = slateboard("run", str(REFUND), "--json")
    assert from_file.code == 0, from_file.stderr
    document = json.loads(from_file.stdout)
    assert (document["scenario"], document["ok"], document["outcome"]["status"]) == ("refund-check", True, "committed")
    python = slateboard("run", "slateboard.scenarios.support_case:support_case", "--board", "p1")
    assert python.code == 0, python.stderr
    assert "outcome: awaiting_approval" in python.stdout
    broken = tmp_path / "broken.yaml"
    text = REFUND.read_text().replace("name: refund-check", "name: refund-broken")  # one file per name in a process
    broken.write_text(text.replace("reads: [Case, Check]", "reads: [Case, Chek]"))
    for args, message in (
        ((str(broken),), "broken.yaml:18: agents.2.reads.1: unknown kind 'Chek'"),
        ((str(REFUND), "--variant", "x"), "a scenario file has no variants"),
        (("os:path",), "os:path: is a module, not a slateboard Scenario"),
        (("no_such_module_here:x",), "no_such_module_here:x: cannot load the scenario"),
        (("scenario.py",), "name a Python scenario as package.module:attribute, not by its file"),
    ):
        failed = slateboard("run", *args)
        assert failed.code == 2, args
        assert message in failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1


def test_demo_is_a_deprecated_alias_of_run_support_case(slateboard: Invoke) -> None:
    for variant, board, status in (
        ("happy", "d1", "awaiting_approval"), ("approval", "d2", "awaiting_approval"), ("conflict", "d3", "escalated"),
    ):  # fmt: skip
        result = slateboard("demo", "--variant", variant, "--board", board)
        assert result.code == 0, result.stderr
        instead = "slateboard run support-case" + (" --variant conflict" if variant == "conflict" else "")
        assert result.stderr == f"note: `slateboard demo` is deprecated; running `{instead}`\n"
        title = "support-case/conflict" if variant == "conflict" else "support-case"
        assert result.stdout.startswith(f"{title} on board {board} (sqlite:///slateboard.db)\n")
        assert f"outcome: {status}" in result.stdout
    default = slateboard("demo")
    assert "support-case on board support-case (" in default.stdout
    assert default.waiting_key.startswith("pk-")
    assert "demo" not in slateboard("--help").stdout.split()  # hidden from the help, still runs
    bad = slateboard("demo", "--variant", "sideways")
    assert bad.code == 2
    assert bad.stderr == "error: --variant must be one of happy, conflict, approval, got 'sideways'\n"


def test_run_shows_a_dead_lettered_commit_and_a_person_s_answer_in_the_log(slateboard: Invoke) -> None:
    down = slateboard("run", "handoffs/warehouse-down")
    assert down.code == 0, down.stderr  # failed is what this variant expects
    assert "  v22  commit dead Warehouse/handoffs/handoffs-warehouse-down: ConnectionError: warehouse answered 504" in (
        down.stdout
    )
    assert "outcome: failed at v16" in down.stdout
    key = slateboard("run", "support-case", "--board", "c8").waiting_key
    slateboard("approve", "c8", key, "--reviewer", "ana", "--edit", "Subject=Re: your claim", "--note", "checked")
    resumed = slateboard("run", "support-case", "--board", "c8")
    assert resumed.code == 1  # the board has moved on from what the scenario expects: its reply is committed
    assert '  v27  approval   approved by ana {"Body": ' in resumed.stdout
    assert '"Subject": "Re: your claim"}' in resumed.stdout
    assert "  v28  commit   send_reply Case/c8/reply to support_cases: receipt" in resumed.stdout
    assert "unexpected: status is 'committed', expected 'awaiting_approval'" in resumed.stdout
