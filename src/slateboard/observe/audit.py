"""What the `slateboard` command prints about a board: one line per entry for `run` and `demo`, the plain history
table, and the audit: the full timeline a reviewer needs, as data (`build_audit`) and as text (`render_audit`).

The audit is built from the store's rows, not from a `Board`, so it works where the finding kinds are not
importable: an entry whose kind is unknown here (or whose payload no longer validates) shows its payload as
stored, `typed: false`. Everything is rendered from the `Audit` document, so the text and `--json` say the same.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Literal

from rich.markup import escape
from rich.table import Table

from slateboard.blackboard import Entry
from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.records import Finding, FrozenModel, Record, decode_record
from slateboard.commit import ApprovalDecision, ApprovalRequest, Commit, CommitFailure, Proposal, Verdict
from slateboard.controller import AgentRun, Decision, RunStarted
from slateboard.errors import InvalidFindingError, UnknownFindingKindError
from slateboard.state.records import INPUT_AUTHOR, Compensation, DoubtResolved

__all__ = (
    "Audit", "AuditEvent", "Ref", "build_audit", "render_audit", "entry_line", "row_json", "history_table", "dump",
)  # fmt: skip

EventType = Literal[
    "input", "finding", "start", "run", "decision", "proposal", "verdict", "approval_request", "approval",
    "commit", "commit_failure", "doubt_resolved", "compensation", "record",
]  # fmt: skip
_TYPES: tuple[tuple[type[Record], EventType], ...] = (
    (RunStarted, "start"), (AgentRun, "run"), (Decision, "decision"), (Proposal, "proposal"), (Verdict, "verdict"),
    (ApprovalRequest, "approval_request"), (ApprovalDecision, "approval"), (Commit, "commit"),
    (CommitFailure, "commit_failure"), (DoubtResolved, "doubt_resolved"), (Compensation, "compensation"),
)  # fmt: skip
_LABELS = {"approval_request": "request", "commit_failure": "failure", "doubt_resolved": "resolved",
           "compensation": "undo"}  # fmt: skip


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

    `status` is the last decision's (at version `decided_at`); `waiting` the keys of approval requests nobody has
    answered; `committed` the keys applied to their sink and not undone since.
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
    requested: dict[str, None] = {}  # keys in the order they were asked about
    decided: set[str] = set()
    committed: dict[str, None] = {}
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
        elif isinstance(record, ApprovalRequest):
            requested[record.key] = None
        elif isinstance(record, ApprovalDecision):
            decided.add(record.key)
        elif isinstance(record, Commit) or (isinstance(record, DoubtResolved) and record.applied):
            committed[record.key] = None
        elif isinstance(record, Compensation):
            committed.pop(record.key, None)
        if kind in ("input", "finding", "proposal"):
            for cite in _citations(payload):
                version, locator = (None if x is None else str(x) for x in (cite.get("version"), cite.get("locator")))
                key = (str(cite.get("source")), version, bool(cite.get("approved")), locator)
                sources.setdefault(key, []).append(refs[row.version])
    return Audit(
        board=board,
        store=store,
        entries=len(rows),
        head=rows[-1].hash if rows else "",
        status=status,
        decided_at=decided_at,
        waiting=tuple(k for k in requested if k not in decided),
        committed=tuple(committed),
        timeline=tuple(events),
        agents=tuple(_agent_summary(name, runs) for name, runs in agents.items()),
        sources=tuple(
            SourceUse(source=s, version=v, approved=a, locator=loc, cited_by=tuple(by))
            for (s, v, a, loc), by in sources.items()
        ),
    )


def _citations(payload: Any) -> list[dict[str, Any]]:
    found = payload.get("citations", ()) if isinstance(payload, dict) else ()
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list | tuple) else []


def _agent_summary(name: str, runs: list[AuditEvent]) -> AgentSummary:
    return AgentSummary(
        agent=name,
        statuses=tuple(str(run.payload["status"]) for run in runs),
        read=tuple(sorted({r.version for run in runs for r in run.read})),
        wrote=tuple(r.version for run in runs for r in run.wrote),
    )


def dump(value: object) -> str:
    """Compact, stable JSON for a value shown inside a line."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _cite(c: dict[str, Any]) -> str:
    extra = [f"version {c['version']}" if c.get("version") else "", "approved" if c.get("approved") else "unapproved"]
    extra.append(str(c["locator"]) if c.get("locator") else "")
    return f"{c.get('source')} ({', '.join(e for e in extra if e)})"


def _refs(refs: tuple[Ref, ...]) -> str:
    return ", ".join(f"v{r.version} {r.kind} by {r.author}" for r in refs) or "nothing"


def _fields(payload: Any) -> str:
    if not isinstance(payload, dict):
        return repr(payload)
    shown = {k: v for k, v in payload.items() if k not in ("subject", "confidence", "citations")}
    return ", ".join(f"{k}={v!r}" for k, v in shown.items())


