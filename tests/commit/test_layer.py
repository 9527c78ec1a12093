"""CommitLayer on real boards (every registered store): once per key, retries, dead letters, doubt, locks."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.to_thread
import pytest

from slateboard import Blackboard, Proposal, sinks
from slateboard.blackboard.board import Board
from slateboard.blackboard.stores.ledger import LedgerRow
from slateboard.blackboard.stores.registry import backend_for
from slateboard.commit import Commit, CommitFailure, CommitLayer
from slateboard.commit import layer as layer_module
from slateboard.commit.layer import params_hash
from slateboard.commit.releases import RELEASES, Waiter
from slateboard.errors import CommitError
from slateboard.state.records import COMMIT_LAYER
from tests.commit.outside import Outside


def proposal(target: str = "Case/1", key: str | None = None, **changes: Any) -> Proposal:
    return Proposal(
        subject=target,
        confidence=1.0,
        action="update",
        target=target,
        changes=changes or {"Status": "Escalated"},
        idempotency_key=key,
    )


async def propose(
    board: Board, target: str = "Case/1", key: str | None = None, **changes: Any
) -> tuple[Proposal, str, int]:
    """Write a proposal on `board`: (proposal, its key, its version)."""
    change = proposal(target, key, **changes)
    entry = await board.write(change, author="agent")
    return change, change.key(board.name), entry.version


def fast(sink: object, **options: Any) -> CommitLayer:
    return CommitLayer(sink, **{"backoff": 0.001, "timeout": 0.05, **options})


def status(board: Board, key: str) -> str | None:
    row = board.store.ledger.get(key, wait=True)
    return row.status if row else None


@pytest.fixture
async def board(bb: Blackboard) -> AsyncIterator[Board]:
    yield bb.board("case-42")
    await bb.board("case-42").verify()


pytestmark = pytest.mark.anyio


async def test_same_key_returns_the_first_receipt_without_calling_the_sink(board: Board) -> None:
    sink = sinks.Memory()
    change, key, version = await propose(board)
    first = await fast(sink).commit(board, change, key, version)
    assert isinstance(first, Commit)
    assert (first.attempts, first.receipt) == (1, {"sink": "memory", "target": "Case/1", "sequence": 1})
    await board.write(first, author=COMMIT_LAYER)
    for layer in (fast(sink), CommitLayer(sink)):  # the same worker, and another one
        assert await layer.commit(board, change, key, version) == first
    assert sink.keys() == [key]
    assert sink.records == {"Case/1": {"Status": "Escalated"}}


async def test_same_key_with_other_changes_is_refused(board: Board) -> None:
    sink = sinks.Memory()
    change, key, version = await propose(board, key="case-42-escalate", Status="Escalated")
    await fast(sink).commit(board, change, key, version)
    other, _, other_version = await propose(board, key="case-42-escalate", Status="Closed")
    with pytest.raises(CommitError, match="case-42-escalate"):
        await fast(sink).commit(board, other, key, other_version)
    assert sink.keys() == [key]
    assert sink.records["Case/1"] == {"Status": "Escalated"}


async def test_a_sink_that_fails_twice_then_succeeds_commits_with_attempts_3(board: Board) -> None:
    outside = Outside(("fail", "fail"))
    change, key, version = await propose(board)
    result = await fast(outside.sink()).commit(board, change, key, version)
    assert isinstance(result, Commit)
    assert result.attempts == 3
    assert (outside.calls, outside.applications) == ([key] * 3, [key])
    row = board.store.ledger.get(key, wait=True)
    assert row is not None
    assert (row.status, row.attempts, row.error, json.loads(row.receipt)) == ("applied", 3, "", result.receipt)


async def test_a_sink_that_always_fails_is_dead_lettered_then_revived(board: Board) -> None:
    outside = Outside(("fail",) * 5)
    change, key, version = await propose(board)
    layer = fast(outside.sink(), attempts=4)
    dead = await layer.commit(board, change, key, version)
    assert isinstance(dead, CommitFailure)
    assert (dead.status, dead.attempts) == ("dead", 4)
    assert f"RuntimeError: CRM refused {key}" in dead.error
    await board.write(dead, author=COMMIT_LAYER)
    assert [r.key for r in board.store.ledger.rows("dead", wait=True)] == [key]
    assert await layer.commit(board, change, key, version) == dead  # dead stays dead: no fifth call
    assert len(outside.calls) == 4
    revived = await layer.revive(board, key)
    assert (revived.status, revived.attempts) == ("failed", 0)
    with pytest.raises(CommitError, match="not dead-lettered"):
        await layer.revive(board, key)
    # The sink is fixed meanwhile (one more refusal is left in its script, then it works).
    result = await layer.commit(board, change, key, version)
    assert isinstance(result, Commit)
    assert result.attempts == 2
    assert outside.applications == [key]


async def test_a_timeout_on_a_plain_sink_is_in_doubt_and_never_called_again(board: Board) -> None:
    outside = Outside(("hang-after",))
    change, key, version = await propose(board)
    layer = fast(outside.sink())
    doubt = await layer.commit(board, change, key, version)
    assert isinstance(doubt, CommitFailure)
    assert doubt.status == "in_doubt"
    assert "a person must check" in doubt.error
    await board.write(doubt, author=COMMIT_LAYER)
    assert await layer.commit(board, change, key, version) == doubt
    assert await fast(outside.sink(), timeout=5).commit(board, change, key, version) == doubt
    assert outside.calls == [key]
    assert status(board, key) == "in_doubt"


async def test_a_timeout_on_an_idempotent_sink_is_retried(board: Board) -> None:
    outside = Outside(("hang-after",), dedupe=True)
    change, key, version = await propose(board)
    result = await fast(outside.sink(idempotent=True)).commit(board, change, key, version)
    assert isinstance(result, Commit)
    assert result.attempts == 2
    assert outside.calls == [key, key]
    assert outside.applications == [key]  # the outside system saw the key twice and applied it once
    assert result.receipt == outside.receipts[key]


async def test_a_timeout_with_lookup_is_settled_from_the_lookup(board: Board) -> None:
    outside = Outside(("hang-after",))
    change, key, version = await propose(board)
    result = await fast(outside.sink(lookup=True)).commit(board, change, key, version)
    assert isinstance(result, Commit)
    assert result.receipt == outside.receipts[key]
    assert outside.calls == [key]


async def test_a_timeout_before_applying_with_lookup_is_called_again(board: Board) -> None:
    outside = Outside(("hang-before",))
    change, key, version = await propose(board)
    result = await fast(outside.sink(lookup=True)).commit(board, change, key, version)
    assert isinstance(result, Commit)
    assert result.attempts == 2
    assert (outside.calls, outside.applications) == ([key, key], [key])


async def test_a_timed_out_call_still_running_in_a_thread_is_not_repeated(board: Board) -> None:
    """A sync sink cannot be cancelled: its thread may still apply after the lookup said "not applied"."""
    outside = Outside(("hang-before",))
    change, key, version = await propose(board)
    # Time enough for the worker thread to start (then it waits for `outside.release`), even on a loaded machine.
    layer = fast(outside.sink(lookup=True, blocking=True), timeout=0.5)
    result = await layer.commit(board, change, key, version)
    assert isinstance(result, CommitFailure)
    assert result.status == "in_doubt"
    assert "still running" in result.error
    assert outside.applications == []
    # The abandoned call lands later, as it would in production.
    outside.release.set()
    assert await anyio.to_thread.run_sync(outside.landed.wait, 10)
    assert await layer.commit(board, change, key, version) == result
    assert (outside.calls, outside.applications) == ([key], [key])
    # The lookup now finds it: a person resolves the doubt with the outside system's receipt.
    row = await layer.resolve(board, key, applied=True, receipt=outside.lookup(key))
    assert json.loads(row.receipt) == outside.receipts[key]


@pytest.mark.parametrize(
    ("capability", "expected"),
    [("plain", "in_doubt"), ("lookup-found", "applied"), ("lookup-missing", "applied"), ("idempotent", "applied")],
)
async def test_a_pending_row_left_by_a_crashed_worker(board: Board, capability: str, expected: str) -> None:
    outside = Outside(dedupe=capability == "idempotent")
    change, key, version = await propose(board)
    crashed = LedgerRow(key, params_hash(change), board.name, change.target, "pending", fence=1)
    assert board.store.ledger.claim(crashed, wait=True) == (crashed, True)
    if capability == "lookup-found":  # the crashed worker's call had landed
        outside._apply(change, key)
    sink = outside.sink(idempotent=capability == "idempotent", lookup=capability.startswith("lookup"))
    result = await fast(sink).commit(board, change, key, version)
    assert status(board, key) == expected
    assert outside.count(key) == (0 if capability == "plain" else 1)
    assert outside.calls == ([] if capability in ("plain", "lookup-found") else [key])
    if expected == "applied":
        assert isinstance(result, Commit)
        assert result.receipt == outside.receipts[key]
    else:
        assert isinstance(result, CommitFailure)
        assert (result.status, result.attempts) == ("in_doubt", 0)
        assert "fence 1" in result.error


async def test_resolve_as_applied_settles_with_the_persons_receipt(board: Board) -> None:
    outside = Outside(("hang-after",))
    change, key, version = await propose(board)
    layer = fast(outside.sink())
    assert isinstance(await layer.commit(board, change, key, version), CommitFailure)
    row = await layer.resolve(board, key, applied=True, receipt={"checked": "CRM-7"})
    assert (row.status, json.loads(row.receipt)) == ("applied", {"checked": "CRM-7"})
    result = await layer.commit(board, change, key, version)
    assert isinstance(result, Commit)
    assert result.receipt == {"checked": "CRM-7"}
    assert outside.calls == [key]
    with pytest.raises(CommitError, match="not in doubt"):
        await layer.resolve(board, key, applied=False)


async def test_resolve_as_not_applied_lets_the_key_commit_once(board: Board) -> None:
    outside = Outside(("hang-before",))
    change, key, version = await propose(board)
    layer = fast(outside.sink())
    assert isinstance(await layer.commit(board, change, key, version), CommitFailure)
    assert outside.applications == []
    row = await layer.resolve(board, key, applied=False)
    assert (row.status, row.error) == ("failed", "resolved as not applied")
    result = await layer.commit(board, change, key, version)
    assert isinstance(result, Commit)
    assert outside.applications == [key]
    assert await layer.commit(board, change, key, version) == result
    assert outside.calls == [key, key]


async def test_compensate_undoes_once_through_the_sink(board: Board) -> None:
    sink = sinks.Memory()
    change, key, version = await propose(board, Status="Escalated", Owner="ana")
    layer = fast(sink)
    with pytest.raises(CommitError, match="never committed"):
        await layer.compensate(board, change, key)
    committed = await layer.commit(board, change, key, version)
    with pytest.raises(CommitError, match="other parameters"):
        await layer.compensate(board, proposal(Status="Closed"), key)
    assert sink.compensated == []
    answer = await layer.compensate(board, change, key)
    assert answer == {"undone": committed.receipt}  # type: ignore[union-attr]
    assert sink.records == {"Case/1": {}}
    assert status(board, key) == "compensated"
    with pytest.raises(CommitError, match="compensated"):
        await layer.compensate(board, change, key)
    assert len(sink.compensated) == 1
    await layer.commit(board, change, key, version)  # a compensated key is not applied again
    assert sink.keys() == [key]
    # A sink without compensate cannot undo: the key stays applied.
    plain, plain_key, plain_version = await propose(board, "Case/2")
    await fast(Outside().sink()).commit(board, plain, plain_key, plain_version)
    with pytest.raises(CommitError, match="offers no compensate"):
        await fast(Outside().sink()).compensate(board, plain, plain_key)
    assert status(board, plain_key) == "applied"


async def test_concurrent_compensations_undo_once(board: Board) -> None:
    sink = sinks.Memory()
    change, key, version = await propose(board)
    layer = fast(sink)
    await layer.commit(board, change, key, version)
    outcomes: list[str] = []

    async def undo() -> None:
        try:
            await layer.compensate(board, change, key)
        except CommitError:
            outcomes.append("refused")
        else:
            outcomes.append("undone")

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(undo)
    assert sorted(outcomes) == ["refused", "refused", "undone"]
    assert len(sink.compensated) == 1


class FailingTable(sinks.Table):
    """A table sink whose write fails after it changed the table: the transaction must undo the change."""

    def apply_in(self, tx: Any, proposal: Proposal, key: str) -> Any:
        super().apply_in(tx, proposal, key)
        raise RuntimeError("disk full")


async def test_table_sink_merges_fields_and_commits_with_its_ledger_row(bb: Blackboard, board: Board) -> None:
    table = sinks.Table("cases")
    layer = fast(table)
    first, first_key, v1 = await propose(board, Status="Escalated")
    second, second_key, v2 = await propose(board, Owner="ana")
    other, other_key, v3 = await propose(board, "Case/2", Status="Closed")
    results = [await layer.commit(board, p, k, v) for p, k, v in ((first, first_key, v1), (second, second_key, v2))]
    results.append(await layer.commit(board, other, other_key, v3))
    assert [r.receipt for r in results] == [  # type: ignore[union-attr]
        {"table": "cases", "target": "Case/1", "revision": 1},
        {"table": "cases", "target": "Case/1", "revision": 2},
        {"table": "cases", "target": "Case/2", "revision": 1},
    ]
    assert await layer.commit(board, first, first_key, v1) == results[0]
    assert table.rows(bb) == {
        "Case/1": {"data": {"Status": "Escalated", "Owner": "ana"}, "revision": 2, "last_key": second_key},
        "Case/2": {"data": {"Status": "Closed"}, "revision": 1, "last_key": other_key},
    }
    failing, failing_key, v4 = await propose(board, Status="Lost")
    with pytest.raises(RuntimeError, match="disk full"):
        await fast(FailingTable("cases")).commit(board, failing, failing_key, v4)
    assert status(board, failing_key) is None  # neither the row nor the table write survived
    assert table.rows(bb)["Case/1"]["revision"] == 2
    assert isinstance(await layer.commit(board, failing, failing_key, v4), Commit)
    assert table.rows(bb)["Case/1"] == {
        "data": {"Status": "Lost", "Owner": "ana"},
        "revision": 3,
        "last_key": failing_key,
    }


class Gate:
    """A sink that holds its call open until released, to keep the target's lock taken."""

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.release = anyio.Event()
        self.events: list[str] = []

    async def apply(self, proposal: Proposal, key: str) -> dict[str, Any]:
        self.events.append(f"start {key}")
        self.entered.set()
        await self.release.wait()
        self.events.append(f"end {key}")
        return {"key": key}


