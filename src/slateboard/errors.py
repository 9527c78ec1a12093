"""The one error tree: every slateboard failure is a `SlateboardError` that says what was wrong and where.

Errors that describe bad input also derive from the matching built-in (`ValueError`, `LookupError`,
`TypeError`), so callers that already catch those keep working.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = (
    "SlateboardError",
    "ConfigurationError",
    "WorkflowError",
    "StoreError",
    "SchemaVersionError",
    "ReadOnlyStoreError",
    "StaleVersionError",
    "UnknownVersionError",
    "InvalidFindingError",
    "UnknownFindingKindError",
    "KindConflictError",
    "PermissionDeniedError",
    "TamperedLogError",
    "PolicyError",
    "ScenarioError",
    "CommitError",
    "ApprovalError",
    "SettlementError",
    "AgentTimeoutError",
    "ConflictError",
    "LeaseLostError",
    "ToolError",
    "ToolDeniedError",
    "ToolRateLimitedError",
    "ModelError",
    "BudgetError",
    "SignedHeadError",
)


class SlateboardError(Exception):
    """Base of every error slateboard raises."""


class ConfigurationError(SlateboardError, ValueError):
    """A URL, option or name given to slateboard is not usable; the message names which and why."""


class WorkflowError(ConfigurationError):
    """A set of agents cannot work together: a kind nobody provides, an unguarded cycle, a bad signature."""


class StoreError(SlateboardError):
    """The storage behind a blackboard failed (locked too long, not a database, written by a newer version)."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(f"{message} (store {redacted(url)})")
        self.url = url


_PASSWORD_IN_NETLOC = re.compile(r"(?<=://)([^/@:?#]*):[^/@?#]*@")
_PASSWORD_IN_QUERY = re.compile(r"(?i)((?:^|[?&])password=)[^&#]*")


def redacted(url: str) -> str:
    """`url` with any password in it replaced by `***` (for messages and logs)."""
    return _PASSWORD_IN_QUERY.sub(r"\1***", _PASSWORD_IN_NETLOC.sub(r"\1:***@", url))


class SchemaVersionError(StoreError):
    """A database's schema layout is not one this slateboard can open: written by a newer slateboard, stamped with
    something that is not a layout number, or (opened read-only) too old to read without migrating. Nothing in the
    database was changed. `found` is the stamp as stored (None when there is none), `newest` the newest layout this
    slateboard knows."""

    def __init__(self, message: str, *, url: str, found: str | None, newest: int) -> None:
        super().__init__(message, url=url)
        self.found = found
        self.newest = newest


class ReadOnlyStoreError(StoreError):
    """A write (an append, a ledger change) on a store opened with `read_only=True`; nothing was written."""

    def __init__(self, operation: str, *, url: str) -> None:
        super().__init__(f"cannot {operation}: the store was opened read-only", url=url)
        self.operation = operation


class StaleVersionError(SlateboardError):
    """A write named an expected version, but the board had moved on; nothing was written."""

    def __init__(self, board: str, expected: int, actual: int) -> None:
        super().__init__(
            f"board {board!r} is at version {actual}, but the write expected version {expected}; nothing was written"
        )
        self.board = board
        self.expected = expected
        self.actual = actual


class UnknownVersionError(SlateboardError, LookupError):
    """A point-in-time read asked for a version the board does not have."""

    def __init__(self, board: str, version: int, head: int) -> None:
        super().__init__(f"board {board!r} has no version {version}: its versions are 0..{head}")
        self.board = board
        self.version = version
        self.head = head


class InvalidFindingError(SlateboardError, ValueError):
    """A finding (or what was written with it) failed validation; nothing was written.

    `kind` names the finding kind and `fields` the offending field paths, in the order they were found.
    """

    def __init__(self, kind: str, problems: Sequence[tuple[str, str]], *, where: str = "") -> None:
        detail = "; ".join(f"{field}: {reason}" if field else reason for field, reason in problems)
        location = f" at {where}" if where else ""
        super().__init__(f"invalid {kind}{location}: {detail}")
        self.kind = kind
        self.fields = tuple(field for field, _ in problems)
        self.problems = tuple(problems)


class UnknownFindingKindError(SlateboardError, LookupError):
    """A stored entry names a finding kind that no loaded class registers."""

    def __init__(self, kind: str, *, where: str = "", suggestions: Sequence[str] = ()) -> None:
        location = f" (at {where})" if where else ""
        hint = f"; did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
        super().__init__(
            f"unknown finding kind {kind!r}{location}: import the module that defines it before reading{hint}"
        )
        self.kind = kind
        self.where = where


