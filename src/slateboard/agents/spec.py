"""The agent contract: `@agent` turns a function into an `Agent` whose inputs and outputs are its annotations.

```python
@agent
async def entitlement(case: Case) -> Entitlement: ...

@agent(timeout=8, retries=1, rating=50, capabilities={"warranty"})
def knowledge(case: Case, ent: Entitlement) -> PolicyCheck | None: ...   # sync: runs in a worker thread

@agent(blocking=False)
def score(case: Case) -> Score: ...   # sync, never waits: runs on the event loop's thread
```

A parameter annotated with a finding kind receives the newest finding of that kind on the subject; one
annotated `list[Kind]` (or `tuple[Kind, ...]`, `Sequence[Kind]`) receives all of them, oldest first; one
annotated `BoardView` or `AgentContext` receives the read-only view or the run's context. The return
annotation names what the agent may write: one kind, a union, `Kind | None`, a list of kinds, or `None`.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from slateboard.blackboard.records import Record
from slateboard.blackboard.view import BoardView
from slateboard.errors import WorkflowError

__all__ = ("Agent", "AgentContext", "Parameter", "agent", "DEFAULT_TIMEOUT")

DEFAULT_TIMEOUT = 60.0
_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.Iterable)
Role = Literal["one", "all", "view", "context"]


@dataclass(frozen=True)
class AgentContext:
    """What an agent may know about its run: who it is, on which subject, which attempt, and a read-only view."""

    agent: str
    subject: str
    attempt: int
    view: BoardView


@dataclass(frozen=True)
class Parameter:
    """One parameter of an agent: a finding kind it reads (`one` newest or `all`), or the view or context."""

    name: str
    role: Role
    kind: type[Record] | None = None


@dataclass(frozen=True, eq=False)
class Agent:
    """A knowledge source. Call it like the function it wraps; the controller runs it through the runner."""

    name: str
    fn: Callable[..., Any]
    params: tuple[Parameter, ...]
    outputs: tuple[type[Record], ...]
    many: bool
    optional: bool
    timeout: float | None = DEFAULT_TIMEOUT
    retries: int = 1
    rating: int = 0
    capabilities: frozenset[str] = frozenset()
    when: Callable[..., bool] | None = None
    description: str = ""
    blocking: bool = True
    is_async: bool = field(init=False)
    inputs: tuple[type[Record], ...] = field(init=False)
    """The finding kinds this agent reads, in parameter order."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.fn))
        object.__setattr__(self, "inputs", tuple(p.kind for p in self.params if p.kind is not None))

    def writes(self, kind: type[Record]) -> bool:
        """Whether a finding of `kind` is one this agent declares."""
        return issubclass(kind, self.outputs) if self.outputs else False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        reads = ", ".join(k.kind_name for k in self.inputs)
        writes = ", ".join(k.kind_name for k in self.outputs) or "nothing"
        return f"Agent({self.name!r}, reads {reads}, writes {writes})"


@overload
def agent(fn: Callable[..., Any], /) -> Agent: ...


@overload
def agent(
    *,
    name: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    retries: int = 1,
    rating: int = 0,
    capabilities: Iterable[str] = (),
    when: Callable[..., bool] | None = None,
    blocking: bool = True,
) -> Callable[[Callable[..., Any]], Agent]: ...


def agent(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    retries: int = 1,
    rating: int = 0,
    capabilities: Iterable[str] = (),
    when: Callable[..., bool] | None = None,
    blocking: bool = True,
) -> Agent | Callable[[Callable[..., Any]], Agent]:
    """Declare an agent; see the module docstring. Options:

    - `timeout`: seconds per attempt (None: no limit); `retries`: extra attempts after a recoverable failure (a
      timeout or an ordinary exception; never after a `ConflictError`, a refused kind or an invalid finding).
    - `rating`: higher runs first in the write order of a cycle; ties keep declaration order.
    - `capabilities`: tags for discovery (`registry.by_capability`).
    - `when`: a precondition taking some of the agent's own parameters by name; the agent runs only when true.
    - `blocking=False`: a sync agent that never waits (pure computation: no I/O, no sleeping) runs on the event
      loop's thread instead of a worker thread, saving the hand-over to a thread and back on every call (as
      `blocking=False` does for a sink). While it runs nothing else in the loop does (other boards' agents wait);
      in the main thread the watchdog still cuts it at its `timeout`.
    """

    def build(target: Callable[..., Any]) -> Agent:
        agent_name = name or getattr(target, "__name__", "")
        if not agent_name or not agent_name.isprintable():
            raise WorkflowError(f"agent {target!r} needs a name: pass name='...'")
        _check_options(agent_name, timeout, retries, rating)
        if not isinstance(blocking, bool):
            raise WorkflowError(f"agent {agent_name!r}: blocking must be True or False, got {blocking!r}")
        if not blocking and inspect.iscoroutinefunction(target):
            raise WorkflowError(
                f"agent {agent_name!r}: blocking=False is for sync agents; an async one runs on the event loop already"
            )
        params, outputs, many, optional = _signature(agent_name, target)
        _check_when(agent_name, when, params)
        return Agent(
            name=agent_name,
            fn=target,
            params=params,
            outputs=outputs,
            many=many,
            optional=optional,
            timeout=timeout,
            retries=retries,
            rating=rating,
            capabilities=frozenset(capabilities),
            when=when,
            description=inspect.getdoc(target) or "",
            blocking=blocking,
        )

    return build(fn) if fn is not None else build


