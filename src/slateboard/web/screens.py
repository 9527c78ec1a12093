"""What each screen shows, as plain data gathered from `slateboard.observe` (the templates only lay it out).

Every board name a request sends is looked up among the store's boards (`known_board`) before anything reads it,
and every key among the board's own approval requests, so nothing a request sends reaches SQL or a path unbound.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slateboard.blackboard import Blackboard
from slateboard.commit import sinks
from slateboard.errors import SlateboardError
from slateboard.observe import Audit, AuditEvent, board_audit
from slateboard.scenarios import controller_for

SETTLEMENT = "slateboard.Settlement"  # the kind of a person's answer to an escalation (controller.settle)

__all__ = (
    "InboxItem",
    "FieldChange",
    "DecisionScreen",
    "ConflictSide",
    "ConflictScreen",
    "known_board",
    "inbox",
    "decision_screen",
    "conflict_screen",
    "scenario_of",
    "age_seconds",
    "field_text",
)


@dataclass(frozen=True)
class InboxItem:
    """A board waiting for a person: an approval under `key`, or an escalated decision (`key` is None)."""

    board: str
    kind: str  # "approval" or "escalation"
    key: str | None
    summary: str
    scenario: str
    since: str
    age: float


@dataclass(frozen=True)
class FieldChange:
    """One field a proposal changes: the target's value now (when the sink can say), and the proposed one."""

    name: str
    current: str | None
    proposed: str
    proposed_is_text: bool

    @property
    def changed(self) -> bool:
        return self.current != self.proposed


@dataclass(frozen=True)
class DecisionScreen:
    """An approval request and, once answered, who answered it and how."""

    board: str
    key: str
    request: dict[str, Any]
    fields: tuple[FieldChange, ...]
    current_known: bool
    answer: dict[str, Any] | None
    commit: dict[str, Any] | None
    escalations: tuple[str, ...]


@dataclass(frozen=True)
class ConflictSide:
    """One finding of a disagreement, with the sources it cites and those it shares with the other sides."""

    version: int
    kind: str
    author: str
    fields: dict[str, str]
    confidence: Any
    citations: tuple[dict[str, Any], ...]
    shared_sources: tuple[str, ...] = ()
    subject: str = ""
    editable: str = "{}"  # the finding's own fields as JSON: what a reviewer edits to supply a corrected finding


@dataclass(frozen=True)
class ConflictScreen:
    """An escalated decision: its reasons in words, and the findings behind them side by side; once a person
    settled it, the settlement (`settled`, the Settlement entry's fields) and where the board stands now (`status`)."""

    board: str
    decided_at: int | None
    reasons: tuple[dict[str, Any], ...]
    sides: tuple[ConflictSide, ...] = field(default_factory=tuple)
    status: str | None = None
    settled: dict[str, Any] | None = None

    @property
    def open(self) -> bool:
        """Whether a person can settle it now: the board's last decision escalated."""
        return self.status == "escalate"


def known_board(blackboard: Blackboard, name: str) -> str | None:
    """`name` if it is one of the store's boards, else None (the only way a request's board name is used)."""
    return name if name in blackboard.boards() else None


def field_text(value: Any) -> str:
    """A field's value as a form shows it: text as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def scenario_of(audit: Audit) -> str:
    """The scenario the board's newest run recorded ("" when none did)."""
    for event in reversed(audit.timeline):
        if event.type == "start" and isinstance(event.payload, dict) and event.payload.get("scenario"):
            return str(event.payload["scenario"])
    return ""


def age_seconds(recorded_at: str, now: datetime | None = None) -> float:
    """Seconds since an entry's `recorded_at` (ISO 8601; 0 when it does not parse)."""
    try:
        at = datetime.fromisoformat(recorded_at)
    except ValueError:
        return 0.0
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, ((now or datetime.now(UTC)) - at).total_seconds())


def _last(audit: Audit, kind: str, key: str | None = None) -> AuditEvent | None:
    for event in reversed(audit.timeline):
        if event.type == kind and (
            key is None or (isinstance(event.payload, dict) and event.payload.get("key") == key)
        ):
            return event
    return None


