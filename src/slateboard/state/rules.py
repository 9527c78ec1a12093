"""The two kinds of controller rule, as protocols: the controller evaluates them, and a policy may consult them.

They are plug points: anything with an `id` and an `assess` (or `check`) over a `BoardState` is a rule. The
built-in ones are in slateboard.controller.rules (`from slateboard import rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from slateboard.blackboard.records import Finding
from slateboard.state.projection import BoardState
from slateboard.state.records import Reason

__all__ = ("Assessment", "ConflictRule", "OfKind", "SufficiencyRule")


@dataclass(frozen=True)
class Assessment:
    """A sufficiency rule's verdict on one subject, with the reason either way."""

    met: bool
    reason: Reason


@runtime_checkable
class SufficiencyRule(Protocol):
    """Says whether the evidence on a subject suffices (None: the rule has nothing to judge there)."""

    @property
    def id(self) -> str: ...

    def assess(self, state: BoardState, subject: str) -> Assessment | None: ...


@runtime_checkable
class ConflictRule(Protocol):
    """Returns a reason to escalate a subject to a person, or None."""

    @property
    def id(self) -> str: ...

    def check(self, state: BoardState, subject: str) -> Reason | None: ...


@runtime_checkable
class OfKind(Protocol):
    """A sufficiency rule that judges the findings of one `kind` (the built-in `sufficient` does).

    Read once, when the controller is built: where a person's settlement chose a finding of that kind on a subject,
    the rule is met there by that authoritative answer rather than by pooling sources again.
    """

    @property
    def kind(self) -> type[Finding]: ...