@pytest.fixture
def second_board(bb: Blackboard) -> Iterator[Board]:
    """Another board on the same target store: through its own handle (its own connection) where the store's
    backend reopens the same storage, as SQLite does."""
    if not backend_for(bb.url).reopenable:
        yield bb.board("case-43")
        return
    with Blackboard.open(bb.url) as other:
        yield other.board("case-43")


async def test_two_boards_committing_to_one_target_serialize(board: Board, second_board: Board) -> None:
    gate = Gate()
    layer = CommitLayer(gate, timeout=10)
    first, first_key, v1 = await propose(board, Status="A")
    second, second_key, v2 = await propose(second_board, Status="B")
    results: dict[str, Any] = {}
    async with anyio.create_task_group() as tg:

        async def run(name: str, target_board: Board, change: Proposal, key: str, version: int) -> None:
            results[name] = await layer.commit(target_board, change, key, version)

        tg.start_soon(run, "first", board, first, first_key, v1)
        await gate.entered.wait()
        tg.start_soon(run, "second", second_board, second, second_key, v2)
        await anyio.wait_all_tasks_blocked()  # the second commit is now waiting for the lock
        assert gate.events == [f"start {first_key}"]
        assert status(second_board, second_key) is None  # it claimed nothing while it waits
        gate.release.set()
    assert gate.events == [f"start {first_key}", f"end {first_key}", f"start {second_key}", f"end {second_key}"]
    assert results["second"].fence > results["first"].fence


