"""Policies: every proposal is judged before anything is committed. Importable as `from slateboard import policies`.

```python
policy = policies.Policy(
    policies.min_confidence(0.85),
    policies.require_citations(approved=True),
    policies.escalate_on_conflict(),
    policies.freeze_on(ComplianceFlag),
    policies.priority("compliance", "service", "sales"),
    policies.require_approval(lambda p: not p.reversible),
)
policy = policies.load("policy.toml")          # or .yaml; errors give file, line and rule
```
"""

from slateboard.policies.builtins import (
    PolicyRule,
    allow,
    allowed_fields,
    escalate_on_conflict,
    freeze_on,
    irreversible,
    max_changes,
    min_confidence,
    priority,
    require_approval,
    require_citations,
)
from slateboard.policies.context import PolicyContext, Rival, live_proposals
from slateboard.policies.files import load, loads
from slateboard.policies.policy import Policy
from slateboard.state.records import Verdict, Vote
from slateboard.state.vocabulary import Effect

__all__ = (
    "Policy",
    "PolicyRule",
    "PolicyContext",
    "Rival",
    "Verdict",
    "Vote",
    "Effect",
    "allow",
    "min_confidence",
    "require_citations",
    "escalate_on_conflict",
    "freeze_on",
    "priority",
    "require_approval",
    "irreversible",
    "max_changes",
    "allowed_fields",
    "load",
    "loads",
    "live_proposals",
)
