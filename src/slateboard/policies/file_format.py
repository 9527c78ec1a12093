"""The policy file format: one frozen model per rule, and `PolicyFile`, the whole file.

These models are the format: `slateboard.policies.files` validates every rule against them, and
docs/scenario-files.md and docs/schemas/policy.schema.json are generated from them (`slateboard.scenarios.reference`).
`FieldsMatch` and `ApprovalWhen` are the conditions a file's `freeze_on` and `require_approval` rules build.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from slateboard.state.proposal import Proposal
from slateboard.state.vocabulary import Veto

__all__ = (
    "PolicyFile",
    "RULE_SPECS",
    "RULE_SPEC",
    "FieldsMatch",
    "ApprovalWhen",
    "AllowSpec",
    "MinConfidenceSpec",
    "RequireCitationsSpec",
    "EscalateOnConflictSpec",
    "FreezeOnSpec",
    "PrioritySpec",
    "RequireApprovalSpec",
    "MaxChangesSpec",
    "AllowedFieldsSpec",
)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str | None = Field(default=None, description="The rule's id in verdicts (default: derived from the rule).")


class AllowSpec(_Spec):
    """Allow the actions named (every action when none are); a veto still wins."""

    rule: Literal["allow"]
    actions: list[str] | None = Field(default=None, description="The actions it applies to (default: every action).")


class MinConfidenceSpec(_Spec):
    """A proposal below `threshold` confidence gets `effect`."""

    rule: Literal["min_confidence"]
    threshold: float = Field(ge=0, le=1, description="The lowest confidence allowed.")
    effect: Veto = Field(default="escalate", description="What a proposal below it gets.")


class RequireCitationsSpec(_Spec):
    """A proposal needs `min_count` citations (approved ones, with `approved`), or gets `effect`."""

    rule: Literal["require_citations"]
    approved: bool = Field(default=False, description="Count only citations approved for customer-facing use.")
    min_count: int = Field(default=1, ge=1, description="Citations needed.")
    effect: Veto = Field(default="deny", description="What a proposal with fewer gets.")


class EscalateOnConflictSpec(_Spec):
    """A proposal on a board with an open conflict escalates (zero retries for policy conflicts)."""

    rule: Literal["escalate_on_conflict"]


class FreezeOnSpec(_Spec):
    """A finding of `kind` (with the field values of `where`) freezes every action with `effect`."""

    rule: Literal["freeze_on"]
    kind: str = Field(
        description="The finding kind: a registered kind_name, or a scenario file's own kind by its name."
    )
    where: dict[str, JsonValue] | None = Field(default=None, description="Field values the finding must have.")
    effect: Veto = Field(default="deny", description="What every proposal gets while it holds.")


class PrioritySpec(_Spec):
    """Two proposals on one target: the earlier domain in `domains` wins; the other is overridden."""

    rule: Literal["priority"]
    domains: list[str] = Field(min_length=1, description="Proposal domains, the strongest first.")


class RequireApprovalSpec(_Spec):
    """Irreversible proposals, the `actions` named, or ones changing `fields`, wait for a person."""

    rule: Literal["require_approval"]
    irreversible: bool = Field(default=False, description="Irreversible proposals wait.")
    actions: list[str] = Field(default=[], description="Proposals of these actions wait.")
    fields: list[str] = Field(default=[], description="Proposals changing these fields wait.")
    reason: str = Field(
        default="an irreversible or externally visible action waits for a person", description="What the wait says."
    )


class MaxChangesSpec(_Spec):
    """A proposal changing more than `limit` fields (of the `actions` named) is denied."""

    rule: Literal["max_changes"]
    limit: int = Field(ge=0, description="The most fields one proposal may change.")
    actions: list[str] | None = Field(default=None, description="The actions it applies to (default: every action).")


class AllowedFieldsSpec(_Spec):
    """A proposal (of the `actions` named) may change only `fields`."""

    rule: Literal["allowed_fields"]
    fields: list[str] = Field(min_length=1, description="The fields it may change.")
    actions: list[str] | None = Field(default=None, description="The actions it applies to (default: every action).")


AnySpec = Annotated[
    AllowSpec
    | MinConfidenceSpec
    | RequireCitationsSpec
    | EscalateOnConflictSpec
    | FreezeOnSpec
    | PrioritySpec
    | RequireApprovalSpec
    | MaxChangesSpec
    | AllowedFieldsSpec,
    Field(discriminator="rule"),
]
RULE_SPEC = TypeAdapter(AnySpec)
RULE_SPECS = typing.get_args(typing.get_args(AnySpec)[0])
"""Every policy rule's model, in the order the reference lists them."""


class PolicyFile(BaseModel):
    """A policy file: a default and the rules, judged in order; a veto (deny, escalate) wins over an allow."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    default: Literal["deny", "allow"] = Field(default="deny", description="What a proposal no rule allows gets.")
    rules: list[AnySpec] = Field(default=[], description="The rules; each names its kind in `rule`.")


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
