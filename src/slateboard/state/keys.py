"""Where each idempotency key stands: `KeyBook`, one fold of slateboard's own records, taken in one entry at a time.

There is one fold and three readers. `BoardState.ingest` feeds it, and the controller reads it (`CommitSteps`
judges, commits and takes a person's answers by it; `build_outcome` reports it); `observe.metrics` and
`observe.audit` feed the same fold from stored rows, so all three agree on every key by construction.

What a key is made of (each entry costs O(1), however long the log):

- Proposals. A proposal carries the key `Proposal.key(board)`. The live proposals are each author's newest per
  action and target; a key is live while a live proposal carries it. The key's `version` is the oldest live
  proposal carrying it; once none does (superseded), the newest that did; when no proposal of it could be read
  (a row of an unknown kind that is not a proposal's JSON), the version its newest verdict names.
- The verdict that counts is the newest verdict naming that version; a verdict of another version is kept but
  does not count. The approval request, the decision and the settling record (the newest `Commit`,
  `CommitFailure`, `DoubtResolved` or `Compensation`) are the key's newest, whatever version they were written for.

Its status: the policy's gate first, then the settlement. No verdict: "unjudged"; "deny": "rejected";
"escalate": "escalated"; "needs_approval" with no answer yet: "awaiting_approval"; a person's "rejected":
"rejected". Then, by the settling record: `Commit` "committed"; `Compensation` "compensated"; `CommitFailure`
"failed" (dead) or "in_doubt"; `DoubtResolved` applied "committed", not applied "authorized"; none "authorized"
(allowed or approved, to be committed).

A resolved doubt. Three folds of the log used to disagree on a `DoubtResolved(applied=True)` that no `Commit`
follows: the controller read it as "authorized" (the outcome said "not committed yet" and the next run committed
the key again through the ledger), the metrics kept the key in doubt and not applied (so a later compensation was
no rollback), and the audit listed it as committed. The one answer: a person who checked the sink and found the
key applied has settled it: it is "committed", applied to its sink, and never committed again. The `Commit` that
`controller.resolve` appends in the same batch adds the sink's name and receipt; the status does not wait for it.
A doubt resolved as not applied frees the key: "authorized" until the commit layer's next `Commit` or
`CommitFailure`. With a `Commit` after the resolution, either way, the key is "committed".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slateboard.blackboard.records import Record
from slateboard.errors import CommitError
from slateboard.state.proposal import Proposal
from slateboard.state.records import (
    ApprovalDecision,
    ApprovalRequest,
    Commit,
    CommitFailure,
    Compensation,
    DoubtResolved,
    Verdict,
)
from slateboard.state.vocabulary import KEY_OUTCOMES, PRESSING, KeyStatus, OutcomeStatus

__all__ = ("KEYED", "KeyBook", "KeyState", "KeyStatus")

_Settling = Commit | CommitFailure | DoubtResolved | Compensation
_Keyed = Verdict | ApprovalRequest | ApprovalDecision | _Settling
KEYED: tuple[type[Record], ...] = (
    Verdict, ApprovalRequest, ApprovalDecision, Commit, CommitFailure, DoubtResolved, Compensation,
)  # fmt: skip
"""slateboard's own records that name an idempotency key: with proposals, what the fold takes in."""


