"""Scenarios written as YAML files, validated by pydantic; every error names the file, the line and the field.

The format is the models of `slateboard.scenarios.format`; docs/scenario-files.md is generated from them. In short:
`name`, `kinds` declared inline (or `import`ed), scripted `agents` (whose `emit` strings may hold `{subject}` and
`{Kind.field}`), `rules`, a `policy` inline or by path (naming this file's kinds by their short names), a `sink`,
`inputs`, `expect`, and `variants` that change only what they name; `extends: base.yaml` starts from another file
(`slateboard.scenarios.extends`):

```yaml
variants:                            # slateboard run refund.yaml --variant not-entitled
  not-entitled:
    agents: {entitlement: {emit: {entitled: false, confidence: 0.9}}}   # only the fields given change
    expect: {status: insufficient}
```
"""

from __future__ import annotations

import difflib
import importlib
import keyword
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from slateboard._internal.yamlpos import dotted
from slateboard.agents.spec import Agent
from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import Finding, Record
from slateboard.commit import sinks
from slateboard.commit.layer import CommitTarget
from slateboard.controller import rules as rule_kinds
from slateboard.errors import KindConflictError, PolicyError, ScenarioError, SlateboardError
from slateboard.policies import files as policy_files
from slateboard.policies.files import FieldsMatch
from slateboard.policies.policy import Policy
from slateboard.scenarios import extends, scripted, templates
from slateboard.scenarios.extends import Sources
from slateboard.scenarios.format import (
    KIND_TYPES,
    AgentSpec,
    BudgetSpec,
    ContradictionSpec,
    DisagreementSpec,
    EscalateBelowSpec,
    ExpectSpec,
    FileSpec,
    QuorumSpec,
    RuleSpec,
    SufficientSpec,
    VariantSpec,
)
from slateboard.scenarios.model import Expectation, Scenario, Variant

__all__ = ("load", "loads")

Path_ = tuple[Any, ...]
_Model = TypeVar("_Model", bound=BaseModel)
_KEYS = sorted({i.alias or n for m in (FileSpec, AgentSpec, VariantSpec, RuleSpec) for n, i in m.model_fields.items()})


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
    """Read a scenario from YAML text; `file` names it in errors (and anchors relative `extends` and policy
    paths)."""
    data, where = extends.resolve(text, file)
    return _Builder(_validate(FileSpec, data, where, ()), where).build()


