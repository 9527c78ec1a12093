"""Policies from TOML or YAML files. YAML is read with the safe loader only; every error names file, line and rule.

```toml
default = "deny"                      # or "allow"

[[rules]]
rule = "min_confidence"
threshold = 0.85

[[rules]]
rule = "require_citations"
approved = true

[[rules]]
rule = "freeze_on"
kind = "ComplianceFlag"               # a registered finding kind
where = { frozen = true }             # optional: field values the finding must have

[[rules]]
rule = "priority"
domains = ["compliance", "service", "sales"]

[[rules]]
rule = "require_approval"
irreversible = true                   # and/or actions = [...], fields = [...]
```

The same in YAML: `default: deny` and `rules:` as a list of mappings. Rules: allow, min_confidence,
require_citations, escalate_on_conflict, freeze_on, priority, require_approval, max_changes, allowed_fields.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError

from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import Finding
from slateboard.commit.proposal import Proposal
from slateboard.errors import PolicyError, SlateboardError
from slateboard.policies import builtins
from slateboard.policies.builtins import PolicyRule
from slateboard.policies.policy import Policy

__all__ = ("load", "loads")

Veto = Literal["deny", "escalate", "needs_approval"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str | None = None


class _Allow(_Spec):
    rule: Literal["allow"]
    actions: list[str] | None = None


class _MinConfidence(_Spec):
    rule: Literal["min_confidence"]
    threshold: float = Field(ge=0, le=1)
    effect: Veto = "escalate"


class _RequireCitations(_Spec):
    rule: Literal["require_citations"]
    approved: bool = False
    min_count: int = Field(default=1, ge=1)
    effect: Veto = "deny"


class _EscalateOnConflict(_Spec):
    rule: Literal["escalate_on_conflict"]


class _FreezeOn(_Spec):
    rule: Literal["freeze_on"]
    kind: str
    where: dict[str, JsonValue] | None = None
    effect: Veto = "deny"


class _Priority(_Spec):
    rule: Literal["priority"]
    domains: list[str] = Field(min_length=1)


class _RequireApproval(_Spec):
    rule: Literal["require_approval"]
    irreversible: bool = False
    actions: list[str] = []
    fields: list[str] = []
    reason: str = "an irreversible or externally visible action waits for a person"


class _MaxChanges(_Spec):
    rule: Literal["max_changes"]
    limit: int = Field(ge=0)
    actions: list[str] | None = None


class _AllowedFields(_Spec):
    rule: Literal["allowed_fields"]
    fields: list[str] = Field(min_length=1)
    actions: list[str] | None = None


_AnySpec = Annotated[
    _Allow
    | _MinConfidence
    | _RequireCitations
    | _EscalateOnConflict
    | _FreezeOn
    | _Priority
    | _RequireApproval
    | _MaxChanges
    | _AllowedFields,
    Field(discriminator="rule"),
]
_SPEC = TypeAdapter(_AnySpec)


@dataclass(frozen=True)
class FieldsMatch:
    """A `freeze_on` condition from a file: the finding has these field values."""

    values: tuple[tuple[str, Any], ...]

    def __call__(self, finding: Any) -> bool:
        return all(getattr(finding, name, object()) == value for name, value in self.values)


@dataclass(frozen=True)
class ApprovalWhen:
    """A `require_approval` predicate from a file: irreversible, one of `actions`, or touching one of `fields`."""

    irreversible: bool
    actions: frozenset[str]
    fields: frozenset[str]

    def __call__(self, proposal: Proposal) -> bool:
        return (
            (self.irreversible and not proposal.reversible)
            or proposal.action in self.actions
            or any(name in self.fields for name in proposal.changes)
        )


def _build(spec: Any) -> PolicyRule:  # noqa: PLR0911 - one constructor per rule
    rule_id = spec.id
    if isinstance(spec, _Allow):
        return builtins.allow(actions=spec.actions)
    if isinstance(spec, _MinConfidence):
        return builtins.min_confidence(spec.threshold, effect=spec.effect, id=rule_id)
    if isinstance(spec, _RequireCitations):
        return builtins.require_citations(
            approved=spec.approved, min_count=spec.min_count, effect=spec.effect, id=rule_id
        )
    if isinstance(spec, _EscalateOnConflict):
        return builtins.escalate_on_conflict(id=rule_id or "escalate_on_conflict")
    if isinstance(spec, _FreezeOn):
        kind = registry.get(spec.kind, where="freeze_on kind")
        if not issubclass(kind, Finding):
            raise PolicyError(f"kind {spec.kind!r} is not a Finding kind")
        match = FieldsMatch(tuple(sorted((spec.where or {}).items()))) if spec.where else None
        return builtins.freeze_on(kind, when=match, effect=spec.effect, id=rule_id)
    if isinstance(spec, _Priority):
        return builtins.priority(spec.domains, id=rule_id)
    if isinstance(spec, _RequireApproval):
        if not (spec.irreversible or spec.actions or spec.fields):
            raise PolicyError("require_approval needs irreversible = true, actions or fields")
        when = ApprovalWhen(spec.irreversible, frozenset(spec.actions), frozenset(spec.fields))
        return builtins.require_approval(when, reason=spec.reason, id=rule_id or "require_approval")
    if isinstance(spec, _MaxChanges):
        return builtins.max_changes(spec.limit, actions=spec.actions, id=rule_id)
    return builtins.allowed_fields(spec.fields, actions=spec.actions, id=rule_id)


def load(path: str | Path) -> Policy:
    """Read a policy file (`.toml`, `.yaml` or `.yml`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read the policy file: {exc.strerror or exc}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"the policy file is not UTF-8 text: {exc}", file=str(path)) from exc
    return loads(text, format=_format(path), file=str(path))


