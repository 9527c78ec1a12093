"""`Proposal`: an action an agent recommends. Agents never act; only the commit layer applies a proposal."""

from __future__ import annotations

import hashlib
import json

from pydantic import Field, JsonValue

from slateboard.blackboard.records import Finding

__all__ = ("Proposal",)


class Proposal(Finding):
    """A recommended change to an outside record, e.g. action "update", target "Case/42", changes {"Status": ...}.

    `domain` ranks proposals under `policies.priority` (the author agent's name stands in when absent).
    `idempotency_key`, when absent, is derived from the board, action, target and changes (`key(board)`), so the
    same proposal on the same board always claims the same key.
    """

    kind_name = "slateboard.Proposal"

    action: str = Field(min_length=1)
    target: str = Field(min_length=1)
    changes: dict[str, JsonValue] = Field(default_factory=dict)
    reversible: bool = True
    requires_approval: bool = False
    idempotency_key: str | None = None
    domain: str | None = None  # who speaks for this change (e.g. "compliance", "service", "sales"), for priority

    def key(self, board: str) -> str:
        """The idempotency key this proposal commits under on `board`."""
        if self.idempotency_key:
            return self.idempotency_key
        canonical = json.dumps(
            {"board": board, "action": self.action, "target": self.target, "changes": self.changes},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return "pk-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
