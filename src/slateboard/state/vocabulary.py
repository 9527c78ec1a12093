"""Every status word slateboard writes or reports, defined once: a `Literal` type each, and a tuple derived from it.

Code that needs the words at run time (a CLI choice, a metrics column, a YAML validator) reads the tuple; code that
needs the type reads the `Literal`. Adding a status here is the whole change; nothing else spells the words out.
The fixed relations between two vocabularies (which outcome a key's status counts as, which outcome is the most
pressing) are here too, typed by both, so a misspelt word fails the type check.
"""

from __future__ import annotations

from typing import Literal, get_args

from slateboard.agents.runner import AttemptStatus
from slateboard.blackboard.stores.ledger import LedgerStatus

__all__ = (
    "AgentRunStatus",
    "AGENT_RUN_STATUSES",
    "DecisionStatus",
    "DECISION_STATUSES",
    "Effect",
    "EFFECTS",
    "Veto",
    "VETOES",
    "PolicyDefault",
    "POLICY_DEFAULTS",
    "ApprovalAnswer",
    "SettlementAction",
    "SETTLEMENT_ACTIONS",
    "FailureStatus",
    "KeyStatus",
    "KEY_STATUSES",
    "OutcomeStatus",
    "OUTCOME_STATUSES",
    "DECISION_OUTCOMES",
    "KEY_OUTCOMES",
    "PRESSING",
    "BoardStatus",
    "BOARD_STATUSES",
    "LedgerStatus",
    "LEDGER_STATUSES",
)

AgentRunStatus = AttemptStatus
"""How one attempt of an agent ended (`AgentRun.status`)."""
AGENT_RUN_STATUSES: tuple[AgentRunStatus, ...] = get_args(AttemptStatus)

DecisionStatus = Literal["continue", "sufficient", "escalate", "insufficient", "failed", "closed"]
"""What the controller decided after a change (`Decision.status`); "closed": a person closed the case."""
DECISION_STATUSES: tuple[DecisionStatus, ...] = get_args(DecisionStatus)

Effect = Literal["allow", "deny", "escalate", "needs_approval"]
"""A policy rule's vote, and a verdict's outcome."""
EFFECTS: tuple[Effect, ...] = get_args(Effect)

Veto = Literal["deny", "escalate", "needs_approval"]
"""The effects a rule may use against a proposal (every effect but "allow")."""
VETOES: tuple[Veto, ...] = get_args(Veto)

PolicyDefault = Literal["deny", "allow"]
"""What a policy does with a proposal no rule allowed (`Policy(default=...)`)."""
POLICY_DEFAULTS: tuple[PolicyDefault, ...] = get_args(PolicyDefault)

ApprovalAnswer = Literal["approved", "rejected"]
"""A person's answer to an approval request."""

SettlementAction = Literal["choose", "correct", "close"]
"""A person's answer to an escalation (`Settlement.action`): choose a side, supply a corrected finding, or close."""
SETTLEMENT_ACTIONS: tuple[SettlementAction, ...] = get_args(SettlementAction)

FailureStatus = Literal["dead", "in_doubt"]
"""A commit that did not happen for sure: dead-lettered, or in doubt until a person checks."""

KeyStatus = Literal[
    "unjudged",
    "rejected",
    "escalated",
    "awaiting_approval",
    "authorized",
    "committed",
    "compensated",
    "failed",
    "in_doubt",
]
"""Where one idempotency key stands on the board (slateboard.state.keys)."""
KEY_STATUSES: tuple[KeyStatus, ...] = get_args(KeyStatus)

OutcomeStatus = Literal[
    "committed", "awaiting_approval", "escalated", "rejected", "insufficient", "failed", "sufficient", "closed"
]
"""How a run ended (`Outcome.status`), most settled first."""
OUTCOME_STATUSES: tuple[OutcomeStatus, ...] = get_args(OutcomeStatus)

DECISION_OUTCOMES: dict[DecisionStatus, OutcomeStatus] = {
    "sufficient": "sufficient",
    "escalate": "escalated",
    "insufficient": "insufficient",
    "failed": "failed",
    "closed": "closed",
}
"""The outcome a run's last decision gives, before its proposals are looked at ("continue" never ends a run)."""

KEY_OUTCOMES: dict[KeyStatus, OutcomeStatus] = {
    "unjudged": "failed",
    "authorized": "failed",
    "rejected": "rejected",
    "escalated": "escalated",
    "in_doubt": "escalated",
    "awaiting_approval": "awaiting_approval",
    "committed": "committed",
    "compensated": "committed",
    "failed": "failed",
}
"""How one key's status counts toward its run's outcome (a key still unjudged or uncommitted when the run ends
means the run could not finish its work)."""

PRESSING: tuple[OutcomeStatus, ...] = ("escalated", "failed", "awaiting_approval", "committed", "rejected")
"""When a run's keys count differently, the outcome that wins: the first of these that any key counts as."""

BoardStatus = Literal[OutcomeStatus, "error"]
"""How one board of a batch ended: its outcome, or "error" when the run raised or overran its time."""
BOARD_STATUSES: tuple[BoardStatus, ...] = get_args(BoardStatus)

LEDGER_STATUSES: tuple[LedgerStatus, ...] = get_args(LedgerStatus)
"""Where the store's ledger has an idempotency key (`LedgerStatus`, defined with the ledger)."""
