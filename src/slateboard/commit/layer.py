"""The commit layer: the only writer to the outside world, and it applies each idempotency key at most once.

For an allowed proposal it takes the target's lock (a lease with a fencing token), claims the key in the
ledger, calls the sink, and settles the key with the sink's receipt. The same key again returns the first
receipt; the same key with other parameters is an error. A sink that fails is retried within a bound, then
the key is dead-lettered with the error. A call whose result is unknown (a crash or a timeout after the sink
was called) is settled by the sink's `lookup`, repeated if the sink is `idempotent`, and otherwise marked in
doubt for a person: never silently applied twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, NoReturn

import anyio
import anyio.to_thread

from slateboard._internal import telemetry
from slateboard._internal.sync import sync_twin
from slateboard.blackboard.board import Board
from slateboard.blackboard.stores.base import call_store
from slateboard.blackboard.stores.ledger import Ledger, LedgerRow, TargetLocked, check_params
from slateboard.blackboard.stores.tables import TableTransaction
from slateboard.commit.calls import (
    SinkCall,
    error_text,
    holder_is_dead,
    lock_holder,
    receipt_text,
    run_tracked,
    without_secrets,
)
from slateboard.commit.releases import RELEASES
from slateboard.commit.sinks import Sink, SinkCapabilities, TransactionalSink, capabilities_of
from slateboard.errors import CommitError, ConfigurationError, SlateboardError
from slateboard.state.proposal import Proposal
from slateboard.state.records import Commit, CommitFailure

__all__ = ("CallPlan", "CommitLayer", "CommitTarget", "params_hash", "Settled")
_MAX_ATTEMPTS = 100  # far more than any sink deserves; bounds the lease, which doubles with each attempt
_MAX_SECONDS = 1e6  # about eleven days: any longer is a mistake (and NaN or infinity never ends)
_FIRST_PAUSE, _LONGEST_PAUSE = 0.005, 0.25  # seconds between asks for a locked target (see _acquire)

Settled = Commit | CommitFailure


@dataclass(frozen=True)
class CallPlan:
    """How the commit layer calls the sink for one proposal: `attempts` (with `backoff` seconds, doubling,
    between them), `timeout` per call (0: the sink bounds its own calls), and whether a call whose outcome is
    unknown may be repeated (`idempotent`). A `CommitLayer` has one plan; the tool registry has one per tool."""

    attempts: int
    backoff: float
    timeout: float
    idempotent: bool


def params_hash(proposal: Proposal) -> str:
    """What a key must always name: the action, the target and the changes."""
    canonical = json.dumps(
        {"action": proposal.action, "target": proposal.target, "changes": proposal.changes},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class CommitLayer:
    """Applies proposals to `sink` at most once per idempotency key, across crashes, retries and workers.

    `attempts` bounds the calls for one key before it is dead-lettered (with `backoff` seconds, doubling,
    between them); `timeout` bounds one call; `lock_wait` bounds the wait for another board's commit to the
    same target; `lease` is how long a lock outlives a holder that vanished without releasing it.
    """

    def __init__(
        self,
        sink: Sink | TransactionalSink,
        *,
        attempts: int = 3,
        backoff: float = 0.05,
        timeout: float = 30.0,
        lock_wait: float = 10.0,
        lease: float | None = None,
    ) -> None:
        capabilities = capabilities_of(sink)
        # Bounded: the lease below grows as 2**attempts, and NaN or infinity would never time out.
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= _MAX_ATTEMPTS:
            raise ConfigurationError(f"commit attempts must be an int from 1 to {_MAX_ATTEMPTS}, got {attempts!r}")
        for name, value in (("backoff", backoff), ("timeout", timeout), ("lock_wait", lock_wait)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= _MAX_SECONDS:
                raise ConfigurationError(f"commit {name} must be a number of seconds from 0 to 1e6, got {value!r}")
        self.sink = sink
        self.capabilities: SinkCapabilities = capabilities
        # One of the two, typed, so no call site needs to ask which kind of sink this is.
        self._inside = sink if isinstance(sink, TransactionalSink) else None
        self._outside = sink if self._inside is None and isinstance(sink, Sink) else None
        self.attempts = attempts
        self.backoff = float(backoff)
        self.timeout = float(timeout)
        self.lock_wait = float(lock_wait)
        self.lease = lease if lease is not None else (timeout + backoff * 2**attempts) * attempts * 2 + 1.0

    @property
    def sink_name(self) -> str:
        """The sink's name, as commit entries record it."""
        return self.capabilities.name

    @property
    def transactional(self) -> bool:
        """Whether the sink is inside the store's transaction (exactly once)."""
        return self.capabilities.transactional

    @property
    def idempotent(self) -> bool:
        """Whether the sink's outside system ignores a repeated key."""
        return self.capabilities.idempotent

    @property
    def lookup(self) -> Callable[[str], object] | None:
        """The sink's `lookup(key)`, when it offers one."""
        return self.capabilities.lookup

    def plan(self, proposal: Proposal) -> CallPlan:
        """How to call the sink for `proposal`; the same for every proposal here (a subclass may differ)."""
        return CallPlan(self.attempts, self.backoff, self.timeout, self.idempotent)

    async def commit(self, board: Board, proposal: Proposal, key: str, version: int) -> Settled:
        """Apply `proposal` (the entry at `version`) under `key`, or return how the key was settled before."""
        fields = {"key": key, "action": proposal.action, "target": proposal.target, "sink": self.sink_name}
        with telemetry.span("slateboard.commit", board=board.name, version=version, **fields) as span:
            settled = await self._commit(board, proposal, key, version)
            _trace_settled(span, settled)
            return settled

    async def _commit(self, board: Board, proposal: Proposal, key: str, version: int) -> Settled:
        ledger: Ledger = board.store.ledger
        row = LedgerRow(key, params_hash(proposal), board.name, proposal.target, "pending")
        known = await call_store(ledger.get, key)
        if known is not None:
            check_params(known, row)
            settled = self._settled(known, proposal, version)
            if settled is not None:
                return settled
        if self.transactional:
            # One transaction: it keeps every other writer out while it runs, so no lock need be written.
            with contextlib.suppress(TargetLocked):  # an outside commit holds the target: wait for it below
                applied = await self._apply_atomically(ledger, row, proposal)
                return self._settled(applied, proposal, version) or self._lost(key)
        token, holder = await self._acquire(ledger, proposal.target)
        try:
            return await self._commit_locked(ledger, replace(row, fence=token), proposal, version, holder)
        finally:
            await call_store(ledger.release, proposal.target, token)
            RELEASES.released(proposal.target)

    async def _apply_atomically(
        self, ledger: Ledger, row: LedgerRow, proposal: Proposal, holder: str = ""
    ) -> LedgerRow:
        """A sink inside the store: one transaction per attempt. An attempt whose sink raised was rolled back whole
        (nothing applied, no ledger row), so it is safe to retry, as an outside sink's refusal is; the last
        attempt's error propagates. A store that fails (StoreError) or a target another commit holds is not retried.
        """
        apply = partial(self._apply_in, proposal, row.key)
        attempts = self.plan(proposal).attempts
        for number in range(attempts):
            if number:
                await anyio.sleep(self.backoff * 2 ** (number - 1))
            try:
                applied, _ = await call_store(ledger.apply_atomically, row, apply, holder=holder)
            except (TargetLocked, SlateboardError):
                raise
            except Exception:
                if number == attempts - 1:
                    raise
                continue
            return applied
        return self._lost(row.key)  # unreachable: the loop returns or raises

    async def _acquire(self, ledger: Ledger, target: str) -> tuple[int, str]:
        holder = lock_holder()
        token, current = await call_store(ledger.acquire, target, holder, self.lease, "")
        if token:
            return token, holder
        # Locked: ask again after a pause that doubles up to a quarter of a second, cut short when a commit of this
        # thread releases the target (releases.py). The waiter is armed before each ask, so a release while an ask
        # is under way ends the pause after it at once.
        started, delay, steal = anyio.current_time(), _FIRST_PAUSE, ""
        with RELEASES.waiting(target) as waiter:
            while True:
                if holder_is_dead(current):
                    steal = current  # its process is gone: its lease need not run out first
                elif anyio.current_time() - started >= self.lock_wait:
                    raise CommitError(
                        f"target {target!r} stayed locked by another commit ({current}) for {self.lock_wait:g} s; "
                        "nothing was applied: run again to commit"
                    )
                else:
                    await waiter.pause(delay)
                    delay = min(delay * 2, _LONGEST_PAUSE)
                waiter.arm()
                token, current = await call_store(ledger.acquire, target, holder, self.lease, steal)
                if token:
                    return token, holder

    async def _commit_locked(
        self, ledger: Ledger, row: LedgerRow, proposal: Proposal, version: int, holder: str
    ) -> Settled:
        if self.transactional:
            applied = await self._apply_atomically(ledger, row, proposal, holder)
            return self._settled(applied, proposal, version) or self._lost(row.key)
        claimed, created = await call_store(ledger.claim, row)
        if not created:
            settled = self._settled(claimed, proposal, version)
            if settled is not None:
                return settled
            if claimed.status == "pending":  # its worker died (or timed out) between the call and its record
                settled = await self._interrupted(ledger, claimed, proposal, version)
                if settled is not None:
                    return settled
            changes = {"status": "pending", "fence": row.fence}
            taken = await call_store(ledger.transition, row.key, ("failed", "pending"), changes)
            if taken is None:
                again = await call_store(ledger.get, row.key)
                return (again and self._settled(again, proposal, version)) or self._lost(row.key)
            claimed = taken
        return await self._call_with_retries(ledger, claimed, proposal, version)

    async def compensate(self, board: Board, proposal: Proposal, key: str) -> object:
        """Undo an applied key through the sink's `compensate`; returns the sink's answer."""
        ledger: Ledger = board.store.ledger
        undo = self.capabilities.compensate
        row = await self._compensable(ledger, proposal, key)
        if undo is None:
            raise CommitError(f"sink {self.sink_name!r} offers no compensate(proposal, receipt); {key!r} stays applied")
        # Under the target's lock and re-read: two people compensating at once must not undo twice.
        token, _ = await self._acquire(ledger, row.target)
        try:
            row = await self._compensable(ledger, proposal, key)
            answer = await self._call(undo, proposal, json.loads(row.receipt))
            if await call_store(ledger.transition, key, ("applied",), {"status": "compensated"}) is None:
                self._lost(key)
        finally:
            await call_store(ledger.release, row.target, token)
            RELEASES.released(row.target)
        return answer

    async def _compensable(self, ledger: Ledger, proposal: Proposal, key: str) -> LedgerRow:
        row = await call_store(ledger.get, key)
        if row is None or row.status != "applied":
            status = row.status if row else "never committed"
            raise CommitError(f"idempotency key {key!r} cannot be compensated: it is {status}")
        check_params(row, replace(row, params_hash=params_hash(proposal)))
        return row

    async def resolve(self, board: Board, key: str, *, applied: bool, receipt: object = None) -> LedgerRow:
        """A person's answer for an in-doubt key: applied (settled with `receipt`) or not (free to apply again)."""
        ledger: Ledger = board.store.ledger
        changes: dict[str, Any] = {"status": "applied", "receipt": receipt_text(receipt), "error": ""}
        if not applied:
            changes = {"status": "failed", "error": "resolved as not applied"}
        row = await call_store(ledger.transition, key, ("in_doubt",), changes)
        if row is None:
            raise CommitError(f"idempotency key {key!r} is not in doubt; there is nothing to resolve")
        return row

    async def revive(self, board: Board, key: str) -> LedgerRow:
        """Give a dead-lettered key a fresh set of attempts (after the sink was fixed)."""
        ledger: Ledger = board.store.ledger
        row = await call_store(ledger.transition, key, ("dead",), {"status": "failed", "attempts": 0})
        if row is None:
            raise CommitError(f"idempotency key {key!r} is not dead-lettered; there is nothing to retry")
        return row

    commit_sync = sync_twin(commit)
    compensate_sync = sync_twin(compensate)
    resolve_sync = sync_twin(resolve)
    revive_sync = sync_twin(revive)

    def _apply_in(self, proposal: Proposal, key: str, tx: TableTransaction) -> str:
        if self._inside is None:  # unreachable: only a transactional sink's commit comes here
            raise CommitError(f"sink {self.sink_name!r} cannot write inside the store's transaction")
        with telemetry.span("slateboard.sink.call", key=key, sink=self.sink_name, transactional=True):
            return receipt_text(self._inside.apply_in(tx, proposal, key))

    async def _interrupted(
        self, ledger: Ledger, row: LedgerRow, proposal: Proposal, version: int, *, running: bool = False
    ) -> Settled | None:
        """Settle a key whose sink call may or may not have happened; None when it is safe to call again.

        `running`: the timed-out call is still going on in a worker thread, so a lookup that does not find the
        key proves nothing (the call may land after it); only an idempotent sink may then be called again.
        """
        if self.lookup is not None:
            receipt = await self._call(self.lookup, row.key)
            if receipt is not None:
                return await self._settle(ledger, row, "applied", proposal, version, receipt=receipt, counted=False)
            if not running:
                return None
        plan = self.plan(proposal)
        if plan.idempotent:
            return None
        error = f"the commit was interrupted after the sink was called (fence {row.fence}); a person must check"
        if running:
            error = (
                f"the sink's call was still running after {plan.timeout:g} s and may yet apply (fence {row.fence}); "
                "a person must check"
            )
        return await self._settle(ledger, row, "in_doubt", proposal, version, error=error, counted=False)

    async def _call_with_retries(self, ledger: Ledger, row: LedgerRow, proposal: Proposal, version: int) -> Settled:
        plan = self.plan(proposal)
        for number in range(plan.attempts):
            if number:
                await anyio.sleep(plan.backoff * 2 ** (number - 1))
                retaken = await call_store(ledger.transition, row.key, ("failed",), {"status": "pending"})
                if retaken is None:
                    return self._lost(row.key)
                row = retaken
            call = SinkCall()
            try:
                with anyio.fail_after(plan.timeout or None), self._traced_call(row, number):
                    receipt = await self._call(self._apply, proposal, row.key, call=call)
            except TimeoutError as exc:
                if call.stop_unless_started():
                    error = f"no answer within {plan.timeout:g} s (the call never started)"
                else:
                    # A sync sink's thread cannot be cancelled: it may still apply after the timeout.
                    running = not call.finished.is_set()
                    settled = await self._interrupted(ledger, row, proposal, version, running=running)
                    if settled is not None:
                        return settled
                    # A sink that bounds its own calls (the tool registry) says which call and how long.
                    error = without_secrets(str(exc)) or f"no answer within {plan.timeout:g} s"
            except anyio.get_cancelled_exc_class():
                # Cancelled from outside mid-call: the call may still land (a sync sink's thread runs on), so the
                # key must not look free to the next worker. Recorded even though this task is being cancelled.
                with anyio.CancelScope(shield=True):
                    await self._abandon(ledger, row, call, plan)
                raise
            except Exception as exc:  # the sink said no: nothing was applied, so a retry is safe
                error = error_text(exc)
            else:
                return await self._settle(ledger, row, "applied", proposal, version, receipt=receipt)
            row = await self._mark(ledger, row, "failed", error)
        return await self._settle(ledger, row, "dead", proposal, version, error=error, counted=False)

    def _traced_call(self, row: LedgerRow, number: int) -> telemetry.Span:
        return telemetry.span("slateboard.sink.call", key=row.key, sink=self.sink_name, attempt=number + 1)

    async def _abandon(self, ledger: Ledger, row: LedgerRow, call: SinkCall, plan: CallPlan) -> None:
        if call.stop_unless_started():
            await self._mark(ledger, row, "failed", "the commit was cancelled before the sink's call started")
            return
        if plan.idempotent:  # calling again with the same key is harmless: leave it to be retried
            await self._mark(ledger, row, "failed", "the commit was cancelled during the sink's call")
            return
        error = f"the commit was cancelled during the sink's call (fence {row.fence}); a person must check"
        changes = {"status": "in_doubt", "error": error, "attempts": row.attempts + 1}
        await call_store(ledger.transition, row.key, ("pending",), changes)

    async def _mark(self, ledger: Ledger, row: LedgerRow, status: str, error: str) -> LedgerRow:
        changes = {"status": status, "error": error, "attempts": row.attempts + 1}
        marked = await call_store(ledger.transition, row.key, ("pending",), changes)
        return marked or self._lost(row.key)

    async def _settle(
        self,
        ledger: Ledger,
        row: LedgerRow,
        status: str,
        proposal: Proposal,
        version: int,
        *,
        receipt: object = None,
        error: str = "",
        counted: bool = True,
    ) -> Settled:
        changes: dict[str, Any] = {"status": status, "receipt": receipt_text(receipt), "error": error}
        if counted:
            changes["attempts"] = row.attempts + 1
        settled = await call_store(ledger.transition, row.key, ("pending", "failed"), changes)
        if settled is None:
            return self._lost(row.key)
        return self._settled(settled, proposal, version) or self._lost(row.key)

    async def _call(self, fn: Any, *args: Any, call: SinkCall | None = None) -> Any:
        """Call a sink's function (async, inline, or in a worker thread), tracking it in `call` when given."""
        if self.capabilities.blocking and not inspect.iscoroutinefunction(fn):
            # The thread marks `call` itself: it may run on after this wait was given up.
            result = await anyio.to_thread.run_sync(partial(run_tracked, fn, args, call), abandon_on_cancel=True)
            return await result if inspect.isawaitable(result) else result
        if call is not None:
            call.enter()
        try:
            result = fn(*args)
            # A plain method that returns a coroutine (sinks.Function around an async function) must be awaited:
            # otherwise the sink never runs, yet its key would be recorded as applied.
            return await result if inspect.isawaitable(result) else result
        finally:
            if call is not None:
                call.finished.set()

    @property
    def _apply(self) -> Callable[[Proposal, str], object]:
        if self._outside is None:  # unreachable: a transactional sink's commit never calls apply
            raise CommitError(f"sink {self.sink_name!r} has no apply(proposal, key)")
        return self._outside.apply

    def _settled(self, row: LedgerRow, proposal: Proposal, version: int) -> Settled | None:
        """The board record for a key the ledger has settled; None while it still needs work."""
        if row.status in ("applied", "compensated"):
            return Commit(
                key=row.key,
                proposal=version,
                action=proposal.action,
                target=proposal.target,
                changes=proposal.changes,
                sink=self.sink_name,
                receipt=json.loads(row.receipt),
                attempts=row.attempts,
                fence=row.fence,
            )
        if row.status in ("dead", "in_doubt"):
            return CommitFailure(
                key=row.key,
                proposal=version,
                target=proposal.target,
                status=row.status,
                error=row.error,
                attempts=row.attempts,
            )
        return None

    @staticmethod
    def _lost(key: str) -> NoReturn:
        raise CommitError(f"idempotency key {key!r} was settled by another worker while this one held it")


def _trace_settled(span: telemetry.Span, settled: Settled) -> None:
    """Say on a commit's span how its key was settled; a key dead-lettered or left in doubt is an error."""
    if isinstance(settled, Commit):
        span.set(status="applied", attempts=settled.attempts, fence=settled.fence or None)
    else:
        span.set(status=settled.status, attempts=settled.attempts)
        span.fail(f"{settled.status}: {settled.error}")


# What a controller commits to: a sink, or a `CommitLayer` around one (for its retry and timeout options).
CommitTarget = Sink | TransactionalSink | CommitLayer
