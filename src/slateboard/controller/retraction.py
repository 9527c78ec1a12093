"""Retracting a source: `retract` records it, and the controller takes it into account on each board.

`retract(blackboard, "kb-7", version="2", reason=..., by="ana")`:

1. appends the notice to the store-wide board `RETRACTIONS_BOARD` (durable, hash-chained, auditable);
2. appends a `Retraction` entry to every board with a finding that cites the source (that version, when one is
   named), listing the findings it leaves stale there (those that cite it and those derived from them) and the
   keys already committed on them;
3. returns a `RetractionReport`: per board, what is stale and which commits rested on it.

Nothing is edited and nothing is undone. On its next run a board's controller treats its stale findings as absent
(`BoardState` sets them aside), so the agents whose inputs changed run again and the rules judge afresh; a proposal
that rested on them no longer stands. A commit that rested on them stays applied (the ledger never applies a key
twice): the controller escalates, naming each such commit, and a person decides (compensate it, or close the case
keeping it). A board that a notice has not reached yet (its findings came later, or it is new) records every
notice it lacks when a run starts (`record_retractions`), so findings written afterwards that cite the source are
stale as soon as they land. Staleness comes only from log entries: `replay` sees what the run saw.
"""

from __future__ import annotations

import copy
import json
import threading
import weakref
from collections.abc import Sequence

from slateboard._internal.sync import sync_function
from slateboard.blackboard.board import Blackboard, Board
from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.records import FrozenModel, Record
from slateboard.blackboard.stores.base import Store, call_read, call_store
from slateboard.errors import ConfigurationError, SlateboardError, StaleVersionError
from slateboard.state.impact import BoardImpact, impact
from slateboard.state.projection import BoardState, append
from slateboard.state.records import Reason
from slateboard.state.retractions import RETRACTIONS_BOARD, RETRACTOR, Retraction, SourceRef

__all__ = ("RetractionReport", "record_retractions", "retract", "retract_sync", "stale_commit_reasons")

_ATTEMPTS = 20


class RetractionReport(FrozenModel):
    """What `retract` recorded: the notice (its version on `RETRACTIONS_BOARD`) and each board it concerns."""

    source: str
    version: str | None
    reason: str
    by: str
    notice: int
    boards: tuple[BoardImpact, ...]

    @property
    def commits(self) -> int:
        """How many commits rested on what is now stale, over every board."""
        return sum(len(b.commits) for b in self.boards)

    def lines(self) -> list[str]:
        """The report for people: a head line, then one line per board."""
        ref = SourceRef(self.source, self.version)
        head = f"retracted {ref} (notice v{self.notice} of {RETRACTIONS_BOARD}) by {self.by}: {self.reason}"
        body = [f"  {b.describe()}" for b in self.boards]
        tail = f"{len(self.boards)} board(s) affected, {self.commits} commit(s) rested on stale findings"
        if self.commits:
            tail += ": they stand until a person compensates them or closes the case"
        return [head, *body, tail]


async def retract(
    blackboard: Blackboard, source: str, *, version: str | None = None, reason: str, by: str = RETRACTOR
) -> RetractionReport:
    """Retract `source` (only its `version`, when given) for `reason`, on behalf of `by` (a person or a feed).

    Records the notice store-wide and a `Retraction` entry on every board with a finding that cites it; returns what
    became stale and the commits that rested on it. See the module's docstring for what the next run does.
    """
    ref = _checked(source, version)
    for what, value in (("reason", reason), ("by", by)):
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"a retraction's {what} must be a non-empty string, got {value!r}")
    notice = Retraction(source=ref.source, version=ref.version, reason=reason, by=by)
    entry = await blackboard.board(RETRACTIONS_BOARD).write(notice, author=by)
    affected = []
    for name in blackboard.boards():
        if name == RETRACTIONS_BOARD:
            continue
        found = await _record_on(blackboard.board(name), notice, entry.version)
        if found is not None:
            affected.append(found)
    return RetractionReport(
        source=ref.source, version=ref.version, reason=reason, by=by, notice=entry.version, boards=tuple(affected)
    )


retract_sync = sync_function(retract)
"""`retract` for scripts and notebooks without an event loop."""


def _checked(source: str, version: str | None) -> SourceRef:
    if not isinstance(source, str) or not source.strip():
        raise ConfigurationError(f"a source to retract must be a non-empty string, got {source!r}")
    if version is not None and (not isinstance(version, str) or not version.strip()):
        raise ConfigurationError(f"a retracted version must be a non-empty string or None, got {version!r}")
    return SourceRef(source, version)


