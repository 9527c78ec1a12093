"""After evidence suffices: judge the live proposals, commit what is allowed, and take a person's answers.

Each step reads where every key stands from the state it holds (`state.keys`, the `KeyBook` folded as entries
arrive), does the next thing, and appends what it did after that state, so a crash or a rival worker at any point
leaves a log that the next run continues from. The ledger, not the board, is what keeps a key from being applied
twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import JsonValue

from slateboard.blackboard.board import Board
from slateboard.blackboard.stores.base import call_store
from slateboard.blackboard.stores.ledger import LedgerRow
from slateboard.blackboard.view import BoardView
from slateboard.commit.layer import CommitLayer
from slateboard.errors import ApprovalError, CommitError, InvalidFindingError, PolicyError
from slateboard.policies.context import PolicyContext, live_proposals
from slateboard.policies.policy import Policy
from slateboard.state.keys import KeyState
from slateboard.state.projection import BoardState, append
from slateboard.state.proposal import Proposal
from slateboard.state.records import (
    COMMIT_LAYER,
    ApprovalDecision,
    ApprovalRequest,
    Compensation,
    DoubtResolved,
    Verdict,
)

__all__ = ("CommitSteps", "approval_request")

Loader = Callable[[Board], Any]


def _check_person(board: Board, key: str, what: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ApprovalError(board.name, key, f"{what} must be a non-empty string, got {value!r}")


class CommitSteps:
    """The controller's commit side: a `Policy` and a `CommitLayer` (either may be None: nothing is committed)."""

    def __init__(self, policy: Policy | None, committer: CommitLayer | None, load: Loader) -> None:
        self.policy = policy
        self.committer = committer
        self._load = load

    async def settle(self, board: Board, state: BoardState) -> None:
        """Judge every unjudged live proposal, then commit every allowed or approved key not yet committed."""
        if self.policy is None:
            return
        await self._judge(board, state)
        await self._commit_pending(board, state)

    async def _judge(self, board: Board, state: BoardState) -> None:
        policy = self.policy
        if policy is None:
            return
        while True:
            view = await board.view(at=state.version)
            verdicts = policy.judge(view, state=state)
            if not verdicts:
                return
            records: list[tuple[Any, str]] = []
            for verdict in verdicts:
                records.append((verdict, COMMIT_LAYER))
                if verdict.outcome == "needs_approval":
                    records.append((approval_request(view, verdict), COMMIT_LAYER))
            if await append(board, state, records):
                return

    async def _commit_pending(self, board: Board, state: BoardState) -> None:
        skipped: set[str] = set()
        while True:
            pending = [k for k in state.keys.pending() if k.key not in skipped]
            if not pending or self.committer is None:
                return
            key = pending[0]
            try:
                result = await self.committer.commit(board, key.to_commit, key.key, key.version)
            except CommitError:
                skipped.add(key.key)  # e.g. the target stayed locked: the outcome says to run again
                continue
            await append(board, state, [(result, COMMIT_LAYER)])

    async def _key(self, board: Board, key: str) -> tuple[BoardState, BoardView, KeyState]:
        state: BoardState = await self._load(board)
        view = await board.view(at=state.version)
        found = state.keys.live_key(key)
        if found is None:
            known = ", ".join(sorted(k.key for k in state.keys.live())) or "none"
            raise ApprovalError(board.name, key, f"no live proposal has this key (keys on the board: {known})")
        return state, view, found

    async def decide(
        self,
        board: Board,
        key: str,
        *,
        reviewer: str,
        approve: bool,
        edits: Mapping[str, JsonValue] | None = None,
        reason: str = "",
    ) -> None:
        """Record a person's approval (then commit) or rejection of a key waiting for approval."""
        _check_person(board, key, "reviewer", reviewer)
        if not approve:
            _check_person(board, key, "a rejection's reason", reason)
        while True:
            state, view, found = await self._key(board, key)
            _check_waiting(board.name, found)
            decision = self._decision(view, state, found, reviewer, approve, dict(edits or {}), reason)
            if await append(board, state, [(decision, reviewer)]):
                break
        if approve:
            await self._commit_pending(board, state)

    def _decision(  # noqa: PLR0917 - private, called once
        self,
        view: BoardView,
        state: BoardState,
        found: KeyState,
        reviewer: str,
        approve: bool,
        edits: dict[str, JsonValue],
        reason: str,
    ) -> ApprovalDecision:
        if not approve:
            return ApprovalDecision(key=found.key, decision="rejected", reviewer=reviewer, reason=reason)
        edited = _edited(found.proposal, edits) if edits else found.proposal
        self._recheck(view, state, found, edited)
        return ApprovalDecision(
            key=found.key, decision="approved", reviewer=reviewer, edits=edits, changes=edited.changes, reason=reason
        )

    def _recheck(self, view: BoardView, state: BoardState, found: KeyState, edited: Proposal) -> None:
        """An approval does not override a veto: the (edited) proposal must pass every deny rule on the board now."""
        if self.policy is None:
            return
        author = view.entry(found.version).author
        context = PolicyContext(view, state, found.version, edited, author, live_proposals(state), self.policy.ranking)
        for rule in self.policy.rules:
            try:
                vote = rule.evaluate(context)
            except Exception as exc:  # a broken rule is not "no objection": refuse, naming it
                message = f"cannot approve {found.key!r}: the rule could not be evaluated ({type(exc).__name__}: {exc})"
                raise PolicyError(message, rule=rule.id) from exc
            if vote is not None and vote.effect == "deny":
                raise PolicyError(f"cannot approve {found.key!r}: {vote.message}", rule=vote.rule)

    async def resolve(
        self, board: Board, key: str, *, reviewer: str, applied: bool, receipt: JsonValue, note: str
    ) -> None:
        """A person's answer for an in-doubt commit: it was applied (record it) or not (commit it now)."""
        _check_person(board, key, "reviewer", reviewer)
        state, _, found = await self._key(board, key)
        if found.status != "in_doubt" or self.committer is None:
            raise ApprovalError(board.name, key, _not_in_doubt(found))
        row = await _ledger_row(board, key)
        if row is not None and row.status == "in_doubt":
            try:
                row = await self.committer.resolve(board, key, applied=applied, receipt=receipt)
            except CommitError:  # a rival answered first: go on from what it left in the ledger
                row = await _ledger_row(board, key)
        # Otherwise an earlier answer reached the ledger but not the board (its call was interrupted in
        # between): the ledger's state stands, and this answer is recorded against it.
        if applied and (row is None or row.status != "applied"):
            status = f"{row.status} ({row.error})" if row is not None else "never claimed"
            raise ApprovalError(
                board.name,
                key,
                f"an earlier answer reached the ledger, which has it {status}, not applied; "
                "resolve with applied=False to record that answer and let the commit layer settle the key",
            )
        resolved = DoubtResolved(key=key, applied=applied, reviewer=reviewer, receipt=receipt, note=note)
        records: list[tuple[Any, str]] = [(resolved, reviewer)]
        if applied:
            commit = await self.committer.commit(board, found.to_commit, key, found.version)
            records.append((commit, COMMIT_LAYER))
        await self._record(board, state, key, records, lambda k: k.status != "in_doubt")
        if not applied:
            await self._commit_pending(board, state)

    async def compensate(self, board: Board, key: str, *, reviewer: str, reason: str) -> None:
        """Undo a committed key through the sink's `compensate`, recorded as a forward entry."""
        _check_person(board, key, "reviewer", reviewer)
        _check_person(board, key, "a compensation's reason", reason)
        state, _, found = await self._key(board, key)
        if found.status != "committed" or self.committer is None:
            raise ApprovalError(board.name, key, f"is {found.status}, not committed: there is nothing to compensate")
        row = await _ledger_row(board, key)
        answer: Any = None
        if row is None or row.status != "compensated":
            try:
                answer = await self.committer.compensate(board, found.to_commit, key)
            except CommitError as exc:
                row = await _ledger_row(board, key)
                if row is None or row.status != "compensated":
                    raise
                raise ApprovalError(board.name, key, "was compensated by another call at the same time") from exc
        # else: an earlier call undid it and marked the ledger, but was interrupted before its record; the
        # sink is not asked twice, and its answer (lost with that call) is recorded as None.
        record = Compensation(key=key, target=found.proposal.target, reviewer=reviewer, reason=reason, receipt=answer)
        await self._record(board, state, key, [(record, reviewer)], lambda k: k.status == "compensated")

    async def retry(self, board: Board, key: str) -> None:
        """Give a dead-lettered key a fresh set of attempts."""
        state, _, found = await self._key(board, key)
        if found.status != "failed" or self.committer is None:
            raise ApprovalError(board.name, key, f"is {found.status}, not dead-lettered: there is nothing to retry")
        row = await _ledger_row(board, key)
        if row is not None and row.status == "dead":
            with contextlib.suppress(CommitError):  # a rival revived it first: the commit below joins it
                await self.committer.revive(board, key)
        # else: an earlier retry revived it and was interrupted; the ledger carries on from where it stopped.
        result = await self.committer.commit(board, found.to_commit, key, found.version)
        await self._record(board, state, key, [(result, COMMIT_LAYER)], lambda k: k.last == result)

    async def _record(
        self,
        board: Board,
        state: BoardState,
        key: str,
        records: list[tuple[Any, str]],
        done: Callable[[KeyState], bool],
    ) -> None:
        """Append `records` after `state`, unless a rival worker recorded the same step first (`done` holds)."""
        while not await append(board, state, records):
            found = state.keys.live_key(key)
            if found is None or done(found):
                return


