"""The timeline screen's words: one headline and a few lines per entry of `observe.board_audit`'s timeline.

The entry's stored payload stays one click away (a `<details>` under each line); these lines only pick out what a
reviewer reads first: what an agent knew and wrote, which rules fired, the policy's deciding votes, who answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slateboard.observe import AuditEvent

__all__ = ("TimelineRow", "timeline_rows")


@dataclass(frozen=True)
class TimelineRow:
    """One entry as the screen shows it: the event, its headline and detail lines, and its payload as JSON."""

    event: AuditEvent
    headline: str
    lines: tuple[str, ...]
    payload: str


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _refs(event: AuditEvent, which: str) -> str:
    refs = event.read if which == "read" else event.wrote
    return ", ".join(f"v{r.version} {r.kind} by {r.author}" for r in refs) or "nothing"


def _words(e: AuditEvent) -> tuple[str, list[str]]:  # noqa: PLR0911 - one case per kind of entry
    p: Any = e.payload
    if not isinstance(p, dict):
        return f"{e.kind} by {e.author}", []
    if e.type in ("input", "finding"):
        fields = {k: v for k, v in p.items() if k not in ("subject", "confidence", "citations")}
        cites = [f"cites {c.get('source')}" for c in p.get("citations", ()) if isinstance(c, dict)]
        return f"{e.kind} (confidence {p.get('confidence')})", [_dump(fields), *cites]
    if e.type == "run":
        head = f"{p.get('agent')}, attempt {p.get('attempt')}: {p.get('status')}"
        error = [f"error: {p['error']}"] if p.get("error") else []
        return head, [f"knew: {_refs(e, 'read')}", f"wrote: {_refs(e, 'wrote')}", *error]
    if e.type == "decision":
        reasons = [r for r in p.get("reasons", ()) if isinstance(r, dict)]
        fired = [f"fired {r.get('rule')}: {r.get('message')}" for r in reasons if r.get("rule") != "agenda"]
        agenda = [f"next: {t.get('agent')}" for t in p.get("agenda", ()) if isinstance(t, dict)]
        return f"decision: {p.get('status')} (cycle {p.get('cycle')})", fired + agenda
    if e.type == "proposal":
        return f"proposes {p.get('action')} {p.get('target')}", [_dump(p.get("changes", {}))]
    if e.type == "verdict":
        votes = [f"{v.get('rule')} ({v.get('effect')}): {v.get('message')}" for v in p.get("reasons", ())]
        return f"verdict: {p.get('outcome')} for {p.get('action')} {p.get('target')}", votes
    if e.type == "approval_request":
        return f"waits for a person: key {p.get('key')}", [str(p.get("reason", ""))]
    if e.type == "approval":
        edits = [f"edits: {_dump(p['edits'])}"] if p.get("edits") else []
        reason = [f"reason: {p['reason']}"] if p.get("reason") else []
        return f"{p.get('decision')} by {p.get('reviewer')}", edits + reason
    if e.type == "commit":
        return f"committed {p.get('action')} {p.get('target')}", [f"receipt: {_dump(p.get('receipt'))}"]
    if e.type == "start":
        return f"run started (scenario {p.get('scenario') or 'not recorded'})", [", ".join(p.get("agents", ()))]
    return f"{e.type}: {e.kind}", []


def timeline_rows(events: tuple[AuditEvent, ...]) -> list[TimelineRow]:
    """The screen's rows for an audit's timeline, in log order."""
    rows = []
    for event in events:
        headline, lines = _words(event)
        rows.append(TimelineRow(event, headline, tuple(lines), _dump(event.payload)))
    return rows
