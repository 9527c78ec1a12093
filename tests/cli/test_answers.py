"""A person's answers from the command line (`approve`, `reject`), and finding the controller that ran a board:
from the scenario the board recorded, by fingerprint for boards that recorded none, or as `--scenario` names it."""

import dataclasses
import json
from pathlib import Path

import pytest

from slateboard import Blackboard, scenarios
from slateboard.cli.answers import parse_edits
from slateboard.errors import ConfigurationError, ScenarioError
from tests.cli.conftest import Invoke


def test_an_irreversible_reply_waits_for_approval_and_commits_once_when_approved(slateboard: Invoke) -> None:
    waiting = slateboard("run", "support-case", "--board", "c5")
    assert "outcome: awaiting_approval" in waiting.stdout
    key = waiting.waiting_key
    approved = slateboard("approve", "c5", key, "--reviewer", "ana", "--edit", "Subject=Re: your claim")
    assert approved.code == 0, approved.stderr
    lines = approved.stdout.splitlines()
    assert lines[0] == "outcome: committed at v22"
    # Only where the proposals stand now: the decision's reasons (why the evidence sufficed) did not change.
    assert [line for line in lines if line.startswith("  - ")] == [
        f"  - Proposal v20 update Case/c5 (key {lines[1].split('key ')[1].split(')')[0]}): committed",
        f"  - Proposal v21 send_reply Case/c5/reply (key {key}): committed, approved by ana",
    ]
    assert not any("sufficient(" in line for line in lines)
    record = json.loads(lines[-1].removeprefix("record "))
    assert record["data"]["Subject"] == "Re: your claim"
    assert (record["revision"], record["last_key"]) == (1, key)
    again = slateboard("approve", "c5", key, "--reviewer", "bob")
    assert again.code == 2
    assert "was already approved by ana" in again.stderr
    audit = json.loads(slateboard("audit", "c5", "--json").stdout)
    assert [e["type"] for e in audit["timeline"]].count("commit") == 2  # the update at the run, the reply once
    decision = next(e for e in audit["timeline"] if e["type"] == "approval")
    assert decision["author"] == "ana"
    assert decision["payload"]["edits"] == {"Subject": "Re: your claim"}
    assert audit["waiting"] == []
    assert key in audit["committed"]


def test_a_rejection_needs_a_reason_and_ends_a_single_proposal_rejected(slateboard: Invoke, tmp_path: Path) -> None:
    scenario = _quote_scenario(tmp_path / "reject.yaml", "cli-quote-rejected")
    key = slateboard("run", str(scenario), "--board", "r1").waiting_key
    empty = slateboard("reject", "r1", key, "--reviewer", "ana", "--reason", " ")
    assert empty.code == 2
    assert "reason must be a non-empty string" in empty.stderr
    rejected = slateboard("reject", "r1", key, "--reviewer", "ana", "--reason", "wrong product line")
    assert rejected.code == 0, rejected.stderr
    assert rejected.stdout.startswith("outcome: rejected at v")
    assert f"(key {key}): rejected by ana: wrong product line" in rejected.stdout
    assert "waiting for a person" not in rejected.stdout
    unknown = slateboard("approve", "r1", "pk-nope", "--reviewer", "ana")
    assert unknown.code == 2
    assert "no live proposal has this key" in unknown.stderr
    missing = slateboard("approve", "missing", "pk-1", "--reviewer", "ana")
    assert missing.code == 2
    assert missing.stderr == "error: board 'missing' has no entries in sqlite:///slateboard.db\n"
    bad_edit = slateboard("approve", "r1", key, "--reviewer", "ana", "--edit", "no-equals-sign")
    assert bad_edit.stderr == "error: --edit takes Field=value, got 'no-equals-sign'\n"


def test_rejecting_the_reply_leaves_the_committed_update_standing(slateboard: Invoke) -> None:
    key = slateboard("run", "support-case", "--board", "c6").waiting_key
    rejected = slateboard("reject", "c6", key, "--reviewer", "ana", "--reason", "wrong product line")
    assert rejected.code == 0, rejected.stderr
    lines = rejected.stdout.splitlines()
    assert lines[0] == "outcome: committed at v22"
    assert lines[1].startswith("  - Proposal v20 update Case/c6 (key pk-")
    assert lines[1].endswith("): committed")
    assert lines[2:] == [f"  - Proposal v21 send_reply Case/c6/reply (key {key}): rejected by ana: wrong product line"]


def test_edits_are_json_when_they_parse_and_strings_otherwise() -> None:
    assert parse_edits(["Total=900", "Sent=true", "Tags=[1, 2]", "Note=by hand", "Empty=", "Eq=a=b"]) == {
        "Total": 900, "Sent": True, "Tags": [1, 2], "Note": "by hand", "Empty": "", "Eq": "a=b",
    }  # fmt: skip
    for bad in ("Total", "=900"):
        with pytest.raises(ConfigurationError, match="--edit takes Field=value"):
            parse_edits([bad])


