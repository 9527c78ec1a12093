"""Workflow metrics (`slateboard.observe.metrics`, `slateboard metrics`): exact numbers from the built-in scenarios
run on a SQLite file, approvals and a rollback made through the controller, a store whose finding kinds this
process cannot import, arbitrary stored rows, and the command in a real process."""

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Proposal, scenarios, sinks
from slateboard._internal.sync import run_sync
from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.records import Record, decode_record, encode_record
from slateboard.cli import main
from slateboard.controller import AgentRun, Decision
from slateboard.errors import SlateboardError, UnknownFindingKindError
from slateboard.observe.maturity import maturity
from slateboard.observe.metrics import STATUSES, WorkflowMetrics, collect, metrics
from slateboard.scenarios.support_case import RETRIEVAL_TIMEOUT
from slateboard.state.records import (
    ApprovalDecision,
    ApprovalRequest,
    Commit,
    CommitFailure,
    Compensation,
    DoubtResolved,
    Reason,
    Task,
    Verdict,
    Vote,
)

SUPPORT = ("happy", "timeout", "uncited", "conflict", "low-intake", "policy-conflict")
CONTRADICTION = "contradiction(support.Entitlement, support.PolicyReference)"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Blackboard]]:
    """Ten boards: six support-case variants, two more happy cases a person approved (with an edit) or rejected,
    a happy case whose committed update was rolled back, and a handoff whose warehouse call was dead-lettered."""
    url = f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'store.db'}"
    with Blackboard.open(url) as bb:
        for variant in SUPPORT:
            assert scenarios.get("support-case", variant).run_sync(bb, board=variant).ok
        for name in ("approved", "rejected"):
            run = scenarios.get("support-case", "happy").run_sync(bb, board=name)
            key = run.outcome.approvals[0].key
            if name == "approved":
                edits = {"Subject": "Your replacement is on its way"}
                outcome = run_sync(run.controller.approve, run.board, key, reviewer="ana", edits=edits)
            else:
                outcome = run_sync(run.controller.reject, run.board, key, reviewer="bo", reason="wrong product line")
            assert outcome.status == "committed"  # the case update was committed either way
        run = scenarios.get("support-case", "happy").run_sync(bb, board="rolled-back", sink=sinks.Memory())
        key = run.outcome.commits[0].key
        run_sync(run.controller.compensate, run.board, key, reviewer="cy", reason="sent to the wrong account")
        assert scenarios.get("handoffs", "warehouse-down").run_sync(bb, board="handoff").ok
        yield url, bb


def test_a_timed_out_retrieval_is_one_miss_in_two_attempts_and_one_retry(store: tuple[str, Blackboard]) -> None:
    found = metrics(store[1], ["timeout"])
    agents = {a.agent: a for a in found.agents}
    knowledge = agents["knowledge"]
    assert (knowledge.attempts, knowledge.timeouts, knowledge.retries, knowledge.failures) == (2, 1, 1, 1)
    assert knowledge.by_status == {"ok": 1, "timeout": 1, "error": 0, "conflict": 0, "denied": 0, "invalid": 0}
    assert knowledge.timeout_rate == knowledge.failure_rate == 0.5
    assert set(agents) == {"intake", "routing", "knowledge", "entitlement", "response", "review", "action"}
    assert all(a.attempts == 1 and a.failures == 0 for name, a in agents.items() if name != "knowledge")
    # One cycle time per scheduled task: the retry is in the same batch as the timed-out attempt.
    assert all(a.cycle_time.measured == 1 for a in agents.values())
    # Not a speed check but a bound the runner guarantees: it records the timed-out attempt only after waiting the
    # full timeout, so the knowledge task (and entitlement, recorded in the same batch) took at least that long.
    assert knowledge.cycle_time.max_seconds is not None
    assert knowledge.cycle_time.max_seconds >= RETRIEVAL_TIMEOUT
    assert agents["entitlement"].cycle_time.max_seconds == knowledge.cycle_time.max_seconds
    assert found.boards.total == 1
    assert found.boards.routed_to_person == 1  # the customer reply waits for a person
    assert found.approvals.requested == found.approvals.pending == 1
    assert found.approvals.approval_rate is None  # nothing decided yet: no rate, rather than a made-up 0
    assert found.commits.applied == 1
    assert found.commits.sinks == {"support_cases": 1}


