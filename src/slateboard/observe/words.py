"""An audit's entries in words: the plain-text lines the command line prints and the review page shows, so both say
the same thing (each front end adds only its own markup)."""

from __future__ import annotations

import json
from typing import Any

from slateboard.observe.audit import AuditEvent, Ref, citations_of

__all__ = ("cite", "dump", "event_lines")


def dump(value: object) -> str:
    """Compact, stable JSON for a value shown inside a line."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def cite(c: dict[str, Any]) -> str:
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


def event_lines(e: AuditEvent) -> list[str]:  # noqa: PLR0911, PLR0912 - one case per kind of entry
    """What an entry of an audit says, in plain text: a headline, then its details (the CLI and the page alike)."""
    p = e.payload
    if e.type in ("input", "finding"):
        confidence = p.get("confidence")
        fields = _fields(p)
        lines = [
            f"{e.kind} by {e.author} on {p.get('subject')!r} (confidence {confidence})" + (f": {fields}" * bool(fields))
        ]
        lines += [f"cites {cite(c)}" for c in citations_of(p)]
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
        return [head, *tail, *(f"cites {cite(c)}" for c in citations_of(p))]
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
    if e.type == "retraction":
        return _retraction_lines(p, e.author)
    return [f"{e.kind} by {e.author}: {dump(p) if not isinstance(p, str) else p!r}"]


def _retraction_lines(p: dict[str, Any], author: str) -> list[str]:
    """A retracted source: by whom and why, and what it left stale on the board (docs/retraction.md)."""
    source = p["source"] + (f"@{p['version']}" if p["version"] else "")
    lines = [f"{source} retracted by {author}: {p['reason']}"]
    if p["stale"]:
        lines.append("stale: " + ", ".join(f"v{v}" for v in p["stale"]))
    if p["commits"]:
        lines.append("committed on them, a person decides: " + ", ".join(p["commits"]))
    return lines


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
