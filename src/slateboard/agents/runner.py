"""Running one agent: a timeout per attempt, the field's retry rule, and checks on what it returns.

One retry (by default) for recoverable failures, a timeout or an ordinary exception; none for a conflict the
agent reports (`ConflictError`), a kind it does not declare, or an invalid finding. Every attempt is returned,
so the controller can put each one on the board.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Literal

import anyio
import anyio.to_thread

from slateboard._internal import telemetry
from slateboard.agents.spec import Agent
from slateboard.agents.usage import ModelUsage, collect_usage, combine, start_collecting, stop_collecting
from slateboard.agents.watchdog import guarded, guarded_call, in_daemon_thread
from slateboard.blackboard.records import Record, encode_record
from slateboard.errors import AgentTimeoutError, ConflictError, InvalidFindingError, PermissionDeniedError

__all__ = ("Attempt", "AttemptStatus", "RECOVERABLE", "run_agent", "collect_outputs")

AttemptStatus = Literal["ok", "timeout", "error", "conflict", "denied", "invalid"]
RECOVERABLE: frozenset[str] = frozenset({"timeout", "error"})
_MAX_ERROR = 500


@dataclass(frozen=True)
class Attempt:
    """One try of an agent on one task; `usage` is what a model-backed agent's model calls used, if any."""

    number: int
    status: AttemptStatus
    error: str = ""
    outputs: tuple[Record, ...] = ()
    usage: ModelUsage | None = None


async def run_agent(
    agent: Agent, arguments: Callable[[int], Mapping[str, Any]], *, limit: float | None = None
) -> list[Attempt]:
    """Run `agent` until it succeeds, fails for good, or has used its retries; return every attempt.

    `arguments(n)` gives the keyword arguments for attempt `n` (1, 2, ...). `limit`: seconds left before the run's
    deadline: no attempt outlasts it (whatever the agent's own timeout, None included) and no retry starts after it.
    """
    end = None if limit is None else anyio.current_time() + limit
    inline = not agent.is_async and not agent.blocking
    attempts: list[Attempt] = []
    for number in range(1, agent.retries + 2):
        left = None if end is None else max(end - anyio.current_time(), 0.0)
        if attempts and left == 0:
            break  # the run's deadline has passed: the controller ends the run, naming its budget
        if inline:  # it never awaits: called as it is, with no coroutine around it that could never yield
            attempt = _attempt_inline(agent, arguments(number), number, left)
        else:
            attempt = await _attempt(agent, arguments(number), number, left)
        attempts.append(attempt)
        if attempt.status not in RECOVERABLE:
            break
    return attempts


async def _attempt(agent: Agent, arguments: Mapping[str, Any], number: int, left: float | None) -> Attempt:
    # Whatever the attempt's end, the model calls it made (and paid for) are kept on it.
    with telemetry.span("slateboard.agent.attempt", agent=agent.name, attempt=number) as span:
        with collect_usage() as reports:
            attempt = await _try(agent, arguments, number, left)
        if reports:
            attempt = replace(attempt, usage=combine(reports))
        _trace(span, agent, attempt)
    return attempt


def _attempt_inline(agent: Agent, arguments: Mapping[str, Any], number: int, left: float | None) -> Attempt:
    """`_attempt` for an agent declared `blocking=False`: a plain call under the watchdog's timer."""
    with telemetry.span("slateboard.agent.attempt", agent=agent.name, attempt=number) as span:
        reports, token = start_collecting()
        try:
            result = guarded_call(agent.fn, arguments, _limit(agent, left)[0], agent.name)
            attempt = Attempt(number, "ok", outputs=collect_outputs(agent, result))
        except Exception as exc:
            attempt = _failed(number, exc)
        finally:
            stop_collecting(token)
        if reports:
            attempt = replace(attempt, usage=combine(reports))
        _trace(span, agent, attempt)
    return attempt


def _trace(span: telemetry.Span, agent: Agent, attempt: Attempt) -> None:
    span.set(status=attempt.status, outputs=len(attempt.outputs))
    if attempt.status != "ok":
        span.fail(attempt.error)
    if attempt.usage is not None:
        usage = attempt.usage
        span.set_attributes(
            telemetry.genai(
                agent=agent.name,
                model=usage.model,
                provider=usage.provider,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
            )
        )


def _limit(agent: Agent, left: float | None) -> tuple[float | None, bool]:
    """The attempt's limit in seconds (None: none), and whether it is the run's deadline rather than the agent's
    own timeout."""
    if left is not None and (agent.timeout is None or left < agent.timeout):
        return left, True
    return agent.timeout, False


async def _try(agent: Agent, arguments: Mapping[str, Any], number: int, left: float | None) -> Attempt:
    timeout, by_deadline = _limit(agent, left)
    try:
        with anyio.move_on_after(timeout) as scope:
            result = await _call(agent, arguments, timeout)
        if scope.cancelled_caught:
            late = f"the run's deadline came while agent {agent.name!r} ran" if by_deadline else ""
            return Attempt(number, "timeout", late or f"no answer within {timeout:g} s")
        return Attempt(number, "ok", outputs=collect_outputs(agent, result))
    except Exception as exc:
        return _failed(number, exc)


def _failed(number: int, exc: Exception) -> Attempt:
    """The attempt an exception ended: the watchdog cut an agent that blocked the loop, the agent reported a
    conflict, wrote a kind it does not declare or an invalid finding, or failed otherwise (its bug or a transient
    fault: recorded, and retried)."""
    if isinstance(exc, AgentTimeoutError):
        return Attempt(number, "timeout", _describe(exc))
    if isinstance(exc, ConflictError):
        return Attempt(number, "conflict", _describe(exc))
    if isinstance(exc, PermissionDeniedError):
        return Attempt(number, "denied", _describe(exc))
    if isinstance(exc, InvalidFindingError):
        return Attempt(number, "invalid", _describe(exc))
    return Attempt(number, "error", _describe(exc))


async def _call(agent: Agent, arguments: Mapping[str, Any], limit: float | None) -> Any:
    if agent.is_async:
        # A step that blocks the event loop cannot be cancelled at an await: the watchdog interrupts it.
        return await guarded(agent.fn(**arguments), limit, agent.name)
    if limit is not None and agent.timeout is None:
        # Only the run's deadline bounds it: if it hangs, the run ends without it and so may the process.
        return await in_daemon_thread(partial(agent.fn, **arguments), agent.name)
    # A sync agent that overruns its timeout is abandoned; its thread finishes on its own.
    return await anyio.to_thread.run_sync(partial(agent.fn, **arguments), abandon_on_cancel=True)


def collect_outputs(agent: Agent, result: Any) -> tuple[Record, ...]:
    """The findings in an agent's return value, checked against what it declares."""
    if result is None:
        if agent.optional:
            return ()
        declared = " | ".join(k.kind_name for k in agent.outputs)
        raise InvalidFindingError(declared, [("", f"agent {agent.name!r} returned None")])
    if agent.many and not isinstance(result, list | tuple):
        raise InvalidFindingError(type(result).__name__, [("", f"agent {agent.name!r} must return a list")])
    items = tuple(result) if agent.many else (result,)
    for item in items:
        if not isinstance(item, Record):
            raise InvalidFindingError(type(item).__name__, [("", f"agent {agent.name!r} returned a non-finding")])
        if not agent.writes(type(item)):
            raise PermissionDeniedError(agent.name, type(item).kind_name, [k.kind_name for k in agent.outputs])
        encode_record(item)  # refuse now what the board would refuse, so one agent cannot sink the cycle
    return items


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 3] + "..."
