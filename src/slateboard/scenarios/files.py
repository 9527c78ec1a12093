"""Scenarios written as YAML files, validated by pydantic; every error names the file, the line and the field.

```yaml
name: refund-check
import: [myco.kinds]                 # optional: modules whose finding kinds the file uses by name
kinds:                               # or declare kinds here: field -> type (str, int, float, bool, list[str],
  Case: {description: str}           #   a type ending in "?" is optional, a list of values is a choice)
  Entitlement: {entitled: bool}
agents:
  - name: entitlement
    reads: [Case]
    writes: Entitlement
    emit: {entitled: true, confidence: 0.9, citations: [{source: crm, approved: true}]}
    fail_times: 1                    # and timeout_times, delay, invalid, undeclared, conflict, timeout, retries...
rules:
  - sufficient: {kind: Entitlement, min_confidence: 0.8}   # min_sources, min_source_confidence too
  - quorum: {kind: Entitlement, agents: [entitlement]}     # these agents must all answer (or min_answers)
  - contradiction: {first: Entitlement, second: Check, when: {first: {entitled: true}, second: {excluded: true}},
                    reason: entitlement contradicts a policy exception}
policy:                              # the policy-file format inline, or a path to a policy file
  rules: [{rule: min_confidence, threshold: 0.85}]
sink: table:refunds                  # or memory
inputs:
  - {kind: Case, description: "pump failed", confidence: 1.0}    # subject defaults to the board's name
expect: {status: committed, commits: 1}
```
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from slateboard._internal.yamlpos import Locator, dotted, line_of
from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import Finding, Record
from slateboard.commit import sinks
from slateboard.commit.layer import CommitTarget
from slateboard.controller import rules as rule_kinds
from slateboard.errors import KindConflictError, PolicyError, ScenarioError, SlateboardError
from slateboard.policies import files as policy_files
from slateboard.policies.files import FieldsMatch
from slateboard.scenarios import scripted
from slateboard.scenarios.model import Expectation, Scenario
from slateboard.state.vocabulary import OutcomeStatus

__all__ = ("load", "loads")

_TYPES: dict[str, Any] = {"str": str, "int": int, "float": float, "bool": bool, "list[str]": list[str]}
_TYPES["list[int]"] = list[int]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Agent(_Spec):
    name: str = Field(min_length=1)
    reads: list[str] = Field(min_length=1)
    writes: str | list[str]
    emit: dict[str, Any] | list[dict[str, Any]] | None = {}
    fail_times: int = Field(default=0, ge=0)
    timeout_times: int = Field(default=0, ge=0)
    delay: float = Field(default=0.0, ge=0)
    invalid: bool = False
    undeclared: str | None = None
    conflict: str | None = None
    rating: int = 0
    timeout: float | None = Field(default=60.0, gt=0)
    retries: int = Field(default=1, ge=0)
    capabilities: list[str] = []


class _Sufficient(_Spec):
    kind: str
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    min_sources: int = Field(default=1, ge=1)
    min_source_confidence: float | None = Field(default=None, ge=0, le=1)


class _Quorum(_Spec):
    kind: str
    agents: list[str] = Field(min_length=1)
    min_answers: int | None = Field(default=None, ge=1)


class _EscalateBelow(_Spec):
    kind: str
    confidence: float = Field(ge=0, le=1)


class _Disagreement(_Spec):
    kind: str
    field: str


class _When(_Spec):
    first: dict[str, Any] = {}
    second: dict[str, Any] = {}


class _Contradiction(_Spec):
    first: str
    second: str
    when: _When
    reason: str = Field(min_length=1)


class _Budget(_Spec):
    max_cycles: int = Field(default=100, ge=1)
    max_agent_runs: int = Field(default=1000, ge=1)
    deadline: float | None = Field(default=None, gt=0)


class _Rule(_Spec):
    sufficient: _Sufficient | None = None
    quorum: _Quorum | None = None
    escalate_below: _EscalateBelow | None = None
    disagreement: _Disagreement | None = None
    contradiction: _Contradiction | None = None
    budget: _Budget | None = None


class _Expect(_Spec):
    status: OutcomeStatus
    reasons: list[str] = []
    commits: int | None = Field(default=None, ge=0)
    approvals: int | None = Field(default=None, ge=0)


KindFields = dict[str, Annotated[str | list[str | int | float | bool], Field()]]


class _File(_Spec):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    imports: list[str] = Field(default=[], alias="import")
    kinds: dict[str, KindFields] = {}
    agents: list[_Agent] = Field(min_length=1)
    rules: list[_Rule] = []
    policy: dict[str, Any] | str | None = None
    sink: str | None = None
    inputs: list[dict[str, Any]] = Field(min_length=1)
    expect: _Expect | None = None


def load(path: str | Path) -> Scenario:
    """Read a scenario file (`.yaml` or `.yml`)."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ScenarioError("a scenario file must end in .yaml or .yml", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read the scenario file: {exc}", file=str(path)) from exc
    return loads(text, file=str(path))


