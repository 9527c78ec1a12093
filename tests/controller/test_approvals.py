"""A person's answers through the controller: approve (with edits), reject, compensate, resolve an in-doubt commit.

Seed 000 puts a human approval checkpoint before irreversible or externally visible actions; seed 004 treats the
answer as another event the workflow listens for, and a tool call that times out must never be made twice. The
properties: an approved key commits once, whatever races; a decided key cannot be decided again; an approval
never overrides a veto; an in-doubt commit waits for a person and is never silently applied again.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import (
    ApprovalDecision,
    Blackboard,
    Board,
    Commit,
    CommitLayer,
    Compensation,
    Controller,
    DoubtResolved,
    Outcome,
    Proposal,
    policies,
    rules,
    sinks,
)
from slateboard.blackboard.stores.base import call_store
from slateboard.errors import ApprovalError, InvalidFindingError, PolicyError
from tests.controller.commit_kinds import (
    SUPPORT_AGENTS,
    SUPPORT_RULES,
    ComplianceFlag,
    DownCRM,
    case,
    cite,
    outreach,
)

POLICY = policies.Policy(
    policies.min_confidence(0.85),
    policies.require_citations(approved=True),
    policies.escalate_on_conflict(),
    policies.freeze_on(ComplianceFlag),
    policies.allowed_fields(["Status", "Priority"], actions=["update"]),
    policies.max_changes(1, actions=["update"]),
    policies.require_approval(),
)


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'approvals.db'}"


@pytest.fixture
def blackboard(url: str) -> Iterator[Blackboard]:
    with Blackboard.open(url) as bb:
        yield bb


def of(history: tuple[Any, ...], kind: type[Any]) -> list[Any]:
    return [e.payload for e in history if isinstance(e.payload, kind)]


async def waiting(blackboard: Blackboard, sink: object, name: str = "case-42") -> tuple[Controller, Board, str]:
    """A support case whose irreversible Salesforce update waits for a person; returns its key."""
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=POLICY, sink=sink)
    board = blackboard.board(name)
    outcome = await controller.run(board, case(name, reversible=False))
    assert outcome.status == "awaiting_approval", outcome.reasons
    (request,) = outcome.approvals
    return controller, board, request.key


@pytest.mark.anyio
async def test_approve_with_edits_commits_the_edited_change_once(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller, board, key = await waiting(blackboard, sink)
    outcome = await controller.approve(board, key, reviewer="ana", edits={"Status": "Escalated"}, note="tier 2")

    assert outcome.status == "committed"
    (applied,) = sink.applied
    assert applied.key == key
    assert applied.proposal.changes == {"Status": "Escalated"}
    assert sink.records == {"Case/case-42": {"Status": "Escalated"}}
    history = await board.history()
    ((entry, decision),) = [(e, e.payload) for e in history if isinstance(e.payload, ApprovalDecision)]
    assert entry.author == "ana"
    assert decision == ApprovalDecision(
        key=key,
        decision="approved",
        reviewer="ana",
        edits={"Status": "Escalated"},
        changes={"Status": "Escalated"},
        reason="tier 2",
    )
    (commit,) = of(history, Commit)
    assert commit.key == key
    assert commit.changes == {"Status": "Escalated"}
    assert outcome.commits == (commit,)
    assert any("approved by ana" in r for r in outcome.reasons)

    # Decided is decided: approving again is an error, and nothing more is applied or written.
    with pytest.raises(ApprovalError, match=r"was already approved by ana \(v\d+\)") as caught:
        await controller.approve(board, key, reviewer="ben")
    assert (caught.value.key, caught.value.board) == (key, "case-42")
    with pytest.raises(ApprovalError, match="was already approved by ana"):
        await controller.reject(board, key, reviewer="ben", reason="too late")
    assert await board.history() == history
    assert len(sink.applied) == 1
    await controller.run(board, case(reversible=False))
    assert await board.history() == history
    assert len(sink.applied) == 1


@pytest.mark.anyio
async def test_reject_records_the_reason_and_ends_rejected(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller, board, key = await waiting(blackboard, sink)
    outcome = await controller.reject(board, key, reviewer="ana", reason="wrong product line")

    assert outcome.status == "rejected"
    assert any(f"(key {key}): rejected by ana: wrong product line" in r for r in outcome.reasons)
    assert outcome.approvals == ()
    (decision,) = of(await board.history(), ApprovalDecision)
    assert (decision.decision, decision.reviewer, decision.reason) == ("rejected", "ana", "wrong product line")
    with pytest.raises(ApprovalError, match="was already rejected by ana"):
        await controller.approve(board, key, reviewer="ben")
    with pytest.raises(ApprovalError, match="was already rejected by ana"):
        await controller.reject(board, key, reviewer="ben", reason="again")
    assert (await controller.run(board, case(reversible=False))).status == "rejected"
    assert sink.applied == []


@pytest.mark.anyio
async def test_unknown_and_undecidable_keys_are_clear_errors(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller, board, key = await waiting(blackboard, sink)
    history = await board.history()

    with pytest.raises(ApprovalError, match=rf"key 'pk-nope': no live proposal has this key .*{key}"):
        await controller.approve(board, "pk-nope", reviewer="ana")
    with pytest.raises(ApprovalError, match="key 'pk-nope': no live proposal has this key"):
        await controller.reject(board, "pk-nope", reviewer="ana", reason="no")
    with pytest.raises(ApprovalError, match="reviewer must be a non-empty string"):
        await controller.approve(board, key, reviewer=" ")
    with pytest.raises(ApprovalError, match="a rejection's reason must be a non-empty string"):
        await controller.reject(board, key, reviewer="ana", reason="")
    with pytest.raises(InvalidFindingError, match="edit field names must be non-empty strings"):
        await controller.approve(board, key, reviewer="ana", edits={"": "x"})
    assert await board.history() == history

    # A key the policy allowed outright is not waiting for anyone.
    other = blackboard.board("case-7")
    allowed = await controller.run(other, case("case-7"))
    assert allowed.status == "committed"
    with pytest.raises(ApprovalError, match="is committed: it is not waiting for approval"):
        await controller.approve(other, allowed.commits[0].key, reviewer="ana")
    assert len(sink.applied) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("edits", "rule"),
    [
        ({"Owner": "bot"}, "allowed_fields(Priority, Status)"),
        ({"Priority": "High"}, "max_changes(1)"),
    ],
)
async def test_edits_that_break_a_rule_raise_policy_error_and_record_nothing(
    blackboard: Blackboard, edits: dict[str, Any], rule: str
) -> None:
    sink = sinks.Memory()
    controller, board, key = await waiting(blackboard, sink)
    history = await board.history()

    with pytest.raises(PolicyError, match=re.escape(f"rule {rule}: cannot approve {key!r}: ")) as caught:
        await controller.approve(board, key, reviewer="ana", edits=edits)
    assert caught.value.rule == rule
    assert await board.history() == history
    assert sink.applied == []
    # The key still waits: a valid answer goes through.
    assert (await controller.approve(board, key, reviewer="ana", edits={"Status": "Closed"})).status == "committed"
    assert [a.proposal.changes for a in sink.applied] == [{"Status": "Closed"}]


@pytest.mark.anyio
async def test_a_compliance_flag_after_the_request_blocks_the_approval(blackboard: Blackboard) -> None:
    """Seed 002: a compliance flag freezes every action, including one a person is about to approve."""
    sink = sinks.Memory()
    controller, board, key = await waiting(blackboard, sink)
    flag = ComplianceFlag(subject="case-42", reason="legal hold", confidence=1.0, citations=cite("legal"))
    entry = await board.write(flag, author="compliance-officer")
    history = await board.history()

    with pytest.raises(PolicyError, match=rf"v{entry.version} by compliance-officer freezes every action") as caught:
        await controller.approve(board, key, reviewer="ana")
    assert caught.value.rule == "freeze_on(tests.commitflow.ComplianceFlag)"
    assert await board.history() == history
    assert sink.applied == []
    # Rejecting is still possible: a veto only blocks acting.
    assert (await controller.reject(board, key, reviewer="ana", reason="legal hold")).status == "rejected"


async def race(*calls: Any) -> list[Outcome | BaseException]:
    """Run the calls concurrently; each one's outcome or the error it raised."""
    results: list[Outcome | BaseException] = [ApprovalError("-", "-", "did not run")] * len(calls)

    async def one(position: int, call: Any) -> None:
        try:
            results[position] = await call()
        except ApprovalError as exc:
            results[position] = exc

    async with anyio.create_task_group() as group:
        for position, call in enumerate(calls):
            group.start_soon(one, position, call)
    return results