@dataclass
class KeyState:
    """Everything the log says about one idempotency key: its proposals, the policy's and people's answers, and
    what happened at its sink (`last` is the newest settling record), with the history flags metrics count."""

    key: str
    proposals: dict[int, Proposal] = field(default_factory=dict)  # every proposal that carried it, by version
    live: list[int] = field(default_factory=list)  # the live proposals carrying it, oldest first
    verdicts: dict[int, Verdict] = field(default_factory=dict)  # the newest verdict per proposal version
    request: ApprovalRequest | None = None
    decision: ApprovalDecision | None = None
    decision_version: int = 0
    last: _Settling | None = None
    commits: list[Commit] = field(default_factory=list)
    sinks: set[str] = field(default_factory=set)  # the sinks its commits name
    doubted: bool = False  # ever in doubt
    found_applied: bool = False  # a person found the sink had applied it
    compensated: bool = False  # ever undone
    judged: int = 0  # the proposal version its newest verdict names

    @property
    def version(self) -> int:
        """The proposal version the key stands for (see the module's docstring); 0 when nothing names one."""
        if self.live:
            return self.live[0]
        if self.proposals:
            return next(reversed(self.proposals))
        return self.judged

    @property
    def proposal(self) -> Proposal:
        """The proposal at `version` (`CommitError` for a key whose proposal could not be read)."""
        found = self.proposals.get(self.version)
        if found is None:
            raise CommitError(f"no proposal of idempotency key {self.key!r} could be read from the log")
        return found

    @property
    def verdict(self) -> Verdict | None:
        """The newest verdict on the proposal at `version`: the one that counts."""
        return self.verdicts.get(self.version)

    @property
    def is_live(self) -> bool:
        """A live proposal (its author's newest for its action and target) carries this key."""
        return bool(self.live)

    @property
    def applied(self) -> bool:
        """Applied to its sink, ever: a `Commit`, or a person found it applied (compensated keys included)."""
        return bool(self.commits) or self.found_applied

    @property
    def status(self) -> KeyStatus:
        """Where the key stands now: the policy's and people's gate first, then its settlement."""
        verdict = self.verdict
        if verdict is None:
            return "unjudged"
        if verdict.outcome == "deny":
            return "rejected"
        if verdict.outcome == "escalate":
            return "escalated"
        if verdict.outcome == "needs_approval" and self.decision is None:
            return "awaiting_approval"
        if self.decision is not None and self.decision.decision == "rejected":
            return "rejected"
        return self._settled()

    def _settled(self) -> KeyStatus:
        last = self.last
        if isinstance(last, Commit):
            return "committed"
        if isinstance(last, Compensation):
            return "compensated"
        if isinstance(last, CommitFailure):
            return "failed" if last.status == "dead" else "in_doubt"
        if isinstance(last, DoubtResolved) and last.applied:
            return "committed"
        return "authorized"  # nothing yet, or a doubt resolved as "not applied": commit it

    @property
    def to_commit(self) -> Proposal:
        """The proposal as it is to be applied: with a reviewer's edits, if any."""
        proposal = self.proposal
        if self.decision is not None and self.decision.decision == "approved" and self.decision.edits:
            return type(proposal)(**{**proposal.model_dump(), "changes": self.decision.changes})
        return proposal

    def describe(self) -> str:  # noqa: PLR0911 - one sentence per state
        """One line for an outcome's reasons: which proposal, and where it stands and why."""
        p = self.proposal
        head = f"Proposal v{self.version} {p.action} {p.target} (key {self.key})"
        status = self.status
        if status in ("rejected", "escalated") and self.decision is None and self.verdict is not None:
            return f"{head}: {status} by policy: " + "; ".join(map(str, self.verdict.reasons))
        if status == "rejected" and self.decision is not None:
            return f"{head}: rejected by {self.decision.reviewer}: {self.decision.reason}"
        if status == "awaiting_approval" and self.request is not None:
            return f"{head}: awaiting approval: {self.request.reason}"
        if isinstance(self.last, CommitFailure):
            return f"{head}: {status} after {self.last.attempts} attempt(s): {self.last.error}"
        if status == "authorized":
            return f"{head}: allowed, but not committed yet (run again to commit)"
        if status == "unjudged":
            return f"{head}: not judged yet (run again to judge it)"
        by = f", approved by {self.decision.reviewer}" if self.decision is not None else ""
        if isinstance(self.last, DoubtResolved):
            by += f", found applied by {self.last.reviewer}"
        return f"{head}: {status}{by}"

    def settle(self, record: _Settling) -> None:
        """Take in the key's next commit, failure, resolution or compensation."""
        self.last = record
        if isinstance(record, Commit):
            self.commits.append(record)
            self.sinks.add(record.sink)
        elif isinstance(record, CommitFailure):
            self.doubted |= record.status == "in_doubt"
        elif isinstance(record, DoubtResolved):
            self.found_applied |= record.applied
        else:
            self.compensated = True