def inbox(blackboard: Blackboard) -> list[InboxItem]:
    """Every approval waiting and every board whose last decision escalated, oldest first."""
    items: list[InboxItem] = []
    for name in blackboard.boards():
        audit = board_audit(blackboard, name)
        scenario = scenario_of(audit)
        for key in audit.waiting:
            request = _last(audit, "approval_request", key)
            payload = request.payload if request is not None and isinstance(request.payload, dict) else {}
            since = request.recorded_at if request is not None else ""
            summary = f"{payload.get('action', '?')} {payload.get('target', '?')}: {payload.get('reason', '')}"
            items.append(InboxItem(name, "approval", key, summary, scenario, since, age_seconds(since)))
        if audit.status == "escalate":
            decision = _last(audit, "decision")
            reasons = decision.payload.get("reasons", []) if decision is not None else []
            summary = "; ".join(str(r.get("message", "")) for r in reasons if isinstance(r, dict))
            since = decision.recorded_at if decision is not None else ""
            items.append(InboxItem(name, "escalation", None, summary, scenario, since, age_seconds(since)))
    return sorted(items, key=lambda item: -item.age)


def _current_values(blackboard: Blackboard, board: str, target: str) -> dict[str, Any] | None:
    """The target's current fields when the board's sink is a table this store holds; None when it cannot say."""
    try:
        controller, _ = controller_for(blackboard, board)
    except SlateboardError:
        return None
    if not isinstance(controller.sink, sinks.Table):
        return None
    row = controller.sink.rows(blackboard).get(target)
    return dict(row["data"]) if row is not None else {}


def decision_screen(blackboard: Blackboard, board: str, key: str) -> DecisionScreen | None:
    """The approval request under `key` on `board` (None when the board asked for no such approval)."""
    audit = board_audit(blackboard, board)
    request = _last(audit, "approval_request", key)
    if request is None or not isinstance(request.payload, dict):
        return None
    payload = request.payload
    current = _current_values(blackboard, board, str(payload.get("target", "")))
    changes = payload.get("changes", {}) if isinstance(payload.get("changes"), dict) else {}
    fields = tuple(
        FieldChange(
            name=str(name),
            current=None if current is None or name not in current else field_text(current[name]),
            proposed=field_text(value),
            proposed_is_text=isinstance(value, str),
        )
        for name, value in changes.items()
    )
    answer = _last(audit, "approval", key)
    commit = _last(audit, "commit", key)
    verdict = _last(audit, "verdict", key)
    escalations = [str(payload.get("reason", ""))]
    if verdict is not None and isinstance(verdict.payload, dict):  # the policy's deciding votes, in words
        escalations += [
            f"{v.get('rule')}: {v.get('message')}" for v in verdict.payload.get("reasons", ()) if isinstance(v, dict)
        ]
    return DecisionScreen(
        board=board,
        key=key,
        request=payload,
        fields=fields,
        current_known=current is not None,
        answer=answer.payload if answer is not None else None,
        commit=commit.payload if commit is not None else None,
        escalations=tuple(dict.fromkeys(e for e in escalations if e)),
    )


def conflict_screen(blackboard: Blackboard, board: str) -> ConflictScreen:
    """The board's last decision's reasons, and the findings they name side by side (empty when none do)."""
    audit = board_audit(blackboard, board)
    escalations = [e for e in audit.timeline if e.type == "decision" and e.payload.get("status") == "escalate"]
    decision = escalations[-1] if escalations else None  # the escalation, even after a person settled it
    settlement = next(
        (e for e in reversed(audit.timeline) if e.kind == SETTLEMENT and decision and e.version > decision.version),
        None,
    )
    reasons = tuple(r for r in (decision.payload.get("reasons", []) if decision else []) if isinstance(r, dict))
    by_version = {event.version: event for event in audit.timeline}
    versions = list(dict.fromkeys(v for r in reasons for v in r.get("findings", ()) if v in by_version))
    raw: list[ConflictSide] = []
    for version in versions:
        event = by_version[version]
        payload = event.payload if isinstance(event.payload, dict) else {}
        skip = {"subject", "confidence", "citations"}
        raw.append(
            ConflictSide(
                version=version,
                kind=event.kind,
                author=event.author,
                fields={k: field_text(v) for k, v in payload.items() if k not in skip},
                confidence=payload.get("confidence"),
                citations=tuple(c for c in payload.get("citations", ()) if isinstance(c, dict)),
                subject=str(payload.get("subject", "")),
                editable=json.dumps({k: v for k, v in payload.items() if k not in skip}, indent=1, ensure_ascii=False),
            )
        )
    sides = []
    for side in raw:
        mine = {str(c.get("source")) for c in side.citations}
        others = {str(c.get("source")) for o in raw if o is not side for c in o.citations}
        sides.append(ConflictSide(**{**side.__dict__, "shared_sources": tuple(sorted(mine & others))}))
    return ConflictScreen(
        board=board,
        decided_at=decision.version if decision else None,
        reasons=reasons,
        sides=tuple(sides),
        status=audit.status,
        settled=settlement.payload if settlement is not None and isinstance(settlement.payload, dict) else None,
    )
