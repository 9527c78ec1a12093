"""The controller's state: everything its decisions depend on, built entry by entry from the log.

The live controller and `replay` feed the same entries, in the same order, through `BoardState.ingest`, which
is why decisions replay identically. Ingesting an entry costs the same however long the log is, and the
lookups rules use (newest finding per kind, subject and author) do not scan it. Where each idempotency key stands
(proposals, verdicts, approvals, commits) is `state.keys`, the `KeyBook` that `observe` also folds from stored rows.

A person's `Settlement` is folded here too, so every rule sees it the same way: the findings it sets aside leave
every lookup (they are no longer evidence, for or against, nor input to an agent), and it stands on its subject
until a newer finding of the settled kinds arrives there (`standing`).

A retracted source (`Retraction`, state/retractions.py) sets aside the same way every finding that cites it or
derives from it (`staleness`); a stale proposal no longer stands unless its key was applied.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from slateboard.agents.spec import Agent
from slateboard.blackboard.board import Board
from slateboard.blackboard.entries import Entry
from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import Finding, Record
from slateboard.blackboard.view import BoardView
from slateboard.errors import StaleVersionError
from slateboard.state.events import log_entries
from slateboard.state.keys import KEYED, KeyBook
from slateboard.state.proposal import Proposal
from slateboard.state.records import INPUT_AUTHOR, AgentRun, Compensation, Decision, RunStarted, Settlement
from slateboard.state.retractions import Retraction, Staleness

__all__ = ("BoardState", "Provenance", "TaskKey", "append", "live_proposals")

TaskKey = tuple[str, str, tuple[tuple[int, ...], ...]]
_Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a finding comes from: its author, the agent-written findings it derives from, its cited sources."""

    author: str
    produced: bool
    upstream: frozenset[int]
    sources: frozenset[str]

    def independent_of(self, version: int, other: Provenance, other_version: int) -> bool:
        if self.author == other.author:
            return False
        if version in other.upstream or other_version in self.upstream or self.upstream & other.upstream:
            return False
        return not (len(self.sources) == 1 and self.sources == other.sources)