def _format(path: Path) -> Literal["toml", "yaml"]:
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return "toml"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    raise PolicyError("a policy file must end in .toml, .yaml or .yml", file=str(path))


def loads(text: str, *, format: Literal["toml", "yaml"], file: str = "<policy>") -> Policy:
    """Read a policy from text in `format`; `file` names it in errors."""
    data, lines = _parse_toml(text, file) if format == "toml" else _parse_yaml(text, file)
    if not isinstance(data, dict):
        raise PolicyError("a policy is a table with 'default' and 'rules'", file=file, line=1)
    unknown = sorted(set(data) - {"default", "rules"})
    if unknown:
        raise PolicyError(f"unknown top-level key(s) {', '.join(unknown)}; expected default and rules", file=file)
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise PolicyError("'rules' must be a list of rule tables", file=file)
    built = [_rule(item, position, lines, file) for position, item in enumerate(rules)]
    default = data.get("default", "deny")
    try:
        return Policy(*built, default=default, source=file)
    except PolicyError as exc:
        raise PolicyError(str(exc), file=file) from exc


def _rule(item: object, position: int, lines: list[tuple[int, dict[str, int]]], file: str) -> PolicyRule:
    line, keys = lines[position] if position < len(lines) else (None, {})
    name = item.get("rule") if isinstance(item, dict) else None
    label = f"#{position + 1} ({name})" if isinstance(name, str) else f"#{position + 1}"
    try:
        return _build(_SPEC.validate_python(item))
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = next((str(part) for part in error["loc"] if str(part) in keys or str(part) == "rule"), "")
        where = keys.get(field, line)
        detail = ".".join(str(p) for p in error["loc"][1:] or error["loc"])
        raise PolicyError(f"{detail}: {error['msg']}", file=file, line=where, rule=label) from exc
    except SlateboardError as exc:
        raise PolicyError(str(exc), file=file, line=line, rule=label) from exc


def _parse_toml(text: str, file: str) -> tuple[object, list[tuple[int, dict[str, int]]]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise PolicyError(f"not valid TOML: {exc}", file=file, line=int(found.group(1)) if found else None) from exc
    return data, _toml_lines(text)


def _toml_lines(text: str) -> list[tuple[int, dict[str, int]]]:
    """Where each [[rules]] table starts, and the line of each key inside it."""
    blocks: list[tuple[int, dict[str, int]]] = []
    inside = False
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if re.fullmatch(r"\[\[\s*rules\s*\]\]", stripped):
            blocks.append((number, {}))
            inside = True
        elif stripped.startswith("["):
            inside = False  # another table: its keys are not the rule's
        elif inside and (key := re.match(r"([A-Za-z_][\w-]*)\s*=", stripped)):
            blocks[-1][1].setdefault(key.group(1), number)
    return blocks


def _parse_yaml(text: str, file: str) -> tuple[object, list[tuple[int, dict[str, int]]]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise PolicyError(
            f"not valid YAML: {exc.problem or exc}", file=file, line=mark.line + 1 if mark else None
        ) from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"not valid YAML: {exc}", file=file) from exc
    return data, _yaml_lines(node)


def _yaml_lines(node: yaml.Node | None) -> list[tuple[int, dict[str, int]]]:
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "rules" and isinstance(value, yaml.SequenceNode):
            blocks = []
            for item in value.value:
                keys = {}
                if isinstance(item, yaml.MappingNode):
                    keys = {k.value: k.start_mark.line + 1 for k, _ in item.value if isinstance(k, yaml.ScalarNode)}
                blocks.append((item.start_mark.line + 1, keys))
            return blocks
    return []
