"""Read-only views of stored boards, for the command line, notebooks and the review page alike.

```python
from slateboard import Blackboard, observe

with Blackboard.open("sqlite:///slateboard.db") as bb:
    audit = observe.board_audit(bb, "support-case")     # an Audit: timeline, agents, sources, waiting, committed
    found = observe.workflow_metrics(bb)                 # a WorkflowMetrics over every board of the store
```

- `audit`: a board's timeline as a structured `Audit` (what each agent read and wrote, sources, verdicts,
  approvals, commits), from stored rows, so kinds need not be importable.
- `metrics`: the workflow metrics of a store's boards as a structured `WorkflowMetrics`.
- `affected`: the boards a source concerns (`affected_boards`), what a retraction of it leaves stale on each and the
  commits that rested on it, from stored rows (`slateboard boards --affected-by SOURCE`).
- `maturity`: the four maturity signals of seed 004 (handoff success, time to recover, non-idempotent retries,
  audit coverage) against the article's targets, from stored rows and the ledger (docs/metrics.md).
- `heads`: signed heads: a board's head signed with an Ed25519 key, and a board checked against one
  (docs/signed-heads.md; the `signing` extra).
- `rows`: where each idempotency key stands, from stored rows: the controller's own fold (`KeyBook`), which both
  of the above read, so they report every key as the run's outcome does.
"""

from slateboard.observe import heads
from slateboard.observe.affected import BoardImpact, affected_boards
from slateboard.observe.audit import Audit, AuditEvent, board_audit, build_audit
from slateboard.observe.maturity import MaturitySignals, Signal, maturity
from slateboard.observe.metrics import WorkflowMetrics, collect
from slateboard.observe.metrics import metrics as workflow_metrics
from slateboard.observe.rows import board_rows, key_book

__all__ = (
    "Audit",
    "AuditEvent",
    "BoardImpact",
    "MaturitySignals",
    "Signal",
    "WorkflowMetrics",
    "affected_boards",
    "board_audit",
    "board_rows",
    "build_audit",
    "collect",
    "heads",
    "key_book",
    "maturity",
    "workflow_metrics",
)
