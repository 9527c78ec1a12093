"""`slateboard run`, `list`, `audit`, `replay` and `graph`, as real processes on the embedded SQLite default."""

import json
import subprocess
import sys
from pathlib import Path

from slateboard import Blackboard, Citation, Controller, Finding, agent, rules, scenarios
from slateboard._internal.sync import run_sync
from slateboard.controller import Decision, Reason
from slateboard.state.records import CONTROLLER


def slateboard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slateboard.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_prints_a_readable_account_and_resumes_without_redoing_anything(tmp_path: Path) -> None:
    result = slateboard("run", "support-case", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "slateboard.db").is_file()
    for expected in (
        "support-case on board support-case",
        "run      knowledge on 'support-case', attempt 1: ok",
        "verdict  allow for update Case/support-case",
        "verdict  needs_approval for send_reply",
        "commit   update Case/support-case to support_cases",
        "outcome: awaiting_approval",
        "waiting for a person: key pk-",
        "6 decision(s) and 2 verdict(s), all identical",
        "verify: OK: 26 entries",
    ):
        assert expected in result.stdout, expected
    again = slateboard("run", "support-case", cwd=tmp_path)
    assert "verify: OK: 26 entries" in again.stdout


def test_run_json_then_approve_commits_the_reply_once(tmp_path: Path) -> None:
    document = json.loads(slateboard("run", "support-case", "--board", "c7", "--json", cwd=tmp_path).stdout)
    assert document["ok"] is True
    assert document["outcome"]["status"] == "awaiting_approval"
    key = document["outcome"]["approvals"][0]["key"]
    approved = slateboard("approve", "c7", key, "--reviewer", "ana", cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert "outcome: committed" in approved.stdout
    assert '"revision": 1' in approved.stdout
    again = slateboard("approve", "c7", key, "--reviewer", "ana", cwd=tmp_path)
    assert again.returncode == 2
    assert "was already approved by ana" in again.stderr


def test_variants_list_and_errors(tmp_path: Path) -> None:
    conflict = slateboard("run", "support-case/conflict", cwd=tmp_path)
    assert "outcome: escalated" in conflict.stdout
    assert "entitlement contradicts a policy exception" in conflict.stdout
    listed = json.loads(slateboard("list", "--json", cwd=tmp_path).stdout)
    assert listed[0]["name"] == "support-case"
    assert "policy-conflict" in listed[0]["variants"]
    for args, message in (
        (("run", "nope"), "no built-in scenario 'nope'"),
        (("run", "support-case", "--variant", "sideways"), "has no variant 'sideways'"),
        (("approve", "missing", "pk-1", "--reviewer", "ana"), "board 'missing' has no entries"),
    ):
        failed = slateboard(*args, cwd=tmp_path)
        assert failed.returncode == 2
        assert message in failed.stderr
        assert "Traceback" not in failed.stderr


def test_audit_tells_what_each_agent_knew_and_wrote_who_approved_and_what_changed(tmp_path: Path) -> None:
    # The run and the approval happen here (the CLI's own are tested above); the audits are real processes.
    scenario = scenarios.get("support-case")
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}") as blackboard:
        run = scenario.run_sync(blackboard, board="c3")
        reply_key, update_key = run.outcome.approvals[0].key, run.outcome.commits[0].key
        before = json.loads(slateboard("audit", "c3", "--json", cwd=tmp_path).stdout)
        edits = {"Subject": "Re: your claim"}
        controller = scenario.controller()
        approved = run_sync(controller.approve, run.board, reply_key, reviewer="ana", edits=edits, note="checked")
        assert approved.status == "committed"
    assert (before["status"], before["decided_at"]) == ("sufficient", 22)
    assert before["waiting"] == [reply_key]  # the committed update is done; the reply waits for a person
    assert before["committed"] == [update_key]
    commit = next(e for e in before["timeline"] if e["type"] == "commit")
    assert commit["version"] == 26
    assert commit["payload"]["receipt"] == {"revision": 1, "table": "support_cases", "target": "Case/c3"}

    text = slateboard("audit", "c3", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    for expected in (
        "audit of 'c3' in sqlite:///slateboard.db: 28 entries",
        "v15  run       response on 'c3', attempt 1: ok (1 finding(s))",
        "knew: v1 support.Case by input, v11 support.Entitlement by entitlement, "
        "v13 support.PolicyReference by knowledge",
        "wrote: v16 support.Draft by response",
        "cites crm:contract/C-1042 (approved, warranty schedule)",
        "cites kb:warranty-policy (version v7, approved, section 2.1)",
        "fired sufficient(support.Entitlement): 1 independent source(s)",
        "v24  verdict   needs_approval for send_reply Case/c3/reply (proposal v21, key " + reply_key,
        "deciding: require_approval(irreversible) (needs_approval): a customer-facing reply waits for a person",
        f'v27  approval  approved by ana (key {reply_key}) with edits {{"Subject": "Re: your claim"}}',
        "note: checked",
        'receipt: {"revision": 1, "table": "support_cases", "target": "Case/c3/reply"}',
        "response: 1 attempt(s) (1 ok); knew v1, v11, v13; wrote v16",
        "kb:warranty-policy (version v7, approved, section 2.1): v13 support.PolicyReference by knowledge, "
        "v16 support.Draft by response, v20 slateboard.Proposal by action",
        "state: last decision sufficient at v22; 2 key(s) committed",
    ):
        assert expected in text.stdout, expected

    after = json.loads(slateboard("audit", "c3", "--json", cwd=tmp_path).stdout)
    assert set(after) == {
        "board", "store", "entries", "head", "status", "decided_at", "waiting", "committed", "timeline", "agents",
        "sources",
    }  # fmt: skip
    assert [e["version"] for e in after["timeline"]] == list(range(1, 29))
    assert after["timeline"][: len(before["timeline"])] == before["timeline"]  # the log only grew
    assert all(e["typed"] for e in after["timeline"])  # the built-in kinds were imported
    response = after["timeline"][14]
    assert response["type"] == "run"
    assert [(r["version"], r["kind"]) for r in response["read"]] == [
        (1, "support.Case"), (11, "support.Entitlement"), (13, "support.PolicyReference"),
    ]  # fmt: skip
    assert [r["version"] for r in response["wrote"]] == [16]
    verdicts = [e["payload"] for e in after["timeline"] if e["type"] == "verdict"]
    assert [v["outcome"] for v in verdicts] == ["allow", "needs_approval"]
    assert len({v["policy"] for v in verdicts}) == 1
    assert [r["rule"] for r in verdicts[1]["reasons"]] == ["require_approval(irreversible)"]
    decision = next(e for e in after["timeline"] if e["type"] == "approval")
    assert (decision["author"], decision["payload"]["reviewer"]) == ("ana", "ana")
    assert decision["payload"]["edits"] == {"Subject": "Re: your claim"}
    commits = [e["payload"] for e in after["timeline"] if e["type"] == "commit"]
    assert [c["key"] for c in commits] == [update_key, reply_key]
    assert commits[1]["changes"]["Subject"] == "Re: your claim"
    assert (after["waiting"], after["committed"]) == ([], [update_key, reply_key])
    by_agent = {a["agent"]: a for a in after["agents"]}
    assert by_agent["action"] == {"agent": "action", "statuses": ["ok"], "read": [1, 5, 16], "wrote": [20, 21]}
    crm = next(s for s in after["sources"] if s["source"] == "crm:contract/C-1042")
    assert crm["approved"] is True
    assert [r["version"] for r in crm["cited_by"]] == [11, 16, 20, 21]

    replayed = slateboard("replay", "c3", "--json", cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    report = json.loads(replayed.stdout)
    assert (report["identical"], report["same_controller"]) == (True, True)
    assert (report["decisions"], report["verdicts"], report["differences"]) == (6, 2, [])


def test_replay_lists_each_decision_that_derives_differently_and_exits_1(tmp_path: Path) -> None:
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}") as blackboard:
        run = scenarios.get("support-case", "conflict").run_sync(blackboard, board="odd")
        assert run.outcome.status == "escalated"
        forged = Decision(cycle=5, status="sufficient", reasons=(Reason(rule="forged", message="looks fine"),))
        assert run_sync(run.board.write, forged, author=CONTROLLER).version == 15
    plain = slateboard("replay", "odd", cwd=tmp_path)
    assert plain.returncode == 1
    assert "replay of 'odd': 1 of 5 decision(s) differ; first at v15: recorded sufficient, derived escalate" in (
        plain.stdout
    )
    assert "  v15: recorded sufficient (forged: looks fine); derived escalate (contradiction(" in plain.stdout
    machine = slateboard("replay", "odd", "--json", cwd=tmp_path)
    assert machine.returncode == 1
    report = json.loads(machine.stdout)
    assert report["identical"] is False
    [difference] = report["differences"]
    assert (difference["version"], difference["recorded"]["status"], difference["derived"]["status"]) == (
        15, "sufficient", "escalate",
    )  # fmt: skip


class Claim(Finding):
    kind_name = "tests.cli.Claim"
    text: str


class Check(Finding):
    kind_name = "tests.cli.Check"
    holds: bool


@agent
async def checker(claim: Claim) -> Check:
    return Check(subject=claim.subject, holds=True, confidence=0.9, citations=(Citation(source="ledger:7"),))


def test_a_board_of_kinds_unknown_here_is_audited_from_its_payloads_but_not_replayed(tmp_path: Path) -> None:
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}") as blackboard:
        controller = Controller([checker], [rules.sufficient(Check, min_confidence=0.8)])
        outcome = controller.run_sync(blackboard.board("own"), Claim(subject="own", text="paid", confidence=1.0))
        assert outcome.status == "sufficient"
    text = slateboard("audit", "own", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    for expected in (
        "v1   input     tests.cli.Claim by input on 'own' (confidence 1.0): text='paid'",
        "(kind not importable here: payload as stored)",
        "knew: v1 tests.cli.Claim by input",
        "wrote: v5 tests.cli.Check by checker",
        "cites ledger:7 (unapproved)",
        "fired sufficient(tests.cli.Check): 1 independent source(s)",
        "checker: 1 attempt(s) (1 ok); knew v1; wrote v5",
        "state: last decision sufficient at v6; 0 key(s) committed",
    ):
        assert expected in text.stdout, expected
    document = json.loads(slateboard("audit", "own", "--json", cwd=tmp_path).stdout)
    assert [(e["type"], e["typed"]) for e in document["timeline"]] == [
        ("input", False), ("start", True), ("decision", True), ("run", True), ("finding", False), ("decision", True),
    ]  # fmt: skip
    assert document["timeline"][4]["payload"]["holds"] is True
    failed = slateboard("replay", "own", cwd=tmp_path)
    assert failed.returncode == 2
    assert (
        "board 'own' was not run by a built-in scenario or the demo; name the scenario that ran it with --scenario"
        in failed.stderr
    )
    assert len(failed.stderr.strip().splitlines()) == 1


def test_graph_draws_each_agent_and_kind_as_mermaid(tmp_path: Path) -> None:
    drawn = slateboard("graph", "support-case", "--variant", "timeout", cwd=tmp_path)
    assert drawn.returncode == 0, drawn.stderr
    lines = drawn.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    for name in ("intake", "routing", "knowledge", "entitlement", "response", "review", "action"):
        assert f'(["{name}"])' in drawn.stdout, name
    kinds = {line.split("[/")[1].strip('"/]') for line in lines if "[/" in line}
    assert kinds == {
        "support.Case", "support.Intake", "support.Route", "support.PolicyReference", "support.Entitlement",
        "support.Draft", "slateboard.Proposal",
    }  # fmt: skip
    unknown = slateboard("graph", "nope", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "no built-in scenario 'nope'" in unknown.stderr


def test_run_takes_a_scenario_file_or_a_python_scenario(tmp_path: Path) -> None:
    refund = Path(__file__).parent / "scenarios" / "files" / "refund.yaml"
    from_file = slateboard("run", str(refund), "--json", cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    document = json.loads(from_file.stdout)
    assert (document["scenario"], document["ok"], document["outcome"]["status"]) == ("refund-check", True, "committed")
    python = slateboard("run", "slateboard.scenarios.support_case:support_case", "--board", "p1", cwd=tmp_path)
    assert "outcome: awaiting_approval" in python.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text(refund.read_text().replace("reads: [Case, Check]", "reads: [Case, Chek]"))
    for args, message in (
        ((str(broken),), "broken.yaml:18: agents.2.reads.1: unknown kind 'Chek'"),
        ((str(refund), "--variant", "x"), "a scenario file has no variants"),
        (("os:path",), "os:path: is a module, not a slateboard Scenario"),
    ):
        failed = slateboard("run", *args, cwd=tmp_path)
        assert failed.returncode == 2
        assert message in failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1


def test_approve_and_replay_a_board_run_from_a_scenario_file(tmp_path: Path) -> None:
    scenario = tmp_path / "send.yaml"
    scenario.write_text(
        "name: send-quote\n"
        "kinds: {Lead: {company: str}}\n"
        "agents:\n"
        "  - {name: quoter, reads: [Lead], writes: Proposal,\n"
        "     emit: {action: send_quote, target: Quote/1, changes: {Total: 900}, reversible: false, confidence: 0.9}}\n"
        "rules: [{sufficient: {kind: Proposal}}]\n"
        "policy: {rules: [{rule: allow}, {rule: require_approval, irreversible: true}]}\n"
        "sink: table:quotes\n"
        "inputs: [{kind: Lead, company: ACME}]\n"
        "expect: {status: awaiting_approval, approvals: 1}\n"
    )
    waiting = json.loads(slateboard("run", str(scenario), "--board", "q1", "--json", cwd=tmp_path).stdout)
    key = waiting["outcome"]["approvals"][0]["key"]
    unnamed = slateboard("approve", "q1", key, "--reviewer", "ana", cwd=tmp_path)
    assert unnamed.returncode == 2
    assert "--scenario" in unnamed.stderr
    wrong = slateboard("approve", "q1", key, "--reviewer", "ana", "--scenario", "support-case", cwd=tmp_path)
    assert "was not run by scenario 'support-case'" in wrong.stderr
    approved = slateboard("approve", "q1", key, "--reviewer", "ana", "--scenario", str(scenario), cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert "outcome: committed" in approved.stdout
    replayed = json.loads(slateboard("replay", "q1", "--scenario", str(scenario), "--json", cwd=tmp_path).stdout)
    assert replayed["identical"] is True
