"""The commit conformance suites: what every store's ledger and every sink must do for the commit layer.

Run `LedgerConformance` on every registered store (its ledger is `blackboard.store.ledger`) by mixing in
`OnRegisteredStores`, or say how to open a fresh blackboard on yours; subclass `SinkConformance` with a way to
make your sink (mixing in `OnRegisteredStores` too runs its commits on every registered store):

```python
class TestLedgers(OnRegisteredStores, LedgerConformance):
    pass

class TestMyLedger(LedgerConformance):
    def open_blackboard(self) -> Blackboard:
        return Blackboard(MyStore(...))

class TestMySink(OnRegisteredStores, SinkConformance):
    def make_sink(self) -> Sink | TransactionalSink:
        return MySink(...)
```

The ledger suite writes through `sinks.Table` to check that a sink inside the store's database commits with its
ledger row, so a store's `apply_atomically` must hand `Table` a `TableTransaction` whose writes commit or roll
back with the row. Checks use `check`, never `assert`, so the suite cannot pass vacuously under `python -O`.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slateboard.blackboard import Blackboard
from slateboard.blackboard.stores.ledger import Ledger, LedgerRow
from slateboard.blackboard.stores.tables import TableTransaction
from slateboard.commit.layer import CommitLayer
from slateboard.commit.sinks import Sink, Table, TransactionalSink, capabilities_of
from slateboard.errors import CommitError
from slateboard.state.proposal import Proposal
from slateboard.state.records import Commit
from slateboard.state.vocabulary import LEDGER_STATUSES
from slateboard.testing.conformance import OnRegisteredStores, check, check_equal

__all__ = ("LedgerConformance", "SinkConformance", "OnRegisteredStores", "proposal")

_STATUSES = LEDGER_STATUSES
_LONG = 60.0  # a lease that outlives any test


def proposal(target: str = "Case/1", **changes: Any) -> Proposal:
    """A proposal to `target` setting `changes` (a default change when none is given)."""
    return Proposal(subject=target, confidence=1.0, action="update", target=target, changes=changes or {"Status": "ok"})


def _row(key: str, status: str = "pending", params: str = "h1", target: str = "Case/1", fence: int = 1) -> LedgerRow:
    return LedgerRow(key, params, "b", target, status, fence=fence)  # type: ignore[arg-type]


def _recording(calls: list[object]) -> Callable[[TableTransaction], str]:
    """An apply function that only records that it was called (it must not be, for a key already applied)."""

    def apply(tx: TableTransaction) -> str:
        calls.append(tx)
        return "null"

    return apply


class LedgerConformance(ABC):
    """Behaviours every store's ledger and target locks give the commit layer; see the module docstring."""

    @abstractmethod
    def open_blackboard(self) -> Blackboard:
        """A new blackboard on a fresh, empty store."""

    def reopen(self, blackboard: Blackboard) -> Blackboard | None:
        """A second handle (its own connection) on the same storage; None where storage does not outlive it."""
        return None

    @contextmanager
    def ledger(self) -> Iterator[tuple[Blackboard, Ledger]]:
        blackboard = self.open_blackboard()
        try:
            yield blackboard, blackboard.store.ledger
        finally:
            blackboard.close()

    def test_claim_inserts_once(self) -> None:
        with self.ledger() as (_, ledger):
            check(ledger.get("k1", wait=True) is None, "an unknown key has no row")
            first = _row("k1", fence=3)
            check_equal(ledger.claim(first, wait=True), (first, True))
            # A second claim of the key returns the first row untouched, whatever the newcomer carried.
            again = ledger.claim(_row("k1", status="applied", fence=9), wait=True)
            check_equal(again, (first, False))
            check_equal(ledger.get("k1", wait=True), first)
            check_equal(ledger.rows(None, wait=True), [first])

    def test_same_key_with_other_params_is_refused(self) -> None:
        with self.ledger() as (_, ledger):
            first = _row("k1")
            ledger.claim(first, wait=True)
            with pytest.raises(CommitError, match="k1"):
                ledger.claim(_row("k1", params="h2"), wait=True)
            calls: list[object] = []
            with pytest.raises(CommitError, match="k1"):
                ledger.apply_atomically(_row("k1", params="h2"), _recording(calls), wait=True)
            check_equal(calls, [])
            check_equal(ledger.get("k1", wait=True), first)

    def test_transition_is_compare_and_set(self) -> None:
        with self.ledger() as (_, ledger):
            ledger.claim(_row("k1"), wait=True)
            before = ledger.get("k1", wait=True)
            check(ledger.transition("k1", ("failed", "dead"), {"status": "applied"}, wait=True) is None, "wrong status")
            check_equal(ledger.get("k1", wait=True), before)
            check(ledger.transition("nope", ("pending",), {"status": "applied"}, wait=True) is None, "unknown key")
            changes = {"status": "applied", "receipt": '{"r": 1}', "attempts": 2, "error": ""}
            moved = ledger.transition("k1", ("failed", "pending"), changes, wait=True)
            check(moved is not None, "the expected status moves")
            check_equal(moved, LedgerRow("k1", "h1", "b", "Case/1", "applied", 2, '{"r": 1}', "", 1))
            check_equal(ledger.get("k1", wait=True), moved)
            # The same compare-and-set again finds the key moved on: only one of two racing workers wins.
            check(ledger.transition("k1", ("pending",), {"status": "failed"}, wait=True) is None, "second CAS loses")
            check_equal(ledger.get("k1", wait=True), moved)
            with pytest.raises(CommitError, match="bogus"):
                ledger.transition("k1", ("applied",), {"bogus": 1}, wait=True)
            check_equal(ledger.get("k1", wait=True), moved)

    def test_apply_atomically_commits_the_row_and_the_write_together(self) -> None:
        table = Table("conformance")
        with self.ledger() as (bb, ledger):
            done = proposal("Case/1", Status="open")

            def apply(tx: TableTransaction) -> str:
                return json.dumps(table.apply_in(tx, done, "k1"))

            applied, created = ledger.apply_atomically(_row("k1"), apply, wait=True)
            check(created, "the first apply creates the row")
            check_equal((applied.status, applied.attempts), ("applied", 1))
            check_equal(json.loads(applied.receipt), {"table": "conformance", "target": "Case/1", "revision": 1})
            check_equal(ledger.get("k1", wait=True), applied)
            calls: list[object] = []
            check_equal(ledger.apply_atomically(_row("k1"), _recording(calls), wait=True), (applied, False))
            check_equal(calls, [])
            check_equal(table.rows(bb)["Case/1"]["data"], {"Status": "open"})

    def test_apply_atomically_rolls_back_both_when_apply_raises(self) -> None:
        table = Table("conformance")
        with self.ledger() as (bb, ledger):
            ledger.apply_atomically(
                _row("k1"), lambda tx: json.dumps(table.apply_in(tx, proposal("Case/1", A=1), "k1")), wait=True
            )
            before = table.rows(bb)

            def half_then_fail(tx: TableTransaction) -> str:
                table.apply_in(tx, proposal("Case/1", A=2), "k2")  # changes an existing row
                table.apply_in(tx, proposal("Case/2", B=1), "k2")  # and adds one
                Table("conformance_other").apply_in(tx, proposal("Case/3"), "k2")  # and a whole table
                raise RuntimeError("the sink failed halfway")

            with pytest.raises(RuntimeError, match="halfway"):
                ledger.apply_atomically(_row("k2"), half_then_fail, wait=True)
            check(ledger.get("k2", wait=True) is None, "no ledger row is left by a failed apply")
            check_equal(table.rows(bb), before)
            check_equal(Table("conformance_other").rows(bb), {})
            # Nothing of the failure remains: the key can still be applied.
            row, created = ledger.apply_atomically(
                _row("k2"), lambda tx: json.dumps(table.apply_in(tx, proposal("Case/2", B=1), "k2")), wait=True
            )
            check(created and row.status == "applied", "the key applies after the failed attempt")
            check_equal(table.rows(bb)["Case/2"]["revision"], 1)

    def test_rows_filters_by_status_in_key_order(self) -> None:
        with self.ledger() as (_, ledger):
            for number, status in enumerate(("failed", "pending", "applied", "pending", "dead")):
                ledger.claim(_row(f"k{4 - number}", status=status), wait=True)
            everything = ledger.rows(None, wait=True)
            check_equal([r.key for r in everything], ["k0", "k1", "k2", "k3", "k4"])
            check_equal([r.key for r in ledger.rows("pending", wait=True)], ["k1", "k3"])
            check_equal([r.key for r in ledger.rows("dead", wait=True)], ["k0"])
            check_equal(ledger.rows("in_doubt", wait=True), [])

    def test_fencing_tokens_strictly_increase_across_holders_and_releases(self) -> None:
        with self.ledger() as (_, ledger):
            tokens = []
            token, holder = ledger.acquire("T", "A", _LONG, "", wait=True)
            check_equal(holder, "A")
            tokens.append(token)
            check_equal(ledger.acquire("T", "B", _LONG, "", wait=True), (0, "A"))
            ledger.release("T", token + 100, wait=True)  # a stale or foreign token releases nothing
            check_equal(ledger.acquire("T", "B", _LONG, "", wait=True), (0, "A"))
            other, _ = ledger.acquire("U", "B", _LONG, "", wait=True)  # locks are per target
            check(other > 0, "another target is free")
            ledger.release("T", token, wait=True)
            for holder in ("B", "A", "B", "C"):
                token, got = ledger.acquire("T", holder, _LONG, "", wait=True)
                check_equal(got, holder)
                tokens.append(token)
                ledger.release("T", token, wait=True)
            check(all(0 < a < b for a, b in pairwise(tokens)), f"tokens increase: {tokens}")

    def test_an_expired_lease_can_be_taken(self) -> None:
        with self.ledger() as (_, ledger):
            old, _ = ledger.acquire("T", "A", 0.0, "", wait=True)  # a holder that vanished: its lease ran out
            new, holder = ledger.acquire("T", "B", _LONG, "", wait=True)
            check_equal(holder, "B")
            check(new > old, "the successor's token is higher")
            ledger.release("T", old, wait=True)  # the old holder waking up releases nothing of B's
            check_equal(ledger.acquire("T", "C", _LONG, "", wait=True), (0, "B"))

    def test_steal_takes_a_named_holders_lock_only(self) -> None:
        with self.ledger() as (_, ledger):
            old, _ = ledger.acquire("T", "A", _LONG, "", wait=True)
            check_equal(ledger.acquire("T", "B", _LONG, "someone-else", wait=True), (0, "A"))
            new, holder = ledger.acquire("T", "B", _LONG, "A", wait=True)
            check_equal(holder, "B")
            check(new > old, "the thief's token is higher")
            check_equal(ledger.acquire("T", "A", _LONG, "", wait=True), (0, "B"))

    def test_a_second_handle_sees_rows_and_locks(self) -> None:
        with self.ledger() as (bb, ledger):
            again = self.reopen(bb)
            if again is None:
                pytest.skip("this store does not outlive its handle")
            with again:
                other: Ledger = again.store.ledger
                ledger.claim(_row("k1"), wait=True)
                check_equal(other.claim(_row("k1", fence=7), wait=True), (_row("k1"), False))
                check(other.transition("k1", ("pending",), {"status": "applied"}, wait=True) is not None, "moves")
                check(ledger.transition("k1", ("pending",), {"status": "dead"}, wait=True) is None, "CAS across")
                token, _ = ledger.acquire("T", "A", _LONG, "", wait=True)
                check_equal(other.acquire("T", "B", _LONG, "", wait=True), (0, "A"))
                ledger.release("T", token, wait=True)
                later, _ = other.acquire("T", "B", _LONG, "", wait=True)
                check(later > token, "tokens keep increasing across handles")

    # Every subclass runs this method with its own fresh store, so differing executors share no state.
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.differing_executors])
    @given(
        script=st.lists(
            st.tuples(
                st.sampled_from(["k1", "k2", "k3"]),
                st.sampled_from(["claim", "claim-other", "transition"]),
                st.frozensets(st.sampled_from(_STATUSES), min_size=1, max_size=3),
                st.sampled_from(_STATUSES),
            ),
            max_size=30,
        )
    )
    def test_ledger_follows_a_model(self, script: list[tuple[str, str, frozenset[str], str]]) -> None:
        """Random claims and compare-and-sets agree with a dictionary that does the same."""
        model: dict[str, str] = {}
        with self.ledger() as (_, ledger):
            for key, operation, expect, status in script:
                if operation == "claim":
                    _, created = ledger.claim(_row(key, status=status), wait=True)
                    check_equal(created, key not in model)
                    model.setdefault(key, status)
                elif operation == "claim-other":
                    if key in model:
                        with pytest.raises(CommitError):
                            ledger.claim(_row(key, params="other"), wait=True)
                else:
                    moved = ledger.transition(key, sorted(expect), {"status": status}, wait=True)
                    check_equal(moved is not None, model.get(key) in expect)
                    if moved is not None:
                        model[key] = status
            check_equal({r.key: r.status for r in ledger.rows(None, wait=True)}, model)


