"""Structured log events: one `logging` record per decision, verdict and commit that lands on a board.

They are emitted where slateboard's own records are appended (`state.projection.append`), once each, after the
write succeeded, so a log line always names an entry that is on the board: a replay or a what-if, which derive
records without writing them, log nothing. Every record carries `board` and `version` (the entry's) and the
record's own fields as `extra` attributes, for a JSON formatter or a log shipper to index (docs/observability.md).

| logger                   | event            | level                         | extra fields                         |
|--------------------------|------------------|-------------------------------|--------------------------------------|
| `slateboard.controller`  | `decision`       | INFO; WARNING when "failed"   | cycle, status, rules, agenda         |
| `slateboard.policy`      | `verdict`        | INFO                          | key, proposal, action, target,       |
|                          |                  |                               | outcome, rules, policy               |
| `slateboard.commit`      | `commit`         | INFO                          | key, proposal, action, target, sink, |
|                          |                  |                               | attempts                             |
| `slateboard.commit`      | `commit_failure` | ERROR when dead-lettered,     | key, proposal, target, status,       |
|                          |                  | WARNING when in doubt         | attempts, error                      |
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from slateboard.blackboard.entries import Entry
from slateboard.state.records import Commit, CommitFailure, Decision, Verdict

__all__ = ("DECISIONS", "VERDICTS", "COMMITS", "log_entries")

# A library's loggers: with no handler configured, Python would print WARNING and above (a failed decision, a
# dead-lettered commit) on stderr through its last-resort handler, into every command's output. The application
# decides where the events go.
logging.getLogger("slateboard").addHandler(logging.NullHandler())
DECISIONS = logging.getLogger("slateboard.controller")
VERDICTS = logging.getLogger("slateboard.policy")
COMMITS = logging.getLogger("slateboard.commit")


def log_entries(entries: Iterable[Entry]) -> None:
    """Log each decision, verdict, commit and commit failure among `entries` (just appended to their board)."""
    for entry in entries:
        record = entry.payload
        cls = type(record)
        event = _events[cls] if cls in _events else _event_of(cls)
        if event is not None:
            event(entry, record)


def _event_of(cls: type) -> Callable[[Entry, Any], None] | None:
    """The event a record of `cls` logs, worked out once per class (four `isinstance` checks on pydantic classes
    an entry, otherwise): the first of the four kinds it is an instance of, as a chain of checks would find."""
    event: Callable[[Entry, Any], None] | None = None
    for kind, logged in ((Decision, _decision), (Verdict, _verdict), (Commit, _commit), (CommitFailure, _failure)):
        if issubclass(cls, kind):
            event = logged
            break
    if len(_events) >= _CLASSES:  # bounded: classes made at run time must not pile up
        _events.clear()
    _events[cls] = event
    return event


_events: dict[type, Callable[[Entry, Any], None] | None] = {}
_CLASSES = 1024


def _extra(entry: Entry, event: str, **fields: Any) -> dict[str, Any]:
    return {"board": entry.board, "version": entry.version, "event": event, **fields}


def _decision(entry: Entry, decision: Decision) -> None:
    level = logging.WARNING if decision.status == "failed" else logging.INFO
    if not DECISIONS.isEnabledFor(level):
        return
    rules = [reason.rule for reason in decision.reasons]
    agenda = [task.agent for task in decision.agenda]
    extra = _extra(entry, "decision", cycle=decision.cycle, status=decision.status, rules=rules, agenda=agenda)
    said = "; ".join(map(str, decision.reasons)) or ", ".join(agenda)
    DECISIONS.log(level, "%s v%d: decision %s (cycle %d): %s", *_where(entry), decision.status, decision.cycle,
                  said, extra=extra)  # fmt: skip


def _verdict(entry: Entry, verdict: Verdict) -> None:
    if not VERDICTS.isEnabledFor(logging.INFO):
        return
    rules = [vote.rule for vote in verdict.reasons]
    extra = _extra(
        entry, "verdict", key=verdict.key, proposal=verdict.proposal, action=verdict.action, target=verdict.target,
        outcome=verdict.outcome, rules=rules, policy=verdict.policy,
    )  # fmt: skip
    VERDICTS.info("%s v%d: verdict %s on %s %s (%s)", *_where(entry), verdict.outcome, verdict.action, verdict.target,
                  ", ".join(rules), extra=extra)  # fmt: skip


def _commit(entry: Entry, commit: Commit) -> None:
    if not COMMITS.isEnabledFor(logging.INFO):
        return
    extra = _extra(
        entry, "commit", key=commit.key, proposal=commit.proposal, action=commit.action, target=commit.target,
        sink=commit.sink, attempts=commit.attempts,
    )  # fmt: skip
    COMMITS.info("%s v%d: committed %s %s to %s (key %s)", *_where(entry), commit.action, commit.target, commit.sink,
                 commit.key, extra=extra)  # fmt: skip


def _failure(entry: Entry, failure: CommitFailure) -> None:
    level = logging.ERROR if failure.status == "dead" else logging.WARNING
    if not COMMITS.isEnabledFor(level):
        return
    extra = _extra(
        entry, "commit_failure", key=failure.key, proposal=failure.proposal, target=failure.target,
        status=failure.status, attempts=failure.attempts, error=failure.error,
    )  # fmt: skip
    COMMITS.log(level, "%s v%d: commit %s of %s: %s", *_where(entry), failure.status, failure.target, failure.error,
                extra=extra)  # fmt: skip


def _where(entry: Entry) -> tuple[str, int]:
    return entry.board, entry.version
