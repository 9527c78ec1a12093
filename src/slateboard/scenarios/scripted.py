"""Scripted agents: stage every failure mode of a knowledge source without an LLM.

```python
from slateboard.scenarios import scripted

intake = scripted.agent("intake", reads=[Case], writes=Intake, emit={"category": "warranty", "confidence": 0.9})
retrieval = scripted.agent("retrieval", reads=[Case], writes=PolicyCheck, emit={"excluded": False},
                           timeout_times=1, timeout=0.5)          # times out once, then answers (seed 000)
knowledge = scripted.agent("knowledge", reads=[Case, Entitlement], writes=PolicyCheck,
                           conflict="warranty exception 4.2 applies")   # escalates, never retried
```

A scripted agent is built by the real `@agent` decorator on a generated function whose signature names the real
kinds, so the registry, the workflow graph, the controller's fingerprint and `replay` see exactly what a
hand-written agent with the same name and options declares. Its parameters are named after the kinds it reads
(`PolicyCheck` -> `policy_check`; a repeated name gets `_2`, `_3`), which is what a `when=` precondition takes.

What attempt `n` of a task does depends only on `n` (the runner's `AgentContext.attempt`), never on state kept in
the agent: a scripted agent behaves the same after a crash and resume, under replay and in every process.

1. `delay` seconds pass first (every attempt);
2. attempts `1..timeout_times` sleep past the timeout (status "timeout", retried by the runner's rule);
3. the next `fail_times` attempts raise `ConnectionError` (status "error", retried);
4. every later attempt: raises `ConflictError(conflict)` when `conflict` is set (escalates, never retried);
   returns a finding of the `undeclared` kind when set (refused: "denied"); returns a finding that fails
   validation when `invalid` is set ("invalid"); otherwise writes what `emit` says ("ok").
"""

from __future__ import annotations

import inspect
import keyword
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import anyio

from slateboard.agents.spec import DEFAULT_TIMEOUT, Agent, AgentContext
from slateboard.agents.spec import agent as declare
from slateboard.blackboard.records import Record, encode_record
from slateboard.errors import AgentTimeoutError, ConflictError, InvalidFindingError, WorkflowError
from slateboard.scenarios import templates

__all__ = ("agent", "Emit", "Emitter", "param_name")

Emitter = Callable[[str, dict[str, Any]], Any]
Emit = Mapping[str, Any] | Sequence[Mapping[str, Any]] | Emitter | None
_ONE_FINDING: Mapping[str, Any] = MappingProxyType({})
_PROBE_SUBJECT = "scripted-probe"
_CONTEXT = "context"


@dataclass(frozen=True)
class _Script:
    """What the generated function does; immutable, so that an attempt's behaviour depends only on its number."""

    name: str
    params: tuple[str, ...]  # the finding parameters, in order
    context: str  # the hidden AgentContext parameter
    outputs: tuple[type[Record], ...]
    plan: tuple[tuple[type[Record], Mapping[str, Any]], ...] | None  # static findings, or None
    emitter: Emitter | None
    many: bool
    delay: float
    timeout: float | None
    timeout_times: int
    fail_times: int
    conflict: str | None
    undeclared: type[Record] | None
    invalid: tuple[type[Record], Mapping[str, Any]] | None
    templated: bool = False  # static emit values hold {subject} / {Kind.field} placeholders

    async def __call__(self, **arguments: Any) -> Any:
        context: AgentContext = arguments[self.context]
        number = context.attempt
        if self.delay > 0:
            await anyio.sleep(self.delay)
        if number <= self.timeout_times:
            await _overrun(self.name, self.timeout)
        if number <= self.timeout_times + self.fail_times:
            failure = number - self.timeout_times
            raise ConnectionError(f"scripted failure {failure} of {self.fail_times} (agent {self.name})")
        if self.conflict is not None:
            raise ConflictError(self.conflict)
        if self.undeclared is not None:
            return self._shape(_construct(self.undeclared, context.subject, {}))
        if self.invalid is not None:
            kind, fields = self.invalid
            return self._shape(_construct(kind, context.subject, fields))
        if self.plan is not None:
            plan = self.plan
            if self.templated:
                values = templates.values_of(context.subject, (arguments[name] for name in self.params))
                plan = tuple((kind, templates.render(fields, values)) for kind, fields in plan)
            return self._shape(*(_build(kind, context.subject, fields) for kind, fields in plan))
        if self.emitter is not None:
            inputs = {name: arguments[name] for name in self.params}
            result = self.emitter(context.subject, inputs)
            if inspect.isawaitable(result):
                result = await result
            return self._dynamic(context.subject, result)
        return None

    def _shape(self, *findings: Record) -> Any:
        if self.many:
            return list(findings)
        return findings[0] if findings else None

    def _dynamic(self, subject: str, result: Any) -> list[Any]:
        """A callable's answer as a list (the annotation is `list[...]`); dicts become findings as static ones do."""
        items = [] if result is None else list(result) if isinstance(result, list | tuple) else [result]
        findings = []
        for item in items:  # anything else is passed on as returned, for the runner to refuse
            if isinstance(item, Mapping):
                kind, fields = _pick(self.name, self.outputs, item)
                findings.append(_build(kind, subject, fields))
            else:
                findings.append(item)
        return findings


