"""The scenario file format, as pydantic models: what `scenarios.load` validates a YAML file against.

These models are the one definition of the format: the loader validates with them, and docs/scenario-files.md and
the JSON Schema for editors (`slateboard schema scenario`) are generated from them (`scenarios.reference`), so the
reference cannot drift from what the loader accepts. Every field carries its description for that reason.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from slateboard.state.vocabulary import OutcomeStatus

__all__ = (
    "FileSpec",
    "AgentSpec",
    "AgentChange",
    "VariantSpec",
    "RuleSpec",
    "SufficientSpec",
    "QuorumSpec",
    "EscalateBelowSpec",
    "DisagreementSpec",
    "ContradictionSpec",
    "WhenSpec",
    "BudgetSpec",
    "ExpectSpec",
    "KIND_TYPES",
)

KIND_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list[str]": list[str],
    "list[int]": list[int],
}
"""The field types a kind declared in a file may use (a name ending in `?` is optional)."""

_KIND = "a finding kind: one declared under `kinds` (by its short name), or a registered kind_name or class name"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentSpec(_Spec):
    """A scripted agent (`slateboard.scenarios.scripted.agent`): what it reads and writes, and how each attempt
    behaves. Strings in `emit` may hold placeholders: `{subject}` (the board's subject) and `{Kind.field}` (a field
    of a finding the agent read); `{{` and `}}` stand for literal braces."""

    name: str = Field(min_length=1, description="The agent's name, unique in the scenario.")
    reads: list[str] = Field(min_length=1, description=f"The kinds it reads ({_KIND}).")
    writes: str | list[str] = Field(description="The kind, or kinds, it writes.")
    emit: dict[str, Any] | list[dict[str, Any]] | None = Field(
        default={},
        description="Field values of the finding it writes (subject and confidence 1.0 by default); a list writes "
        "several (a `kind` key picks one of `writes`); null writes nothing.",
    )
    fail_times: int = Field(default=0, ge=0, description="Attempts that raise ConnectionError first (retried).")
    timeout_times: int = Field(default=0, ge=0, description="Attempts that overrun `timeout` first (retried).")
    delay: float = Field(default=0.0, ge=0, description="Seconds every attempt waits before anything else.")
    invalid: bool = Field(default=False, description="Write a finding that fails validation (confidence 1.5).")
    undeclared: str | None = Field(default=None, description="Write a finding of this kind, which it does not declare.")
    conflict: str | None = Field(default=None, description="Report this conflict (escalates, never retried).")
    rating: int = Field(default=0, description="Agenda order: a higher rating runs first.")
    timeout: float | None = Field(default=60.0, gt=0, description="Seconds per attempt; null for none.")
    retries: int = Field(default=1, ge=0, description="Retries after a failed or timed-out attempt.")
    capabilities: list[str] = Field(default=[], description="Capabilities it offers, for discovery.")


class AgentChange(_Spec):
    """A variant's change to one agent, named by the key it is under: only the fields given replace the base
    agent's. An agent of a new name is added and needs `reads` and `writes`."""

    reads: list[str] | None = Field(default=None, min_length=1, description="As in an agent.")
    writes: str | list[str] | None = Field(default=None, description="As in an agent.")
    emit: dict[str, Any] | list[dict[str, Any]] | None = Field(default=None, description="As in an agent.")
    fail_times: int | None = Field(default=None, ge=0, description="As in an agent.")
    timeout_times: int | None = Field(default=None, ge=0, description="As in an agent.")
    delay: float | None = Field(default=None, ge=0, description="As in an agent.")
    invalid: bool | None = Field(default=None, description="As in an agent.")
    undeclared: str | None = Field(default=None, description="As in an agent.")
    conflict: str | None = Field(default=None, description="As in an agent.")
    rating: int | None = Field(default=None, description="As in an agent.")
    timeout: float | None = Field(default=None, gt=0, description="As in an agent.")
    retries: int | None = Field(default=None, ge=0, description="As in an agent.")
    capabilities: list[str] | None = Field(default=None, description="As in an agent.")


class SufficientSpec(_Spec):
    """`rules.sufficient`: the evidence of a kind suffices."""

    kind: str = Field(description=f"The kind ({_KIND}).")
    min_confidence: float = Field(default=0.0, ge=0, le=1, description="Pooled confidence needed.")
    min_sources: int = Field(default=1, ge=1, description="Independent sources needed.")
    min_source_confidence: float | None = Field(
        default=None, ge=0, le=1, description="A source counts only from this confidence."
    )


class QuorumSpec(_Spec):
    """`rules.quorum`: these agents must have answered before the evidence of a kind suffices."""

    kind: str = Field(description=f"The kind ({_KIND}).")
    agents: list[str] = Field(min_length=1, description="The agents that must answer.")
    min_answers: int | None = Field(default=None, ge=1, description="How many of them (default: all).")


