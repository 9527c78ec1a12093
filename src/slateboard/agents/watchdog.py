"""A watchdog for async agents that block the event loop (`time.sleep`, a busy loop, a sync client in `async def`).

A cancel scope can only cancel a coroutine at an `await`: an agent that blocks between two awaits holds the whole
event loop, so no timeout, no other agent and no run deadline can act until it yields. `guarded(coro, seconds,
agent)` drives the agent's coroutine step by step and arms a timer (`SIGALRM`, via `setitimer`) around each step;
a step still running when its time is up is interrupted where it blocks by an `AgentTimeoutError` naming the
agent, which the runner records as a timed-out attempt. The coroutine is then closed, never resumed.
`guarded_call(fn, arguments, seconds, agent)` does the same for a sync agent run on the event loop's thread
(`blocking=False`): it never awaits, so its whole call is one step under one timer.

The timer is a process signal, so the guard works where Python delivers signals: in the main thread of a POSIX
process whose `SIGALRM` handler is the default (a program that installs its own keeps it; the guard then only
counts on the agent's own awaits). Elsewhere the coroutine is awaited as it is. Once installed, the guard's handler
stays, and on a `SIGALRM` that is not its own timer's it does what the default does: it ends the process.
"""

from __future__ import annotations

import contextlib
import contextvars
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Generator, Mapping
from types import FrameType
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel

from slateboard.errors import AgentTimeoutError

__all__ = ("guarded", "guarded_call", "can_guard", "in_daemon_thread")

_ALARM = getattr(signal, "SIGALRM", None)
try:
    # The handler as set: `signal.getsignal` turns it into an enum member first, which for a function handler means
    # raising and catching a ValueError (microseconds, at every agent call).
    from _signal import getsignal as _raw_handler  # type: ignore[import-not-found]  # typeshed has no stub
except ImportError:  # pragma: no cover - an interpreter without CPython's `_signal`
    _raw_handler = signal.getsignal
_handler_of: Callable[[int], object] = _raw_handler
_LAST_STEP = 0.05  # seconds a step may take once the limit has passed


class _Step:
    """The agent step in progress: what the alarm interrupts, and what it says when it does. `armed` is true from
    just before the timer is set until just after it is cleared, so a timer that fires as a step ends is told
    apart from a SIGALRM someone else sent."""

    active: _Step | None = None
    armed = False

    def __init__(self, agent: str, seconds: float) -> None:
        self.agent = agent
        self.seconds = seconds


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    step = _Step.active
    if step is None:
        if not _Step.armed:  # not our timer: do what the default handler, which ours replaced, does (terminate)
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        return  # the step ended as our timer fired: nothing to interrupt
    _Step.active = None
    message = f"agent {step.agent!r} blocked the event loop past its limit of {step.seconds:g} s"
    raise AgentTimeoutError(message)


def can_guard() -> bool:
    """Whether blocking steps can be interrupted here: POSIX, the main thread, and no other SIGALRM handler."""
    if _ALARM is None or threading.current_thread() is not threading.main_thread():
        return False
    return signal.getsignal(_ALARM) in (signal.SIG_DFL, _on_alarm)


class _Guarded:
    """An awaitable that runs `coro` one step at a time, each step under the alarm, until `end` (monotonic)."""

    def __init__(self, coro: Coroutine[Any, Any, Any], seconds: float, agent: str) -> None:
        self.coro = coro
        self.step = _Step(agent, seconds)
        self.end = time.monotonic() + seconds

    def __await__(self) -> Generator[Any, Any, Any]:
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                self._arm()
                try:
                    sent = self.coro.throw(error) if error is not None else self.coro.send(value)
                except StopIteration as stop:
                    return stop.value
                finally:
                    self._disarm()
                try:
                    value, error = (yield sent), None
                except BaseException as exc:
                    value, error = None, exc
        finally:
            if _Step.armed:  # only when arming itself failed: every step disarms as it ends
                self._disarm()
            self.coro.close()  # interrupted or done: never resumed

    def _arm(self) -> None:
        # Past the end already (the cancel scope's cancellation is on its way in): a last short step, so that the
        # cancellation reaches the coroutine as it would without the guard, and a step that blocks is still cut.
        left = max(self.end - time.monotonic(), _LAST_STEP)
        _Step.active, _Step.armed = self.step, True
        signal.setitimer(signal.ITIMER_REAL, left)

    def _disarm(self) -> None:
        _Step.active = None
        signal.setitimer(signal.ITIMER_REAL, 0)
        _Step.armed = False


def _can_arm() -> bool:
    """Whether this call may arm the timer: a limit is set by the caller; here, POSIX, the main thread, and the
    SIGALRM handler ours or the default (ours is installed in its place)."""
    if _ALARM is None or threading.current_thread() is not threading.main_thread():
        return False
    handler = _handler_of(_ALARM)  # is it ours, the default, or another?
    if handler is not _on_alarm:
        if handler != signal.SIG_DFL:  # the raw handler: the default is the number 0, equal to the enum member
            return False  # the program's own handler stays
        # Installed once and left in place (it acts as the default does on any SIGALRM not its own): setting a
        # handler costs more than a trivial agent's whole step, and agents run one after another all day.
        signal.signal(_ALARM, _on_alarm)
    return True


async def guarded(coro: Coroutine[Any, Any, Any], seconds: float | None, agent: str) -> Any:
    """Await `coro` (an async agent's call), interrupting any single step that blocks the event loop for longer
    than the `seconds` left; as a plain await when `seconds` is None or the guard cannot work here."""
    if seconds is None or not _can_arm():
        return await coro
    return await _Guarded(coro, seconds, agent)


def guarded_call(fn: Callable[..., Any], arguments: Mapping[str, Any], seconds: float | None, agent: str) -> Any:
    """`fn(**arguments)` (a sync agent that runs on the event loop's thread: it never awaits, so its call is one
    step), interrupted by `AgentTimeoutError` if it runs past `seconds`; a plain call when `seconds` is None or
    the guard cannot work here."""
    if seconds is None or not _can_arm():
        return fn(**arguments)
    step = _Step(agent, seconds)
    try:
        _Step.active, _Step.armed = step, True
        signal.setitimer(signal.ITIMER_REAL, max(seconds, _LAST_STEP))
        return fn(**arguments)
    finally:
        _Step.active = None
        signal.setitimer(signal.ITIMER_REAL, 0)
        _Step.armed = False


async def in_daemon_thread(fn: Callable[[], Any], agent: str) -> Any:
    """Call sync `fn` in a daemon thread of its own and await its result: a call the run may abandon at its
    deadline, which the process does not wait for at exit (a pool's worker thread would hold the exit)."""
    done = anyio.Event()
    result: list[tuple[bool, Any]] = []
    token = anyio.lowlevel.current_token()
    context = contextvars.copy_context()  # what the agent reads (its usage collector) is the caller's

    def work() -> None:
        try:
            result.append((True, context.run(fn)))
        except BaseException as exc:
            result.append((False, exc))
        with contextlib.suppress(Exception):  # the run may be over and its event loop closed
            anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=work, name=f"slateboard-agent-{agent}", daemon=True).start()
    await done.wait()
    ok, value = result[0]
    if not ok:
        raise value
    return value