@pytest.fixture
def until_waiting(monkeypatch: pytest.MonkeyPatch) -> Callable[[], Awaitable[None]]:
    """Waits until a commit (of any thread) waits on target Case/1: it asked for the lock, was refused, and registered
    as a waiter for releases."""
    registered = threading.Event()
    waiting = RELEASES.waiting

    @contextmanager
    def noticed(target: str) -> Iterator[Waiter]:
        with waiting(target) as waiter:
            if target == "Case/1":
                registered.set()
            yield waiter

    monkeypatch.setattr(RELEASES, "waiting", noticed)

    async def until() -> None:
        if not await anyio.to_thread.run_sync(registered.wait, 30):
            raise TimeoutError("no commit waited on Case/1 within 30 s")

    return until


async def test_a_release_in_this_loop_wakes_its_waiter_at_once(
    board: Board, second_board: Board, monkeypatch: pytest.MonkeyPatch, until_waiting: Callable[[], Awaitable[None]]
) -> None:
    """With an hour's pause between asks, only the first commit's release can let the second one through in time."""
    monkeypatch.setattr(layer_module, "_FIRST_PAUSE", 3600.0)
    monkeypatch.setattr(layer_module, "_LONGEST_PAUSE", 3600.0)
    gate = Gate()
    layer = CommitLayer(gate, timeout=10, lock_wait=7200)
    first, first_key, v1 = await propose(board, Status="A")
    second, second_key, v2 = await propose(second_board, Status="B")
    results: dict[str, Any] = {}

    async def run(name: str, target_board: Board, change: Proposal, key: str, version: int) -> None:
        results[name] = await layer.commit(target_board, change, key, version)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "first", board, first, first_key, v1)
            await gate.entered.wait()
            tg.start_soon(run, "second", second_board, second, second_key, v2)
            await until_waiting()
            gate.release.set()
    assert gate.events == [f"start {first_key}", f"end {first_key}", f"start {second_key}", f"end {second_key}"]
    assert results["second"].fence > results["first"].fence
    assert RELEASES.waiting_on("Case/1") == 0


