"""Reading a store from the command line: `audit`, `replay`, `verify`, `boards`, `metrics`; and what they say about
boards that were tampered with, hold kinds unknown here, or do not exist."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from slateboard import Blackboard, scenarios
from slateboard._internal.sync import run_sync
from slateboard.cli import inspection
from slateboard.controller import Decision, Reason, RunStarted
from slateboard.state.records import CONTROLLER
from tests.cli.conftest import Invoke

REPO = Path(__file__).parent.parent.parent


def test_audit_table_json_is_the_full_history_as_stored(slateboard: Invoke) -> None:
    slateboard("run", "support-case", "--board", "c1")
    result = slateboard("audit", "c1", "--table", "--json")
    assert result.code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["version"] for row in rows] == list(range(1, 27))
    entitlement = next(row for row in rows if row["kind"] == "support.Entitlement")
    assert entitlement["payload"]["entitled"] is True
    assert entitlement["author"] == "entitlement"
    assert rows[21]["payload"]["status"] == "sufficient"
    assert [row["kind"] for row in rows[22:]] == [
        "slateboard.Verdict", "slateboard.Verdict", "slateboard.ApprovalRequest", "slateboard.Commit",
    ]  # fmt: skip
    table = slateboard("audit", "c1", "--table")
    assert "history of c1" in table.stdout
    assert "support.Entitlement" in table.stdout
    assert "│ 26 │ slateboard.Commit" in table.stdout  # the version column is never cut short


def test_audit_tells_what_each_agent_knew_and_wrote_who_approved_and_what_changed(
    slateboard: Invoke, tmp_path: Path
) -> None:
    # The run and the approval happen here (the command's own are tested elsewhere); the audits are the command's.
    scenario = scenarios.get("support-case")
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}") as blackboard:
        run = scenario.run_sync(blackboard, board="c3")
        reply_key, update_key = run.outcome.approvals[0].key, run.outcome.commits[0].key
        before = json.loads(slateboard("audit", "c3", "--json").stdout)
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

    text = slateboard("audit", "c3")
    assert text.code == 0, text.stderr
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

    after = json.loads(slateboard("audit", "c3", "--json").stdout)
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

    replayed = slateboard("replay", "c3", "--json")
    assert replayed.code == 0, replayed.stderr
    report = json.loads(replayed.stdout)
    assert (report["identical"], report["same_controller"]) == (True, True)
    assert (report["decisions"], report["verdicts"], report["differences"]) == (6, 2, [])


def test_replay_lists_each_decision_that_derives_differently_and_exits_1(slateboard: Invoke, tmp_path: Path) -> None:
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}") as blackboard:
        run = scenarios.get("support-case", "conflict").run_sync(blackboard, board="odd")
        assert run.outcome.status == "escalated"
        forged = Decision(cycle=5, status="sufficient", reasons=(Reason(rule="forged", message="looks fine"),))
        assert run_sync(run.board.write, forged, author=CONTROLLER).version == 15
    plain = slateboard("replay", "odd")
    assert plain.code == 1
    assert "replay of 'odd': 1 of 5 decision(s) differ; first at v15: recorded sufficient, derived escalate" in (
        plain.stdout
    )
    assert "  v15: recorded sufficient (forged: looks fine); derived escalate (contradiction(" in plain.stdout
    machine = slateboard("replay", "odd", "--json")
    assert machine.code == 1
    report = json.loads(machine.stdout)
    assert report["identical"] is False
    [difference] = report["differences"]
    assert (difference["version"], difference["recorded"]["status"], difference["derived"]["status"]) == (
        15, "sufficient", "escalate",
    )  # fmt: skip


def test_replay_notes_a_board_another_controller_also_ran(slateboard: Invoke, tmp_path: Path) -> None:
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}") as blackboard:
        run = scenarios.get("support-case").run_sync(blackboard, board="two")
        other = RunStarted(controller="0123456789abcdef", agents=("someone",), rules=())
        run_sync(run.board.write, other, author=CONTROLLER)
    result = slateboard("replay", "two")
    assert result.code == 0, result.stderr
    assert "note: a controller with other agents, rules or policy also ran this board" in result.stdout
    assert json.loads(slateboard("replay", "two", "--json").stdout)["same_controller"] is False


def _tamper(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS slateboard_entries_no_update")  # the store puts it back on open
    conn.execute(sql)
    conn.commit()
    conn.close()


def test_verify_names_the_tampered_version_and_exits_1(slateboard: Invoke, tmp_path: Path) -> None:
    slateboard("run", "support-case", "--board", "c1")
    slateboard("run", "support-case", "--board", "c2")
    fine = slateboard("verify")
    assert fine.code == 0
    assert [line.split()[:3] for line in fine.stdout.splitlines()] == [["OK", "c1:", "26"], ["OK", "c2:", "26"]]
    db = tmp_path / "slateboard.db"
    _tamper(db, "UPDATE slateboard_entries SET payload = replace(payload, 'true', 'false') "
                "WHERE board = 'c2' AND version = 11")  # fmt: skip
    result = slateboard("verify", "--json")
    assert result.code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [h["board"] for h in report["heads"]] == ["c1"]
    assert report["tampered"] == [{"board": "c2", "version": 11, "reason": report["tampered"][0]["reason"]}]
    plain = slateboard("verify", "c2")
    assert plain.code == 1
    assert plain.stdout.startswith("TAMPERED  board 'c2' is tampered at version 11")
    assert slateboard("verify", "c1", "--json").code == 0
    _tamper(db, "UPDATE slateboard_entries SET payload = 'not [json' WHERE board = 'c2' AND version = 13")
    audited = slateboard("audit", "c2")  # an unreadable entry is shown as stored, not a crash
    assert audited.code == 0, audited.stderr
    assert "v13  record    support.PolicyReference by knowledge: 'not [json'" in audited.stdout
    replayed = slateboard("replay", "c2")  # replay needs every entry: one clear line
    assert replayed.code == 2
    assert "support.PolicyReference" in replayed.stderr
    assert "Traceback" not in replayed.stderr
    assert len(replayed.stderr.strip().splitlines()) == 1


def test_boards_lists_what_has_entries(slateboard: Invoke, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'other.db'}"
    slateboard("run", "support-case", "--db", db, "--board", "zeta")
    slateboard("run", "support-case/conflict", "--db", db, "--board", "alpha")
    assert slateboard("boards", "--db", db).stdout.split() == ["alpha", "zeta"]
    listed = json.loads(slateboard("boards", "--db", db, "--json").stdout)
    assert [(b["board"], b["status"], b["scenario"]) for b in listed] == [
        ("alpha", "escalated", "support-case/conflict"),
        ("zeta", "awaiting_approval", "support-case"),
    ]
    assert (listed[1]["waiting"], listed[1]["committed"], listed[1]["queue"]) == (1, 1, None)
    assert slateboard("boards", "--db", db, "--long").stdout.split()[:2] == ["alpha", "escalated"]
    assert slateboard("boards").stdout == ""  # the default store is another file


def test_the_store_comes_from_db_then_the_environment_then_the_default(
    slateboard: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLATEBOARD_DB", f"sqlite:///{tmp_path / 'env.db'}")
    slateboard("run", "support-case", "--board", "from-env")
    assert not (tmp_path / "slateboard.db").exists()
    assert [b["board"] for b in json.loads(slateboard("boards", "--json").stdout)] == ["from-env"]
    nothing = slateboard("boards", "--db", "sqlite:///slateboard.db", "--json")
    assert nothing.code == 2
    assert "slateboard.db does not exist (a read-only open creates nothing)" in nothing.stderr
    assert not (tmp_path / "slateboard.db").exists()


def test_metrics_prints_text_and_json(slateboard: Invoke) -> None:
    slateboard("run", "support-case", "--board", "m1")
    slateboard("run", "support-case/conflict", "--board", "m2")
    text = slateboard("metrics")
    assert text.code == 0, text.stderr
    for expected in (
        "workflow metrics of sqlite:///slateboard.db",
        "boards: 2 (40 entries)",
        "routed to a person: 2 of 2 (100.0%)",
        "agents (cycle: from the decision that scheduled a task",
        "approvals: 1 requested; 0 approved (0 with edits), 0 rejected, 1 pending",
        "commits: 1 applied, 0 dead-lettered, 0 in doubt",
    ):
        assert expected in text.stdout, expected
    one = json.loads(slateboard("metrics", "--board", "m2", "--json").stdout)
    assert one["boards"]["total"] == 1
    assert one["boards"]["last_decision"] == {"escalate": 1}


def test_a_board_of_kinds_unknown_here_is_audited_from_its_payloads_but_not_replayed(
    slateboard: Invoke, tmp_path: Path
) -> None:
    written = subprocess.run(
        [sys.executable, "-m", "tests.cli.foreign_board", f"sqlite:///{tmp_path / 'slateboard.db'}"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert (written.returncode, written.stdout) == (0, "sufficient\n"), written.stderr
    text = slateboard("audit", "own")
    assert text.code == 0, text.stderr
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
    document = json.loads(slateboard("audit", "own", "--json").stdout)
    assert [(e["type"], e["typed"]) for e in document["timeline"]] == [
        ("input", False), ("start", True), ("decision", True), ("run", True), ("finding", False), ("decision", True),
    ]  # fmt: skip
    assert document["timeline"][4]["payload"]["holds"] is True
    failed = slateboard("replay", "own")
    assert failed.code == 2
    assert failed.stderr.startswith(
        "error: cannot find the scenario that ran board 'own': no built-in scenario's controller ran it, and it "
        "records no scenario; name it with --scenario FILE_OR_MODULE:ATTRIBUTE, or replay it from Python"
    )
    assert len(failed.stderr.strip().splitlines()) == 1


def test_an_unforeseen_failure_is_still_one_line_and_exit_2(
    slateboard: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("renderer broke\non two lines")

    monkeypatch.setattr(inspection, "build_audit", broken)  # a bug in our own code, not a store state
    missing = slateboard("audit", "b")
    assert missing.code == 2
    assert missing.stderr == (
        "error: slateboard.db does not exist (a read-only open creates nothing) (store sqlite:///slateboard.db)\n"
    )
    assert not (tmp_path / "slateboard.db").exists()
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}") as blackboard:
        run_sync(blackboard.board("a").write, RunStarted(controller="c", agents=(), rules=()), author="someone")
    missing = slateboard("audit", "b")
    assert (missing.code, missing.stderr) == (2, "error: board 'b' has no entries in sqlite:///slateboard.db\n")
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}") as blackboard:
        run_sync(blackboard.board("b").write, RunStarted(controller="c", agents=(), rules=()), author="someone")
    crashed = slateboard("audit", "b")
    assert (crashed.code, crashed.stderr) == (2, "error: unexpected RuntimeError: renderer broke on two lines\n")


def test_replay_lists_a_verdict_that_rejudges_differently(slateboard: Invoke, tmp_path: Path) -> None:
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}") as blackboard:
        run = scenarios.get("support-case").run_sync(blackboard, board="v")
        allowed = next(v for v in run.outcome.verdicts if v.outcome == "allow")
        forged = allowed.model_copy(update={"outcome": "deny", "reasons": (), "votes": ()})
        assert run_sync(run.board.write, forged, author=CONTROLLER).version == 27
    result = slateboard("replay", "v")
    assert result.code == 1
    assert f"  v27: recorded verdict deny under policy {allowed.policy} (); derived verdict allow under policy " in (
        result.stdout
    )


def test_metrics_of_a_board_no_agent_ran(slateboard: Invoke, tmp_path: Path) -> None:
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}") as blackboard:
        run_sync(blackboard.board("b").write, RunStarted(controller="c", agents=(), rules=()), author="someone")
    text = slateboard("metrics")
    assert text.code == 0, text.stderr
    assert "boards: 1 (1 entries)" in text.stdout
    assert "agents: no attempts recorded" in text.stdout


def test_read_only_commands_leave_the_store_file_as_it_was(slateboard: Invoke, tmp_path: Path) -> None:
    slateboard("run", "support-case")
    database = tmp_path / "slateboard.db"
    for suffix in ("-wal", "-shm"):  # a clean close leaves none; a reader must not need to write one either
        assert not database.with_name(database.name + suffix).exists()
    before = database.read_bytes()
    for command in (
        ["verify"],
        ["boards", "--json"],
        ["metrics"],
        ["audit", "support-case"],
        ["replay", "support-case"],
    ):
        assert slateboard(*command).code == 0, command
        assert database.read_bytes() == before, command
