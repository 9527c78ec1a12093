"""`slateboard settle BOARD`: a person answers an escalated board from the command line and the run goes on."""

import json

from tests.cli.conftest import Invoke


def _escalated(slateboard: Invoke, board: str) -> None:
    result = slateboard("run", "support-case", "--variant", "conflict", "--board", board)
    assert "outcome: escalated at v14" in result.stdout, result.stdout


def test_a_corrected_finding_settles_the_contradiction_and_the_run_goes_on_to_its_proposals(
    slateboard: Invoke,
) -> None:
    _escalated(slateboard, "c1")
    correct = 'support.PolicyReference={"article": "exception 4.2 was withdrawn", "excluded": false}'
    settled = slateboard("settle", "c1", "--reviewer", "ana", "--correct", correct, "--note", "kb updated")
    assert settled.code == 0, settled.stderr
    lines = settled.stdout.splitlines()
    assert lines[0] == "settled by ana (v16): corrected finding v15 on 'c1', set aside v13 (kb updated)"
    assert lines[1].startswith("outcome: awaiting_approval at v")
    assert settled.waiting_key
    replay = slateboard("replay", "c1")
    assert replay.code == 0
    assert "all identical" in replay.stdout
    audit = json.loads(slateboard("audit", "c1", "--json").stdout)
    answer = next(e for e in audit["timeline"] if e["kind"] == "slateboard.Settlement")
    assert (answer["author"], answer["payload"]["action"], answer["payload"]["set_aside"]) == ("ana", "correct", [13])


def test_choosing_a_side_is_recorded_and_the_run_never_escalates_on_it_again(slateboard: Invoke) -> None:
    _escalated(slateboard, "c2")
    chose = slateboard("settle", "c2", "--reviewer", "ana", "--choose", "11", "--note", "4.2 does not apply")
    assert chose.code == 0, chose.stderr
    assert chose.stdout.splitlines()[0] == "settled by ana (v15): chose v11 on 'c2', set aside v13 (4.2 does not apply)"
    # The policy reference was set aside and nothing replaces it: the reply cannot be drafted, but nothing escalates.
    assert "outcome: insufficient at v17" in chose.stdout
    again = slateboard("run", "support-case", "--variant", "conflict", "--board", "c2")
    assert "outcome: insufficient at v17" in again.stdout  # resumed: the same decision, nothing escalated again


def test_closing_with_no_run_records_the_answer_and_the_next_run_ends_closed(slateboard: Invoke) -> None:
    _escalated(slateboard, "c3")
    closed = slateboard("settle", "c3", "--reviewer", "bo", "--close", "duplicate of c1", "--no-run")
    assert closed.code == 0, closed.stderr
    assert closed.stdout == "closed by bo (v15): duplicate of c1\n"
    resumed = slateboard("run", "support-case", "--variant", "conflict", "--board", "c3")
    assert "outcome: closed at v17" in resumed.stdout
    assert "settled: closed by bo (v15): duplicate of c1" in resumed.stdout


def test_answers_that_cannot_be_taken_are_one_clear_line(slateboard: Invoke) -> None:
    _escalated(slateboard, "c4")
    cases = {
        ("--choose", "3"): "error: board 'c4', v3: not one of the escalated conflict's findings (v11, v13)\n",
        ("--choose", "11", "--close", "x"): "error: board 'c4': settle takes exactly one of --choose VERSION, "
        "--correct KIND=JSON or --close REASON (got more than one)\n",
        (): "error: board 'c4': settle takes exactly one of --choose VERSION, --correct KIND=JSON or --close REASON "
        "(got none)\n",
        ("--correct", "support.PolicyReference=[1"): "error: board 'c4': --correct takes KIND=JSON; the JSON does "
        "not parse: Expecting ',' delimiter: line 1 column 3 (char 2)\n",
        ("--correct", 'support.PolicyReference={"excluded": "maybe"}'): "error: board 'c4': --correct: not a valid "
        "support.PolicyReference: article: Field required; excluded: Input should be a valid boolean, unable to "
        "interpret input\n",
    }
    for options, said in cases.items():
        result = slateboard("settle", "c4", "--reviewer", "ana", *options)
        assert (result.code, result.stderr) == (2, said), options
    happy = slateboard("run", "support-case", "--board", "h1")
    assert happy.code == 0
    unescalated = slateboard("settle", "h1", "--reviewer", "ana", "--close", "x")
    assert unescalated.code == 2
    assert "board 'h1', v" in unescalated.stderr
    assert "is not escalated: its last decision is 'sufficient'" in unescalated.stderr
