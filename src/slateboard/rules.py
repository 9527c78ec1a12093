"""The controller's rules, importable as `from slateboard import rules` (see slateboard.controller.rules).

The built-in rules (`sufficient`, `quorum`, `contradiction`, `disagreement`, `escalate_below`, `budget`) and the
public rule protocol for writing one's own (docs/rules.md): a `SufficiencyRule` (`id` and `assess(state, subject)
-> Assessment | None`) or a `ConflictRule` (`id` and `check(state, subject) -> Reason | None`), judged on the
`BoardState`; optionally `OfKind` (a `kind` a person's settlement can meet) and `OwnSubject` (a `subject` of its
own).
"""

from slateboard.controller.rules import (
    Assessment,
    Budget,
    ConflictRule,
    OwnSubject,
    Rule,
    SufficiencyRule,
    budget,
    contradiction,
    disagreement,
    escalate_below,
    quorum,
    sufficient,
)
from slateboard.state.projection import BoardState
from slateboard.state.records import Reason
from slateboard.state.rules import OfKind

__all__ = (
    "Assessment",
    "BoardState",
    "Budget",
    "ConflictRule",
    "OfKind",
    "OwnSubject",
    "Reason",
    "Rule",
    "SufficiencyRule",
    "budget",
    "contradiction",
    "disagreement",
    "escalate_below",
    "quorum",
    "sufficient",
)