def _votes(votes: list[dict[str, Any]]) -> str:
    return "; ".join(f"{v['rule']} ({v['effect']}): {v['message']}" for v in votes)


def _event_lines(e: AuditEvent) -> list[str]:  # noqa: PLR0911, PLR0912 - one case per kind of entry
    p = e.payload
    if e.type in ("input", "finding"):
        confidence = p.get("confidence")
        fields = _fields(p)
        lines = [
            f"{e.kind} by {e.author} on {p.get('subject')!r} (confidence {confidence})" + (f": {fields}" * bool(fields))
        ]
        lines += [f"cites {_cite(c)}" for c in _citations(p)]
        return lines + ([] if e.typed else ["(kind not importable here: payload as stored)"])
    if e.type == "start":
        return [f"controller {p['controller']} with agents {', '.join(p['agents'])}", f"rules: {', '.join(p['rules'])}"]
    if e.type == "run":
        detail = f"{p['outputs']} finding(s)" if p["status"] == "ok" else p["error"]
        head = f"{p['agent']} on {p['subject']!r}, attempt {p['attempt']}: {p['status']} ({detail})"
        return [head, f"knew: {_refs(e.read)}"] + ([f"wrote: {_refs(e.wrote)}"] if e.wrote else [])
    if e.type == "decision":
        lines = [f"{p['status']} (cycle {p['cycle']})"]
        for r in p["reasons"]:
            if r["rule"] != "agenda":
                behind = [f"v{v}" for v in r["findings"]] + list(r["agents"])
                lines.append(f"fired {r['rule']}: {r['message']}" + (f" [{', '.join(behind)}]" if behind else ""))
        for task in p["agenda"]:
            versions = ", ".join(f"v{v}" for group in task["inputs"] for v in group)
            lines.append(f"next: {task['agent']} on {task['subject']!r}, reading {versions}")
        return lines
    if e.type == "proposal":
        head = f"{p['action']} {p['target']} by {e.author} (confidence {p['confidence']}): {dump(p['changes'])}"
        flags = ["irreversible" if not p["reversible"] else "", "requires approval" if p["requires_approval"] else ""]
        tail = [f"({', '.join(f for f in flags if f)})"] if any(flags) else []
        return [head, *tail, *(f"cites {_cite(c)}" for c in _citations(p))]
    if e.type == "verdict":
        head = f"{p['outcome']} for {p['action']} {p['target']} (proposal v{p['proposal']}, key {p['key']})"
        lines = [head, f"policy {p['policy']}, judged on the board at v{p['at']}", f"deciding: {_votes(p['reasons'])}"]
        others = [v for v in p["votes"] if v not in p["reasons"]]
        return lines + ([f"other votes: {_votes(others)}"] if others else [])
    if e.type == "approval_request":
        return [f"waits for a person: key {p['key']} (proposal v{p['proposal']}): {p['recommended']}", p["reason"]]
    if e.type == "approval":
        edits = f" with edits {dump(p['edits'])}" if p["edits"] else " without edits"
        lines = [f"{p['decision']} by {p['reviewer']} (key {p['key']}){edits if p['decision'] == 'approved' else ''}"]
        return lines + (
            [f"{'note' if p['decision'] == 'approved' else 'reason'}: {p['reason']}"] if p["reason"] else []
        )
    if e.type == "commit":
        head = f"{p['action']} {p['target']} to {p['sink']} (key {p['key']}, attempt(s) {p['attempts']})"
        return [head, f"changes: {dump(p['changes'])}", f"receipt: {dump(p['receipt'])}"]
    if e.type == "commit_failure":
        return [f"{p['status']}: {p['target']} (key {p['key']}, {p['attempts']} attempt(s)): {p['error']}"]
    if e.type == "doubt_resolved":
        said = "applied" if p["applied"] else "not applied"
        note = f"; note: {p['note']}" if p["note"] else ""
        return [f"key {p['key']} {said}, checked by {p['reviewer']}: receipt {dump(p['receipt'])}{note}"]
    if e.type == "compensation":
        return [
            f"{p['target']} undone by {p['reviewer']} (key {p['key']}): {p['reason']}; receipt {dump(p['receipt'])}"
        ]
    return [f"{e.kind} by {e.author}: {dump(p) if not isinstance(p, str) else p!r}"]