async def _ledger_row(board: Board, key: str) -> LedgerRow | None:
    return await call_store(board.store.ledger.get, key)


def _check_waiting(board: str, found: KeyState) -> None:
    if found.request is None:
        raise ApprovalError(board, found.key, f"is {found.status}: it is not waiting for approval")
    if found.decision is not None:
        raise ApprovalError(
            board,
            found.key,
            f"was already {found.decision.decision} by {found.decision.reviewer} (v{found.decision_version})",
        )


def _edited(proposal: Proposal, edits: dict[str, JsonValue]) -> Proposal:
    if not all(isinstance(name, str) and name for name in edits):
        raise InvalidFindingError("edits", [("", "edit field names must be non-empty strings")])
    try:
        return type(proposal)(**{**proposal.model_dump(), "changes": {**proposal.changes, **edits}})
    except InvalidFindingError as exc:
        raise InvalidFindingError("edits", [(f"edits.{f}".rstrip("."), p) for f, p in exc.problems]) from exc


def approval_request(view: BoardView, verdict: Verdict) -> ApprovalRequest:
    """The request for a person's approval that a "needs_approval" verdict on `view` goes with."""
    proposal = view.entry(verdict.proposal).payload
    if not isinstance(proposal, Proposal):
        raise CommitError(f"entry v{verdict.proposal} is not a Proposal")
    changes = ", ".join(f"{name}={value!r}" for name, value in proposal.changes.items()) or "no field changes"
    return ApprovalRequest(
        key=verdict.key,
        proposal=verdict.proposal,
        recommended=f"{proposal.action} {proposal.target}: {changes}",
        action=proposal.action,
        target=proposal.target,
        changes=proposal.changes,
        confidence=proposal.confidence,
        citations=proposal.citations,
        reason="; ".join(map(str, verdict.reasons)),
    )


def _not_in_doubt(found: KeyState) -> str:
    said = f"is {found.status}, not in doubt: there is nothing to resolve"
    last = found.last
    if isinstance(last, DoubtResolved) and not last.applied:  # a rival's answer, its commit still to come
        said += f" ({last.reviewer} answered first that it was not applied; the commit layer is committing it now)"
    return said
