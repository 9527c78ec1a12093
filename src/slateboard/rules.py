"""The controller's rules, importable as `from slateboard import rules` (see slateboard.controller.rules)."""

from slateboard.controller.rules import (
    Assessment,
    Budget,
    ConflictRule,
    SufficiencyRule,
    budget,
    contradiction,
    disagreement,
    escalate_below,
    quorum,
    sufficient,
)

__all__ = (
    "Assessment",
    "Budget",
    "ConflictRule",
    "SufficiencyRule",
    "budget",
    "contradiction",
    "disagreement",
    "escalate_below",
    "quorum",
    "sufficient",
)
