"""`slateboard retract SOURCE[@VERSION] --reason` and `slateboard boards --affected-by SOURCE`, on the embedded
SQLite file: the support case's knowledge article is retracted after the board committed an update resting on it."""

import json
from pathlib import Path

from slateboard import Blackboard, Retraction, sinks
from slateboard.blackboard.stores.postgres import backend
from slateboard.state.projection import BoardState
from tests.cli.conftest import Invoke
from tests.controller.retraction_kinds import controller, ticket

ARTICLE = "kb:warranty-policy@v7"  # what the support case's knowledge agent cites (Citation.source @ .version)


def test_affected_by_lists_the_boards_that_cite_a_source_before_and_after_it_is_retracted(slateboard: Invoke) -> None:
    slateboard("run", "support-case", "--board", "c1")
    slateboard("run", "support-case", "--board", "c2")
    listed = slateboard("boards", "--affected-by", ARTICLE)
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[-1] == "2 board(s) cite kb:warranty-policy@v7"
    assert lines[0].startswith("c1: 4 stale finding(s) (v13, v16, v20, v21)")
    assert "a person must decide: update Case/c1" in lines[0]
    assert lines[0].endswith("[not retracted yet]")
    assert slateboard("boards", "--affected-by", "kb:warranty-policy@v6").stdout.strip() == (
        "0 board(s) cite kb:warranty-policy@v6"
    )
    whole = json.loads(slateboard("boards", "--affected-by", "kb:warranty-policy", "--json").stdout)
    assert [b["board"] for b in whole["boards"]] == ["c1", "c2"]
    assert (whole["source"], whole["version"]) == ("kb:warranty-policy", None)


def test_retract_records_the_source_and_reports_the_commits_a_person_must_decide_on(
    slateboard: Invoke, tmp_path: Path
) -> None:
    slateboard("run", "support-case", "--board", "c1")
    slateboard("run", "support-case", "--board", "unrelated", "--variant", "low-intake")
    done = slateboard("retract", ARTICLE, "--reason", "outdated article version", "--by", "ana", "--json")
    assert done.code == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["source"], report["version"], report["by"], report["commits"]) == (
        "kb:warranty-policy",
        "v7",
        "ana",
        1,
    )
    (board,) = report["boards"]
    assert (board["board"], board["stale"], board["citing"], board["recorded"]) == (
        "c1",
        [13, 16, 20, 21],
        [13, 16, 20, 21],
        True,
    )
    (commit,) = board["commits"]
    assert (commit["action"], commit["target"], commit["proposal"]) == ("update", "Case/c1", 20)

    after = slateboard("boards", "--affected-by", ARTICLE, "--json")
    assert json.loads(after.stdout)["boards"][0]["recorded"] is True

    rerun = slateboard("run", "support-case", "--board", "c1")
    assert rerun.code == 1  # the built-in expectation (awaiting approval) no longer holds: a person must decide
    assert "outcome: escalated" in rerun.stdout
    assert f"retraction: commit of update Case/c1 (key {commit['key']}" in rerun.stdout
    assert slateboard("replay", "c1").code == 0
    audit = slateboard("audit", "c1").stdout
    assert "retracted kb:warranty-policy@v7 retracted by ana: outdated article version" in audit
    assert "stale: v13, v16, v20, v21" in audit
    assert f"committed on them, a person decides: {commit['key']}" in audit
    assert "waiting for a person" not in audit  # the reply's proposal rested on v7 too: it waits no more
    assert slateboard("verify").code == 0
    with Blackboard.open(f"sqlite:///{tmp_path / 'slateboard.db'}", read_only=True) as bb:
        history = bb.board("c1").history_sync()
        (entry,) = [e for e in history if isinstance(e.payload, Retraction)]
        assert (entry.author, entry.payload.commits) == ("ana", (commit["key"],))
        assert BoardState.of(bb.board("c1").view_sync()).staleness.stale == {13, 16, 20, 21}
        assert not any(isinstance(e.payload, Retraction) for e in bb.board("unrelated").history_sync())


def test_retract_in_text_names_each_board_and_what_comes_next(slateboard: Invoke) -> None:
    slateboard("run", "support-case", "--board", "c1")
    done = slateboard("retract", "kb:warranty-policy", "--reason", "withdrawn by the vendor")
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "retracted kb:warranty-policy (notice v1 of slateboard.retractions) by slateboard.retract: "
        "withdrawn by the vendor"
    )
    assert lines[1].startswith("  c1: 4 stale finding(s)")
    assert lines[-1].startswith("1 board(s) affected, 1 commit(s) rested on stale findings: they stand until")


def test_retract_refuses_bad_input_in_one_line_and_writes_nothing(slateboard: Invoke) -> None:
    slateboard("run", "support-case", "--board", "c1")
    for args, said in (
        (("retract", "kb@", "--reason", "r"), "SOURCE@VERSION"),
        (("retract", "kb", "--reason", " "), "reason"),
        (("retract", "kb"), "--reason"),
        (("boards", "--affected-by", "@v1"), "SOURCE@VERSION"),
    ):
        result = slateboard(*args)
        assert result.code == 2, args
        assert said in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert slateboard("boards").stdout.split() == ["c1"]


def test_retract_help_names_its_options(slateboard: Invoke) -> None:
    shown = slateboard("retract", "--help")
    assert shown.code == 0
    for option in ("SOURCE[@VERSION]", "--reason", "--by", "--db", "--json"):
        assert option in shown.stdout
    assert "--affected-by" in slateboard("boards", "--help").stdout


def test_retract_and_affected_by_on_postgresql(slateboard: Invoke, postgres_server: str, tmp_path: Path) -> None:
    url = backend.fresh_url(tmp_path)
    with Blackboard.open(url) as bb:
        assert controller(approval=False, sink=sinks.Memory()).run_sync(bb.board("t-1"), ticket()).status == "committed"
    listed = json.loads(slateboard("boards", "--affected-by", "kb:warranty@v7", "--db", url, "--json").stdout)
    assert [(b["board"], b["recorded"], len(b["commits"])) for b in listed["boards"]] == [("t-1", False, 1)]
    done = slateboard("retract", "kb:warranty@v7", "--reason", "outdated", "--by", "ana", "--db", url, "--json")
    assert done.code == 0, done.stderr
    assert json.loads(done.stdout)["commits"] == 1
    again = json.loads(slateboard("boards", "--affected-by", "kb:warranty@v7", "--db", url, "--json").stdout)
    assert again["boards"][0]["recorded"] is True
    assert slateboard("verify", "--db", url).code == 0