class EscalateBelowSpec(_Spec):
    """`rules.escalate_below`: a finding of a kind below a confidence escalates."""

    kind: str = Field(description=f"The kind ({_KIND}).")
    confidence: float = Field(ge=0, le=1, description="The gate.")


class DisagreementSpec(_Spec):
    """`rules.disagreement`: two agents, one subject, different values of a field."""

    kind: str = Field(description=f"The kind ({_KIND}).")
    field: str = Field(description="The field they must agree on.")


class WhenSpec(_Spec):
    """When a contradiction holds: field values of the first and of the second finding."""

    first: dict[str, Any] = Field(default={}, description="Field values the first finding has.")
    second: dict[str, Any] = Field(default={}, description="Field values the second finding has.")


class ContradictionSpec(_Spec):
    """`rules.contradiction`: a finding of one kind contradicts one of another."""

    first: str = Field(description=f"The first kind ({_KIND}).")
    second: str = Field(description="The second kind.")
    when: WhenSpec = Field(description="When the two contradict.")
    reason: str = Field(min_length=1, description="What the escalation says.")


class BudgetSpec(_Spec):
    """`rules.budget`: limits on a run."""

    max_cycles: int = Field(default=100, ge=1, description="Controller cycles.")
    max_agent_runs: int = Field(default=1000, ge=1, description="Agent attempts.")
    deadline: float | None = Field(default=None, gt=0, description="Seconds for the whole run.")


class RuleSpec(_Spec):
    """One controller rule: exactly one of its keys."""

    sufficient: SufficientSpec | None = None
    quorum: QuorumSpec | None = None
    escalate_below: EscalateBelowSpec | None = None
    disagreement: DisagreementSpec | None = None
    contradiction: ContradictionSpec | None = None
    budget: BudgetSpec | None = None


class ExpectSpec(_Spec):
    """The outcome a run should end with; `slateboard run` exits 1 when it differs."""

    status: OutcomeStatus = Field(description="The outcome's status.")
    reasons: list[str] = Field(default=[], description="Fragments some reason of the outcome must contain.")
    commits: int | None = Field(default=None, ge=0, description="The exact number of commits.")
    approvals: int | None = Field(default=None, ge=0, description="The exact number of approvals waiting.")


_INPUTS = (
    "Findings a run starts from: `{kind: Case, field: value, ...}`; subject defaults to the board's name, confidence "
    "to 1.0; string values may use `{subject}`."
)
_POLICY = (
    "The policy: the policy-file format inline (see the policy file reference), or a path to a TOML or YAML policy "
    "file, relative to this file. Kinds declared in this file are named by their short names."
)


class VariantSpec(_Spec):
    """A variant: what differs from the scenario's happy path. What it does not give is the base's."""

    description: str = Field(default="", description="What the variant stages.")
    agents: dict[str, AgentChange] = Field(default={}, description="Changes to agents, by agent name.")
    remove_agents: list[str] = Field(default=[], description="Agents this variant runs without.")
    rules: list[RuleSpec] | None = Field(default=None, description="Replaces the rules.")
    policy: dict[str, Any] | str | None = Field(default=None, description="Replaces the policy.")
    inputs: list[dict[str, Any]] | None = Field(default=None, min_length=1, description="Replaces the inputs.")
    expect: ExpectSpec | None = Field(default=None, description="Replaces the expectation.")


KindFields = dict[str, str | list[str | int | float | bool]]


class FileSpec(_Spec):
    """A scenario file: kinds, scripted agents, rules, a policy, a sink, inputs, the expected outcome and variants."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(
        min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="The scenario's name (letters, digits, _ . -)."
    )
    description: str = Field(default="", description="What the scenario stages.")
    extends: str | None = Field(
        default=None,
        description="A scenario file this one starts from (a path relative to this file): the keys given here "
        "replace the base's, except `agents` (replaced or added by name), `kinds` and `variants` (merged by name) "
        "and `import` (added). This file gives its own `name`.",
    )
    imports: list[str] = Field(
        default=[], alias="import", description="Modules to import first, for the finding kinds they register."
    )
    kinds: dict[str, KindFields] = Field(
        default={},
        description="Kinds declared here: name -> {field: type}; types: "
        + ", ".join(KIND_TYPES)
        + "; a `?` suffix makes a field optional; a list of values is a choice.",
    )
    agents: list[AgentSpec] = Field(min_length=1, description="The scripted agents.")
    rules: list[RuleSpec] = Field(default=[], description="The controller's rules.")
    policy: dict[str, Any] | str | None = Field(default=None, description=_POLICY)
    sink: str | None = Field(
        default=None, description="`memory` or `table:NAME`; a policy without a sink gets `memory`."
    )
    inputs: list[dict[str, Any]] = Field(min_length=1, description=_INPUTS)
    expect: ExpectSpec | None = Field(default=None, description="The outcome of the happy path.")
    variants: dict[str, VariantSpec] = Field(
        default={}, description="Variants by name (`slateboard run FILE --variant NAME`); `happy` is the file itself."
    )
