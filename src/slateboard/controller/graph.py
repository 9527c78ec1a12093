"""A controller as a Mermaid flowchart: the agents and the kinds they read and write, the rules that judge those
kinds and what each can decide, and the policy's gates between a sufficient decision and the commit.

What `slateboard graph SCENARIO` prints. Kinds are parallelograms, agents rounded boxes, rules and policy gates
hexagons, decisions circles. A rule is drawn from the kinds it names: the `kind` (or `first` and `second`, or a
`kinds` tuple) attribute of the rule; a rule of one's own that names none is drawn on its own, still with what it
can decide.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from slateboard.blackboard.records import Finding
from slateboard.controller.rules import Budget
from slateboard.state.rules import SufficiencyRule

if TYPE_CHECKING:
    from slateboard.controller.loop import Controller

__all__ = ("flowchart", "rule_kinds")

_DECISIONS = ("sufficient", "escalate", "failed")


def rule_kinds(rule: object) -> tuple[type[Finding], ...]:
    """The finding kinds a rule names, read from its `kind`, `first`, `second` or `kinds` attributes."""
    found: list[object] = [getattr(rule, name, None) for name in ("kind", "first", "second")]
    found += list(getattr(rule, "kinds", None) or ())
    return tuple(k for k in dict.fromkeys(found) if isinstance(k, type) and issubclass(k, Finding))


def _label(text: str) -> str:
    return text.replace('"', "#quot;")


def flowchart(controller: Controller) -> str:
    """The whole controller as a Mermaid flowchart (see the module docstring)."""
    agents = controller.agents
    kinds = sorted(
        {k.kind_name for a in agents for k in (*a.inputs, *a.outputs)}
        | {k.kind_name for rule in controller.rules for k in rule_kinds(rule)}
    )
    kind_ids = {name: f"k{i}" for i, name in enumerate(kinds)}  # numbered: names may differ only in punctuation
    lines = ["flowchart LR"]
    lines += [f'  {kind_ids[k]}[/"{_label(k)}"/]' for k in kinds]
    lines += [f'  a{i}(["{_label(a.name)}{" (when)" if a.when else ""}"])' for i, a in enumerate(agents)]
    for i, item in enumerate(agents):
        lines += [f"  {kind_ids[k.kind_name]} --> a{i}" for k in item.inputs]
        lines += [f"  a{i} --> {kind_ids[k.kind_name]}" for k in item.outputs]
    decides = [_decides(rule) for rule in controller.rules]
    used = set(decides) | ({"sufficient", "escalate"} if controller.policy is not None else set())
    lines += [f'  d_{name}(("{name}"))' for name in _DECISIONS if name in used]
    for i, (rule, decided) in enumerate(zip(controller.rules, decides, strict=True)):
        lines.append(f'  r{i}{{{{"{_label(rule.id)}"}}}}')
        lines += [f"  {kind_ids[k.kind_name]} -.-> r{i}" for k in rule_kinds(rule)]
        lines.append(f"  r{i} -->|{'met' if decided == 'sufficient' else 'fires'}| d_{decided}")
    lines += _policy(controller)
    return "\n".join(lines) + "\n"


def _decides(rule: object) -> str:
    """What a rule can decide: a budget fails the run, a sufficiency rule ends it, any other rule escalates."""
    if isinstance(rule, Budget):
        return "failed"
    return "sufficient" if isinstance(rule, SufficiencyRule) else "escalate"


def _policy(controller: Controller) -> Iterable[str]:
    """The policy's gates between a sufficient decision and the commit (nothing without a policy)."""
    policy = controller.policy
    if policy is None:
        return []
    lines = [f'  subgraph policy ["policy (default: {policy.default})"]']
    for i, gate in enumerate(policy.rules):
        effect = getattr(gate, "effect", None)
        lines.append(f'    p{i}{{{{"{_label(gate.id)}{f" ({effect})" if isinstance(effect, str) else ""}"}}}}')
    lines.append("  end")
    sink = controller.committer.sink_name if controller.committer is not None else "sink"
    lines += [
        "  d_sufficient -->|proposals| policy",
        f'  policy -->|allow| commit[("commit: {_label(sink)}")]',
        '  policy -->|needs_approval| person(["a person approves"])',
        "  person --> commit",
        "  policy -->|escalate| d_escalate",
        '  policy -->|deny| rejected(("rejected"))',
    ]
    return lines
