"""A board's audit: the full timeline a reviewer needs, as data (`build_audit`), for the command line, a notebook or
the review page (the command line's text rendering is slateboard.cli.render).

The audit is built from the store's rows, not from a `Board`, so it works where the finding kinds are not
importable: an entry whose kind is unknown here (or whose payload no longer validates) shows its payload as
stored, `typed: false`. Everything is rendered from the `Audit` document, so the text and `--json` say the same.
Where each idempotency key stands is the controller's own fold (`slateboard.state.keys.KeyBook`), fed from the rows
(a proposal of an unknown kind is read from its JSON: slateboard.observe.rows).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from slateboard.blackboard.board import Blackboard
from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.records import Finding, FrozenModel, Record, decode_record
from slateboard.errors import InvalidFindingError, UnknownFindingKindError
from slateboard.observe.rows import board_rows, take
from slateboard.state.impact import withdraw_stale
from slateboard.state.keys import KeyBook
from slateboard.state.proposal import Proposal
from slateboard.state.records import (
    INPUT_AUTHOR,
    AgentRun,
    ApprovalDecision,
    ApprovalRequest,
    Commit,
    CommitFailure,
    Compensation,
    Decision,
    DoubtResolved,
    RunStarted,
    Settlement,
    Verdict,
)
from slateboard.state.retractions import Retraction

__all__ = (
    "Audit",
    "AuditEvent",
    "AgentSummary",
    "EventType",
    "Ref",
    "SourceUse",
    "build_audit",
    "citations_of",
    "row_json",
)

EventType = Literal[
    "input", "finding", "start", "run", "decision", "proposal", "verdict", "approval_request", "approval",
    "commit", "commit_failure", "doubt_resolved", "compensation", "settlement", "retraction", "record",
]  # fmt: skip
_TYPES: tuple[tuple[type[Record], EventType], ...] = (
    (RunStarted, "start"), (AgentRun, "run"), (Decision, "decision"), (Proposal, "proposal"), (Verdict, "verdict"),
    (ApprovalRequest, "approval_request"), (ApprovalDecision, "approval"), (Commit, "commit"),
    (CommitFailure, "commit_failure"), (DoubtResolved, "doubt_resolved"), (Compensation, "compensation"),
    (Settlement, "settlement"), (Retraction, "retraction"),
)  # fmt: skip


class Ref(FrozenModel):
    """An entry another one points at: its version, kind and author."""

    version: int
    kind: str
    author: str


class AuditEvent(FrozenModel):
    """One entry of the board. `payload` is the record's fields (decoded and upcast when `typed`, else as stored);
    a `run` event lists the findings the agent read (`read`, from `AgentRun.inputs`) and wrote (`wrote`)."""

    version: int
    type: EventType
    kind: str
    author: str
    recorded_at: str
    hash: str
    typed: bool
    payload: Any
    read: tuple[Ref, ...] = ()
    wrote: tuple[Ref, ...] = ()


class AgentSummary(FrozenModel):
    """What one agent did on the board: each attempt's status, every version it read and wrote."""

    agent: str
    statuses: tuple[str, ...]
    read: tuple[int, ...]
    wrote: tuple[int, ...]


class SourceUse(FrozenModel):
    """A cited source and the findings (and proposals) that cite it."""

    source: str
    version: str | None = None
    approved: bool = False
    locator: str | None = None
    cited_by: tuple[Ref, ...]


class Audit(FrozenModel):
    """A board's audit: the timeline, what each agent did, the sources cited, and where the board stands.

    `status` is the last decision's (at version `decided_at`); `waiting` the keys awaiting a person's approval, and
    `committed` the keys applied to their sink and not undone since: the keys whose status
    (slateboard.state.keys) is "awaiting_approval" or "committed", in the order the log first names them.
    """

    board: str
    store: str
    entries: int
    head: str
    status: str | None
    decided_at: int | None
    waiting: tuple[str, ...]
    committed: tuple[str, ...]
    timeline: tuple[AuditEvent, ...]
    agents: tuple[AgentSummary, ...]
    sources: tuple[SourceUse, ...]


def _decode(row: StoredEntry) -> tuple[Record | None, Any]:
    try:
        record = decode_record(row.kind, row.schema_version, row.payload, where=f"version {row.version}")
    except (UnknownFindingKindError, InvalidFindingError):
        try:
            return None, json.loads(row.payload)
        except json.JSONDecodeError:
            return None, row.payload  # not JSON at all: shown as the text stored
    return record, record.model_dump(mode="json")