async def test_a_waiter_cancelled_in_its_pause_claims_nothing_and_leaves_no_waiter(
    board: Board, second_board: Board, until_waiting: Callable[[], Awaitable[None]]
) -> None:
    gate = Gate()
    layer = CommitLayer(gate, timeout=10)
    first, first_key, v1 = await propose(board, Status="A")
    second, second_key, v2 = await propose(second_board, Status="B")
    async with anyio.create_task_group() as tg:
        tg.start_soon(layer.commit, board, first, first_key, v1)
        await gate.entered.wait()
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as waiting:
                waiting.start_soon(layer.commit, second_board, second, second_key, v2)
                await until_waiting()
                scope.cancel()
        assert RELEASES.waiting_on("Case/1") == 0
        gate.release.set()
    assert status(second_board, second_key) is None  # it claimed nothing
    assert gate.events == [f"start {first_key}", f"end {first_key}"]


async def test_a_waiter_in_another_thread_takes_the_lock_by_asking_again(
    board: Board, second_board: Board, anyio_backend: str, until_waiting: Callable[[], Awaitable[None]]
) -> None:
    """A release wakes the waiters of its own thread only; one in another thread (its own event loop) gets the lock
    at its next ask."""
    gate = Gate()
    first, first_key, v1 = await propose(board, Status="A")
    second, second_key, v2 = await propose(second_board, Status="B")
    results: dict[str, Any] = {}
    other_sink = sinks.Memory()

    def in_another_loop() -> None:
        commit = CommitLayer(other_sink, timeout=10).commit
        results["second"] = anyio.run(commit, second_board, second, second_key, v2, backend=anyio_backend)

    async with anyio.create_task_group() as tg:
        tg.start_soon(CommitLayer(gate, timeout=10).commit, board, first, first_key, v1)
        await gate.entered.wait()
        other = threading.Thread(target=in_another_loop)
        other.start()
        await until_waiting()
        assert other_sink.keys() == []  # it waits for the lock
        gate.release.set()
    await anyio.to_thread.run_sync(other.join)
    assert gate.events == [f"start {first_key}", f"end {first_key}"]
    assert isinstance(results["second"], Commit)
    assert other_sink.keys() == [second_key]
    assert status(board, first_key) == "applied"
    assert RELEASES.waiting_on("Case/1") == 0


async def test_a_tiny_lock_wait_names_the_target_and_its_holder(board: Board, second_board: Board) -> None:
    gate = Gate()
    first, first_key, v1 = await propose(board, Status="A")
    second, second_key, v2 = await propose(second_board, Status="B")
    async with anyio.create_task_group() as tg:
        tg.start_soon(CommitLayer(gate).commit, board, first, first_key, v1)
        await gate.entered.wait()
        token, holder = second_board.store.ledger.acquire("Case/1", "probe", 60, "", wait=True)
        assert token == 0
        with pytest.raises(CommitError) as refused:
            await CommitLayer(gate, lock_wait=0.01).commit(second_board, second, second_key, v2)
        gate.release.set()
    assert "'Case/1'" in str(refused.value)
    assert holder in str(refused.value)
    assert status(second_board, second_key) is None  # nothing was claimed or applied for the second
    assert gate.events == [f"start {first_key}", f"end {first_key}"]
    assert isinstance(await CommitLayer(gate, lock_wait=0.01).commit(second_board, second, second_key, v2), Commit)