def test_citation_coverage_counts_every_agent_written_finding_and_proposal(store: tuple[str, Blackboard]) -> None:
    # Intake and Route cite nothing; Entitlement (CRM), PolicyReference (KB), the Draft and both Proposals cite
    # approved sources, except on the uncited board, where the Draft and the Proposals cite only a forum thread.
    cited = metrics(store[1], ["timeout"]).citations
    assert (cited.findings, cited.cited, cited.approved_cited) == (7, 5, 5)
    assert cited.coverage == cited.approved_coverage == 5 / 7
    uncited = metrics(store[1], ["uncited"]).citations
    assert (uncited.findings, uncited.cited, uncited.approved_cited) == (7, 5, 2)
    assert (uncited.coverage, uncited.approved_coverage) == (5 / 7, 2 / 7)
    both = metrics(store[1], ["timeout", "uncited"]).citations
    assert (both.findings, both.cited, both.approved_cited) == (14, 10, 7)
    assert both.approved_coverage == 0.5


def test_uncited_proposals_are_two_deny_verdicts_by_require_citations(store: tuple[str, Blackboard]) -> None:
    found = metrics(store[1], ["uncited"])
    assert found.approvals.denied_by_rule == {"require_citations(approved)": 2}
    assert found.approvals.requested == 0
    assert found.boards.routed_to_person == 0  # refused by policy: no person needed
    assert found.boards.last_decision == {"sufficient": 1}
    assert found.commits.applied == 0


def test_escalations_are_counted_by_rule_and_routed_to_a_person(store: tuple[str, Blackboard]) -> None:
    found = metrics(store[1], ["conflict", "low-intake", "policy-conflict", "uncited"])
    assert found.boards.escalations == {
        "agent-conflict": 1,
        CONTRADICTION: 1,
        "escalate_below(support.Intake < 0.75)": 1,
    }
    assert found.boards.last_decision == {"escalate": 3, "sufficient": 1}
    assert (found.boards.routed_to_person, found.boards.routed_share) == (3, 0.75)
    review = next(a for a in found.agents if a.agent == "review")
    assert review.by_status["conflict"] == 1
    assert review.retries == 0  # a policy conflict is never retried


def test_the_whole_store(store: tuple[str, Blackboard]) -> None:
    found = metrics(store[1])
    assert found == metrics(store[1], store[1].boards())
    assert found.boards.total == 10
    # Routed: the five boards whose reply waited (happy, timeout, approved, rejected, rolled-back) and the three
    # escalated ones; not the uncited board (policy said no) nor the handoff (a dead-lettered tool call).
    assert found.boards.routed_to_person == 8
    assert found.boards.routed_share == 0.8
    assert found.unreadable == 0
    assert found.entries == sum(len(store[1].store.read(b, after=0, upto=None, wait=True)) for b in store[1].boards())


def test_approvals_after_one_approval_with_edits_and_one_rejection(store: tuple[str, Blackboard]) -> None:
    found = metrics(store[1], ["approved", "rejected", "happy"]).approvals
    assert (found.requested, found.approved, found.rejected, found.pending, found.edited) == (3, 1, 1, 1, 1)
    assert found.approval_rate == 0.5
    assert found.correction_rate == 1.0
    assert found.rejection_reasons == {"wrong product line": 1}
    assert found.denied_by_rule == {}
    commits = metrics(store[1], ["approved", "rejected"]).commits
    assert commits.applied == 3  # both case updates and the approved reply; the rejected reply never commits
    assert commits.sinks == {"support_cases": 3}