def _quote_scenario(path: Path, name: str) -> Path:
    path.write_text(
        f"name: {name}\n"
        "kinds: {Lead: {company: str}}\n"
        "agents:\n"
        "  - {name: quoter, reads: [Lead], writes: Proposal,\n"
        "     emit: {action: send_quote, target: Quote/1, changes: {Total: 900}, reversible: false,\n"
        "            confidence: 0.9}}\n"
        "rules: [{sufficient: {kind: Proposal}}]\n"
        "policy: {rules: [{rule: allow}, {rule: require_approval, irreversible: true}]}\n"
        "sink: table:quotes\n"
        "inputs: [{kind: Lead, company: ACME}]\n"
        "expect: {status: awaiting_approval, approvals: 1}\n"
    )
    return path


def test_a_board_a_scenario_file_ran_is_approved_and_replayed_without_naming_it(
    slateboard: Invoke, tmp_path: Path
) -> None:
    scenario = _quote_scenario(tmp_path / "send.yaml", "cli-send-quote")
    waiting = json.loads(slateboard("run", str(scenario), "--board", "q1", "--json").stdout)
    key = waiting["outcome"]["approvals"][0]["key"]
    wrong = slateboard("approve", "q1", key, "--reviewer", "ana", "--scenario", "support-case")
    assert wrong.code == 2
    assert wrong.stderr == "error: board 'q1' was not run by scenario 'support-case' (its controller differs)\n"
    approved = slateboard("approve", "q1", key, "--reviewer", "ana")
    assert approved.code == 0, approved.stderr
    assert approved.stdout.startswith("outcome: committed at v")
    assert f'record {{"data": {{"Total": 900}}, "last_key": "{key}", "revision": 1}}' in approved.stdout
    replayed = slateboard("replay", "q1", "--json")
    assert replayed.code == 0, replayed.stderr
    assert json.loads(replayed.stdout)["identical"] is True
    named = slateboard("replay", "q1", "--scenario", str(scenario))  # still accepted
    assert named.code == 0, named.stderr
    assert named.stdout.startswith("replay of 'q1': ")


def test_a_board_whose_recorded_scenario_changed_or_vanished_says_so(slateboard: Invoke, tmp_path: Path) -> None:
    scenario = _quote_scenario(tmp_path / "quote.yaml", "cli-quote-changes")
    key = json.loads(slateboard("run", str(scenario), "--board", "q2", "--json").stdout)["outcome"]["approvals"][0]
    scenario.write_text(scenario.read_text().replace("{rule: allow}, ", ""))  # the policy changed since the run
    changed = slateboard("approve", "q2", key["key"], "--reviewer", "ana")
    assert changed.code == 2
    assert f"its recorded scenario '{scenario}' now builds another controller (changed since the run?)" in (
        changed.stderr
    )
    assert "no built-in scenario's controller ran it;" in changed.stderr
    assert "name it with --scenario FILE_OR_MODULE:ATTRIBUTE, or approve it from Python" in changed.stderr
    scenario.unlink()
    gone = slateboard("replay", "q2")
    assert gone.code == 2
    assert f"its recorded scenario '{scenario}' cannot be loaded" in gone.stderr
    assert "or replay it from Python (controller.replay(board, ...))" in gone.stderr
    assert len(gone.stderr.splitlines()) == 1


def test_a_board_from_before_boards_named_their_scenario_is_matched_to_a_built_in(
    slateboard: Invoke, tmp_path: Path
) -> None:
    legacy = dataclasses.replace(scenarios.get("support-case"), ref=None)  # records no scenario, as boards used to
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}") as blackboard:
        run = legacy.run_sync(blackboard, board="old")
        key = run.outcome.approvals[0].key
        assert scenarios.controller_for(blackboard, "old")[0].fingerprint == run.controller.fingerprint
    approved = slateboard("approve", "old", key, "--reviewer", "ana")
    assert approved.code == 0, approved.stderr
    assert "outcome: committed" in approved.stdout
    assert slateboard("replay", "old").stdout.startswith("replay of 'old': 6 decision(s) and 2 verdict(s), all ident")


def test_controller_for_reads_the_scenario_a_board_recorded(tmp_path: Path) -> None:
    with Blackboard.open("memory://") as blackboard:
        scenarios.get("support-case", "conflict").run_sync(blackboard, board="c")
        scenarios.resolve("slateboard.scenarios.support_case:support_case").run_sync(blackboard, board="p")
        controller, board = scenarios.controller_for(blackboard, "c")
        assert (board.name, controller.scenario) == ("c", "support-case/conflict")
        assert scenarios.controller_for(blackboard, "p")[0].scenario == "slateboard.scenarios.support_case:support_case"
        with pytest.raises(ConfigurationError, match="board 'none' has no entries in memory://"):
            scenarios.controller_for(blackboard, "none")
        with pytest.raises(ScenarioError, match="board 'c' was not run by scenario 'handoffs' "):
            scenarios.controller_for(blackboard, "c", "handoffs")


def test_approving_into_a_sink_outside_the_store_prints_no_record(slateboard: Invoke, tmp_path: Path) -> None:
    scenario = _quote_scenario(tmp_path / "memory.yaml", "cli-quote-memory")
    scenario.write_text(scenario.read_text().replace("sink: table:quotes", "sink: memory"))
    key = slateboard("run", str(scenario), "--board", "m1").waiting_key
    approved = slateboard("approve", "m1", key, "--reviewer", "ana")
    assert approved.code == 0, approved.stderr
    assert f"(key {key}): committed, approved by ana" in approved.stdout
    assert "record " not in approved.stdout  # a memory sink keeps nothing the command could show afterwards