def _validate(model: type[_Model], data: object, where: Sources, at: Path_) -> _Model:
    """`data` as `model`, or the first problem as a `ScenarioError` at its line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        path = (*at, *error["loc"])
        hint = ""
        if error["type"] == "extra_forbidden":  # a misspelt key: say which keys would have been understood
            close = difflib.get_close_matches(str(error["loc"][-1]), _KEYS, n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise where.error(path, f"{error['msg']}{hint}") from exc


class _Builder:
    def __init__(self, spec: FileSpec, where: Sources) -> None:
        self.spec = spec
        self.where = where
        self.kinds: dict[str, type[Record]] = {}

    def build(self) -> Scenario:
        spec = self.spec
        self._import_modules()
        self._declare_kinds()
        agents = tuple(self._agent(("agents", i), a) for i, a in enumerate(spec.agents))
        built_rules = self._rules(("rules",), spec.rules)
        policy = self._policy(("policy",), spec.policy)
        sink = self._sink(policy is not None)
        inputs = self._inputs(("inputs",), spec.inputs)
        variants = {name: self._variant(name, variant) for name, variant in spec.variants.items()}
        try:
            return Scenario(
                name=spec.name,
                description=spec.description,
                agents=agents,
                rules=built_rules,
                policy=policy,
                sink=sink,
                inputs=inputs,
                expect=_expectation(spec.expect),
                kinds=tuple(self.kinds.values()),
                source=self.where.file,
                variants=variants,
            )
        except SlateboardError as exc:
            raise self.where.error((), str(exc)) from exc

    def _variant(self, name: str, spec: VariantSpec) -> Variant:
        at: Path_ = ("variants", name)
        if name == "happy":
            raise self.where.error(at, "'happy' is the file itself; name the variant otherwise")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise self.where.error(at, "a variant's name is letters, digits, _ . - (it names boards and references)")
        known = [a.name for a in self.spec.agents]
        for position, removed in enumerate(spec.remove_agents):
            if removed not in known:
                raise self.where.error((*at, "remove_agents", position), _unknown("agent", removed, known))
        policy = self._policy((*at, "policy"), spec.policy) if spec.policy is not None else None
        return Variant(
            description=spec.description,
            agents=tuple(self._changed_agent((*at, "agents", n), n, c) for n, c in spec.agents.items()),
            remove_agents=tuple(spec.remove_agents),
            inputs=self._inputs((*at, "inputs"), spec.inputs) if spec.inputs is not None else None,
            rules=self._rules((*at, "rules"), spec.rules) if spec.rules is not None else None,
            policy=policy,
            sink=self._sink(True) if policy is not None and self.spec.sink is None else None,
            expect=_expectation(spec.expect),
        )

    def _changed_agent(self, at: Path_, name: str, change: BaseModel) -> Agent:
        """The base agent called `name` with the fields the variant gives, or a new agent of that name."""
        base = next((a for a in self.spec.agents if a.name == name), None)
        fields = {"name": name} if base is None else base.model_dump()
        fields.update(change.model_dump(exclude_unset=True))
        if base is None and not {"reads", "writes"} <= set(fields):
            known = ", ".join(a.name for a in self.spec.agents)
            message = f"no agent {name!r} to change (agents: {known}); a new agent needs reads and writes"
            raise self.where.error(at, message)
        return self._agent(at, _validate(AgentSpec, fields, self.where, at))

    def _import_modules(self) -> None:
        for position, module in enumerate(self.spec.imports):
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise self.where.error(("import", position), f"cannot import {module!r}: {exc}") from exc

    def _declare_kinds(self) -> None:
        for name, fields in self.spec.kinds.items():
            if not name.isidentifier():
                raise self.where.error(("kinds", name), "a kind's name must be an identifier")
            annotations = {field: self._type(name, field, kind) for field, kind in fields.items()}
            # Named after the file that declares it (a base file's kinds keep the base's names), by its absolute
            # path: `refund.yaml` and `/work/refund.yaml` are one file, whichever way it is named.
            file = self.where.file_of(("kinds", name))
            module = f"slateboard.scenario_file:{Path(file).resolve() if Path(file).is_file() else file}"
            kind_name = f"{self.where.name_of(('kinds', name)) or self.spec.name}.{name}"
            namespace = {"__annotations__": annotations, "__module__": module, "kind_name": kind_name}
            same = _declared(kind_name, module, annotations)
            if same is not None:  # the file loaded again: the same class, or findings read before would not match
                self.kinds[name] = same
                continue
            try:
                self.kinds[name] = type(name, (Finding,), namespace)
            except KindConflictError as exc:
                other = registry.get(kind_name).__module__.removeprefix("slateboard.scenario_file:")
                message = (
                    f"kind {kind_name!r} is already declared by {other}: two scenario files named "
                    f"{kind_name.rsplit('.', 1)[0]!r} cannot be loaded in one process; rename one of them"
                )
                raise self.where.error(("kinds", name), message) from exc
            except (SlateboardError, TypeError) as exc:
                raise self.where.error(("kinds", name), str(exc)) from exc

    def _type(self, kind: str, field: str, declared: str | list[Any]) -> Any:
        if _reserved(field):  # pydantic refuses some with a ValueError; others would silently replace a method
            message = "a field name must be an identifier that is not a keyword, private or a Finding attribute"
            raise self.where.error(("kinds", kind, field), message)
        if isinstance(declared, list):
            if not declared:
                raise self.where.error(("kinds", kind, field), "a choice needs at least one value")
            return Literal[tuple(declared)]
        optional = declared.endswith("?")
        base = KIND_TYPES.get(declared.rstrip("?"))
        if base is None:
            message = _unknown("type", declared.rstrip("?"), list(KIND_TYPES)) + "; or a list of values"
            raise self.where.error(("kinds", kind, field), message)
        return base | None if optional else base

    def kind(self, path: Sequence[Any], name: str) -> type[Record]:
        """The kind `name` names: declared in this file (its short name), or registered (kind_name or class)."""
        found = self.kinds.get(name)
        if found is not None:
            return found
        try:
            return registry.get(name)
        except SlateboardError:
            by_class = [c for c in registry.subclasses_of(Record) if c.__name__ == name]
            if len(by_class) == 1:
                return by_class[0]
            registered = [c.kind_name for c in registry.subclasses_of(Record)]
            message = _unknown("kind", name, list(self.kinds), others=registered)
            known = ", ".join(sorted(self.kinds)) or "none declared"
            raise self.where.error(path, f"{message} (kinds in this file: {known})") from None

    def _agent(self, path: Path_, spec: AgentSpec) -> Agent:
        reads = [self.kind((*path, "reads", i), k) for i, k in enumerate(spec.reads)]
        names = [spec.writes] if isinstance(spec.writes, str) else spec.writes
        writes = [self.kind((*path, "writes"), k) for k in names]
        undeclared = self.kind((*path, "undeclared"), spec.undeclared) if spec.undeclared else None
        problem = templates.unknown_placeholder(spec.emit, templates.names_for(reads))
        if problem is not None:
            raise self.where.error((*path, "emit", *problem[0]), problem[1])
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
                template=bool(templates.placeholders(spec.emit)),
            )
        except SlateboardError as exc:
            raise self.where.error(path, str(exc)) from exc

    def _rules(self, path: Path_, specs: list[RuleSpec]) -> tuple[rule_kinds.Rule, ...]:
        return tuple(self._rule((*path, i), r) for i, r in enumerate(specs))

    def _rule(self, path: Path_, spec: RuleSpec) -> rule_kinds.Rule:
        given = [name for name, value in spec if value is not None]
        if len(given) != 1:
            choices = ", ".join(RuleSpec.model_fields)
            raise self.where.error(path, f"each rule is one of {choices}; got {given or 'none'}")
        name = given[0]
        value: Any = getattr(spec, name)
        at = (*path, name)
        try:
            return self._one_rule(at, value)
        except SlateboardError as exc:
            raise self.where.error(at, str(exc)) from exc

    def _one_rule(self, at: Path_, value: Any) -> rule_kinds.Rule:
        if isinstance(value, SufficientSpec):
            return rule_kinds.sufficient(
                self.kind((*at, "kind"), value.kind),  # type: ignore[arg-type]
                min_confidence=value.min_confidence,
                min_sources=value.min_sources,
                min_source_confidence=value.min_source_confidence,
            )
        if isinstance(value, QuorumSpec):
            kind = self.kind((*at, "kind"), value.kind)
            return rule_kinds.quorum(kind, agents=value.agents, min_answers=value.min_answers)  # type: ignore[arg-type]
        if isinstance(value, EscalateBelowSpec):
            return rule_kinds.escalate_below(self.kind((*at, "kind"), value.kind), confidence=value.confidence)  # type: ignore[arg-type]
        if isinstance(value, DisagreementSpec):
            return rule_kinds.disagreement(self.kind((*at, "kind"), value.kind), field=value.field)  # type: ignore[arg-type]
        if isinstance(value, ContradictionSpec):
            first, second = self.kind((*at, "first"), value.first), self.kind((*at, "second"), value.second)
            when = _BothMatch(
                FieldsMatch(tuple(value.when.first.items())), FieldsMatch(tuple(value.when.second.items()))
            )
            return rule_kinds.contradiction(first, second, when=when, reason=value.reason)  # type: ignore[type-var]
        budget: BudgetSpec = value
        return rule_kinds.budget(
            max_cycles=budget.max_cycles, max_agent_runs=budget.max_agent_runs, deadline=budget.deadline
        )

    def _policy(self, at: Path_, policy: dict[str, Any] | str | None) -> Policy | None:
        if policy is None:
            return None
        findings = {name: kind for name, kind in self.kinds.items() if issubclass(kind, Finding)}
        if isinstance(policy, str):
            base = Path(self.where.file_of(at)).parent
            try:
                return policy_files.load(base / policy, kinds=findings)
            except PolicyError as exc:
                raise self.where.error(at, str(exc)) from exc
        text = yaml.safe_dump(policy, sort_keys=False)
        try:
            return policy_files.loads(text, format="yaml", file="policy", kinds=findings)
        except PolicyError as exc:
            rule = exc.rule or ""
            index = int(rule[1:].split()[0]) - 1 if rule.startswith("#") else None
            path = (*at, "rules", index) if index is not None else at
            # The policy's own line numbers count in the re-dumped text: name the place in this file instead.
            detail = str(exc).split(": ", 1)[1] if exc.line is not None else str(exc).removeprefix("policy: ")
            raise ScenarioError(f"{dotted(at)}: {detail}", file=self.where.file, line=self.where.line(path)) from exc

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

    def _inputs(self, at: Path_, items: list[dict[str, Any]]) -> Callable[[str], Sequence[Finding]]:
        return _inputs_for([self._input((*at, i), item) for i, item in enumerate(items)])

    def _input(self, path: Path_, item: dict[str, Any]) -> tuple[type[Record], dict[str, Any]]:
        fields = dict(item)
        name = fields.pop("kind", None)
        if not isinstance(name, str):
            raise self.where.error(path, "an input names its kind: {kind: Case, ...}")
        kind = self.kind((*path, "kind"), name)
        fields.setdefault("confidence", 1.0)
        problem = templates.unknown_placeholder(fields, ["subject"])
        if problem is not None:
            raise self.where.error((*path, *problem[0]), problem[1])
        try:
            kind(**{"subject": "probe", **templates.render(fields, {"subject": "probe"})})  # refuse a bad input now
        except SlateboardError as exc:
            raise self.where.error(path, str(exc)) from exc
        return kind, fields


def _unknown(what: str, name: str, known: list[str], *, others: Sequence[str] = ()) -> str:
    """`unknown WHAT 'name'`, with the closest names (from `known` first, then `others`)."""
    close = difflib.get_close_matches(name, known, n=3) or difflib.get_close_matches(name, list(others), n=3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    listed = f" ({what}s: {', '.join(known)})" if known and what != "kind" else ""
    return f"unknown {what} {name!r}{hint}{listed}"


def _reserved(field: str) -> bool:
    """Whether `field` cannot name a declared kind's field: not an identifier, a keyword, private (`_x`), in
    pydantic's `model_` namespace, or an attribute or field every finding already has (`json`, `subject`)."""
    return (
        not field.isidentifier()
        or keyword.iskeyword(field)
        or field.startswith(("_", "model_"))
        or field in Finding.model_fields
        or hasattr(Finding, field)
    )


def _declared(kind_name: str, module: str, annotations: dict[str, Any]) -> type[Record] | None:
    """The kind this file declared under `kind_name` when it was loaded before, if its fields are unchanged."""
    try:
        existing = registry.get(kind_name)
    except SlateboardError:
        return None
    same = existing.__module__ == module and existing.__annotations__ == annotations
    return existing if same else None


def _expectation(spec: ExpectSpec | None) -> Expectation | None:
    if spec is None:
        return None
    return Expectation(spec.status, tuple(spec.reasons), spec.commits, spec.approvals)


def _inputs_for(inputs: list[tuple[type[Record], dict[str, Any]]]) -> Callable[[str], Sequence[Finding]]:
    def make(board: str) -> Sequence[Finding]:
        values = {"subject": board}
        return tuple(kind(**{"subject": board, **templates.render(fields, values)}) for kind, fields in inputs)  # type: ignore[misc]

    return make


@dataclass(frozen=True)
class _BothMatch:
    """A contradiction's `when` from a file: the first and the second finding each have the given field values."""

    first: FieldsMatch
    second: FieldsMatch

    def __call__(self, a: Any, b: Any) -> bool:
        return self.first(a) and self.second(b)