async def _record_on(board: Board, notice: Retraction, number: int) -> BoardImpact | None:
    """Append the notice's `Retraction` to `board` if anything on it cites the source; retried if the board moves."""
    for _ in range(_ATTEMPTS):
        rows = await call_store(board.store.read, board.name, after=0, upto=None)
        found = impact(board.name, rows, notice.ref)
        if found is None:
            return None
        if any(_notice_of(row) == number for row in rows):  # a run starting meanwhile recorded it already
            return found.model_copy(update={"recorded": True})
        record = notice.model_copy(
            update={"notice": number, "stale": found.stale, "commits": tuple(c.key for c in found.commits)}
        )
        try:
            await board.write(record, author=notice.by, expected_version=len(rows))
        except StaleVersionError:
            continue  # a run wrote meanwhile: judge again what it wrote
        return found.model_copy(update={"recorded": True})
    raise SlateboardError(f"board {board.name!r} kept moving on while the retraction was written ({_ATTEMPTS} tries)")


def _notice_of(row: StoredEntry) -> int:
    return int(json.loads(row.payload).get("notice", 0)) if row.kind == Retraction.kind_name else 0


async def record_retractions(board: Board, state: BoardState) -> None:
    """Append to `board` every store-wide notice it has not recorded yet (a run starts with this), so its findings,
    those written later included, are judged against every retraction made so far."""
    if board.name == RETRACTIONS_BOARD:
        return
    notices = await _notices(board.store)
    while True:
        missing = [row for row in notices if row.version not in state.staleness.notices]
        if not missing:
            return
        records: list[tuple[Record, str]] = []
        staleness = copy.deepcopy(state.staleness)  # what each notice would leave stale, in order, untouched state
        for row in missing:
            payload = json.loads(row.payload)
            notice = Retraction(**{k: payload[k] for k in ("source", "version", "reason", "by") if k in payload})
            stale = staleness.retract(state.version + len(records) + 1, notice.ref)
            update = {"notice": row.version, "stale": tuple(sorted(stale)), "commits": _committed_on(state, stale)}
            records.append((notice.model_copy(update=update), notice.by))
        if await append(board, state, records):
            return


class _Notices:
    """The store-wide notices this process has read from one store, in version order. The board is append-only and
    hash-chained like any other, so a run start reads only the notices after the last one known (the head moves
    only when someone retracts), not the whole board again."""

    def __init__(self) -> None:
        self._rows: list[StoredEntry] = []
        self.version = 0  # the last notice known
        self._lock = threading.Lock()  # a store may serve several threads' event loops

    def add(self, rows: Sequence[StoredEntry]) -> tuple[StoredEntry, ...]:
        """Every notice known, with `rows` (read after a version already known, perhaps by another thread) added."""
        with self._lock:
            for row in rows:
                if row.version > self.version:
                    self._rows.append(row)
                    self.version = row.version
            return tuple(self._rows)


_read: weakref.WeakKeyDictionary[Store, _Notices] = weakref.WeakKeyDictionary()


async def _notices(store: Store) -> Sequence[StoredEntry]:
    """Every notice on `store`'s retraction board: one read of those after the ones this process knows."""
    try:
        known = _read.get(store)
        if known is None:
            known = _read.setdefault(store, _Notices())
    except TypeError:  # a store that cannot be a weak key (unhashable): read the whole board, as each run did
        return await call_store(store.read, RETRACTIONS_BOARD, after=0, upto=None)
    rows = await call_read(store.read, RETRACTIONS_BOARD, after=known.version, upto=None)
    return known.add(rows)


def _committed_on(state: BoardState, stale: frozenset[int]) -> tuple[str, ...]:
    keys = state.keys.keys.values()
    return tuple(k.key for k in keys if k.status == "committed" and not stale.isdisjoint(k.proposals))


def stale_commit_reasons(state: BoardState) -> tuple[Reason, ...]:
    """A reason for each key committed on a proposal that is now stale: the commit stands, and a person decides."""
    stale = state.staleness.stale
    if not stale:
        return ()
    refs = dict(state.staleness.standing)
    reasons = []
    for key in state.keys.keys.values():
        # The proposal the key stands for: a key proposed again on fresh evidence rests on that evidence now.
        version = key.version
        proposal = key.proposals.get(version)
        if proposal is None or version not in stale or key.status != "committed":
            continue
        because = state.staleness.because[version]
        message = (
            f"commit of {proposal.action} {proposal.target} (key {key.key}, proposal v{version}) rested on "
            f"findings made stale by the retraction of {refs[because]} (v{because}); the commit stands: a person "
            "decides whether to compensate it (controller.compensate) or keep it (settle close=...)"
        )
        reasons.append(Reason(rule="retraction", message=message))
    return tuple(reasons)