def _check_options(name: str, timeout: float | None, retries: int, rating: int) -> None:
    if timeout is not None and (isinstance(timeout, bool) or not (isinstance(timeout, int | float) and timeout > 0)):
        raise WorkflowError(f"agent {name!r}: timeout must be a positive number of seconds or None, got {timeout!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise WorkflowError(f"agent {name!r}: retries must be an int >= 0, got {retries!r}")
    if isinstance(rating, bool) or not isinstance(rating, int):
        raise WorkflowError(f"agent {name!r}: rating must be an int, got {rating!r}")


def _signature(name: str, fn: Callable[..., Any]) -> tuple[tuple[Parameter, ...], tuple[type[Record], ...], bool, bool]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        raise WorkflowError(
            f"agent {name!r}: cannot resolve its annotations ({exc}); define the finding kinds it uses at module level"
        ) from exc
    params = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise WorkflowError(f"agent {name!r}: parameter {param.name!r} must be an ordinary named parameter")
        if param.name not in hints:
            raise WorkflowError(f"agent {name!r}: parameter {param.name!r} needs an annotation (a finding kind)")
        params.append(_parameter(name, param.name, hints[param.name]))
    if not any(p.kind is not None for p in params):
        raise WorkflowError(f"agent {name!r} reads no finding kind: it would never know when to run")
    if "return" not in hints:
        raise WorkflowError(f"agent {name!r} has no return annotation: name the kind(s) it writes, or None")
    return (tuple(params), *_outputs(name, hints["return"]))


def _parameter(agent_name: str, name: str, hint: Any) -> Parameter:
    if hint is BoardView:
        return Parameter(name, "view")
    if hint is AgentContext:
        return Parameter(name, "context")
    if _is_kind(hint):
        return Parameter(name, "one", hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _SEQUENCES and args and _is_kind(args[0]) and args[1:] in ((), (Ellipsis,)):
        return Parameter(name, "all", args[0])
    raise WorkflowError(
        f"agent {agent_name!r}: parameter {name!r} is annotated {hint!r}; use a finding kind, list[Kind], "
        "BoardView or AgentContext"
    )


def _outputs(name: str, hint: Any) -> tuple[tuple[type[Record], ...], bool, bool]:
    if hint is None or hint is type(None):
        return (), False, True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _SEQUENCES and args and args[1:] in ((), (Ellipsis,)):
        kinds, optional = _union(name, args[0])
        if optional:
            raise WorkflowError(f"agent {name!r}: a list it returns holds findings, not None")
        return kinds, True, True
    kinds, optional = _union(name, hint)
    return kinds, False, optional


def _union(name: str, hint: Any) -> tuple[tuple[type[Record], ...], bool]:
    members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    kinds = tuple(m for m in members if m is not type(None))
    if not kinds or not all(_is_kind(k) for k in kinds):
        raise WorkflowError(f"agent {name!r}: return annotation {hint!r} must name finding kinds (or None)")
    return kinds, len(kinds) < len(members)


def _is_kind(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, Record)


def _check_when(name: str, when: Callable[..., bool] | None, params: tuple[Parameter, ...]) -> None:
    if when is None:
        return
    if not callable(when):
        raise WorkflowError(f"agent {name!r}: when must be callable, got {when!r}")
    # Only findings: a precondition is judged from the log alone, so that replay judges it the same way.
    known = {p.name for p in params if p.kind is not None}
    unknown = [p for p in inspect.signature(when).parameters if p not in known]
    if unknown:
        raise WorkflowError(
            f"agent {name!r}: its when= precondition asks for {', '.join(unknown)}, "
            f"but it may only take the agent's finding parameters: {', '.join(sorted(known))}"
        )
