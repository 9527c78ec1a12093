"""Built-in policy rules. Each returns a `Vote` (or None: no say) for one proposal in its `PolicyContext`.

Affirmative checks (`allow`, `min_confidence`, `require_citations`) vote "allow" when they pass: under a
default-deny policy a proposal needs at least one of them. Every other rule only ever vetoes or gates.
"""

from __future__ import annotations

import inspect
import linecache
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from slateboard.blackboard.records import Finding
from slateboard.errors import PolicyError
from slateboard.policies.context import PolicyContext
from slateboard.state.proposal import Proposal
from slateboard.state.records import Vote
from slateboard.state.rules import ConflictRule
from slateboard.state.vocabulary import VETOES, Effect

__all__ = (
    "PolicyRule",
    "allow",
    "min_confidence",
    "require_citations",
    "escalate_on_conflict",
    "freeze_on",
    "priority",
    "require_approval",
    "max_changes",
    "allowed_fields",
    "irreversible",
)

_VETOES = VETOES


@runtime_checkable
class PolicyRule(Protocol):
    """A policy rule: an `id` for reasons, and `evaluate(context) -> Vote | None`."""

    @property
    def id(self) -> str: ...

    def evaluate(self, context: PolicyContext) -> Vote | None: ...


def _veto(rule: str, effect: str) -> Effect:
    if effect not in _VETOES:
        raise PolicyError(f"effect must be one of {', '.join(_VETOES)}, got {effect!r}", rule=rule)
    return effect  # narrowed to a veto by the check above


def _number(rule: str, name: str, value: object, *, low: float, high: float | None = None) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, int) and abs(value) > 2**53)  # beyond any threshold, and past float()'s range
        or not math.isfinite(value)  # NaN passes every comparison below and would veto every proposal
        or value < low
        or (high is not None and value > high)
    ):
        span = f"in [{low:g}, {high:g}]" if high is not None else f">= {low:g}"
        raise PolicyError(f"{name} must be a number {span}, got {value!r}", rule=rule)
    return float(value)


