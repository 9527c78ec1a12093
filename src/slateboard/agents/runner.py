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
from slateboard.agents.usage import ModelUsage, collect_usage, combine
from slateboard.agents.watchdog import guarded, in_daemon_thread
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
    attempts: list[Attempt] = []
    for number in range(1, agent.retries + 2):
        left = None if end is None else max(end - anyio.current_time(), 0.0)
        if attempts and left == 0:
            break  # the run's deadline has passed: the controller ends the run, naming its budget
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


async def _try(agent: Agent, arguments: Mapping[str, Any], number: int, left: float | None) -> Attempt:
    timeout, by_deadline = agent.timeout, False
    if left is not None and (timeout is None or left < timeout):
        timeout, by_deadline = left, True
    try:
        if agent.is_async or agent.blocking:
            with anyio.move_on_after(timeout) as scope:
                result = await _call(agent, arguments, timeout)
            if scope.cancelled_caught:
                late = f"the run's deadline came while agent {agent.name!r} ran" if by_deadline else ""
                return Attempt(number, "timeout", late or f"no answer within {timeout:g} s")
        else:
            # Inline and never awaiting, it has no point a cancel scope could cut: the watchdog holds it to the limit.
            result = await _call(agent, arguments, timeout)
        return Attempt(number, "ok", outputs=collect_outputs(agent, result))
    except (AgentTimeoutError, ConflictError) as exc:  # the watchdog cut an agent that blocked the loop; a conflict
        return Attempt(number, "timeout" if isinstance(exc, AgentTimeoutError) else "conflict", _describe(exc))
    except PermissionDeniedError as exc:
        return Attempt(number, "denied", _describe(exc))
    except InvalidFindingError as exc:
        return Attempt(number, "invalid", _describe(exc))
    except Exception as exc:  # an agent's bug or a transient fault: recorded, and retried once
        return Attempt(number, "error", _describe(exc))


async def _call(agent: Agent, arguments: Mapping[str, Any], limit: float | None) -> Any:
    if agent.is_async:
        # A step that blocks the event loop cannot be cancelled at an await: the watchdog interrupts it.
        return await guarded(agent.fn(**arguments), limit, agent.name)
    if not agent.blocking:  # declared never to wait: no thread; the watchdog cuts it as it cuts a blocking async step
        return await guarded(_inline(agent.fn, arguments), limit, agent.name)
    if limit is not None and agent.timeout is None:
        # Only the run's deadline bounds it: if it hangs, the run ends without it and so may the process.
        return await in_daemon_thread(partial(agent.fn, **arguments), agent.name)
    # A sync agent that overruns its timeout is abandoned; its thread finishes on its own.
    return await anyio.to_thread.run_sync(partial(agent.fn, **arguments), abandon_on_cancel=True)


async def _inline(fn: Callable[..., Any], arguments: Mapping[str, Any]) -> Any:
    return fn(**arguments)


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
