"""The in-database sink commits in one transaction, writing no lock, yet never beside another commit's lock."""

from __future__ import annotations

import json
import os
import socket

import pytest

from slateboard import Blackboard, Commit, CommitLayer, Proposal, sinks
from slateboard.blackboard.stores.ledger import LedgerRow, TargetLocked
from slateboard.commit.layer import params_hash
from slateboard.errors import CommitError
from slateboard.testing.faults import Faults

pytestmark = pytest.mark.anyio


def change(target: str, **fields: str) -> Proposal:
    return Proposal(subject=target, confidence=1.0, action="update", target=target, changes=fields)


async def test_a_table_commit_is_one_ledger_write_and_takes_no_lock(bb: Blackboard) -> None:
    faults = Faults()
    counted = Blackboard(faults.store(bb.store))
    board = counted.board("b1")
    proposal = change("Case/1", Status="Working")
    entry = await board.write(proposal, author="agent")
    table = sinks.Table("cases")
    result = await CommitLayer(table).commit(board, proposal, proposal.key("b1"), entry.version)
    assert isinstance(result, Commit)
    assert result.fence == 0  # no lock was taken, so no fencing token either
    assert faults.boundaries == ["store.append", "ledger.apply_atomically"]
    assert table.rows(bb)["Case/1"]["data"] == {"Status": "Working"}


async def test_a_table_commit_waits_for_a_live_holder_of_the_target_and_applies_nothing_meanwhile(
    bb: Blackboard,
) -> None:
    board = bb.board("b1")
    proposal = change("Case/1", Status="Working")
    entry = await board.write(proposal, author="agent")
    holder = f"{socket.gethostname()}|{os.getpid()}|outside-commit"  # this process: alive, never stolen from
    token, _ = bb.store.ledger.acquire("Case/1", holder, 30.0, "", wait=True)
    assert token > 0
    table = sinks.Table("cases")
    with pytest.raises(CommitError, match=r"target 'Case/1' stayed locked by another commit .*outside-commit"):
        await CommitLayer(table, lock_wait=0.05).commit(board, proposal, proposal.key("b1"), entry.version)
    assert table.rows(bb) == {}
    assert bb.store.ledger.get(proposal.key("b1"), wait=True) is None
    bb.store.ledger.release("Case/1", token, wait=True)
    result = await CommitLayer(table).commit(board, proposal, proposal.key("b1"), entry.version)
    assert isinstance(result, Commit)
    assert table.rows(bb)["Case/1"]["revision"] == 1


async def test_a_table_commit_under_its_own_lock_is_not_refused_by_that_lock(bb: Blackboard) -> None:
    board = bb.board("b1")
    proposal = change("Case/2", Priority="High")
    await board.write(proposal, author="agent")
    ledger = bb.store.ledger
    holder = "me|1|x"
    token, _ = ledger.acquire("Case/2", holder, 30.0, "", wait=True)
    table = sinks.Table("cases")
    pending = LedgerRow("k", params_hash(proposal), board.name, proposal.target, "pending", fence=token)
    row, created = ledger.apply_atomically(
        pending, lambda tx: json.dumps(table.apply_in(tx, proposal, "k")), holder=holder, wait=True
    )
    assert created
    assert (row.status, row.fence) == ("applied", token)
    assert table.rows(bb)["Case/2"]["data"] == {"Priority": "High"}
    other = LedgerRow("k2", params_hash(proposal), board.name, proposal.target, "pending")
    with pytest.raises(TargetLocked, match="locked by me"):  # anyone else is refused while it holds the lock
        ledger.apply_atomically(other, lambda tx: json.dumps(table.apply_in(tx, proposal, "k2")), wait=True)
    assert ledger.get("k2", wait=True) is None


async def test_memory_sink_applied_reads_as_the_proposals_it_applied(bb: Blackboard) -> None:
    board = bb.board("b1")
    proposal = change("Case/9", Status="Closed")
    entry = await board.write(proposal, author="agent")
    sink = sinks.Memory()
    await CommitLayer(sink).commit(board, proposal, proposal.key("b1"), entry.version)
    assert sink.applied == [proposal]
    (applied,) = sink.applied
    assert (applied.target, applied.changes, applied.key) == ("Case/9", {"Status": "Closed"}, proposal.key("b1"))
    assert applied.receipt == {"sink": "memory", "target": "Case/9", "sequence": 1}
    assert sink.applied != [change("Case/9", Status="Open")]
    assert sink.records == {"Case/9": {"Status": "Closed"}}