class SinkConformance(ABC):
    """Behaviours every sink gives the commit layer: JSON receipts, one application per key, optional extras.

    `applications(sink, blackboard, key)` may count how often the sink applied a key (None: it cannot tell).
    """

    @abstractmethod
    def make_sink(self) -> Sink | TransactionalSink:
        """A new sink with nothing applied."""

    def open_blackboard(self) -> Blackboard:
        """The store the commits are recorded in (and, for a sink inside a database, written to)."""
        return Blackboard.open("memory://")

    def applications(self, sink: Any, blackboard: Blackboard, key: str) -> int | None:
        """How many times `sink` applied `key`, when the sink can tell."""
        return None

    @contextmanager
    def fresh(self) -> Iterator[tuple[Any, Blackboard]]:
        blackboard = self.open_blackboard()
        try:
            yield self.make_sink(), blackboard
        finally:
            blackboard.close()

    @pytest.mark.anyio
    async def test_apply_returns_a_json_receipt(self) -> None:
        with self.fresh() as (sink, _):
            if capabilities_of(sink).transactional:
                pytest.skip("a sink inside the store's database has no apply; the commit test checks its receipt")
            receipt = sink.apply(proposal("Direct/1", A=1), "direct-key")
            if inspect.isawaitable(receipt):
                receipt = await receipt
            text = json.dumps(receipt)  # raises unless the receipt is JSON
            check_equal(json.loads(text), receipt)

    @pytest.mark.anyio
    async def test_commit_applies_once_and_repeats_the_receipt(self) -> None:
        with self.fresh() as (sink, bb):
            board = bb.board("sink-conformance")
            change = proposal("Case/1", Status="open")
            key = change.key(board.name)
            version = (await board.write(change, author="agent")).version
            layer = CommitLayer(sink, attempts=1, backoff=0)
            first = await layer.commit(board, change, key, version)
            check(isinstance(first, Commit), f"the first commit applies: {first!r}")
            check_equal(json.loads(json.dumps(first.model_dump()["receipt"])), first.receipt)  # type: ignore[union-attr]
            await board.write(first, author="slateboard.commit")
            again = await layer.commit(board, change, key, version)
            check_equal(again, first)
            row = bb.store.ledger.get(key, wait=True)
            check(row is not None and row.status == "applied", "the ledger records the key as applied")
            check_equal(json.loads(row.receipt), first.receipt)  # type: ignore[union-attr]
            count = self.applications(sink, bb, key)
            check(count in (None, 1), f"applied {count} times")
            with pytest.raises(CommitError, match=key):
                await layer.commit(board, proposal("Case/1", Status="closed"), key, version)

    @pytest.mark.anyio
    async def test_lookup_when_offered_knows_applied_keys(self) -> None:
        with self.fresh() as (sink, bb):
            lookup = capabilities_of(sink).lookup
            if lookup is None:
                pytest.skip("the sink offers no lookup")
            board = bb.board("sink-conformance")
            change = proposal("Case/1")
            key = change.key(board.name)
            unknown = lookup(key)
            check((await unknown if inspect.isawaitable(unknown) else unknown) is None, "unknown key: None")
            await CommitLayer(sink).commit(board, change, key, 1)
            known = lookup(key)
            receipt = await known if inspect.isawaitable(known) else known
            check(receipt is not None, "an applied key is found")
            json.dumps(receipt)

    @pytest.mark.anyio
    async def test_compensate_when_offered_and_refused_when_not(self) -> None:
        with self.fresh() as (sink, bb):
            board = bb.board("sink-conformance")
            change = proposal("Case/1")
            key = change.key(board.name)
            layer = CommitLayer(sink)
            await layer.commit(board, change, key, 1)
            if capabilities_of(sink).compensate is None:
                with pytest.raises(CommitError, match="compensate"):
                    await layer.compensate(board, change, key)
                check_equal(bb.store.ledger.get(key, wait=True).status, "applied")  # type: ignore[union-attr]
                return
            answer = await layer.compensate(board, change, key)
            json.dumps(answer)
            check_equal(bb.store.ledger.get(key, wait=True).status, "compensated")  # type: ignore[union-attr]
            with pytest.raises(CommitError, match="compensated"):
                await layer.compensate(board, change, key)