def loads(text: str, *, file: str = "<scenario>") -> Scenario:
    """Read a scenario from YAML text; `file` names it in errors (and anchors a relative policy path)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ScenarioError(f"not valid YAML: {exc.problem or exc}", file=file, line=line_of(mark)) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"not valid YAML: {exc}", file=file) from exc
    where = Locator(node, file)
    try:
        spec = _File.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        path = tuple(error["loc"])
        raise ScenarioError(f"{dotted(path)}: {error['msg']}", file=file, line=where.line(path)) from exc
    return _Builder(spec, where).build()


class _Builder:
    def __init__(self, spec: _File, where: Locator) -> None:
        self.spec = spec
        self.where = where
        self.kinds: dict[str, type[Record]] = {}

    def build(self) -> Scenario:
        spec = self.spec
        self._import_modules()
        self._declare_kinds()
        agents = tuple(self._agent(i, a) for i, a in enumerate(spec.agents))
        built_rules = tuple(self._rule(i, r) for i, r in enumerate(spec.rules))
        policy = self._policy()
        sink = self._sink(policy is not None)
        inputs = [self._input(i, item) for i, item in enumerate(spec.inputs)]
        expect = None
        if spec.expect is not None:
            e = spec.expect
            expect = Expectation(e.status, tuple(e.reasons), e.commits, e.approvals)
        try:
            return Scenario(
                name=spec.name,
                description=spec.description,
                agents=agents,
                rules=built_rules,
                policy=policy,
                sink=sink,
                inputs=_inputs_for(inputs),
                expect=expect,
                kinds=tuple(self.kinds.values()),
                source=self.where.file,
            )
        except SlateboardError as exc:
            raise self.where.error((), str(exc)) from exc

    def _import_modules(self) -> None:
        for position, module in enumerate(self.spec.imports):
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise self.where.error(("import", position), f"cannot import {module!r}: {exc}") from exc

    def _declare_kinds(self) -> None:
        module = f"slateboard.scenario_file:{self.where.file}"
        for name, fields in self.spec.kinds.items():
            if not name.isidentifier():
                raise self.where.error(("kinds", name), "a kind's name must be an identifier")
            annotations = {field: self._type(name, field, kind) for field, kind in fields.items()}
            kind_name = f"{self.spec.name}.{name}"
            namespace = {"__annotations__": annotations, "__module__": module, "kind_name": kind_name}
            try:
                self.kinds[name] = type(name, (Finding,), namespace)
            except KindConflictError as exc:
                other = registry.get(kind_name).__module__.removeprefix("slateboard.scenario_file:")
                message = (
                    f"kind {kind_name!r} is already declared by {other}: two scenario files named "
                    f"{self.spec.name!r} cannot be loaded in one process; rename one of them"
                )
                raise self.where.error(("kinds", name), message) from exc
            except (SlateboardError, TypeError) as exc:
                raise self.where.error(("kinds", name), str(exc)) from exc

    def _type(self, kind: str, field: str, declared: str | list[Any]) -> Any:
        if isinstance(declared, list):
            if not declared:
                raise self.where.error(("kinds", kind, field), "a choice needs at least one value")
            return Literal[tuple(declared)]
        optional = declared.endswith("?")
        base = _TYPES.get(declared.rstrip("?"))
        if base is None:
            known = ", ".join(_TYPES)
            raise self.where.error(
                ("kinds", kind, field), f"unknown type {declared!r}; use {known}, or a list of values"
            )
        return base | None if optional else base

    def kind(self, path: Sequence[Any], name: str) -> type[Record]:
        found = self.kinds.get(name)
        if found is not None:
            return found
        try:
            return registry.get(name)
        except SlateboardError:
            by_class = [c for c in registry.subclasses_of(Record) if c.__name__ == name]
            if len(by_class) == 1:
                return by_class[0]
            known = ", ".join(sorted(self.kinds)) or "none declared"
            raise self.where.error(path, f"unknown kind {name!r} (kinds in this file: {known})") from None

    def _agent(self, position: int, spec: _Agent) -> Any:
        path = ("agents", position)
        reads = [self.kind((*path, "reads", i), k) for i, k in enumerate(spec.reads)]
        names = [spec.writes] if isinstance(spec.writes, str) else spec.writes
        writes = [self.kind((*path, "writes"), k) for k in names]
        undeclared = self.kind((*path, "undeclared"), spec.undeclared) if spec.undeclared else None
        try:
            return scripted.agent(
                spec.name,
                reads=reads,
                writes=writes,
                emit=spec.emit,
                fail_times=spec.fail_times,
                timeout_times=spec.timeout_times,
                delay=spec.delay,
                invalid=spec.invalid,
                undeclared=undeclared,
                conflict=spec.conflict,
                rating=spec.rating,
                timeout=spec.timeout,
                retries=spec.retries,
                capabilities=spec.capabilities,
            )
        except SlateboardError as exc:
            raise self.where.error(path, str(exc)) from exc

    def _rule(self, position: int, spec: _Rule) -> rule_kinds.Rule:
        path = ("rules", position)
        given = [name for name, value in spec if value is not None]
        if len(given) != 1:
            raise self.where.error(path, f"each rule is one of {', '.join(_Rule.model_fields)}; got {given or 'none'}")
        name = given[0]
        value: Any = getattr(spec, name)
        at = (*path, name)
        try:
            if isinstance(value, _Sufficient):
                kind = self.kind((*at, "kind"), value.kind)
                return rule_kinds.sufficient(
                    kind,  # type: ignore[arg-type]
                    min_confidence=value.min_confidence,
                    min_sources=value.min_sources,
                    min_source_confidence=value.min_source_confidence,
                )
            if isinstance(value, _Quorum):
                kind = self.kind((*at, "kind"), value.kind)
                return rule_kinds.quorum(kind, agents=value.agents, min_answers=value.min_answers)  # type: ignore[arg-type]
            if isinstance(value, _EscalateBelow):
                return rule_kinds.escalate_below(self.kind((*at, "kind"), value.kind), confidence=value.confidence)  # type: ignore[arg-type]
            if isinstance(value, _Disagreement):
                return rule_kinds.disagreement(self.kind((*at, "kind"), value.kind), field=value.field)  # type: ignore[arg-type]
            if isinstance(value, _Contradiction):
                first, second = self.kind((*at, "first"), value.first), self.kind((*at, "second"), value.second)
                when = _BothMatch(
                    FieldsMatch(tuple(value.when.first.items())), FieldsMatch(tuple(value.when.second.items()))
                )
                return rule_kinds.contradiction(first, second, when=when, reason=value.reason)  # type: ignore[type-var]
            budget: _Budget = value
            return rule_kinds.budget(
                max_cycles=budget.max_cycles, max_agent_runs=budget.max_agent_runs, deadline=budget.deadline
            )
        except SlateboardError as exc:
            raise self.where.error(at, str(exc)) from exc

    def _policy(self) -> Any:
        policy = self.spec.policy
        if policy is None:
            return None
        if isinstance(policy, str):
            base = Path(self.where.file).parent
            try:
                return policy_files.load(base / policy)
            except PolicyError as exc:
                raise self.where.error(("policy",), str(exc)) from exc
        text = yaml.safe_dump(policy, sort_keys=False)
        try:
            return policy_files.loads(text, format="yaml", file="policy")
        except PolicyError as exc:
            rule = exc.rule or ""
            index = int(rule[1:].split()[0]) - 1 if rule.startswith("#") else None
            path = ("policy", "rules", index) if index is not None else ("policy",)
            # The policy's own line numbers count in the re-dumped text: name the place in this file instead.
            detail = str(exc).split(": ", 1)[1] if exc.line is not None else str(exc).removeprefix("policy: ")
            raise ScenarioError(f"policy: {detail}", file=self.where.file, line=self.where.line(path)) from exc

    def _sink(self, needed: bool) -> Callable[[], CommitTarget] | None:
        chosen = self.spec.sink or ("memory" if needed else None)
        if chosen is None:
            return None
        if chosen == "memory":
            return sinks.Memory
        kind, _, name = chosen.partition(":")
        if kind != "table" or not name.isidentifier():
            raise self.where.error(("sink",), f"sink must be 'memory' or 'table:NAME', got {chosen!r}")
        return lambda: sinks.Table(name)

    def _input(self, position: int, item: dict[str, Any]) -> tuple[type[Record], dict[str, Any]]:
        path = ("inputs", position)
        fields = dict(item)
        name = fields.pop("kind", None)
        if not isinstance(name, str):
            raise self.where.error(path, "an input names its kind: {kind: Case, ...}")
        kind = self.kind((*path, "kind"), name)
        fields.setdefault("confidence", 1.0)
        try:
            kind(**{"subject": "probe", **fields})  # refuse a bad input now, with its line
        except SlateboardError as exc:
            raise self.where.error(path, str(exc)) from exc
        return kind, fields


def _inputs_for(inputs: list[tuple[type[Record], dict[str, Any]]]) -> Callable[[str], Sequence[Finding]]:
    def make(board: str) -> Sequence[Finding]:
        return tuple(kind(**{"subject": board, **fields}) for kind, fields in inputs)  # type: ignore[misc]

    return make


@dataclass(frozen=True)
class _BothMatch:
    """A contradiction's `when` from a file: the first and the second finding each have the given field values."""

    first: FieldsMatch
    second: FieldsMatch

    def __call__(self, a: Any, b: Any) -> bool:
        return self.first(a) and self.second(b)
