"""A commit in doubt that a person resolved: the one answer the controller, the metrics and the audit give.

The three used to disagree on a doubt resolved as applied with no `Commit` after it (controller "authorized",
metrics "in_doubt" and not applied, audit "committed"). The answer (slateboard.state.keys): the person's finding
settles the key as committed and applied; a doubt resolved as not applied frees the key to commit again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from slateboard import Blackboard, Proposal
from slateboard.controller.outcomes import build_outcome
from slateboard.observe.audit import build_audit
from slateboard.observe.metrics import collect, metrics
from slateboard.policies.policy import Policy
from slateboard.state.projection import BoardState
from slateboard.state.records import (
    Commit,
    CommitFailure,
    Compensation,
    Decision,
    DoubtResolved,
    Reason,
    Verdict,
    Vote,
)
from slateboard.state.vocabulary import KeyStatus, OutcomeStatus
from tests.controller.test_approvals import in_doubt
from tests.state import logs
from tests.state.logs import Logged

PROPOSAL = Proposal(subject="s", confidence=0.9, action="update", target="T/1", changes={"Status": "Done"})
KEY = PROPOSAL.key(logs.BOARD)
ALLOW = Verdict(key=KEY, proposal=1, action="update", target="T/1", outcome="allow",
                reasons=(Vote(rule="allow", effect="allow", message="m"),), policy="p", at=1)  # fmt: skip
DOUBT = CommitFailure(key=KEY, proposal=1, target="T/1", status="in_doubt", error="timed out")
COMMIT = Commit(key=KEY, proposal=1, action="update", target="T/1", changes={}, sink="crm")
SUFFICIENT = Decision(cycle=1, status="sufficient", reasons=(Reason(rule="r", message="m"),))


def resolved(applied: bool) -> DoubtResolved:
    return DoubtResolved(key=KEY, applied=applied, reviewer="bo")


@dataclass(frozen=True)
class Case:
    """After the allowed proposal went in doubt: what follows, and what every reader must say."""

    then: tuple[DoubtResolved | Commit | CommitFailure | Compensation, ...]
    status: KeyStatus
    outcome: OutcomeStatus
    applied: int  # metrics: commits.applied
    sinks: dict[str, int]
    committed: bool  # audit: in `committed`


CASES = {
    "still in doubt": Case((), "in_doubt", "escalated", 0, {}, committed=False),
    "applied, no commit": Case((resolved(True),), "committed", "committed", 1, {}, committed=True),
    "applied, then its commit": Case((resolved(True), COMMIT), "committed", "committed", 1, {"crm": 1}, committed=True),
    "not applied, not yet committed": Case((resolved(False),), "authorized", "failed", 0, {}, committed=False),
    "not applied, then committed": Case((resolved(False), COMMIT), "committed", "committed", 1, {"crm": 1}, True),
    "not applied, then dead": Case(
        (resolved(False), CommitFailure(key=KEY, proposal=1, target="T/1", status="dead", error="down")),
        "failed", "failed", 0, {}, committed=False,
    ),
    "applied, then undone": Case(
        (resolved(True), Compensation(key=KEY, target="T/1", reviewer="cy", reason="undo")),
        "compensated", "committed", 1, {}, committed=False,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_every_reader_gives_the_same_answer(name: str) -> None:
    case = CASES[name]
    records = [PROPOSAL, ALLOW, DOUBT, *case.then]
    log = [Logged(v, "slateboard.commit" if v > 1 else "action", r) for v, r in enumerate(records, start=1)]
    state = BoardState(())
    for entry in logs.entries(log):
        state.ingest(entry)
    key = state.keys.live_key(KEY)
    assert key is not None
    assert key.status == case.status
    assert state.keys.pending() == ([key] if case.status == "authorized" else [])  # never committed twice
    outcome = build_outcome(logs.BOARD, state, SUFFICIENT, version=len(log), policy=Policy())
    assert outcome.status == case.outcome
    (reason,) = outcome.key_reasons
    said = "allowed, but not committed yet" if case.status == "authorized" else case.status
    assert f"(key {KEY}): {said}" in reason

    rows = logs.rows(log)
    found = collect({logs.BOARD: rows}).commits
    assert (found.applied, found.sinks, found.doubted) == (case.applied, case.sinks, 1)
    assert found.in_doubt == (case.status == "in_doubt")
    assert found.dead_lettered == (case.status == "failed")
    assert found.compensated == (case.status == "compensated")
    assert build_audit(logs.BOARD, "memory://", rows).committed == ((KEY,) if case.committed else ())


def test_a_doubt_found_applied_says_who_found_it() -> None:
    log = [Logged(1, "action", PROPOSAL), Logged(2, "c", ALLOW), Logged(3, "c", DOUBT), Logged(4, "bo", resolved(True))]
    key = logs.book(log).keys[KEY]
    assert key.describe().endswith(f"(key {KEY}): committed, found applied by bo")


@pytest.fixture
def blackboard() -> Iterator[Blackboard]:
    with Blackboard.open("memory://") as bb:
        yield bb


@pytest.mark.anyio
async def test_the_controller_never_commits_a_key_a_person_found_applied(blackboard: Blackboard) -> None:
    """A resolution recorded alone (a resolve interrupted between the ledger and its Commit by an older version, or
    a repair by hand): the key stands committed, and running the board again calls the tool no more."""
    controller, board, key, tool = await in_doubt(blackboard)
    assert controller.committer is not None
    await controller.committer.resolve(board, key, applied=True, receipt={"ticket": "T-1"})
    await board.write(DoubtResolved(key=key, applied=True, reviewer="ana", note="seen in the tool"), author="ana")
    before = await board.history()

    outcome = await controller.outcome(board)
    assert outcome.status == "committed"
    assert any(r.endswith(f"(key {key}): committed, found applied by ana") for r in outcome.key_reasons)
    again = await controller.run(board)
    assert again.status == "committed"
    assert tool.calls == [key]
    assert not [e for e in (await board.history())[len(before) :] if isinstance(e.payload, Commit | CommitFailure)]
    found = metrics(blackboard, [board.name]).commits
    assert (found.in_doubt, found.doubted) == (0, 1)
    audit = build_audit(board.name, blackboard.url, blackboard.store.read(board.name, after=0, upto=None, wait=True))
    assert key in audit.committed
