"""The `slateboard` command, run as a real process: readable output, clear one-line errors, exit codes; and the
audit's renderer in-process, on every record kind and on arbitrary stored rows."""

import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from slateboard import Blackboard, Proposal
from slateboard._internal.sync import run_sync
from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.records import Record, encode_record
from slateboard.cli import commands as cli
from slateboard.cli.render import history_table, render_audit
from slateboard.controller import AgentRun, RunStarted
from slateboard.observe.audit import build_audit
from slateboard.state.records import ApprovalDecision, CommitFailure, Compensation, DoubtResolved, Verdict, Vote


def slateboard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slateboard.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_runs_a_case_on_the_default_sqlite_file_and_explains_each_decision(tmp_path: Path) -> None:
    result = slateboard("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "slateboard.db").is_file()
    for expected in (
        "finding  demo.SupportCase by input",
        "decision continue: agenda: intake on 'case-42'",
        "run      knowledge on 'case-42', attempt 1: ok",
        "proposal update Case/case-42 by action",
        "verdict  allow for update Case/case-42 (v13): min_confidence(0.85)",
        "commit   update Case/case-42 to cases: receipt",
        "outcome: committed at v14",
        '"revision": 1',
        "4 decision(s) and 1 verdict(s), all identical",
        "verify: OK: 16 entries",
    ):
        assert expected in result.stdout
    again = slateboard("demo", cwd=tmp_path)
    assert "outcome: committed at v14" in again.stdout  # resumed from its log: nothing re-run, nothing written
    assert "verify: OK: 16 entries" in again.stdout
    assert '"revision": 1' in again.stdout  # the table row was written once, not twice


def test_the_conflict_variant_goes_to_a_person(tmp_path: Path) -> None:
    result = slateboard("demo", "--board", "c9", "--variant", "conflict", cwd=tmp_path)
    assert "outcome: escalated" in result.stdout
    assert "entitlement contradicts a policy exception" in result.stdout
    bad = slateboard("demo", "--variant", "sideways", cwd=tmp_path)
    assert bad.returncode == 2
    assert "--variant must be one of happy, conflict, approval" in bad.stderr


def test_an_irreversible_action_waits_for_approval_and_commits_once_when_approved(tmp_path: Path) -> None:
    waiting = slateboard("demo", "--board", "c5", "--variant", "approval", cwd=tmp_path)
    assert "outcome: awaiting_approval" in waiting.stdout
    line = next(x for x in waiting.stdout.splitlines() if x.startswith("waiting for a person: key "))
    key = line.split()[5].rstrip(":")
    approved = slateboard("approve", "c5", key, "--reviewer", "ana", "--edit", "Email=Sent by Ana", cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert "outcome: committed" in approved.stdout
    assert "approved by ana" in approved.stdout
    assert '"Email": "Sent by Ana"' in approved.stdout
    again = slateboard("approve", "c5", key, "--reviewer", "bob", cwd=tmp_path)
    assert again.returncode == 2
    assert "was already approved by ana" in again.stderr
    audit = json.loads(slateboard("audit", "c5", "--json", cwd=tmp_path).stdout)
    assert [e["type"] for e in audit["timeline"]].count("commit") == 1
    decision = next(e for e in audit["timeline"] if e["type"] == "approval")
    assert decision["author"] == "ana"
    assert decision["payload"]["edits"] == {"Email": "Sent by Ana"}
    assert audit["committed"] == [key]


def test_a_rejection_needs_a_reason_and_ends_the_case_rejected(tmp_path: Path) -> None:
    waiting = slateboard("demo", "--board", "c6", "--variant", "approval", cwd=tmp_path)
    key = next(x for x in waiting.stdout.splitlines() if x.startswith("waiting for a person")).split()[5].rstrip(":")
    empty = slateboard("reject", "c6", key, "--reviewer", "ana", "--reason", " ", cwd=tmp_path)
    assert empty.returncode == 2
    assert "reason must be a non-empty string" in empty.stderr
    rejected = slateboard("reject", "c6", key, "--reviewer", "ana", "--reason", "wrong product line", cwd=tmp_path)
    assert "outcome: rejected" in rejected.stdout
    assert "rejected by ana: wrong product line" in rejected.stdout
    unknown = slateboard("approve", "c6", "pk-nope", "--reviewer", "ana", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "no live proposal has this key" in unknown.stderr


def test_audit_table_json_is_the_full_history_as_stored(tmp_path: Path) -> None:
    slateboard("demo", "--board", "c1", cwd=tmp_path)
    result = slateboard("audit", "c1", "--table", "--json", cwd=tmp_path)
    rows = json.loads(result.stdout)
    assert [row["version"] for row in rows] == list(range(1, 17))
    entitlement = next(row for row in rows if row["kind"] == "demo.Entitlement")
    assert entitlement["payload"]["entitled"] is True
    assert entitlement["author"] == "entitlement"
    assert rows[13]["payload"]["status"] == "sufficient"
    assert [row["kind"] for row in rows[14:]] == ["slateboard.Verdict", "slateboard.Commit"]
    table = slateboard("audit", "c1", "--table", cwd=tmp_path)
    assert "history of c1" in table.stdout
    assert "demo.Entitlement" in table.stdout
    assert "│ 16 │ slateboard.Commit" in table.stdout  # the version column is never cut short


def test_verify_names_the_tampered_version_and_exits_1(tmp_path: Path) -> None:
    slateboard("demo", "--board", "c1", cwd=tmp_path)
    slateboard("demo", "--board", "c2", cwd=tmp_path)
    assert slateboard("verify", cwd=tmp_path).returncode == 0
    conn = sqlite3.connect(tmp_path / "slateboard.db")
    conn.execute("DROP TRIGGER slateboard_entries_no_update")
    conn.execute(
        "UPDATE slateboard_entries SET payload = replace(payload, 'true', 'false') WHERE board = 'c2' AND version = 8"
    )
    conn.commit()
    conn.close()
    result = slateboard("verify", "--json", cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [h["board"] for h in report["heads"]] == ["c1"]
    assert report["tampered"] == [{"board": "c2", "version": 8, "reason": report["tampered"][0]["reason"]}]
    plain = slateboard("verify", "c2", cwd=tmp_path)
    assert "TAMPERED" in plain.stdout
    assert "version 8" in plain.stdout
    conn = sqlite3.connect(tmp_path / "slateboard.db")
    conn.execute("DROP TRIGGER IF EXISTS slateboard_entries_no_update")  # the store puts it back on open
    conn.execute("UPDATE slateboard_entries SET payload = 'not [json' WHERE board = 'c2' AND version = 10")
    conn.commit()
    conn.close()
    audited = slateboard("audit", "c2", cwd=tmp_path)  # an unreadable entry is shown as stored, not a crash
    assert audited.returncode == 0, audited.stderr
    assert "v10  record    demo.PolicyCheck by knowledge: 'not [json'" in audited.stdout
    replayed = slateboard("replay", "c2", cwd=tmp_path)  # replay needs every entry: one clear line
    assert replayed.returncode == 2
    assert "demo.PolicyCheck" in replayed.stderr
    assert "Traceback" not in replayed.stderr
    assert len(replayed.stderr.strip().splitlines()) == 1


def test_errors_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    for args, message in (
        (("audit", "missing"), "board 'missing' has no entries"),
        (("boards", "--db", "sqlite:///no/dir/x.db"), "directory no/dir does not exist"),
        (("verify", "--db", "mysql://x"), "is not understood"),
        (("audit",), "Missing argument 'board'. (see "),
        (("replay", "b", "--bogus"), "No such option: --bogus"),
        (("sideways",), "No such command 'sideways'"),
    ):
        result = slateboard(*args, cwd=tmp_path)
        assert result.returncode == 2
        assert message in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_boards_lists_what_has_entries(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'other.db'}"
    slateboard("demo", "--db", db, "--board", "zeta", cwd=tmp_path)
    slateboard("demo", "--db", db, "--board", "alpha", cwd=tmp_path)
    assert slateboard("boards", "--db", db, cwd=tmp_path).stdout.split() == ["alpha", "zeta"]
    assert json.loads(slateboard("boards", "--db", db, "--json", cwd=tmp_path).stdout) == ["alpha", "zeta"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_CITATION = st.dictionaries(st.sampled_from(["source", "version", "approved", "locator"]), _JSON, max_size=4)
_FINDING_LIKE = st.fixed_dictionaries(
    {"subject": _JSON, "confidence": _JSON}, optional={"citations": st.lists(_CITATION, max_size=2) | _JSON}
)
_AGENT_RUN = st.builds(
    AgentRun,
    agent=st.sampled_from(["a", "b"]),
    subject=st.just("s"),
    inputs=st.lists(st.lists(st.integers(0, 12), max_size=3).map(tuple), max_size=2).map(tuple),
    attempt=st.integers(1, 3),
    status=st.sampled_from(["ok", "timeout", "error"]),
    outputs=st.integers(0, 4),
).map(lambda run: run.model_dump_json())
_PAYLOAD = st.one_of(
    st.text(max_size=12), _JSON.map(json.dumps), _FINDING_LIKE.map(json.dumps), _AGENT_RUN
)  # not JSON; any JSON; a finding of an unknown kind; a valid run


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["slateboard.AgentRun", "slateboard.Decision", "slateboard.Commit", "nobody.Knows"]),
            st.sampled_from(["input", "slateboard.controller", "ana"]),
            _PAYLOAD,
        ),
        min_size=1,
        max_size=10,
    )
)
def test_the_audit_renders_any_stored_rows_without_failing(rows: list[tuple[str, str, str]]) -> None:
    stored = [
        StoredEntry(seq=v, board="b", version=v, kind=kind, schema_version=1, author=author,
                    recorded_at="2026-01-01T00:00:00+00:00", payload=payload, hash=f"{v:064x}")
        for v, (kind, author, payload) in enumerate(rows, start=1)
    ]  # fmt: skip
    audit = build_audit("b", "memory://", stored)
    assert [e.version for e in audit.timeline] == list(range(1, len(rows) + 1))
    assert all(not e.typed for e in audit.timeline if e.kind == "nobody.Knows")
    for event in audit.timeline:
        if event.type == "run":  # what it read and wrote are entries of this board, never invented ones
            assert {r.version for r in (*event.read, *event.wrote)} <= set(range(1, len(rows) + 1))
    document: dict[str, Any] = json.loads(json.dumps(audit.model_dump(mode="json")))
    assert len(document["timeline"]) == len(rows)
    lines = render_audit(audit)
    assert lines[0].startswith("[bold]audit of 'b'[/bold]")
    assert lines[-1].startswith("state: ")
    out = Console(file=io.StringIO(), width=100)
    for line in lines:
        out.print(line)  # valid markup: stored text is escaped, never read as a style
    assert history_table("b", stored).row_count == len(rows)


def test_every_record_of_the_commit_layer_has_its_line_in_the_audit() -> None:
    deny = Vote(rule="allowed_fields", effect="deny", message="Owner may not be changed", findings=(1,))
    records: list[Record] = [
        Proposal(subject="s", action="update", target="T/1", changes={"Owner": "x"}, confidence=0.9, reversible=False),
        Verdict(key="k1", proposal=1, action="update", target="T/1", outcome="deny", reasons=(deny,),
                votes=(deny, Vote(rule="min_confidence(0.85)", effect="allow", message="0.9 reaches 0.85")),
                policy="p-1", at=1),
        ApprovalDecision(key="k1", decision="rejected", reviewer="bo", reason="wrong product line"),
        CommitFailure(key="k2", proposal=1, target="T/1", status="in_doubt", error="sink timed out", attempts=2),
        DoubtResolved(key="k2", applied=True, reviewer="cy", receipt={"id": 3}, note="found in the CRM"),
        Compensation(key="k2", target="T/1", reviewer="dee", reason="applied twice by hand", receipt={"undone": 1}),
        AgentRun(agent="crm", subject="s", inputs=((1,),), attempt=2, status="timeout", error="took over 8 s"),
    ]  # fmt: skip
    rows = []
    for version, record in enumerate(records, start=1):
        kind, schema, payload = encode_record(record)
        rows.append(StoredEntry(seq=version, board="b", version=version, kind=kind, schema_version=schema,
                                author="system", recorded_at="t", payload=payload, hash=f"h{version}"))  # fmt: skip
    audit = build_audit("b", "memory://", rows)
    text = "\n".join(render_audit(audit))
    for expected in (
        'proposal [/bold] update T/1 by system (confidence 0.9): {"Owner": "x"}',
        "(irreversible)",
        "verdict  [/bold] deny for update T/1 (proposal v1, key k1)",
        "policy p-1, judged on the board at v1",
        "deciding: allowed_fields (deny): Owner may not be changed",
        "other votes: min_confidence(0.85) (allow): 0.9 reaches 0.85",
        "approval [/bold] rejected by bo (key k1)",
        "reason: wrong product line",
        "failure  [/bold] in_doubt: T/1 (key k2, 2 attempt(s)): sink timed out",
        'resolved [/bold] key k2 applied, checked by cy: receipt {"id": 3}; note: found in the CRM',
        'undo     [/bold] T/1 undone by dee (key k2): applied twice by hand; receipt {"undone": 1}',
        "run      [/bold] crm on 's', attempt 2: timeout (took over 8 s)",
        "knew: v1 slateboard.Proposal by system",
        "crm: 1 attempt(s) (1 timeout); knew v1; wrote nothing",
    ):
        assert expected in text, expected
    assert audit.committed == ()  # applied (found in doubt), then undone
    assert audit.status is None


def test_an_unforeseen_failure_is_still_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("renderer broke\non two lines")

    monkeypatch.setattr(cli, "build_audit", broken)  # a bug in our own code, not a store state
    with pytest.raises(SystemExit) as exited:
        cli.main(["audit", "b", "--db", f"sqlite:///{tmp_path / 'none.db'}"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: board 'b' has no entries in sqlite:///" + str(tmp_path / "none.db") + "\n"
    with Blackboard.open(f"sqlite:///{tmp_path / 'one.db'}") as blackboard:
        run_sync(blackboard.board("b").write, RunStarted(controller="c", agents=(), rules=()), author="someone")
    with pytest.raises(SystemExit) as exited:
        cli.main(["audit", "b", "--db", f"sqlite:///{tmp_path / 'one.db'}"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: unexpected RuntimeError: renderer broke on two lines\n"
