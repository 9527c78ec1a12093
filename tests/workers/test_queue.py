"""The PostgreSQL work queue on its own: claims that never overlap, leases that run out, fencing tokens that refuse
a stale holder's writes, boards given up after too many claims, and the trigger that wakes a board a person answered.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest

from slateboard import Blackboard
from slateboard.blackboard.entries import PendingEntry
from slateboard.blackboard.stores.ledger import LedgerRow
from slateboard.errors import ConfigurationError, LeaseLostError, StoreError
from slateboard.workers import Lease, WorkQueue, queue_of

SCENARIO = "support-case"


def entry(kind: str = "tests.Line") -> PendingEntry:
    return PendingEntry(kind, 1, "a", "2026-01-01T00:00:00+00:00", json.dumps({"text": "x"}))


def until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait for a condition the database will reach (a lease running out on its clock)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def claim(queue: WorkQueue, owner: str, lease: float = 30.0, max_claims: int = 5) -> list[Lease]:
    return queue.claim(owner, None, limit=1, lease_seconds=lease, max_claims=max_claims)


def expired(queue: WorkQueue, board: str) -> bool:
    [item] = queue.items([board])
    return item.expires_in is not None and item.expires_in < 0


def test_workers_claiming_at_once_share_the_boards_without_overlap(queue: WorkQueue) -> None:
    names = [f"b{i:03d}" for i in range(60)]
    assert queue.enqueue(names, SCENARIO, None) == names
    assert queue.enqueue(names[:5], SCENARIO, None) == []  # already queued: nothing twice
    start, taken = threading.Barrier(6), []

    def worker(owner: str) -> None:
        start.wait()
        while found := queue.claim(owner, None, limit=3, lease_seconds=30, max_claims=5):
            taken.extend(found)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(lease.board for lease in taken) == names
    assert {lease.token for lease in taken} == {1}
    assert len({lease.owner for lease in taken}) > 1
    assert all(item.state == "leased" for item in queue.items())


def test_a_claim_can_be_limited_to_one_scenario(queue: WorkQueue) -> None:
    queue.enqueue(["a"], "support-case", None)
    queue.enqueue(["b"], "lead-to-cash", "follow-up")
    [lease] = queue.claim("w", "lead-to-cash", limit=5, lease_seconds=30, max_claims=5)
    assert (lease.board, lease.scenario, lease.variant) == ("b", "lead-to-cash", "follow-up")
    assert queue.claim("w", "lead-to-cash", limit=5, lease_seconds=30, max_claims=5) == []


def test_a_lease_that_ran_out_goes_to_another_worker_whose_token_fences_the_first(
    bb: Blackboard, queue: WorkQueue
) -> None:
    queue.enqueue(["b"], SCENARIO, None)
    [first] = claim(queue, "w1", lease=0.3)
    assert claim(queue, "w2") == []  # held
    until(lambda: expired(queue, "b"), "the first lease to run out")
    [second] = claim(queue, "w2")
    assert (second.token, second.claims, second.owner) == (first.token + 1, 2, "w2")

    stale, fresh = queue.fenced(first), queue.fenced(second)
    with pytest.raises(LeaseLostError, match=r"board 'b'.*fencing token 1.*now 2"):
        stale.append("b", [entry()], expected_version=None, wait=True)
    with pytest.raises(LeaseLostError):
        stale.ledger.claim(LedgerRow("k", "h", "b", "Case/1", "pending"), wait=True)
    assert bb.store.head("b", wait=True)[0] == 0  # nothing written by the stale holder
    assert bb.store.ledger.get("k", wait=True) is None
    assert [e.version for e in fresh.append("b", [entry()], expected_version=0, wait=True)] == [1]

    assert not queue.heartbeat(first, 30)
    assert queue.finish(first, "done", "committed") is None
    assert not queue.release(first)
    assert queue.heartbeat(second, 30)
    assert queue.finish(second, "done", "committed") == "done"
    [item] = queue.items()
    assert (item.state, item.status, item.owner, item.token) == ("done", "committed", None, 2)


def test_a_board_whose_lease_keeps_running_out_is_given_up_after_max_claims(queue: WorkQueue) -> None:
    queue.enqueue(["b"], SCENARIO, None)
    for _ in range(2):
        assert claim(queue, "w", lease=0.05, max_claims=2)
        until(lambda: expired(queue, "b"), "the lease to run out")
    assert claim(queue, "w", max_claims=2) == []
    [item] = queue.items()
    assert (item.state, item.claims) == ("failed", 2)
    assert "abandoned" in item.error


def test_release_queues_the_board_for_the_next_worker(queue: WorkQueue) -> None:
    queue.enqueue(["b"], SCENARIO, None)
    [lease] = claim(queue, "w1")
    assert queue.release(lease)
    [again] = claim(queue, "w2")
    assert again.token == lease.token + 1
    assert queue.outstanding() == 1  # leased counts
    assert queue.finish(again, "waiting", "escalated") == "waiting"
    assert queue.outstanding() == 0


def test_an_answer_to_a_waiting_board_queues_it_again_and_wakes_listeners(bb: Blackboard, queue: WorkQueue) -> None:
    queue.enqueue(["b", "other"], SCENARIO, None)
    [lease] = claim(queue, "w")
    assert queue.finish(lease, "waiting", "escalated") == "waiting"
    wakeup = queue.wakeup()
    try:
        bb.store.append("other", [entry("slateboard.Settlement")], expected_version=None, wait=True)  # queued: stays
        bb.store.append("b", [entry()], expected_version=None, wait=True)  # not an answer
        assert queue.items(["b"])[0].state == "waiting"
        bb.store.append("b", [entry("slateboard.Settlement")], expected_version=None, wait=True)
        assert wakeup.wait(10.0)
    finally:
        wakeup.close()
    assert [(i.board, i.state) for i in queue.items()] == [("b", "queued"), ("other", "queued")]


def test_an_answer_during_a_run_makes_its_end_queue_the_board_again(bb: Blackboard, queue: WorkQueue) -> None:
    queue.enqueue(["b"], SCENARIO, None)
    [lease] = claim(queue, "w")
    bb.store.append("b", [entry("slateboard.ApprovalDecision")], expected_version=None, wait=True)
    assert queue.items()[0].state == "leased"
    assert queue.finish(lease, "waiting", "awaiting_approval") == "queued"


def test_stores_without_a_queue_say_so() -> None:
    with Blackboard.open("memory://") as blackboard, pytest.raises(ConfigurationError, match="no work queue"):
        queue_of(blackboard)


def test_a_listener_with_nothing_announced_times_out(queue: WorkQueue) -> None:
    wakeup = queue.wakeup()
    try:
        assert not wakeup.wait(0.05)
    finally:
        wakeup.close()


def test_errors_about_a_store_never_show_its_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        queue_of(Blackboard.open("memory://"))
    assert "memory://" in str(caught.value)
    message = str(StoreError("cannot connect", url="postgresql://app:hunter2@db/x?password=hunter2"))
    assert "hunter2" not in message
    assert "postgresql://app:***@db/x?password=***" in message