def test_rollbacks_and_dead_letters(store: tuple[str, Blackboard]) -> None:
    rolled = metrics(store[1], ["rolled-back"]).commits
    assert (rolled.applied, rolled.compensated, rolled.rollback_rate) == (1, 1, 1.0)
    assert rolled.sinks == {"memory": 1}
    handoff = metrics(store[1], ["handoff"]).commits
    assert (handoff.applied, handoff.dead_lettered, handoff.in_doubt, handoff.compensated) == (2, 1, 0, 0)
    assert handoff.rollback_rate == 0.0
    everything = metrics(store[1]).commits
    assert everything.rollback_rate == 1 / everything.applied
    assert everything.sinks == {"support_cases": 5, "tool-registry": 2, "memory": 1}


def test_an_unknown_board_is_an_error(store: tuple[str, Blackboard]) -> None:
    with pytest.raises(SlateboardError, match="board 'nope' has no entries"):
        metrics(store[1], ["timeout", "nope"])


def _rows(board: str, records: list[tuple[Record | tuple[str, str], str, str]], start: int = 1) -> list[StoredEntry]:
    """Stored rows from records (or raw (kind, payload) pairs), each with its author and time, from version `start`."""
    rows = []
    for version, (record, author, at) in enumerate(records, start=start):
        kind, schema, payload = encode_record(record) if isinstance(record, Record) else (record[0], 1, record[1])
        rows.append(StoredEntry(seq=version, board=board, version=version, kind=kind, schema_version=schema,
                                author=author, recorded_at=at, payload=payload, hash=f"{version:064x}"))  # fmt: skip
    return rows


def test_rows_of_unknown_kinds_doubts_and_escalating_verdicts() -> None:
    t0, t1, t2 = "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:02+00:00", "2026-01-01T00:00:05+00:00"
    cite = json.dumps({"subject": "s", "confidence": 0.9, "citations": [{"source": "x", "approved": False}]})
    bare = json.dumps({"subject": "s", "confidence": 0.9, "citations": []})
    escalate = Vote(rule="escalate_on_conflict", effect="escalate", message="two agents disagree")
    rows = _rows("b", [
        (("zz.Unknown", json.dumps({"subject": "s", "confidence": 1.0, "citations": []})), "input", t0),
        (Decision(cycle=1, status="continue", reasons=(Reason(rule="agenda", message="m"),),
                  agenda=(Task(agent="sleuth", subject="s", inputs=((1,),)),)), "slateboard.controller", t0),
        (AgentRun(agent="sleuth", subject="s", inputs=((1,),), attempt=1, status="ok", outputs=2),
         "slateboard.controller", t1),
        (("zz.Clue", cite), "sleuth", t1),
        (("zz.Clue", bare), "sleuth", t1),
        (("zz.Clue", cite), "bystander", t1),  # not an agent that ran here: not counted
        (("zz.Clue", "not json"), "sleuth", t1),
        (("slateboard.Verdict", '{"broken": true}'), "slateboard.commit", t1),
        (Verdict(key="k1", proposal=4, action="a", target="T/1", outcome="escalate", reasons=(escalate,),
                 policy="p", at=4), "slateboard.commit", t2),
        (Verdict(key="k2", proposal=5, action="a", target="T/2", outcome="allow", reasons=(), policy="p", at=4),
         "slateboard.commit", t2),
        (CommitFailure(key="k2", proposal=5, target="T/2", status="in_doubt", error="timed out"),
         "slateboard.commit", t2),
        (DoubtResolved(key="k2", applied=True, reviewer="ana"), "ana", t2),
        (Commit(key="k2", proposal=5, action="a", target="T/2", changes={}, sink="crm"), "slateboard.commit", t2),
    ])  # fmt: skip
    with pytest.raises(UnknownFindingKindError):
        decode_record("zz.Clue", 1, cite, where="here")  # the kinds really are unknown to this process
    found = collect({"b": rows})
    assert found.entries == 13
    assert found.unreadable == 1
    assert found.boards.routed_to_person == 1
    assert found.boards.escalations == {"escalate_on_conflict": 1}
    assert found.boards.last_decision == {"continue": 1}
    assert (found.citations.findings, found.citations.cited, found.citations.approved_cited) == (2, 1, 0)
    (sleuth,) = found.agents
    assert (sleuth.agent, sleuth.attempts, sleuth.cycle_time.measured, sleuth.cycle_time.mean_seconds) == (
        "sleuth", 1, 1, 2.0,
    )  # fmt: skip
    assert (found.commits.applied, found.commits.in_doubt, found.commits.doubted) == (1, 0, 1)
    assert found.commits.sinks == {"crm": 1}


