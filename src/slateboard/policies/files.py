"""Policies from TOML or YAML files. YAML is read with the safe loader only; every error names file, line and rule.

```toml
default = "deny"                      # or "allow"

[[rules]]
rule = "freeze_on"
kind = "ComplianceFlag"               # a registered kind_name, or a scenario file's own kind by its short name
where = { frozen = true }             # optional: field values the finding must have
```

The same in YAML: `default: deny` and `rules:` as a list of mappings. The models of the format (`PolicyFile`, one
per rule: allow, min_confidence, require_citations, escalate_on_conflict, freeze_on, priority, require_approval,
max_changes, allowed_fields) live in `slateboard.policies.file_format` (re-exported here); docs/scenario-files.md
and docs/schemas/policy.schema.json are generated from them.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from slateboard._internal import yamlpos
from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import Finding
from slateboard.errors import PolicyError, SlateboardError, UnknownFindingKindError
from slateboard.policies import builtins
from slateboard.policies.builtins import PolicyRule
from slateboard.policies.builtins import _Priority as _Ranking
from slateboard.policies.file_format import (
    RULE_SPEC,
    RULE_SPECS,
    AllowSpec,
    ApprovalWhen,
    EscalateOnConflictSpec,
    FieldsMatch,
    FreezeOnSpec,
    MaxChangesSpec,
    MinConfidenceSpec,
    PolicyFile,
    PrioritySpec,
    RequireApprovalSpec,
    RequireCitationsSpec,
)
from slateboard.policies.policy import Policy
from slateboard.state.vocabulary import POLICY_DEFAULTS

__all__ = ("load", "loads", "PolicyFile", "RULE_SPECS", "FieldsMatch", "ApprovalWhen", "Kinds")


Kinds = Mapping[str, type[Finding]]


def _build(spec: Any, kinds: Kinds) -> PolicyRule:  # noqa: PLR0911 - one constructor per rule
    rule_id = spec.id
    if isinstance(spec, AllowSpec):
        return builtins.allow(actions=spec.actions, id=rule_id)
    if isinstance(spec, MinConfidenceSpec):
        return builtins.min_confidence(spec.threshold, effect=spec.effect, id=rule_id)
    if isinstance(spec, RequireCitationsSpec):
        return builtins.require_citations(
            approved=spec.approved, min_count=spec.min_count, effect=spec.effect, id=rule_id
        )
    if isinstance(spec, EscalateOnConflictSpec):
        return builtins.escalate_on_conflict(id=rule_id or "escalate_on_conflict")
    if isinstance(spec, FreezeOnSpec):
        kind = _kind(spec.kind, kinds)
        if not issubclass(kind, Finding):
            raise _FieldError("kind", f"kind {spec.kind!r} is a record, not a Finding kind")
        # A misspelt field would never match: the freeze would be silently off.
        unknown = sorted(set(spec.where or {}) - set(kind.model_fields))
        if unknown:
            known = ", ".join(kind.model_fields)
            raise _FieldError("where", f"{kind.kind_name} has no field(s) {', '.join(unknown)} (fields: {known})")
        match = FieldsMatch(tuple(sorted((spec.where or {}).items()))) if spec.where else None
        return builtins.freeze_on(kind, when=match, effect=spec.effect, id=rule_id)
    if isinstance(spec, PrioritySpec):
        return builtins.priority(spec.domains, id=rule_id)
    if isinstance(spec, RequireApprovalSpec):
        if not (spec.irreversible or spec.actions or spec.fields):
            raise _FieldError("", "require_approval needs irreversible = true, actions or fields")
        when = ApprovalWhen(spec.irreversible, frozenset(spec.actions), frozenset(spec.fields))
        return builtins.require_approval(when, reason=spec.reason, id=rule_id or "require_approval")
    if isinstance(spec, MaxChangesSpec):
        return builtins.max_changes(spec.limit, actions=spec.actions, id=rule_id)
    return builtins.allowed_fields(spec.fields, actions=spec.actions, id=rule_id)


def _kind(name: str, kinds: Kinds) -> type[Any]:
    """The kind `name` names: one of `kinds` (a scenario file's, by short name) or a registered kind_name."""
    if name in kinds:
        return kinds[name]
    try:
        return registry.get(name, where="freeze_on kind")
    except UnknownFindingKindError as exc:
        registered = [k.kind_name for k in registry.subclasses_of(Finding)]
        close = difflib.get_close_matches(name, list(kinds), n=3) or difflib.get_close_matches(name, registered, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        mine = f" (kinds of the scenario file: {', '.join(kinds)})" if kinds else " (import the module that defines it)"
        raise _FieldError("kind", f"unknown finding kind {name!r}{hint}{mine}") from exc


def load(path: str | Path, *, kinds: Kinds | None = None) -> Policy:
    """Read a policy file (`.toml`, `.yaml` or `.yml`); `kinds` are finding kinds it may name by these names (a
    scenario file's own kinds, by their short names), before the registered ones."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read the policy file: {exc.strerror or exc}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"the policy file is not UTF-8 text: {exc}", file=str(path)) from exc
    return loads(text, format=_format(path), file=str(path), kinds=kinds)


def _format(path: Path) -> Literal["toml", "yaml"]:
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return "toml"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    raise PolicyError("a policy file must end in .toml, .yaml or .yml", file=str(path))


def loads(text: str, *, format: Literal["toml", "yaml"], file: str = "<policy>", kinds: Kinds | None = None) -> Policy:
    """Read a policy from text in `format`; `file` names it in errors; `kinds` as for `load`."""
    data, lines = _parse_toml(text, file) if format == "toml" else _parse_yaml(text, file)
    if not isinstance(data, dict):
        raise PolicyError("a policy is a table with 'default' and 'rules'", file=file, line=1)
    # Keys as text: YAML keys may be null, numbers or lists (`? [a]`), and are still only unknown keys.
    unknown = sorted({str(k) for k in data} - {"default", "rules"}, key=lambda k: (lines.top.get(k, 0), k))
    if unknown:
        raise PolicyError(
            f"unknown top-level key(s) {', '.join(unknown)}; expected default and rules",
            file=file,
            line=lines.top.get(unknown[0]),
        )
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise PolicyError("'rules' must be a list of rule tables", file=file, line=lines.top.get("rules"))
    built = [_rule(item, position, lines, file, kinds or {}) for position, item in enumerate(rules)]
    _check_together(built, lines, file)
    default = data.get("default", "deny")
    if default not in POLICY_DEFAULTS:
        message = f"default must be 'deny' or 'allow', got {default!r}"
        raise PolicyError(message, file=file, line=lines.top.get("default"))
    return Policy(*(rule for rule, _ in built), default=default, source=file)


class _FieldError(Exception):
    """A rule's field that validates but cannot be used (an unknown kind, say); names the field for its line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class _Lines:
    """Where things are in the file: each top-level key's line; each rule's first line and its keys' lines."""

    top: dict[str, int]
    rules: list[tuple[int, dict[str, int]]]

    def rule(self, position: int) -> tuple[int | None, dict[str, int]]:
        if position < len(self.rules):
            return self.rules[position]
        return self.top.get("rules"), {}  # rules written inline: the list is the best we know


def _label(item: object, position: int) -> str:
    name = item.get("rule") if isinstance(item, dict) else None
    return f"#{position + 1} ({name})" if isinstance(name, str) else f"#{position + 1}"


def _rule(item: object, position: int, lines: _Lines, file: str, kinds: Kinds) -> tuple[PolicyRule, str]:
    line, keys = lines.rule(position)
    label = _label(item, position)
    try:
        return _build(RULE_SPEC.validate_python(item), kinds), label
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # A misspelt key is also a missing one: report the key that is there, at its line.
        error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            field, detail = "rule", "rule"
        else:
            field = next((str(part) for part in error["loc"] if str(part) in keys or str(part) == "rule"), "")
            detail = ".".join(str(p) for p in error["loc"][1:] or error["loc"]) or "rule"
        message = f"{detail}: {error['msg']}{_did_you_mean(item, error)}"
        raise PolicyError(message, file=file, line=keys.get(field, line), rule=label) from exc
    except _FieldError as exc:
        raise PolicyError(str(exc), file=file, line=keys.get(exc.field, line), rule=label) from exc
    except SlateboardError as exc:
        raise PolicyError(str(exc), file=file, line=line, rule=label) from exc


def _did_you_mean(item: object, error: Any) -> str:
    """For a misspelt rule name or key, the names that would have been understood."""
    spec = {m.model_fields["rule"].annotation.__args__[0]: m for m in RULE_SPECS}
    if error["type"] == "union_tag_invalid":
        known, given = list(spec), error["input"].get("rule") if isinstance(error["input"], dict) else None
    elif error["type"] == "extra_forbidden" and isinstance(item, dict) and item.get("rule") in spec:
        known, given = list(spec[item["rule"]].model_fields), error["loc"][-1]
    else:
        return ""
    close = difflib.get_close_matches(str(given), known, n=2)
    return f"; did you mean {' or '.join(map(repr, close))}?" if close else ""


def _check_together(built: list[tuple[PolicyRule, str]], lines: _Lines, file: str) -> None:
    """What `Policy` refuses about the rules as a set, reported at the second offending rule's line."""
    first: dict[str, int] = {}
    ranking: int | None = None
    for position, (rule, label) in enumerate(built):
        line, keys = lines.rule(position)
        if rule.id in first:
            message = f"rule #{first[rule.id] + 1} has the same id {rule.id!r}; give one of them id = '...'"
            raise PolicyError(message, file=file, line=keys.get("id", line), rule=label)
        first[rule.id] = position
        if isinstance(rule, _Ranking):
            if ranking is not None:
                message = f"give at most one priority rule (rule #{ranking + 1} is one already)"
                raise PolicyError(message, file=file, line=line, rule=label)
            ranking = position


def _parse_toml(text: str, file: str) -> tuple[object, _Lines]:
    if len(text) > yamlpos.MAX_BYTES:  # the same limit as a YAML file's
        raise PolicyError(f"the file is {len(text)} characters long; the limit is {yamlpos.MAX_BYTES}", file=file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise PolicyError(f"not valid TOML: {exc}", file=file, line=int(found.group(1)) if found else None) from exc
    except (ValueError, RecursionError) as exc:  # an integer too long to convert, nesting too deep
        raise PolicyError(f"not valid TOML: {exc}", file=file) from exc
    return data, _toml_lines(text)


def _toml_lines(text: str) -> _Lines:
    """Where each top-level key and each [[rules]] table starts, and the line of each key inside a rule."""
    top: dict[str, int] = {}
    blocks: list[tuple[int, dict[str, int]]] = []
    inside, root = False, True
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        header = re.match(r"\[\[?\s*([A-Za-z_][\w-]*)", stripped)
        if re.fullmatch(r"\[\[\s*rules\s*\]\]", stripped):
            blocks.append((number, {}))
            top.setdefault("rules", number)
            inside, root = True, False
        elif stripped.startswith("["):
            inside, root = False, False  # another table: its keys are not the rule's
            if header:
                top.setdefault(header.group(1), number)
        elif key := re.match(r"([A-Za-z_][\w-]*)\s*=", stripped):
            if inside:
                blocks[-1][1].setdefault(key.group(1), number)
            elif root:
                top.setdefault(key.group(1), number)
    return _Lines(top, blocks)


def _parse_yaml(text: str, file: str) -> tuple[object, _Lines]:
    node, data = yamlpos.parse(text, file=file, error=PolicyError)
    return data, _yaml_lines(node)


def _yaml_lines(node: yaml.Node | None) -> _Lines:
    top: dict[str, int] = {}
    blocks: list[tuple[int, dict[str, int]]] = []
    if not isinstance(node, yaml.MappingNode):
        return _Lines(top, blocks)
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        top.setdefault(key.value, key.start_mark.line + 1)
        if key.value == "rules" and isinstance(value, yaml.SequenceNode) and not blocks:
            for item in value.value:
                keys = {}
                if isinstance(item, yaml.MappingNode):
                    keys = {k.value: k.start_mark.line + 1 for k, _ in item.value if isinstance(k, yaml.ScalarNode)}
                blocks.append((item.start_mark.line + 1, keys))
    return _Lines(top, blocks)