class BoardState:
    """Newest findings by kind, subject and author; agent runs; decisions; where each key stands (`keys`); and
    what changed since last asked."""

    def __init__(self, agents: Sequence[Agent]) -> None:
        self.agents = tuple(agents)
        self.version = 0
        self.now: datetime | None = None
        self.started_at: datetime | None = None
        self.decisions = 0
        self.cycles = 0
        self.agent_runs = 0
        self.model_cost = 0.0  # dollars the model-backed attempts cost so far (their AgentRun.usage)
        self.last_decision: Decision | None = None
        self.last_decision_version = 0
        self.last_finding_version = 0
        # Mappings, not necessarily dicts: a state revived from a snapshot reads these on demand (state/resume.py).
        self.findings: MutableMapping[int, Finding] = {}
        self.provenance: MutableMapping[int, Provenance] = {}
        self.proposals: list[int] = []
        self.keys = KeyBook()
        self.task_status: dict[TaskKey, str] = {}
        self.unresolved: dict[tuple[str, str], tuple[int, AgentRun]] = {}  # (agent, subject) -> last failed run
        self.candidates: set[tuple[int, str]] = set()  # (agent index, subject) that may have work
        self.touched: set[str] = set()
        self.input_subjects: dict[str, None] = {}  # ordered: the subjects the run's inputs are about
        self.last_answer_version = 0  # the newest Settlement: like a finding, it gives the controller news
        self.closed: tuple[int, Settlement] | None = None
        self.settlements: dict[str, list[tuple[int, Settlement]]] = {}  # subject -> standing (version, settlement)
        self.aside: set[int] = set()
        self.staleness = Staleness()  # findings made stale by a retracted source: set aside like a settlement's
        self._newest: dict[_Key, int] = {}
        self._per_author: dict[_Key, dict[str, int]] = {}
        self._all: dict[_Key, list[int]] = {}
        self._pending: tuple[str, frozenset[int], int] | None = None
        self._readers: dict[type[Record], tuple[int, ...]] = {}

    @classmethod
    def of(cls, view: BoardView, agents: Sequence[Agent] = ()) -> BoardState:
        """The state after every entry of `view` (for `agents`, when the agenda matters)."""
        state = cls(agents)
        for entry in view.entries():
            state.ingest(entry)
        return state

    def ingest(self, entry: Entry) -> None:
        """Take in the next entry of the log (entries must arrive in version order)."""
        version = entry.version
        self.version, self.now = version, entry.recorded_at
        record = entry.payload
        role = _roles.get(type(record)) or _role_of(type(record))
        # The staleness fold takes what `Staleness.record` would, by the role rather than by `isinstance` again.
        stale = _NOTHING
        if role.finding:
            finding = cast(Finding, record)
            self.last_finding_version = version
            self._ingest_finding(version, entry.author, finding)
            stale = self.staleness.finding(version, entry.author, finding.citations)
        elif role.run:
            run = cast(AgentRun, record)
            self._ingest_run(version, run)
            self.staleness.run(run.agent, run.inputs, ok=run.status == "ok", outputs=run.outputs)
        elif role.decision:
            decision = cast(Decision, record)
            self.decisions += 1
            self.cycles += decision.status == "continue"
            self.last_decision, self.last_decision_version = decision, version
        elif role.started:
            self.started_at = entry.recorded_at
        elif role.settlement:
            self._ingest_settlement(version, cast(Settlement, record))
        if role.keyed:
            self.keys.ingest(entry.board, version, entry.author, record)
        if role.retraction and not (role.finding or role.run):
            stale = self.staleness.record(version, entry.author, record)
        if stale or role.retraction:
            self._retire(version, stale, news=role.retraction)
        elif role.compensation and self.staleness.stale:
            self.last_answer_version = version  # a person undid a commit that rested on stale findings: go on

    def _retire(self, version: int, stale: frozenset[int], *, news: bool) -> None:
        """Stale findings leave every lookup, as set-aside ones do; a stale proposal no longer stands (unless it
        was applied: a commit stays, and the decision names it for a person). A retraction is news, like an answer."""
        if news:
            self.last_answer_version = version
        keys: set[_Key] = set()
        for v in stale:
            finding = self.findings[v]
            self.aside.add(v)
            keys.add((finding.kind_name, finding.subject))
            self.touched.add(finding.subject)
            self.keys.withdraw(v)
            for index in self._readers_of(type(finding)):
                self.candidates.add((index, finding.subject))
        for key in keys:
            self._reindex(key)
        if news:
            self._ask_again(stale)

    def _ask_again(self, stale: frozenset[int]) -> None:
        """The agents whose own findings a retraction made stale may run again on the same inputs (once: what they
        write then that cites a retracted source is stale on arrival, and does not ask again)."""
        asked = {(self.provenance[v].author, self.findings[v].subject) for v in stale if self.provenance[v].produced}
        for task in [t for t in self.task_status if (t[0], t[1]) in asked]:
            del self.task_status[task]
        for index, agent in enumerate(self.agents):
            self.candidates.update((index, subject) for name, subject in asked if name == agent.name)

    def _ingest_run(self, version: int, run: AgentRun) -> None:
        self.agent_runs += 1
        if run.usage is not None and run.usage.cost:
            self.model_cost += run.usage.cost
        self.task_status[(run.agent, run.subject, run.inputs)] = run.status
        # Rules may read how an agent's attempts went (a quorum names a failed agent), so a run touches its subject.
        self.touched.add(run.subject)
        key = (run.agent, run.subject)
        if run.status == "ok":
            self.unresolved.pop(key, None)
            if run.outputs:
                self._pending = (run.agent, self._upstream(v for vs in run.inputs for v in vs), run.outputs)
        else:
            self.unresolved[key] = (version, run)

    def _upstream(self, versions: Iterable[int]) -> frozenset[int]:
        found: set[int] = set()
        for v in versions:
            origin = self.provenance.get(v)
            if origin is not None:
                found |= origin.upstream
                if origin.produced:
                    found.add(v)
        return frozenset(found)

    def _ingest_finding(self, version: int, author: str, finding: Finding) -> None:
        produced, upstream = False, _NOTHING
        pending = self._pending
        if pending is not None and pending[0] == author:
            produced, upstream = True, pending[1]
            self._pending = (author, upstream, pending[2] - 1) if pending[2] > 1 else None
        elif author == INPUT_AUTHOR:
            self.input_subjects[finding.subject] = None
        citations = finding.citations
        sources = frozenset(c.source for c in citations) if citations else _NO_SOURCES
        self.provenance[version] = Provenance(author, produced, upstream, sources)
        self.findings[version] = finding
        key = (finding.kind_name, finding.subject)
        if self.settlements:
            self._reopen(finding)
        self._newest[key] = version
        per_author, every = self._per_author.get(key), self._all.get(key)
        if per_author is None or every is None:  # the first of its kind on its subject
            per_author, every = self._per_author.setdefault(key, {}), self._all.setdefault(key, [])
        per_author[author] = version
        every.append(version)
        if isinstance(finding, Proposal):
            self.proposals.append(version)
        self.touched.add(finding.subject)
        for index in self._readers_of(type(finding)):
            self.candidates.add((index, finding.subject))

    def _ingest_settlement(self, version: int, settlement: Settlement) -> None:
        self.last_answer_version = version
        if settlement.action == "close":
            self.closed = (version, settlement)
            return
        self.settlements.setdefault(settlement.subject, []).append((version, settlement))
        self.touched.add(settlement.subject)
        keys: set[_Key] = set()
        for v in settlement.set_aside:
            finding = self.findings.get(v)
            if finding is not None and v not in self.aside:
                self.aside.add(v)
                keys.add((finding.kind_name, finding.subject))
                # What its readers see changed: they may run again on what stands now.
                for index in self._readers_of(type(finding)):
                    self.candidates.add((index, finding.subject))
        for key in keys:
            self._reindex(key)

    def _reindex(self, key: _Key) -> None:
        """Rebuild one (kind, subject)'s lookups without the findings set aside."""
        kept = [v for v in self._all.get(key, []) if v not in self.aside]
        self._all[key] = kept
        per_author: dict[str, int] = {}
        for v in kept:
            per_author[self.provenance[v].author] = v
        self._per_author[key] = per_author
        if kept:
            self._newest[key] = kept[-1]
        else:
            self._newest.pop(key, None)

    def _reopen(self, finding: Finding) -> None:
        """New evidence of a settled kind on a settled subject: the settlement no longer stands there."""
        standing = self.settlements.get(finding.subject)
        if standing:
            kept = [(v, s) for v, s in standing if finding.kind_name not in s.kinds]
            self.settlements[finding.subject] = kept

    def _readers_of(self, kind: type[Record]) -> tuple[int, ...]:
        readers = self._readers.get(kind)
        if readers is None:
            readers = self._readers[kind] = _readers(kind, self.agents)
        return readers

    # Lookups used by rules and the agenda -------------------------------------------------------------

    def finding(self, version: int) -> Finding:
        return self.findings[version]

    def author(self, version: int) -> str:
        return self.provenance[version].author

    def newest(self, kind: type[Record], subject: str) -> int:
        """The version of the newest finding of `kind` (or a subclass) on `subject`, or 0."""
        kinds = registry.subclasses_of(kind)
        if len(kinds) == 1:  # most kinds have no subclass
            return self._newest.get((kinds[0].kind_name, subject), 0)
        return max((self._newest.get((k.kind_name, subject), 0) for k in kinds), default=0)

    def newest_per_author(self, kind: type[Record], subject: str) -> dict[str, int]:
        """Each author's newest finding of `kind` (or a subclass) on `subject`."""
        kinds = registry.subclasses_of(kind)
        if len(kinds) == 1:  # nothing to merge: a copy of the one kind's
            found = self._per_author.get((kinds[0].kind_name, subject))
            return found.copy() if found else {}
        merged: dict[str, int] = {}
        for k in kinds:
            for author, version in self._per_author.get((k.kind_name, subject), {}).items():
                merged[author] = max(version, merged.get(author, 0))
        return merged

    def every(self, kind: type[Record], subject: str) -> tuple[int, ...]:
        """Versions of every finding of `kind` (or a subclass) on `subject`, oldest first."""
        runs = [self._all.get((k.kind_name, subject), []) for k in registry.subclasses_of(kind)]
        return tuple(sorted(v for run in runs for v in run))

    def independent(self, versions: Sequence[int]) -> list[int]:
        """A deterministic set of mutually independent findings: each kept unless it depends on one kept before."""
        chosen: list[int] = []
        for version in versions:
            origin = self.provenance[version]
            if all(origin.independent_of(version, self.provenance[c], c) for c in chosen):
                chosen.append(version)
        return chosen

    def visible(self, kind_name: str, subject: str) -> tuple[int, ...]:
        """Versions of the findings of exactly `kind_name` on `subject` not set aside, oldest first."""
        return tuple(self._all.get((kind_name, subject), ()))

    def standing(self, subject: str) -> tuple[tuple[int, Settlement], ...]:
        """The settlements that still stand on `subject` (no newer finding of their kinds since), oldest first."""
        return tuple(self.settlements.get(subject, ()))

    def take_touched(self) -> list[str]:
        """Subjects that changed since the last call, sorted."""
        touched, self.touched = sorted(self.touched), set()
        return touched