def render_audit(audit: Audit) -> list[str]:
    """The audit as Rich-markup lines: the timeline, then each agent, the sources cited and the board's state."""
    lines = [
        f"[bold]audit of {escape(repr(audit.board))}[/bold] in {escape(audit.store)}: {audit.entries} entries, "
        f"head {audit.head[:16]}"
    ]
    for e in audit.timeline:
        first, *rest = (escape(line) for line in _event_lines(e))
        lines.append(f"  v{e.version:<4}[bold]{_LABELS.get(e.type, e.type):<9}[/bold] {first}")
        lines += [f"{'':17}{line}" for line in rest]
    lines.append("[bold]agents[/bold]: what each knew and wrote")
    for a in audit.agents:
        said = ", ".join(f"{n} {s}" for s, n in Counter(a.statuses).items())
        knew, wrote = (", ".join(f"v{v}" for v in vs) or "nothing" for vs in (a.read, a.wrote))
        lines.append(escape(f"  {a.agent}: {len(a.statuses)} attempt(s) ({said}); knew {knew}; wrote {wrote}"))
    lines.append("[bold]sources cited[/bold]" + ("" if audit.sources else ": none"))
    for s in audit.sources:
        cite = _cite(s.model_dump())
        lines.append(escape(f"  {cite}: " + ", ".join(f"v{r.version} {r.kind} by {r.author}" for r in s.cited_by)))
    state = f"last decision {audit.status} at v{audit.decided_at}" if audit.status else "no decision yet"
    waiting = f"; waiting for a person: {', '.join(audit.waiting)}" if audit.waiting else ""
    lines.append(escape(f"state: {state}; {len(audit.committed)} key(s) committed{waiting}"))
    return lines


def _commit_line(entry: Entry) -> str | None:  # noqa: PLR0911 - one line per record kind
    record, v = entry.payload, f"  v{entry.version:<3}"
    if isinstance(record, Verdict):
        why = "; ".join(str(r) for r in record.reasons)
        said = f"{record.outcome} for {record.action} {record.target} (v{record.proposal}): {why}"
        return f"{v} [bold]verdict[/bold]  {escape(said)}"
    if isinstance(record, ApprovalRequest):
        return f"{v} approval requested for key {record.key}: {escape(record.recommended)}"
    if isinstance(record, ApprovalDecision):
        changes = dump(record.changes) if record.edits else ""
        return f"{v} approval   {record.decision} by {escape(record.reviewer)} {escape(changes)}"
    if isinstance(record, Commit):
        what = f"{record.action} {record.target} to {record.sink}: receipt {dump(record.receipt)}"
        return f"{v} [bold]commit[/bold]   {escape(what)}"
    if isinstance(record, CommitFailure):
        return f"{v} [red]commit {record.status}[/red] {escape(f'{record.target}: {record.error}')}"
    if isinstance(record, Proposal):
        return f"{v} proposal {escape(f'{record.action} {record.target} by {entry.author}: {dump(record.changes)}')}"
    return None


def entry_line(entry: Entry) -> str:
    """One Rich-markup line for an entry of a typed history (what `run` and `demo` print)."""
    record = entry.payload
    line = _commit_line(entry)
    if line is not None:
        return line
    v = f"  v{entry.version:<3}"
    if isinstance(record, Decision):
        why = "; ".join(str(r) for r in record.reasons)
        return f"{v} [bold]decision[/bold] {escape(f'{record.status}: {why}')}"
    if isinstance(record, AgentRun):
        detail = f"{record.outputs} finding(s)" if record.status == "ok" else record.error
        said = f"{record.agent} on {record.subject!r}, attempt {record.attempt}: {record.status} ({detail})"
        return f"{v} run      {escape(said)}"
    if isinstance(record, RunStarted):
        return f"{v} start    controller {record.controller} with {escape(', '.join(record.agents))}"
    fields = record.model_dump(exclude={"subject", "confidence", "citations", "description"})
    shown = ", ".join(f"{k}={val!r}" for k, val in fields.items())
    confidence = getattr(record, "confidence", None)
    return f"{v} finding  {escape(f'{entry.kind} by {entry.author}: {shown} (confidence {confidence})')}"


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


def history_table(board: str, rows: list[StoredEntry]) -> Table:
    """The plain history: one row per entry, whatever its kind (kinds need not be importable)."""
    table = Table(title=f"history of {escape(board)}", title_justify="left")
    # Numbers, times and hashes keep their width; names give way when the terminal is narrow.
    fixed = {"v": len(str(len(rows))), "confidence": 10, "cites": 5, "recorded at (UTC)": 19, "hash": 16}
    for column in ("v", "kind", "author", "subject", "confidence", "cites", "recorded at (UTC)", "hash"):
        justify: Literal["left", "right"] = "right" if column in ("v", "confidence") else "left"
        table.add_column(column, no_wrap=True, justify=justify, min_width=fixed.get(column))
    for row in rows:
        payload = row_json(row)["payload"]
        payload = payload if isinstance(payload, dict) else {}
        confidence = payload.get("confidence")
        table.add_row(
            str(row.version),
            escape(row.kind),
            escape(row.author),
            escape(str(payload.get("subject", ""))),
            f"{confidence:.2f}" if isinstance(confidence, int | float) else "",
            str(len(_citations(payload))),
            row.recorded_at[:19].replace("T", " "),
            row.hash[:16],
        )
    return table