def agent(
    name: str,
    *,
    reads: Sequence[Any],
    writes: type[Record] | Sequence[type[Record]],
    emit: Emit = _ONE_FINDING,
    fail_times: int = 0,
    timeout_times: int = 0,
    delay: float = 0.0,
    invalid: bool | Mapping[str, Any] = False,
    undeclared: type[Record] | None = None,
    conflict: str | None = None,
    rating: int = 0,
    timeout: float | None = DEFAULT_TIMEOUT,
    retries: int = 1,
    capabilities: Iterable[str] = (),
    when: Callable[..., bool] | None = None,
    template: bool = False,
) -> Agent:
    """A scripted `Agent` called `name`; see the module docstring for what each attempt does.

    - `reads`: the kinds it reads (the newest finding of each on the subject); an item `list[Kind]` reads all.
    - `writes`: the kind or kinds it declares (its return annotation).
    - `emit`: a dict of field values, one finding; a list of dicts, several (the annotation becomes a list);
      `None`, nothing (the annotation becomes `Kind | None`); or a callable `(subject, inputs)` whose `inputs` maps
      parameter names to what the agent read, returning findings, dicts, a list of them or None (may be async).
      A dict makes an instance of the first kind in `writes`, or of the one its `kind` key names (the class, its
      `kind_name` or class name); `subject` defaults to the task's subject and `confidence` to 1.0. Static dicts
      are checked now (unless a final mode means they are never written): a field the kind refuses is a
      `WorkflowError` here, not an error attempt later.
    - `invalid`: True builds (with `model_construct`) the emitted finding with confidence 1.5; a dict gives the
      field values to break instead (prefer a value of the right type that breaks a constraint).
    - `undeclared`: a kind it does not declare; it returns one (built with `model_construct`: the runner refuses
      it for its kind before looking at its fields).
    - `rating`, `timeout`, `retries`, `capabilities`, `when`: as for `@agent` (`when` takes the derived names).
    - `template`: strings in a static `emit` may hold `{subject}` and `{Kind.field}` (a field of a finding it
      read), filled in at each attempt (`slateboard.scenarios.templates`); what scenario files' agents do.
    """
    if not isinstance(name, str) or not name.strip():
        raise WorkflowError(f"a scripted agent needs a name, got {name!r}")
    outputs = _kinds(name, writes)
    _check_counts(name, fail_times=fail_times, timeout_times=timeout_times, delay=delay)
    if timeout_times and timeout is None:
        raise WorkflowError(f"scripted agent {name!r}: timeout_times needs a timeout to overrun, got timeout=None")
    chosen = {"conflict": conflict is not None, "invalid": invalid is not False, "undeclared": undeclared is not None}
    modes = [mode for mode, on in chosen.items() if on]
    if len(modes) > 1:
        raise WorkflowError(f"scripted agent {name!r}: choose one of {', '.join(modes)}; each ends the attempt")
    # With a final mode the emitted fields are never written (invalid ones only seed the broken finding).
    plan, emitter, many, optional = _emission(name, outputs, emit, check=not modes, template=template)
    names = _names([_read_kind(name, item) for item in reads])
    script = _Script(
        name=name,
        params=tuple(names[:-1]),
        context=names[-1],
        outputs=outputs,
        plan=plan,
        emitter=emitter,
        many=many,
        delay=float(delay),
        timeout=timeout,
        timeout_times=timeout_times,
        fail_times=fail_times,
        conflict=conflict,
        undeclared=_undeclared(name, outputs, undeclared),
        invalid=_invalid(name, outputs, plan, invalid),
        templated=template,
    )

    async def scripted(**arguments: Any) -> Any:
        return await script(**arguments)

    union: Any = typing.Union[outputs]  # noqa: UP007  (a tuple of kinds: one kind stays itself)
    returns: Any = list[union] if many else union | None if optional else union
    annotations: dict[str, Any] = dict(zip(names[:-1], reads, strict=True))
    annotations[names[-1]] = AgentContext
    parameters = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=a) for n, a in annotations.items()]
    scripted.__name__ = scripted.__qualname__ = name
    scripted.__annotations__ = {**annotations, "return": returns}
    scripted.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    scripted.__doc__ = _describe(script)
    return declare(name=name, timeout=timeout, retries=retries, rating=rating, capabilities=capabilities, when=when)(
        scripted
    )