async def check_one_winner(results: list[Outcome | BaseException], board: Board, sink: sinks.Memory, key: str) -> None:
    errors = [r for r in results if isinstance(r, ApprovalError)]
    assert len(errors) == 1, results
    assert "was already approved by" in str(errors[0])
    history = await board.history()
    assert len(of(history, ApprovalDecision)) == 1
    assert [c.key for c in of(history, Commit)] == [key]
    assert sink.keys() == [key]


@pytest.mark.anyio
async def test_two_approvals_racing_commit_once(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller, board, key = await waiting(blackboard, sink)
    results = await race(
        lambda: controller.approve(board, key, reviewer="ana"),
        lambda: controller.approve(board, key, reviewer="ben"),
    )
    await check_one_winner(results, board, sink, key)


@pytest.mark.anyio
async def test_two_approvals_racing_through_two_handles_on_one_file_commit_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    sink = sinks.Memory()
    with Blackboard.open(url) as first, Blackboard.open(url) as second:
        controller, board, key = await waiting(first, sink)
        other = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=POLICY, sink=sink)  # a second worker
        results = await race(
            lambda: controller.approve(board, key, reviewer="ana"),
            lambda: other.approve(second.board("case-42"), key, reviewer="ben"),
        )
        await check_one_winner(results, board, sink, key)
        assert await second.board("case-42").history() == await board.history()