async def append(board: Board, state: BoardState, records: list[tuple[Record, str]]) -> bool:
    """Append after the state's version; on a stale board, take in the other writer's entries and say so."""
    try:
        entries = await board.write_each(records, expected_version=state.version)
    except StaleVersionError:
        view = await board.view()
        for entry in view.since(state.version):
            state.ingest(entry)
        return False
    for entry in entries:
        state.ingest(entry)
    log_entries(entries)  # one log event per decision, verdict and commit, once it is on the board
    return True


def live_proposals(state: BoardState) -> tuple[int, ...]:
    """Versions of the proposals that stand: each author's newest per action and target, in log order.

    An agent that runs again on newer evidence supersedes its earlier proposal for the same action and target.
    """
    return state.keys.live_versions()


@dataclass(frozen=True, slots=True)
class _Role:
    """What `ingest` does with a record of one class, worked out once per class (`isinstance` on a pydantic model
    class costs a Python call; an entry would otherwise take nine)."""

    finding: bool
    run: bool
    decision: bool
    started: bool
    settlement: bool
    keyed: bool  # the key book takes it in (a proposal, or a record that names a key)
    retraction: bool
    compensation: bool


_roles: dict[type, _Role] = {}
_ROLES = 1024  # bounded: classes made at run time must not pile up
_NOTHING: frozenset[int] = frozenset()
_NO_SOURCES: frozenset[str] = frozenset()


