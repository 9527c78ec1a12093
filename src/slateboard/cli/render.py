"""How the `slateboard` command shows a board: one line per entry for `run`, a run's outcome, the plain history
table, and the audit as Rich-markup lines (every line rendered from the `Audit` document, so the text and `--json`
say the same)."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from rich.table import Table

from slateboard.blackboard.entries import Entry, StoredEntry
from slateboard.blackboard.records import Finding
from slateboard.cli.console import shown as escape  # markup and control characters, in every user string
from slateboard.controller.outcomes import Outcome
from slateboard.observe.audit import Audit, citations_of, row_json
from slateboard.observe.words import cite, dump, event_lines
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
           "compensation": "undo", "settlement": "settled", "retraction": "retracted"}  # fmt: skip


def render_audit(audit: Audit) -> list[str]:
    """The audit as Rich-markup lines: the timeline, then each agent, the sources cited and the board's state."""
    lines = [
        f"[bold]audit of {escape(repr(audit.board))}[/bold] in {escape(audit.store)}: {audit.entries} entries, "
        f"head {audit.head[:16]}"
    ]
    for e in audit.timeline:
        first, *rest = (escape(line) for line in event_lines(e))
        lines.append(f"  v{e.version:<4}[bold]{_LABELS.get(e.type, e.type):<9}[/bold] {first}")
        lines += [f"{'':17}{line}" for line in rest]
    lines.append("[bold]agents[/bold]: what each knew and wrote")
    for a in audit.agents:
        said = ", ".join(f"{n} {s}" for s, n in Counter(a.statuses).items())
        knew, wrote = (", ".join(f"v{v}" for v in vs) or "nothing" for vs in (a.read, a.wrote))
        lines.append(escape(f"  {a.agent}: {len(a.statuses)} attempt(s) ({said}); knew {knew}; wrote {wrote}"))
    lines.append("[bold]sources cited[/bold]" + ("" if audit.sources else ": none"))
    for s in audit.sources:
        source = cite(s.model_dump())
        lines.append(escape(f"  {source}: " + ", ".join(f"v{r.version} {r.kind} by {r.author}" for r in s.cited_by)))
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
        return f"{v} approval requested for key {escape(record.key)}: {escape(record.recommended)}"
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
    waiting = outcome.approvals
    return lines + [f"waiting for a person: key {escape(r.key)}: {escape(r.recommended)}" for r in waiting]


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