def _names(rule: str, what: str, values: Iterable[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise PolicyError(f"{what} must be a list of names, not the single string {values!r}", rule=rule)
    names = frozenset(values)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise PolicyError(f"{what} must be a non-empty list of non-empty names", rule=rule)
    return names


def _callable(rule: str, name: str, value: object) -> None:
    if value is not None and not callable(value):
        raise PolicyError(f"{name} must be callable, got {value!r}", rule=rule)


def _applies(actions: frozenset[str] | None, proposal: Proposal) -> bool:
    return actions is None or proposal.action in actions


@dataclass(frozen=True)
class _Allow:
    actions: frozenset[str] | None
    when: Callable[[Proposal], bool] | None
    id: str

    def evaluate(self, context: PolicyContext) -> Vote | None:
        proposal = context.proposal
        if not _applies(self.actions, proposal) or (self.when is not None and not self.when(proposal)):
            return None
        return Vote(rule=self.id, effect="allow", message=f"{proposal.action} is an allowed action")


def allow(
    *, actions: Iterable[str] | None = None, when: Callable[[Proposal], bool] | None = None, id: str | None = None
) -> PolicyRule:
    """Allow proposals (of `actions`, or for which `when(proposal)` holds) unless another rule vetoes them."""
    names = _names(id or "allow", "actions", actions)
    _callable(id or "allow", "when", when)
    rule_id = id or (f"allow({', '.join(sorted(names))})" if names else "allow")
    return _Allow(names, when, rule_id)


@dataclass(frozen=True)
class _MinConfidence:
    threshold: float
    effect: Effect
    id: str

    def evaluate(self, context: PolicyContext) -> Vote:
        value = context.proposal.confidence
        if value >= self.threshold:
            return Vote(rule=self.id, effect="allow", message=f"confidence {value:g} reaches {self.threshold:g}")
        message = f"confidence {value:g} of Proposal v{context.version} is below {self.threshold:g}"
        return Vote(rule=self.id, effect=self.effect, message=message, findings=(context.version,))


def min_confidence(threshold: float, *, effect: str = "escalate", id: str | None = None) -> PolicyRule:
    """A proposal's confidence must reach `threshold`; below it, `effect` (a person decides, by default)."""
    shown = f"{threshold:g}" if isinstance(threshold, float) else repr(threshold)  # "0.5" is no number
    rule_id = id or f"min_confidence({shown})"
    return _MinConfidence(_number(rule_id, "threshold", threshold, low=0, high=1), _veto(rule_id, effect), rule_id)


@dataclass(frozen=True)
class _RequireCitations:
    approved: bool
    min_count: int
    effect: Effect
    id: str

    def evaluate(self, context: PolicyContext) -> Vote:
        cited = [c for c in context.proposal.citations if c.approved or not self.approved]
        what = "approved citation(s)" if self.approved else "citation(s)"
        if len(cited) >= self.min_count:
            sources = ", ".join(sorted({c.source for c in cited}))
            return Vote(rule=self.id, effect="allow", message=f"{len(cited)} {what}: {sources}")
        message = f"Proposal v{context.version} has {len(cited)} {what}, needs {self.min_count}"
        return Vote(rule=self.id, effect=self.effect, message=message, findings=(context.version,))


def require_citations(
    *, approved: bool = False, min_count: int = 1, effect: str = "deny", id: str | None = None
) -> PolicyRule:
    """A proposal must cite at least `min_count` sources (approved for customer-facing use, if `approved`)."""
    rule_id = id or ("require_citations(approved)" if approved else "require_citations")
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise PolicyError(f"min_count must be an int >= 1, got {min_count!r}", rule=rule_id)
    return _RequireCitations(bool(approved), min_count, _veto(rule_id, effect), rule_id)


@dataclass(frozen=True)
class _EscalateOnConflict:
    rules: tuple[ConflictRule, ...]
    id: str

    def evaluate(self, context: PolicyContext) -> Vote | None:
        found = [str(reason) for rule in self.rules if (reason := rule.check(context.state, context.subject))]
        for (agent, subject), (version, run) in sorted(context.state.unresolved.items()):
            if subject == context.subject and run.status == "conflict":
                found.append(f"agent {agent} reported a conflict (v{version}): {run.error}")
        rivals = [r for r in context.rivals if context.outranks(context.domain, r.domain) is None]
        for rival in rivals:
            fields, target = ", ".join(rival.fields), rival.proposal.target
            found.append(
                f"Proposal v{rival.version} by {rival.author} ({rival.domain}) sets {fields} of {target} "
                f"differently, and no priority ranks {context.domain} against {rival.domain}"
            )
        if not found:
            return None
        versions = (context.version, *(r.version for r in rivals))
        message = "open conflict on " + repr(context.subject) + ": " + "; ".join(found)
        return Vote(rule=self.id, effect="escalate", message=message, findings=versions)


def escalate_on_conflict(*rules: ConflictRule, id: str = "escalate_on_conflict") -> PolicyRule:
    """Send a proposal to a person, never to a retry, when its subject has an open conflict.

    A conflict is: a rival proposal setting the same field of the same target to another value that no
    `priority` decides; an agent that reported a `ConflictError` on the subject; or any of `rules`
    (`rules.contradiction`, `rules.disagreement`, ...) triggered on the subject.
    """
    for rule in rules:
        if not isinstance(rule, ConflictRule):
            raise PolicyError(f"{rule!r} is not a conflict rule (use slateboard.rules.contradiction etc.)", rule=id)
    return _EscalateOnConflict(tuple(rules), id)


_FREEZES: dict[str, str] = {
    "deny": "freezes every action on {subject}",
    "escalate": "sends every action on {subject} to a person to decide",
    "needs_approval": "holds every action on {subject} for a person's approval",
}
"""What a `freeze_on` flag does to the actions on its subject, by the rule's effect (for the vote's sentence)."""


@dataclass(frozen=True)
class _FreezeOn:
    kind: type[Finding]
    when: Callable[[Any], bool] | None
    effect: Effect
    id: str

    def evaluate(self, context: PolicyContext) -> Vote | None:
        proposal = context.proposal
        for subject in dict.fromkeys((proposal.subject, proposal.target)):
            # The newest flag decides, so a later finding (frozen=False, say) lifts an earlier freeze.
            flags = context.view.entries(self.kind, subject=subject)
            newest = flags[-1] if flags else None
            if newest is not None and (self.when is None or self.when(newest.payload)):
                flag = f"{self.kind.kind_name} v{newest.version} by {newest.author}"
                message = f"{flag} {_FREEZES[self.effect].format(subject=repr(subject))}"
                return Vote(rule=self.id, effect=self.effect, message=message, findings=(newest.version,))
        return None


def freeze_on(
    kind: type[Finding], *, when: Callable[[Any], bool] | None = None, effect: str = "deny", id: str | None = None
) -> PolicyRule:
    """The newest finding of `kind` on a proposal's subject (or target) freezes it, if `when(finding)` holds.

    `effect` is what the freeze does: "deny" (the default: nothing goes through), "escalate" (a person decides each
    action) or "needs_approval" (each action waits for a person's approval); the vote's sentence says which.
    With `when`, a newer finding for which it does not hold lifts the freeze: the log is append-only.
    """
    if not (isinstance(kind, type) and issubclass(kind, Finding)):
        raise PolicyError(f"{kind!r} is not a Finding kind", rule=id or "freeze_on")
    rule_id = id or f"freeze_on({kind.kind_name})"
    _callable(rule_id, "when", when)
    return _FreezeOn(kind, when, _veto(rule_id, effect), rule_id)


@dataclass(frozen=True)
class _Priority:
    domains: tuple[str, ...]
    id: str

    def evaluate(self, context: PolicyContext) -> Vote | None:
        winners = [r for r in context.rivals if context.outranks(r.domain, context.domain)]
        if not winners:
            return None
        best = min(winners, key=lambda r: (context.rank(r.domain), r.version))
        message = (
            f"overridden: {best.domain} (Proposal v{best.version} by {best.author}) outranks {context.domain} "
            f"on {context.proposal.target} {', '.join(best.fields)}"
        )
        return Vote(
            rule=self.id,
            effect="deny",
            message=message,
            findings=(context.version, best.version),
            overridden_by=best.version,
        )


def priority(*domains: str | Iterable[str], id: str | None = None) -> PolicyRule:
    """Rank domains, highest first: `priority("compliance", "service", "sales")` (or one list).

    When two live proposals set the same field of the same target to different values, the one whose domain
    (`Proposal.domain`, else its agent's name) ranks lower is denied and recorded as overridden.
    """
    flat = tuple(domains[0]) if len(domains) == 1 and not isinstance(domains[0], str) else domains
    rule_id = id or f"priority({' > '.join(map(str, flat))})"
    if not flat or not all(isinstance(d, str) and d for d in flat) or len(set(flat)) != len(flat):
        raise PolicyError(f"domains must be distinct non-empty names, got {flat!r}", rule=rule_id)
    return _Priority(tuple(str(d) for d in flat), rule_id)


def irreversible(proposal: Proposal) -> bool:
    """The default approval predicate: the proposal cannot be undone."""
    return not proposal.reversible


@dataclass(frozen=True)
class _RequireApproval:
    predicate: Callable[[Proposal], bool]
    reason: str
    id: str

    def evaluate(self, context: PolicyContext) -> Vote | None:
        if not self.predicate(context.proposal):
            return None
        return Vote(rule=self.id, effect="needs_approval", message=self.reason, findings=(context.version,))


def require_approval(
    predicate: Callable[[Proposal], bool] = irreversible,
    *,
    reason: str | None = None,
    id: str | None = None,
) -> PolicyRule:
    """Proposals for which `predicate(proposal)` holds (irreversible ones, by default) wait for a person.

    `id` names the rule in verdicts and reasons; by default `require_approval(<what>)`, where `<what>` is the
    predicate's name, or a lambda's own expression (`require_approval(p.action == 'email')`). `reason` is the
    sentence a person reads on the approval request; by default it says what holds: the predicate's docstring (its
    first line) for a named function, the expression for a lambda. Both are part of the policy's version.
    """
    if not callable(predicate):
        raise PolicyError(f"predicate must be callable, got {predicate!r}", rule=id or "require_approval")
    what = _predicate_text(predicate)
    if reason is None:
        reason = _DEFAULT_REASON if predicate is irreversible else _reason_for(predicate, what)
    return _RequireApproval(predicate, reason, id or f"require_approval({what})")


_DEFAULT_REASON = "an irreversible or externally visible action waits for a person"


def _predicate_text(predicate: Callable[..., object]) -> str:
    """How a predicate is named in a rule id: its name, a lambda's expression, else "when"."""
    name = getattr(predicate, "__name__", None)
    if name == "<lambda>":
        return _lambda_source(predicate) or "lambda"
    return name if isinstance(name, str) and name else "when"


def _lambda_source(predicate: Callable[..., object]) -> str | None:
    """A lambda's body as written (`not p.reversible`), read from its source file at the positions its code
    object records; None when the source cannot be read (a lambda typed at a prompt)."""
    code = getattr(predicate, "__code__", None)
    if code is None:
        return None
    spans = [(a, b, c, d) for a, b, c, d in code.co_positions() if None not in (a, b, c, d) and (c, d) != (0, 0)]
    if not spans:
        return None
    first = min((line, col) for line, _, col, _ in spans)
    last = max((end, col) for _, end, _, col in spans)
    lines = [linecache.getline(code.co_filename, n).encode() for n in range(first[0], last[0] + 1)]
    if not all(lines):
        return None
    lines[-1] = lines[-1][: last[1]]  # the positions count UTF-8 bytes
    lines[0] = lines[0][first[1] :]
    text = " ".join(b"".join(lines).decode(errors="replace").split())
    return text or None


def _reason_for(predicate: Callable[..., object], what: str) -> str:
    doc = inspect.getdoc(predicate) if inspect.isfunction(predicate) and predicate.__name__ != "<lambda>" else None
    if doc:
        return f"{doc.splitlines()[0].rstrip('.')}: a person approves it first"
    if what in ("lambda", "when"):
        return "the proposal meets this rule's approval condition: a person approves it first"
    shown = f"`{what}`" if getattr(predicate, "__name__", None) == "<lambda>" else f"{what}(proposal)"
    return f"{shown} holds for this proposal: a person approves it first"


@dataclass(frozen=True)
class _MaxChanges:
    limit: int
    actions: frozenset[str] | None
    id: str

    def evaluate(self, context: PolicyContext) -> Vote | None:
        proposal = context.proposal
        if not _applies(self.actions, proposal) or len(proposal.changes) <= self.limit:
            return None
        message = f"{proposal.action} on {proposal.target} changes {len(proposal.changes)} fields, at most {self.limit}"
        return Vote(rule=self.id, effect="deny", message=message, findings=(context.version,))


def max_changes(limit: int, *, actions: Iterable[str] | None = None, id: str | None = None) -> PolicyRule:
    """Deny a proposal (of `actions`) that changes more than `limit` fields."""
    rule_id = id or f"max_changes({limit})"
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise PolicyError(f"limit must be an int >= 0, got {limit!r}", rule=rule_id)
    return _MaxChanges(limit, _names(rule_id, "actions", actions), rule_id)


@dataclass(frozen=True)
class _AllowedFields:
    fields: frozenset[str]
    actions: frozenset[str] | None
    id: str

    def evaluate(self, context: PolicyContext) -> Vote | None:
        proposal = context.proposal
        extra = sorted(set(proposal.changes) - self.fields)
        if not _applies(self.actions, proposal) or not extra:
            return None
        message = (
            f"{proposal.action} on {proposal.target} changes {', '.join(extra)}, outside the allowed fields "
            f"{', '.join(sorted(self.fields))}"
        )
        return Vote(rule=self.id, effect="deny", message=message, findings=(context.version,))


def allowed_fields(fields: Iterable[str], *, actions: Iterable[str] | None = None, id: str | None = None) -> PolicyRule:
    """Deny a proposal (of `actions`) that changes any field outside `fields`."""
    names = _names(id or "allowed_fields", "fields", fields)
    rule_id = id or f"allowed_fields({', '.join(sorted(names or ()))})"
    return _AllowedFields(names or frozenset(), _names(rule_id, "actions", actions), rule_id)