class KindConflictError(SlateboardError, TypeError):
    """Two classes from different modules claim the same finding kind name."""


class PermissionDeniedError(SlateboardError):
    """An agent wrote a finding kind it does not declare."""

    def __init__(self, agent: str, kind: str, declared: Sequence[str]) -> None:
        allowed = ", ".join(declared) or "nothing"
        super().__init__(f"agent {agent!r} returned a {kind}, but it declares only: {allowed}")
        self.agent = agent
        self.kind = kind


class TamperedLogError(SlateboardError):
    """The board's hash chain does not verify: an entry was edited, deleted, reordered or truncated."""

    def __init__(self, board: str, version: int, reason: str) -> None:
        super().__init__(f"board {board!r} is tampered at version {version}: {reason}")
        self.board = board
        self.version = version
        self.reason = reason


class PolicyError(SlateboardError, ValueError):
    """A policy, policy rule or policy file is invalid; the message gives the file, line and rule where known."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, rule: str | None = None
    ) -> None:
        where = ":".join(str(part) for part in (file, line) if part is not None)
        prefix = f"{where}: " if where else ""
        subject = f"rule {rule}: " if rule else ""
        super().__init__(f"{prefix}{subject}{message}")
        self.file = file
        self.line = line
        self.rule = rule


class ScenarioError(SlateboardError):
    """A scenario definition is invalid; the message gives the file and line."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        where = ":".join(str(part) for part in (file, line) if part is not None)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.line = line


class CommitError(SlateboardError):
    """The commit layer could not apply a proposal; the message names the idempotency key or target."""


class ApprovalError(CommitError, LookupError):
    """An approval, rejection or resolution names a key that is unknown, already decided, or not waiting for it."""

    def __init__(self, board: str, key: str, problem: str) -> None:
        super().__init__(f"board {board!r}, key {key!r}: {problem}")
        self.board = board
        self.key = key


class SettlementError(SlateboardError, ValueError):
    """A person's answer to an escalation cannot be taken: the board is not escalated, the version chosen is not one
    of the conflict's findings, or the answer is not exactly one of choose, a corrected finding, or close."""

    def __init__(self, board: str, problem: str, *, version: int | None = None) -> None:
        at = f", v{version}" if version is not None else ""
        super().__init__(f"board {board!r}{at}: {problem}")
        self.board = board
        self.version = version


class AgentTimeoutError(SlateboardError, TimeoutError):
    """An agent did not finish within its timeout."""


class ConflictError(SlateboardError):
    """Raised by an agent that found a conflict it must not resolve itself: never retried, always escalated."""


class LeaseLostError(SlateboardError):
    """A worker wrote to a board it no longer holds: another worker claimed it (a newer fencing token), so the
    write was refused and nothing was written."""

    def __init__(self, board: str, token: int, current: int | None) -> None:
        self.board, self.token, self.current = board, token, current
        now = "the board left the work queue" if current is None else f"the board's token is now {current}"
        super().__init__(f"board {board!r}: this worker's lease (fencing token {token}) was lost, {now}; write refused")


class ToolError(SlateboardError):
    """A tool registry call failed before or around the tool: no such tool, bad input or output, retries spent."""

    def __init__(self, tool: str, problem: str) -> None:
        super().__init__(f"tool {tool!r}: {problem}")
        self.tool = tool
        self.problem = problem


class ToolDeniedError(ToolError):
    """A caller (an agent or an action) is outside the tool's scopes; nothing was called."""

    def __init__(self, tool: str, caller: str, scopes: Sequence[str]) -> None:
        allowed = ", ".join(scopes) or "nobody"
        super().__init__(tool, f"{caller!r} may not call it; its scopes allow: {allowed}")
        self.caller = caller


class ToolRateLimitedError(ToolError):
    """A call would have waited longer than the tool's rate limit allows (`max_wait`); nothing was called."""


class ModelError(SlateboardError):
    """A model-backed agent could not get a usable answer: no cassette entry offline, a refused output, a bad model."""


class BudgetError(SlateboardError, ValueError):
    """A price table or a budget is not usable; the message names the model or the limit."""


class SignedHeadError(SlateboardError, ValueError):
    """A signed head or a key file cannot be used: malformed (naming the file and field), a bad signature, or a
    key other than the one that signed it."""

    def __init__(self, message: str, *, file: str, field: str | None = None) -> None:
        where = f"{file}: field {field!r}: " if field else f"{file}: "
        super().__init__(f"{where}{message}")
        self.file = file
        self.field = field