@pytest.mark.anyio
async def test_compensate_undoes_a_commit_with_a_forward_entry(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller, board, key = await waiting(blackboard, sink)
    committed = await controller.approve(board, key, reviewer="ana")
    (commit,) = committed.commits
    before = await board.history()

    outcome = await controller.compensate(board, key, reviewer="ben", reason="customer withdrew the case")
    history = await board.history()
    assert history[: len(before)] == before  # forward only: nothing earlier changed
    ((entry, compensation),) = [(e, e.payload) for e in history if isinstance(e.payload, Compensation)]
    assert entry.author == "ben"
    assert compensation == Compensation(
        key=key,
        target="Case/case-42",
        reviewer="ben",
        reason="customer withdrew the case",
        receipt={"undone": commit.receipt},
    )
    assert [c.proposal.target for c in sink.compensated] == ["Case/case-42"]
    assert sink.records == {"Case/case-42": {}}
    row = await call_store(board.store.ledger.get, key)
    assert row is not None
    assert row.status == "compensated"
    assert any(f"(key {key}): compensated" in r for r in outcome.reasons)
    assert len(sink.applied) == 1

    with pytest.raises(ApprovalError, match="is compensated, not committed: there is nothing to compensate"):
        await controller.compensate(board, key, reviewer="ben", reason="again")
    assert len(sink.compensated) == 1


class Ticketing:
    """A ticketing tool whose first call hangs past the commit layer's timeout (seed 004's timed-out call)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = threading.Event()
        self.first_call = threading.Event()

    def __call__(self, proposal: Proposal, key: str) -> dict[str, str]:
        self.calls.append(key)
        self.first_call.set()
        if len(self.calls) == 1:
            self.release.wait(10)  # the call went out; its answer never came back in time
        return {"ticket": f"T-{len(self.calls)}"}


async def in_doubt(blackboard: Blackboard) -> tuple[Controller, Board, str, Ticketing]:
    """A case whose ticketing call timed out after it went out: the key is in doubt and the run escalated.

    The controller returned for what follows has the default call timeout: the short one that staged the lost
    answer would also cut short a later call that merely started late on a loaded machine.
    """
    tool = Ticketing()
    layer = CommitLayer(sinks.Callable(tool, name="ticketing"), timeout=0.05)
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=POLICY, sink=layer)
    board = blackboard.board("case-42")
    try:
        outcome = await controller.run(board, case())
        assert outcome.status == "escalated"
        (failure,) = outcome.failures
        key = failure.key
        assert failure.status == "in_doubt"
        assert "a person must check" in failure.error
        assert any(f"(key {key}): in_doubt" in r for r in outcome.reasons)
        # Never silently applied again: another run leaves it alone.
        assert (await controller.run(board, case())).status == "escalated"
        # The timed-out call runs on in its worker thread; under load it may start after the timeout fired.
        assert await anyio.to_thread.run_sync(tool.first_call.wait, 10)
        assert tool.calls == [key]
        with pytest.raises(ApprovalError, match="is in_doubt: it is not waiting for approval"):
            await controller.approve(board, key, reviewer="ana")
    finally:
        tool.release.set()
    patient = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=POLICY, sink=CommitLayer(layer.sink))
    return patient, board, key, tool


@pytest.mark.anyio
@pytest.mark.parametrize("applied", [True, False])
@pytest.mark.parametrize("interrupted", [False, True], ids=["whole", "interrupted"])
async def test_an_in_doubt_commit_waits_for_a_person_and_resolve_settles_it(
    blackboard: Blackboard, applied: bool, interrupted: bool
) -> None:
    controller, board, key, tool = await in_doubt(blackboard)
    receipt = {"ticket": "T-1"} if applied else None
    if interrupted:  # an earlier resolve reached the ledger, then its process died before writing the board
        assert controller.committer is not None
        await controller.committer.resolve(board, key, applied=applied, receipt=receipt)
        assert (await controller.run(board, case())).status == "escalated"
    settled = await controller.resolve(board, key, reviewer="ana", applied=applied, receipt=receipt, note="checked")
    assert settled.status == "committed"
    history = await board.history()
    (resolved,) = of(history, DoubtResolved)
    assert resolved == DoubtResolved(key=key, applied=applied, reviewer="ana", receipt=receipt, note="checked")
    (commit,) = of(history, Commit)
    if applied:  # recorded with the receipt found in the tool; the tool is not called again
        assert tool.calls == [key]
        assert commit.receipt == {"ticket": "T-1"}
    else:  # it never arrived: committed now, with a second call under the same key
        assert tool.calls == [key, key]
        assert commit.receipt == {"ticket": "T-2"}
    assert settled.commits == (commit,)
    with pytest.raises(ApprovalError, match="is committed, not in doubt: there is nothing to resolve"):
        await controller.resolve(board, key, reviewer="ana", applied=True)
    assert len(tool.calls) == (1 if applied else 2)


@pytest.mark.anyio
async def test_a_resolve_contradicting_an_earlier_answer_in_the_ledger_is_refused(blackboard: Blackboard) -> None:
    controller, board, key, tool = await in_doubt(blackboard)
    assert controller.committer is not None
    await controller.committer.resolve(board, key, applied=False)  # that answer's record never reached the board
    history = await board.history()
    with pytest.raises(ApprovalError, match="an earlier answer reached the ledger, which has it failed"):
        await controller.resolve(board, key, reviewer="ben", applied=True, receipt={"ticket": "T-9"})
    assert await board.history() == history
    assert tool.calls == [key]
    assert (await controller.resolve(board, key, reviewer="ben", applied=False)).status == "committed"
    assert tool.calls == [key, key]


@pytest.mark.anyio
async def test_an_interrupted_compensation_is_recorded_without_undoing_twice(blackboard: Blackboard) -> None:
    sink = sinks.Memory()
    controller, board, key = await waiting(blackboard, sink)
    committed = await controller.approve(board, key, reviewer="ana")
    assert controller.committer is not None
    # The sink undid it and the ledger says so, but the process died before the Compensation entry.
    await controller.committer.compensate(board, committed.proposals[0], key)
    assert len(sink.compensated) == 1

    outcome = await controller.compensate(board, key, reviewer="ben", reason="customer withdrew the case")
    (compensation,) = of(await board.history(), Compensation)
    assert (compensation.key, compensation.reviewer, compensation.receipt) == (key, "ben", None)
    assert len(sink.compensated) == 1
    assert any(f"(key {key}): compensated" in r for r in outcome.reasons)


@pytest.mark.anyio
async def test_an_interrupted_retry_is_finished_by_the_next_one(blackboard: Blackboard) -> None:
    sink = DownCRM()
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=POLICY, sink=CommitLayer(sink, attempts=1))
    board = blackboard.board("case-42")
    (failure,) = (await controller.run(board, case())).failures
    assert controller.committer is not None
    await controller.committer.revive(board, failure.key)  # then the retrying process died
    sink.down = False

    outcome = await controller.retry(board, failure.key)
    assert outcome.status == "committed"
    assert sink.keys() == [failure.key]
    assert [c.key for c in of(await board.history(), Commit)] == [failure.key]


@pytest.mark.anyio
@pytest.mark.parametrize("applied", [True, False])
async def test_two_people_resolving_one_doubt_at_once_record_it_once(blackboard: Blackboard, applied: bool) -> None:
    controller, board, key, tool = await in_doubt(blackboard)
    results = await race(
        lambda: controller.resolve(board, key, reviewer="ana", applied=applied, receipt={"ticket": "T-1"}),
        lambda: controller.resolve(board, key, reviewer="ben", applied=applied, receipt={"ticket": "T-1"}),
    )
    for result in results:  # the later one either joins the first or is told the key is no longer in doubt
        # (committed; or, under another interleaving, authorized: the first answer, named, is being committed)
        said = str(result)
        assert isinstance(result, Outcome) or re.search(r"is (committed|authorized), not in doubt", said), said
        if "is authorized" in said:
            assert re.search(r"\((ana|ben) answered first that it was not applied; the commit layer", said), said
    history = await board.history()
    assert len(of(history, DoubtResolved)) == 1
    assert [c.key for c in of(history, Commit)] == [key]
    assert tool.calls == ([key] if applied else [key, key])


@pytest.mark.anyio
async def test_a_doubt_answered_meanwhile_is_refused_naming_who_answered_first(blackboard: Blackboard) -> None:
    controller, board, key, tool = await in_doubt(blackboard)
    # The first answer is on the board; its commit has not landed yet (the first person's process is committing).
    await board.write(DoubtResolved(key=key, applied=False, reviewer="ana"), author="ana")
    with pytest.raises(ApprovalError) as refused:
        await controller.resolve(board, key, reviewer="ben", applied=True, receipt={"ticket": "T-1"})
    assert str(refused.value).endswith(
        "is authorized, not in doubt: there is nothing to resolve "
        "(ana answered first that it was not applied; the commit layer is committing it now)"
    )
    assert len(of(await board.history(), DoubtResolved)) == 1
    assert tool.calls == [key]


@pytest.mark.anyio
async def test_two_retries_at_once_commit_once(blackboard: Blackboard) -> None:
    sink = DownCRM()
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=POLICY, sink=CommitLayer(sink, attempts=1))
    board = blackboard.board("case-42")
    (failure,) = (await controller.run(board, case())).failures
    sink.down = False
    results = await race(lambda: controller.retry(board, failure.key), lambda: controller.retry(board, failure.key))
    for result in results:
        assert isinstance(result, Outcome) or "is committed, not dead-lettered" in str(result), result
    assert sink.keys() == [failure.key]
    assert [c.key for c in of(await board.history(), Commit)] == [failure.key]


@pytest.mark.anyio
async def test_two_compensations_at_once_undo_once(blackboard: Blackboard) -> None:
    undone: list[Any] = []

    def undo(proposal: Proposal, receipt: Any) -> Any:  # a blocking call: runs in a worker thread
        undone.append(receipt)
        return {"undone": receipt}

    sink = sinks.Callable(lambda proposal, key: {"case": proposal.target}, name="crm", compensate=undo)
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=POLICY, sink=sink)
    board = blackboard.board("case-42")
    (commit,) = (await controller.run(board, case())).commits
    results = await race(
        lambda: controller.compensate(board, commit.key, reviewer="ana", reason="withdrawn"),
        lambda: controller.compensate(board, commit.key, reviewer="ben", reason="withdrawn"),
    )
    for result in results:
        assert isinstance(result, Outcome) or "compensated" in str(result), result
    assert undone == [{"case": "Case/case-42"}]
    assert len(of(await board.history(), Compensation)) == 1


@pytest.mark.anyio
async def test_a_deny_rule_that_breaks_during_an_approval_refuses_it(blackboard: Blackboard) -> None:
    broken = policies.Policy(
        policies.min_confidence(0.85),
        policies.freeze_on(ComplianceFlag, when=lambda flag: flag.severity == "hold", id="legal-hold"),
        policies.require_approval(),
    )
    sink = sinks.Memory()
    controller = Controller(SUPPORT_AGENTS, SUPPORT_RULES, policy=broken, sink=sink)
    board = blackboard.board("case-42")
    (request,) = (await controller.run(board, case(reversible=False))).approvals
    await board.write(ComplianceFlag(subject="case-42", reason="review", confidence=1.0), author="legal")
    history = await board.history()

    with pytest.raises(PolicyError, match=r"rule legal-hold: cannot approve .* could not be evaluated") as caught:
        await controller.approve(board, request.key, reviewer="ana")
    assert caught.value.rule == "legal-hold"
    assert isinstance(caught.value.__cause__, AttributeError)
    assert await board.history() == history
    assert sink.applied == []


# --- property: no interleaving applies a key twice or decides it twice ------------------------------------

OUTREACH_POLICY = policies.Policy(
    policies.min_confidence(0.85), policies.require_citations(approved=True), policies.require_approval()
)
ops = st.lists(
    st.tuples(st.sampled_from(["approve", "reject", "run"]), st.integers(0, 1), st.integers(0, 3)),
    min_size=1,
    max_size=4,
)


async def interleave(url: str, script: tuple[list[tuple[str, int, int]], ...]) -> None:
    """Two callers (each with its own controller; on SQLite each with its own handle) answer two keys."""
    sink = sinks.Memory()
    with Blackboard.open(url) as first, Blackboard.open(url) as second:
        handles = (first, first) if url == "memory://" else (first, second)  # memory stores are per handle
        workers = [
            (Controller([outreach], [rules.sufficient(Proposal)], policy=OUTREACH_POLICY, sink=sink), bb.board("c"))
            for bb in handles
        ]
        outcome = await workers[0][0].run(workers[0][1], case("c"))
        assert outcome.status == "awaiting_approval"
        keys = [r.key for r in outcome.approvals]
        assert len(keys) == 2
        answered: Counter[str] = Counter()
        refused: list[str] = []

        async def caller(number: int, steps: list[tuple[str, int, int]]) -> None:
            controller, board = workers[number]
            for op, index, pause in steps:
                for _ in range(pause):  # shift this caller against the other one
                    await anyio.lowlevel.checkpoint()
                key, who = keys[index], f"reviewer-{number}"
                try:
                    if op == "approve":
                        await controller.approve(board, key, reviewer=who)
                    elif op == "reject":
                        await controller.reject(board, key, reviewer=who, reason="not now")
                    else:
                        await controller.run(board, case("c"))
                        continue
                except ApprovalError as exc:
                    refused.append(str(exc))
                else:
                    answered[key] += 1

        async with anyio.create_task_group() as group:
            for number, steps in enumerate(script):
                group.start_soon(caller, number, steps)
        final = await workers[1][0].run(workers[1][1], case("c"))

        assert all("was already" in message for message in refused), refused
        history = await workers[0][1].history()
        decisions = Counter(d.key for d in of(history, ApprovalDecision))
        commits = Counter(c.key for c in of(history, Commit))
        applied = Counter(sink.keys())
        assert decisions == answered  # one answer per key, and every answer that returned is the one recorded
        for decision in of(history, ApprovalDecision):
            expected = 1 if decision.decision == "approved" else 0
            assert applied[decision.key] == commits[decision.key] == expected, (decision, applied, commits)
        assert set(applied) <= set(decisions)
        undecided = [k for k in keys if k not in decisions]
        assert [a.key for a in final.approvals] == undecided
        assert (await workers[1][0].replay(workers[1][1])).identical


@settings(max_examples=30, deadline=None)
@given(
    script=st.tuples(ops, ops),
    store=st.sampled_from(["memory", "sqlite"]),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_no_interleaving_of_two_callers_applies_or_decides_a_key_twice(
    script: tuple[list[tuple[str, int, int]], ...], store: str, backend: str
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = "memory://" if store == "memory" else f"sqlite:///{Path(directory) / 'race.db'}"
        anyio.run(interleave, url, script, backend=backend)
