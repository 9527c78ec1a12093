"""A dry run: a scenario runs as it would, with a sink that records what it would apply and applies nothing.

```python
from slateboard.controller import DryRun

planned = DryRun()
result = scenario.run_sync(blackboard, sink=planned)   # or: slateboard run SCENARIO --dry-run
for step in planned.planned:
    print(step)                                        # "would apply update Case/42: Status='Resolved' (key ...)"
```

Everything else is the real thing: the agents run, the rules decide, the policy judges, approvals wait, and the
commit layer goes through the ledger, so the outcome is the one the real sink would see. What differs is only the
sink: its receipt is `{"dry_run": true}`. Since the board and the ledger then say "committed" for keys nothing
applied, a dry run belongs on a store of its own (the command line runs it on a fresh `memory://` store, whatever
`--db` says, so no key a dry run "committed" is ever skipped by a real run later).
"""

from __future__ import annotations

import threading

from pydantic import JsonValue

from slateboard.blackboard.records import FrozenModel
from slateboard.state.proposal import Proposal

__all__ = ("DryRun", "Planned")


class Planned(FrozenModel):
    """One application a dry run would have made: the idempotency key and what the proposal changes."""

    key: str
    action: str
    target: str
    changes: dict[str, JsonValue]

    def __str__(self) -> str:
        changes = ", ".join(f"{name}={value!r}" for name, value in self.changes.items()) or "no field changes"
        return f"would apply {self.action} {self.target}: {changes} (key {self.key})"


class DryRun:
    """A sink that records each proposal it is given in `planned` and applies nothing.

    `name` (what commit entries record) says it was a dry run: `dry-run`, or `dry-run(<name>)` when `of` names the
    sink it stands in for."""

    blocking = False  # apply only appends to a list: it never waits, so it runs inline

    def __init__(self, of: str | None = None) -> None:
        self.name = f"dry-run({of})" if of else "dry-run"
        self.planned: list[Planned] = []
        self._lock = threading.Lock()

    def apply(self, proposal: Proposal, key: str) -> JsonValue:
        """Record the application that would happen; the receipt says nothing was applied."""
        planned = Planned(key=key, action=proposal.action, target=proposal.target, changes=dict(proposal.changes))
        with self._lock:
            self.planned.append(planned)
        return {"dry_run": True}

    def __repr__(self) -> str:
        return f"DryRun(name={self.name!r}, planned={len(self.planned)})"