def _role_of(cls: type) -> _Role:
    role = _Role(
        finding=issubclass(cls, Finding),
        run=issubclass(cls, AgentRun),
        decision=issubclass(cls, Decision),
        started=issubclass(cls, RunStarted),
        settlement=issubclass(cls, Settlement),
        keyed=issubclass(cls, (Proposal, *KEYED)),
        retraction=issubclass(cls, Retraction),
        compensation=issubclass(cls, Compensation),
    )
    if len(_roles) >= _ROLES:
        _roles.clear()
    _roles[cls] = role
    return role


# The agents (by index) that read a kind, per agent tuple: the same for every board a controller runs. Keyed by the
# tuple's id, and holding the tuple, so an id reused by another tuple is told apart; bounded.
_readers_by_agents: dict[tuple[type, int], tuple[tuple[Agent, ...], tuple[int, ...]]] = {}
_READERS = 4096


def _readers(kind: type[Record], agents: tuple[Agent, ...]) -> tuple[int, ...]:
    found = _readers_by_agents.get((kind, id(agents)))
    if found is not None and found[0] is agents:
        return found[1]
    readers = tuple(i for i, a in enumerate(agents) if any(issubclass(kind, k) for k in a.inputs))
    if len(_readers_by_agents) >= _READERS:
        _readers_by_agents.clear()
    _readers_by_agents[(kind, id(agents))] = (agents, readers)
    return readers
