"""How the commit layer calls a sink: tracking whether a call started and ended, and small helpers it shares."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import uuid
from typing import Any

from slateboard.errors import redacted

__all__ = (
    "SinkCall",
    "run_tracked",
    "holder_is_dead",
    "lock_holder",
    "process_started",
    "receipt_text",
    "error_text",
    "without_secrets",
    "HOST",
)

HOST = socket.gethostname()
_MAX_ERROR = 500


def receipt_text(receipt: object) -> str:
    """A sink's receipt as the ledger stores it: JSON, or the JSON of its repr when it is not JSON."""
    try:
        return json.dumps(receipt, sort_keys=True)
    except (TypeError, ValueError):
        return json.dumps(repr(receipt))


# A sink's error often quotes its request: a URL with a password, an `Authorization: Bearer ...` header, an API key.
# The ledger and the board keep the error for every reader of the store, so what looks like a secret is hidden.
_NAMED_SECRET = re.compile(
    r"(?i)\b((?:password|passwd|pwd|secret|client[_-]?secret|token|access[_-]?token|refresh[_-]?token|api[_-]?key|"
    r"access[_-]?key|private[_-]?key|authorization|auth)\b['\"]?\s*[=:]\s*)"
    r"(?:\"[^\"]*\"|'[^']*'|(?:(?:bearer|basic|token)\s+)?[^\s'\"&,;)}\]]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_TOKEN_SHAPES = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|"
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
)
_URL_WITH_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/@]*:[^\s/@]*@\S*")


def without_secrets(text: str) -> str:
    """`text` with what looks like a secret replaced by `***`: a URL's password, `password=...`, `token: ...`,
    `Authorization: Bearer ...`, and API keys of well-known shapes (OpenAI, GitHub, Slack, AWS, JWTs)."""
    text = _URL_WITH_PASSWORD.sub(lambda found: redacted(found.group()), text)
    text = _NAMED_SECRET.sub(r"\1***", text)
    text = _BEARER.sub(r"\1 ***", text)
    return _TOKEN_SHAPES.sub("***", text)


def error_text(exc: BaseException) -> str:
    """An error as the ledger and the board record it: type and message, secrets hidden, cut to a readable
    length."""
    text = without_secrets(f"{type(exc).__name__}: {exc}")
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 3] + "..."


def process_started(pid: int) -> str:
    """When process `pid` started, as the kernel counts it (clock ticks since boot; Linux), or "" where unknown.

    With the pid it names a process for good: a pid is reused, a (pid, start) pair is not.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            # The command's name (field 2) may hold spaces and parentheses: the fields after it follow its last ')'.
            fields = stat.read().rpartition(b")")[2].split()
    except OSError:
        return ""
    return fields[19].decode() if len(fields) > 19 and fields[19].isdigit() else ""


def lock_holder() -> str:
    """A new lock holder's name: this machine, this process (its pid and, where known, when it started), this call."""
    pid = os.getpid()
    return f"{HOST}|{pid}|{uuid.uuid4().hex[:12]}|{process_started(pid)}"


def holder_is_dead(holder: str) -> bool:
    """Whether a lock holder was a process on this machine that no longer exists (it crashed). A holder that names
    when its process started is dead too when its pid now belongs to a process that started at another time (pids
    are reused, within minutes on a busy machine); one that names no start (an older slateboard's, or where the
    kernel does not say) is judged by its pid alone."""
    host, _, rest = holder.partition("|")
    parts = rest.split("|")
    pid_text = parts[0]
    if host != HOST or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # a process of another user holds the pid: alive, unless it started at another time
    started = parts[2] if len(parts) > 2 else ""
    if not started:
        return False
    now = process_started(int(pid_text))
    return bool(now) and now != started


class SinkCall:
    """One call of a sink's function: whether it started, whether it ended, and a way to stop it from starting.

    A worker thread may pick a call up late (after its timeout, under load) or never. A call that had not started
    when it was given up on is stopped from ever starting: it did not happen, so it is a plain failure, not a doubt.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False
        self.finished = threading.Event()

    def enter(self) -> bool:
        with self._lock:
            self._started = not self._stopped
            return self._started

    def stop_unless_started(self) -> bool:
        """True if the call had not started; it then never will."""
        with self._lock:
            self._stopped = not self._started
            return self._stopped


def run_tracked(fn: Any, args: tuple[Any, ...], call: SinkCall | None) -> Any:
    """`fn(*args)` in a worker thread, unless `call` was given up on before it started; marks `call` finished."""
    if call is not None and not call.enter():
        return None  # given up on before it started: nobody waits for this result
    try:
        return fn(*args)
    finally:
        if call is not None:
            call.finished.set()