class KeyBook:
    """Every idempotency key one board's log names, folded entry by entry: feed it with `ingest`, in log order.

    `keys` holds every key in the order the log first named it; `live()` the live ones, `judged` the proposal
    versions some verdict names.
    """

    def __init__(self) -> None:
        self.keys: dict[str, KeyState] = {}
        self.judged: set[int] = set()
        self._newest: dict[tuple[str, str, str], tuple[int, str]] = {}  # (author, action, target) -> version, key
        self._live: dict[str, KeyState] = {}
        self._live_versions: tuple[int, ...] | None = ()

    def ingest(self, board: str, version: int, author: str, record: Record) -> None:
        """Take in entry `version` of `board` (written by `author`); records that name no key are ignored."""
        if isinstance(record, Proposal):
            self._propose(board, version, author, record)
        elif isinstance(record, _Keyed):
            self._record(version, record)

    def _state(self, key: str) -> KeyState:
        found = self.keys.get(key)
        if found is None:
            found = self.keys[key] = KeyState(key)
        return found

    def _propose(self, board: str, version: int, author: str, proposal: Proposal) -> None:
        key = proposal.key(board)
        slot = (author, proposal.action, proposal.target)
        superseded = self._newest.get(slot)
        if superseded is not None:  # the author's earlier proposal for this action and target no longer stands
            old = self.keys[superseded[1]]
            old.live.remove(superseded[0])
            if not old.live:
                del self._live[old.key]
        self._newest[slot] = (version, key)
        found = self._state(key)
        found.proposals[version] = proposal
        found.live.append(version)  # versions arrive in order, so `live` stays sorted
        self._live[key] = found
        self._live_versions = None

    def _record(self, version: int, record: _Keyed) -> None:
        found = self._state(record.key)
        if isinstance(record, Verdict):
            found.verdicts[record.proposal] = record
            found.judged = record.proposal
            self.judged.add(record.proposal)
        elif isinstance(record, ApprovalRequest):
            found.request = record
        elif isinstance(record, ApprovalDecision):
            found.decision, found.decision_version = record, version
        else:
            found.settle(record)

    def withdraw(self, version: int) -> str | None:
        """The proposal at `version` no longer stands (its evidence was retracted): unless its key was applied, the
        key leaves the live set as a superseded one does; its key when it did. Any other version is ignored."""
        for slot, (live, key) in self._newest.items():
            if live != version:
                continue
            found = self.keys[key]
            if found.applied:
                return None
            del self._newest[slot]
            found.live.remove(version)
            if not found.live:
                del self._live[key]
            self._live_versions = None
            return key
        return None

    def live_versions(self) -> tuple[int, ...]:
        """Versions of the live proposals (each author's newest per action and target), in log order."""
        if self._live_versions is None:
            self._live_versions = tuple(sorted(version for version, _ in self._newest.values()))
        return self._live_versions

    def live(self) -> list[KeyState]:
        """The live keys, in the log order of their `version`."""
        return sorted(self._live.values(), key=lambda k: k.version)

    def live_key(self, key: str) -> KeyState | None:
        """`key`'s state, if a live proposal carries it."""
        return self._live.get(key)

    def run_status(self) -> OutcomeStatus | None:
        """The run's status from its live keys: the most pressing one counts (None when there are none)."""
        present = {KEY_OUTCOMES[k.status] for k in self._live.values()}
        return next((s for s in PRESSING if s in present), None)

    def pending(self) -> list[KeyState]:
        """Live keys allowed (or approved) whose commit has not happened yet, in log order."""
        return [k for k in self.live() if k.status == "authorized"]
