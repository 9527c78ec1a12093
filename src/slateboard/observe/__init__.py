"""Read-only views of stored boards, for the command line, notebooks and the review page alike.

- `audit`: a board's timeline as a structured `Audit` (what each agent read and wrote, sources, verdicts,
  approvals, commits), from stored rows, so kinds need not be importable.
- `metrics`: the workflow metrics of a store's boards as a structured `WorkflowMetrics`.
- `rows`: where each idempotency key stands, from stored rows: the controller's own fold (`KeyBook`), which both
  of the above read, so they report every key as the run's outcome does.
"""

from slateboard.observe.audit import Audit, AuditEvent, build_audit
from slateboard.observe.metrics import WorkflowMetrics, collect, metrics
from slateboard.observe.rows import key_book

__all__ = ("Audit", "AuditEvent", "WorkflowMetrics", "build_audit", "collect", "key_book", "metrics")
