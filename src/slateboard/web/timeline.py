"""The timeline screen's rows: per entry of `observe.board_audit`'s timeline, the words the CLI prints too
(`observe.words.event_lines`: a headline and a few lines).

The entry's stored payload stays one click away (a `<details>` under each line); these lines only pick out what a
reviewer reads first: what an agent knew and wrote, which rules fired, the policy's deciding votes, who answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slateboard.observe import AuditEvent
from slateboard.observe.words import event_lines

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


def timeline_rows(events: tuple[AuditEvent, ...]) -> list[TimelineRow]:
    """The screen's rows for an audit's timeline, in log order."""
    rows = []
    for event in events:
        headline, *lines = event_lines(event)
        rows.append(TimelineRow(event, headline, tuple(lines), _dump(event.payload)))
    return rows