def _event_type(record: Record | None, payload: Any, author: str) -> EventType:
    if record is not None:
        for cls, name in _TYPES:
            if isinstance(record, cls):
                return name
    finding_like = isinstance(record, Finding) or (
        record is None and isinstance(payload, dict) and {"subject", "confidence"} <= payload.keys()
    )
    if not finding_like:
        return "record"
    return "input" if author == INPUT_AUTHOR else "finding"


def build_audit(board: str, store: str, rows: list[StoredEntry]) -> Audit:
    """The audit of `board` from its stored `rows` (all of them, in version order)."""
    refs = {row.version: Ref(version=row.version, kind=row.kind, author=row.author) for row in rows}
    events: list[AuditEvent] = []
    sources: dict[tuple[Any, ...], list[Ref]] = {}
    agents: dict[str, list[AuditEvent]] = {}
    book = KeyBook()
    status: str | None = None
    decided_at: int | None = None
    for row in rows:
        record, payload = _decode(row)
        kind = _event_type(record, payload, row.author)
        read: tuple[Ref, ...] = ()
        wrote: tuple[Ref, ...] = ()
        if isinstance(record, AgentRun):
            read = tuple(refs[v] for group in record.inputs for v in group if v in refs)
            wrote = tuple(refs[v] for v in range(row.version + 1, row.version + 1 + record.outputs) if v in refs)
        event = AuditEvent(
            version=row.version, type=kind, kind=row.kind, author=row.author, recorded_at=row.recorded_at,
            hash=row.hash, typed=record is not None, payload=payload, read=read, wrote=wrote,
        )  # fmt: skip
        events.append(event)
        if isinstance(record, AgentRun):
            agents.setdefault(record.agent, []).append(event)
        elif isinstance(record, Decision):
            status, decided_at = record.status, row.version
        else:
            take(book, row, record)  # not decoded: a proposal of a kind unknown here is read from its JSON
        if kind in ("input", "finding", "proposal"):
            for cite in citations_of(payload):
                version, locator = (None if x is None else str(x) for x in (cite.get("version"), cite.get("locator")))
                key = (str(cite.get("source")), version, bool(cite.get("approved")), locator)
                sources.setdefault(key, []).append(refs[row.version])
    withdrawn = withdraw_stale(book, rows)  # proposals a retraction left stale wait for no one
    return Audit(
        board=board,
        store=store,
        entries=len(rows),
        head=rows[-1].hash if rows else "",
        status=status,
        decided_at=decided_at,
        waiting=tuple(k.key for k in book.keys.values() if k.status == "awaiting_approval" and k.key not in withdrawn),
        committed=tuple(k.key for k in book.keys.values() if k.status == "committed"),
        timeline=tuple(events),
        agents=tuple(_agent_summary(name, runs) for name, runs in agents.items()),
        sources=tuple(
            SourceUse(source=s, version=v, approved=a, locator=loc, cited_by=tuple(by))
            for (s, v, a, loc), by in sources.items()
        ),
    )


def board_audit(blackboard: Blackboard, board: str) -> Audit:
    """The audit of `board` in `blackboard`'s store: for a notebook or a page (`ConfigurationError` when the board
    has no entries). Kinds need not be importable: their payloads are shown as stored."""
    return build_audit(board, blackboard.url, board_rows(blackboard, board))


def citations_of(payload: Any) -> list[dict[str, Any]]:
    found = payload.get("citations", ()) if isinstance(payload, dict) else ()
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list | tuple) else []


def _agent_summary(name: str, runs: list[AuditEvent]) -> AgentSummary:
    return AgentSummary(
        agent=name,
        statuses=tuple(str(run.payload["status"]) for run in runs),
        read=tuple(sorted({r.version for run in runs for r in run.read})),
        wrote=tuple(r.version for run in runs for r in run.wrote),
    )


def row_json(row: StoredEntry) -> dict[str, Any]:
    """A stored row as JSON, its payload as stored (parsed when it is JSON)."""
    try:
        payload = json.loads(row.payload)
    except json.JSONDecodeError:
        payload = row.payload
    return {
        "version": row.version,
        "seq": row.seq,
        "kind": row.kind,
        "schema_version": row.schema_version,
        "author": row.author,
        "recorded_at": row.recorded_at,
        "payload": payload,
        "hash": row.hash,
    }