def test_a_doubt_resolved_as_applied_counts_as_applied_without_a_commit_after_it() -> None:
    """Changed figures: such a key used to count as in doubt and not applied, so its undoing was no rollback. Now
    the person's finding settles it (slateboard.state.keys): applied, no longer in doubt, and its undo counts."""
    t = "2026-01-01T00:00:00+00:00"
    allow = Vote(rule="allow", effect="allow", message="m")
    rows = _rows("b", [
        (Proposal(subject="s", confidence=0.9, action="update", target="T/1", idempotency_key="k1"), "action", t),
        (Verdict(key="k1", proposal=1, action="update", target="T/1", outcome="allow", reasons=(allow,), policy="p",
                 at=1), "slateboard.commit", t),
        (CommitFailure(key="k1", proposal=1, target="T/1", status="in_doubt", error="timed out"), "slateboard.commit",
         t),
        (DoubtResolved(key="k1", applied=True, reviewer="ana"), "ana", t),
    ])  # fmt: skip
    found = collect({"b": rows}).commits
    assert (found.applied, found.in_doubt, found.doubted, found.sinks) == (1, 0, 1, {})
    undone = Compensation(key="k1", target="T/1", reviewer="bo", reason="undo")
    found = collect({"b": [*rows, *_rows("b", [(undone, "bo", t)], start=5)]}).commits
    assert (found.applied, found.compensated, found.rollback_rate) == (1, 1, 1.0)


def test_pending_is_a_key_awaiting_approval_now() -> None:
    """Changed figure: a request whose key was judged again (and allowed) is no longer pending."""
    t = "2026-01-01T00:00:00+00:00"
    gate = Vote(rule="require_approval", effect="needs_approval", message="m")
    allow = Vote(rule="allow", effect="allow", message="m")
    proposal = Proposal(subject="s", confidence=0.9, action="update", target="T/1", idempotency_key="k1")
    rows = _rows("b", [
        (proposal, "action", t),
        (Verdict(key="k1", proposal=1, action="update", target="T/1", outcome="needs_approval", reasons=(gate,),
                 policy="p", at=1), "slateboard.commit", t),
        (ApprovalRequest(key="k1", proposal=1, recommended="r", action="update", target="T/1", changes={},
                         confidence=0.9, reason="why"), "slateboard.commit", t),
    ])  # fmt: skip
    first = collect({"b": rows}).approvals
    assert (first.requested, first.pending) == (1, 1)
    again = _rows("b", [
        (proposal, "action", t),  # the agent proposed the same again: same key, a newer version, now allowed
        (Verdict(key="k1", proposal=4, action="update", target="T/1", outcome="allow", reasons=(allow,), policy="p",
                 at=4), "slateboard.commit", t),
    ], start=4)  # fmt: skip
    found = collect({"b": [*rows, *again]}).approvals
    assert (found.requested, found.pending) == (1, 0)


_VOTE = st.builds(Vote, rule=st.sampled_from(["r1", "r2"]), effect=st.sampled_from(["allow", "deny", "escalate"]),
                  message=st.just("m"))  # fmt: skip