def param_name(kind: type[Record]) -> str:
    """The parameter name a scripted agent gives a kind it reads: the last part of its `kind_name`, snake_case."""
    base = kind.kind_name.rsplit(".", 1)[-1]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", base).lower()
    snake = re.sub(r"\W+", "_", snake).strip("_") or "finding"
    if snake[0].isdigit():
        snake = f"kind_{snake}"
    return f"{snake}_" if keyword.iskeyword(snake) else snake


def _names(kinds: Sequence[type[Record]]) -> list[str]:
    """Parameter names for `kinds`, then one for the hidden context; repeats get `_2`, `_3`, ..."""
    names: list[str] = []
    for base in [param_name(k) for k in kinds] + [_CONTEXT]:
        candidate, n = base, 1
        while candidate in names:
            n += 1
            candidate = f"{base}_{n}"
        names.append(candidate)
    return names


def _read_kind(name: str, item: Any) -> type[Record]:
    if isinstance(item, type) and issubclass(item, Record):
        return item
    args = typing.get_args(item)
    if typing.get_origin(item) is list and len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], Record):
        return args[0]
    raise WorkflowError(f"scripted agent {name!r}: reads takes finding kinds or list[Kind], got {item!r}")


def _kinds(name: str, writes: type[Record] | Sequence[type[Record]]) -> tuple[type[Record], ...]:
    kinds = (writes,) if isinstance(writes, type) else tuple(writes)
    if not kinds or not all(isinstance(k, type) and issubclass(k, Record) for k in kinds):
        raise WorkflowError(f"scripted agent {name!r}: writes takes a finding kind or a list of them, got {writes!r}")
    return kinds


