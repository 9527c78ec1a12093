"""How the `slateboard` command shows a board: one line per entry for `run`, a run's outcome, the plain history
table, and the audit as Rich-markup lines (every line rendered from the `Audit` document, so the text and `--json`
say the same)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Literal

from rich.markup import escape
from rich.table import Table

from slateboard.blackboard.entries import Entry, StoredEntry
from slateboard.blackboard.records import Finding
from slateboard.controller.outcomes import Outcome
from slateboard.observe.audit import Audit, AuditEvent, Ref, citations_of, row_json
from slateboard.state.proposal import Proposal
from slateboard.state.records import (
    AgentRun,
    ApprovalDecision,
    ApprovalRequest,
    Commit,
    CommitFailure,
    Decision,
    RunStarted,
    Settlement,
    Verdict,
)

__all__ = ("dump", "entry_line", "outcome_lines", "history_table", "render_audit")

_LABELS = {"approval_request": "request", "commit_failure": "failure", "doubt_resolved": "resolved",
           "compensation": "undo", "settlement": "settled"}  # fmt: skip


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
        lines += [f"cites {_cite(c)}" for c in citations_of(p)]
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
        return [head, *tail, *(f"cites {_cite(c)}" for c in citations_of(p))]
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
    if e.type == "settlement":
        return _settlement_lines(p)
    return [f"{e.kind} by {e.author}: {dump(p) if not isinstance(p, str) else p!r}"]


def _settlement_lines(p: dict[str, Any]) -> list[str]:
    """A person's answer to an escalation: what they chose or closed, and what was set aside."""
    if p["action"] == "close":
        head = f"closed by {p['reviewer']} (escalation v{p['escalation']}): {p['reason']}"
    else:
        verb = "chose" if p["action"] == "choose" else "corrected with"
        head = f"{p['reviewer']} {verb} v{p['chosen']} on {p['subject']!r} (escalation v{p['escalation']})"
    lines = [head]
    if p["set_aside"]:
        lines.append("set aside: " + ", ".join(f"v{v}" for v in p["set_aside"]))
    if p["rules"]:
        lines.append("settles: " + ", ".join(p["rules"]))
    return lines + ([f"note: {p['note']}"] if p["note"] else [])


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
    """One Rich-markup line for an entry of a typed history (what `run` prints)."""
    record = entry.payload
    line = _commit_line(entry)
    if line is not None:
        return line
    v = f"  v{entry.version:<3}"
    if isinstance(record, Settlement):
        return f"{v} [bold]settled[/bold]  {escape(record.describe(entry.version))}"
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
    confidence = record.confidence if isinstance(record, Finding) else None
    return f"{v} finding  {escape(f'{entry.kind} by {entry.author}: {shown} (confidence {confidence})')}"


def outcome_lines(outcome: Outcome, *, after_decision: bool = False) -> list[str]:
    """The outcome, its reasons and what waits for a person, as Rich-markup lines. `after_decision` leaves out the
    decision's reasons: a person's answer changes where the proposals stand, not why the evidence sufficed."""
    style = "green" if outcome.status in ("sufficient", "committed") else "yellow"
    lines = [f"outcome: [{style}]{outcome.status}[/{style}] at v{outcome.version}"]
    reasons = outcome.key_reasons if after_decision else outcome.reasons
    lines += [f"  - {escape(reason)}" for reason in reasons]
    return lines + [
        f"waiting for a person: key {request.key}: {escape(request.recommended)}" for request in outcome.approvals
    ]


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
            str(len(citations_of(payload))),
            row.recorded_at[:19].replace("T", " "),
            row.hash[:16],
        )
    return table