_KEY = st.sampled_from(["k1", "k2"])
_RECORD: st.SearchStrategy[Record] = st.one_of(
    st.builds(AgentRun, agent=st.sampled_from(["a", "b"]), subject=st.just("s"), inputs=st.just(()),
              attempt=st.integers(1, 3), status=st.sampled_from(STATUSES)),
    st.builds(Decision, cycle=st.integers(1, 3), status=st.sampled_from(["continue", "escalate", "sufficient"]),
              reasons=st.lists(st.builds(Reason, rule=st.sampled_from(["agenda", "r1"]), message=st.just("m")),
                               max_size=2).map(tuple),
              agenda=st.lists(st.builds(Task, agent=st.sampled_from(["a", "b"]), subject=st.just("s"),
                                        inputs=st.just(())), max_size=2).map(tuple)),
    st.builds(Verdict, key=_KEY, proposal=st.just(1), action=st.just("a"), target=st.just("T"),
              outcome=st.sampled_from(["allow", "deny", "escalate", "needs_approval"]),
              reasons=st.lists(_VOTE, max_size=2).map(tuple), policy=st.just("p"), at=st.just(1)),
    st.builds(ApprovalRequest, key=_KEY, proposal=st.just(1), recommended=st.just("r"), action=st.just("a"),
              target=st.just("T"), changes=st.just({}), confidence=st.just(0.9), reason=st.just("why")),
    st.builds(ApprovalDecision, key=_KEY, decision=st.sampled_from(["approved", "rejected"]), reviewer=st.just("ana"),
              edits=st.sampled_from([{}, {"F": 1}]), reason=st.sampled_from(["", "no"])),
    st.builds(Commit, key=_KEY, proposal=st.just(1), action=st.just("a"), target=st.just("T"), changes=st.just({}),
              sink=st.sampled_from(["s1", "s2"])),
    st.builds(CommitFailure, key=_KEY, proposal=st.just(1), target=st.just("T"),
              status=st.sampled_from(["dead", "in_doubt"]), error=st.just("e")),
    st.builds(Compensation, key=_KEY, target=st.just("T"), reviewer=st.just("bo"), reason=st.just("undo")),
    st.builds(DoubtResolved, key=_KEY, applied=st.booleans(), reviewer=st.just("bo")),
)  # fmt: skip
_FINDING = st.fixed_dictionaries(
    {"subject": st.just("s"), "citations": st.lists(st.fixed_dictionaries({"approved": st.booleans()}), max_size=2)}
).map(lambda p: ("zz.Finding", json.dumps(p)))
_ROW = st.tuples(
    st.one_of(_RECORD, _FINDING, st.tuples(st.sampled_from(["slateboard.Commit", "zz.X"]), st.text(max_size=5))),
    st.sampled_from(["a", "b", "input", "ana"]),
    st.sampled_from(["2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", "not a time"]),
)
_ADDITIVE = ("entries", "unreadable", "boards.total", "boards.routed_to_person", "citations.findings",
             "citations.cited", "citations.approved_cited", "approvals.requested", "approvals.approved",
             "approvals.rejected", "approvals.pending", "approvals.edited", "commits.applied", "commits.dead_lettered",
             "commits.in_doubt", "commits.doubted", "commits.compensated")  # fmt: skip


def _get(found: WorkflowMetrics, path: str) -> Any:
    value: Any = found
    for part in path.split("."):
        value = getattr(value, part)
    return value


@settings(max_examples=60, deadline=None)
@given(st.lists(_ROW, max_size=12), st.lists(_ROW, max_size=12))
def test_any_rows_give_consistent_metrics_that_add_up_across_boards(
    one: list[tuple[Any, str, str]], two: list[tuple[Any, str, str]]
) -> None:
    a, b = _rows("a", one), _rows("b", two)
    both, first, second = collect({"a": a, "b": b}), collect({"a": a}), collect({"b": b})
    for path in _ADDITIVE:
        assert _get(both, path) == _get(first, path) + _get(second, path), path
    for agent in both.agents:
        assert sum(agent.by_status.values()) == agent.attempts
        assert agent.failures == agent.attempts - agent.by_status["ok"]
        assert 0 <= agent.timeout_rate <= agent.failure_rate <= 1
        assert agent.retries <= agent.attempts
        assert agent.cycle_time.measured <= agent.attempts
    assert both.citations.approved_cited <= both.citations.cited <= both.citations.findings
    assert both.boards.routed_to_person <= both.boards.total == 2
    assert both.commits.compensated <= both.commits.applied
    assert both.commits.in_doubt <= both.commits.doubted  # in doubt now: in doubt once
    for share in (both.approvals.approval_rate, both.commits.rollback_rate, both.citations.coverage):
        assert share is None or 0 <= share <= 1
    assert WorkflowMetrics.model_validate_json(both.model_dump_json()) == both