def _check_counts(name: str, *, fail_times: int, timeout_times: int, delay: float) -> None:
    for option, value in (("fail_times", fail_times), ("timeout_times", timeout_times)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise WorkflowError(f"scripted agent {name!r}: {option} must be an int >= 0, got {value!r}")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not delay >= 0:  # NaN fails too
        raise WorkflowError(f"scripted agent {name!r}: delay must be a number of seconds >= 0, got {delay!r}")


def _emission(
    name: str, outputs: tuple[type[Record], ...], emit: Emit, *, check: bool, template: bool = False
) -> tuple[tuple[tuple[type[Record], Mapping[str, Any]], ...] | None, Emitter | None, bool, bool]:
    """(static plan, callable, many, optional) for `emit`."""
    if emit is None:
        return (), None, False, True
    if isinstance(emit, Mapping):
        return (_static(name, outputs, emit, check, template),), None, False, False
    if isinstance(emit, list | tuple) and all(isinstance(item, Mapping) for item in emit):
        return tuple(_static(name, outputs, item, check, template) for item in emit), None, True, True
    if callable(emit):
        return None, emit, True, True
    raise WorkflowError(f"scripted agent {name!r}: emit takes a dict, a list of dicts, a callable or None")


def _static(
    name: str, outputs: tuple[type[Record], ...], item: Mapping[str, Any], check: bool, template: bool
) -> tuple[type[Record], Mapping[str, Any]]:
    kind, fields = _pick(name, outputs, item)
    probe: Mapping[str, Any] = fields
    if template:
        # A field filled from what the agent reads is known only then; {subject} can be checked now.
        check = check and set(templates.placeholders(fields)) <= {"subject"}
        probe = templates.render(fields, {"subject": _PROBE_SUBJECT})
    try:
        if check:
            _build(kind, _PROBE_SUBJECT, probe)
    except InvalidFindingError as exc:
        raise WorkflowError(f"scripted agent {name!r}: emit does not make a valid {kind.kind_name}: {exc}") from exc
    return kind, fields


def _pick(
    name: str, outputs: tuple[type[Record], ...], item: Mapping[str, Any]
) -> tuple[type[Record], Mapping[str, Any]]:
    """The kind a dict makes (its `kind` key, when that names a kind) and its other fields."""
    selector = item.get("kind")
    named = [k for k in outputs if selector in (k, k.kind_name, k.__name__)]
    is_selector = (isinstance(selector, type) and issubclass(selector, Record)) or named
    if not is_selector:
        return outputs[0], MappingProxyType(dict(item))
    if not named:
        declared = ", ".join(k.kind_name for k in outputs)
        raise WorkflowError(f"scripted agent {name!r}: emit names {selector!r}, which it does not write ({declared})")
    return named[0], MappingProxyType({k: v for k, v in item.items() if k != "kind"})


def _defaults(kind: type[Record], subject: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    defaults = {"subject": subject, "confidence": 1.0}
    return {**{k: v for k, v in defaults.items() if k in kind.model_fields}, **fields}


def _build(kind: type[Record], subject: str, fields: Mapping[str, Any]) -> Record:
    return kind(**_defaults(kind, subject, fields))


def _construct(kind: type[Record], subject: str, fields: Mapping[str, Any]) -> Record:
    """A finding built without validation (`model_construct`): what the runner must check and refuse."""
    return kind.model_construct(**_defaults(kind, subject, fields))


def _undeclared(name: str, outputs: tuple[type[Record], ...], kind: type[Record] | None) -> type[Record] | None:
    if kind is None:
        return None
    if not (isinstance(kind, type) and issubclass(kind, Record)):
        raise WorkflowError(f"scripted agent {name!r}: undeclared takes a finding kind, got {kind!r}")
    if issubclass(kind, outputs):
        raise WorkflowError(f"scripted agent {name!r}: undeclared={kind.kind_name} is a kind it declares")
    return kind


def _invalid(
    name: str,
    outputs: tuple[type[Record], ...],
    plan: tuple[tuple[type[Record], Mapping[str, Any]], ...] | None,
    invalid: bool | Mapping[str, Any],
) -> tuple[type[Record], Mapping[str, Any]] | None:
    if invalid is False:
        return None
    kind, fields = plan[0] if plan else (outputs[0], MappingProxyType({}))
    if invalid is True:
        if "confidence" not in kind.model_fields:
            raise WorkflowError(f"scripted agent {name!r}: {kind.kind_name} has no confidence; give invalid={{...}}")
        broken = {**fields, "confidence": 1.5}
    elif isinstance(invalid, Mapping):
        broken = {**fields, **invalid}
    else:
        raise WorkflowError(f"scripted agent {name!r}: invalid takes True or a dict of fields, got {invalid!r}")
    try:
        encode_record(_construct(kind, _PROBE_SUBJECT, broken))
    except InvalidFindingError:
        return kind, MappingProxyType(broken)
    raise WorkflowError(f"scripted agent {name!r}: invalid={invalid!r} still makes a valid {kind.kind_name}")


async def _overrun(name: str, limit: float | None) -> None:
    """Sleep past `timeout`; the runner cancels the sleep. Only a caller without one gets here afterwards."""
    seconds = limit if limit is not None else 0.0
    await anyio.sleep(seconds * 2 + 0.1)  # a margin, so the runner's deadline always comes first
    raise AgentTimeoutError(f"scripted agent {name!r} overran its timeout of {seconds:g} s")


def _describe(script: _Script) -> str:
    steps = []
    if script.delay:
        steps.append(f"waits {script.delay:g} s")
    if script.timeout_times:
        steps.append(f"times out {script.timeout_times} time(s)")
    if script.fail_times:
        steps.append(f"fails {script.fail_times} time(s)")
    if script.conflict is not None:
        steps.append(f"reports a conflict: {script.conflict}")
    elif script.undeclared is not None:
        steps.append(f"returns an undeclared {script.undeclared.kind_name}")
    elif script.invalid is not None:
        steps.append(f"returns an invalid {script.invalid[0].kind_name}")
    elif script.plan is not None:
        steps.append(f"writes {', '.join(k.kind_name for k, _ in script.plan) or 'nothing'}")
    else:
        steps.append("writes what its emit function returns")
    return f"Scripted agent: {'; then '.join(steps)}."