def slateboard(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command in-process, as the console script runs it: (exit code, stdout, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_the_command_prints_text_and_json(store: tuple[str, Blackboard], capsys: pytest.CaptureFixture[str]) -> None:
    url, bb = store
    code, out, err = slateboard(capsys, "metrics", "--db", url)
    assert code == 0, err
    for expected in (
        "boards: 10 (",
        "routed to a person: 8 of 10 (80.0%)",
        f"escalation reasons (by rule): agent-conflict: 1, {CONTRADICTION}: 1, escalate_below",
        "ok 8, timeout 1",
        "approvals: 5 requested; 1 approved (1 with edits), 1 rejected, 3 pending; approval rate 50.0%, "
        "correction rate 100.0%",
        "rejected by reviewers: wrong product line: 1",
        "denied by policy (by rule): require_citations(approved): 2",
        "commits: 8 applied, 1 dead-lettered, 0 in doubt (0 ever), 1 compensated; rollback rate 12.5%",
        "sinks: support_cases: 5, tool-registry: 2, memory: 1",
    ):
        assert expected in out, expected
    code, out, err = slateboard(capsys, "metrics", "--db", url, "--board", "timeout", "--board", "uncited", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown.pop("maturity") == json.loads(maturity(bb, ["timeout", "uncited"]).model_dump_json())
    assert shown == json.loads(metrics(bb, ["timeout", "uncited"]).model_dump_json())


_FOREIGN = """
    import sys
    from slateboard import Blackboard, Citation, Controller, Finding, agent, rules

    class Clue(Finding):
        kind_name = "foreign.Clue"
        text: str

    class Lead(Finding):
        kind_name = "foreign.Lead"
        who: str

    @agent(name="sleuth")
    async def sleuth(clue: Clue) -> Lead:
        return Lead(subject=clue.subject, who="butler", confidence=0.9,
                    citations=(Citation(source="diary", approved=True),))

    with Blackboard.open(sys.argv[1]) as bb:
        for name in ("f1", "f2"):
            outcome = Controller([sleuth], [rules.sufficient(Lead)], inputs=[Clue]).run_sync(
                bb.board(name), Clue(subject=name, text="muddy boots", confidence=1.0))
            print(outcome.status)
"""


def test_a_store_whose_kinds_are_not_importable_still_yields_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'foreign.db'}"
    script = tmp_path / "foreign.py"
    script.write_text(textwrap.dedent(_FOREIGN))
    wrote = subprocess.run([sys.executable, str(script), url], capture_output=True, text=True, check=False)
    assert wrote.stdout.split() == ["sufficient", "sufficient"], wrote.stderr
    with Blackboard.open(url) as bb:
        row = bb.store.read("f1", after=0, upto=None, wait=True)[0]
        with pytest.raises(UnknownFindingKindError):
            decode_record(row.kind, row.schema_version, row.payload, where="test")
        found = metrics(bb)
    assert found.boards.total == 2
    assert found.boards.last_decision == {"sufficient": 2}
    assert found.boards.routed_to_person == 0
    (sleuth,) = found.agents
    assert (sleuth.agent, sleuth.attempts, sleuth.by_status["ok"], sleuth.cycle_time.measured) == ("sleuth", 2, 2, 2)
    assert (found.citations.findings, found.citations.cited, found.citations.approved_cited) == (2, 2, 2)
    code, out, err = slateboard(capsys, "metrics", "--db", url, "--json")  # this process knows the kinds no better
    assert code == 0, err
    shown = json.loads(out)
    assert shown.pop("maturity")["audit_coverage"]["value"] == 1.0  # both boards' chains verify, unreadable or not
    assert shown == json.loads(found.model_dump_json())
