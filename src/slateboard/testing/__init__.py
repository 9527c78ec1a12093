"""Tools for testing with slateboard and for testing slateboard's plug points.

- `slateboard.testing.strategies`: hypothesis strategies: findings of any registered kind, evidence that agrees or
  conflicts to a chosen degree, agent schedules and interleavings, injected faults, proposals.
- `slateboard.testing.outcomes`: `record` how each example ended, `reaches` fails a property too few examples
  exercised (a vacuous property shows itself); the shares also show in `--hypothesis-show-statistics`.
- `slateboard.testing.fresh.FreshStores`: a new store per hypothesis example (the plugin's `slateboard_fresh`).
- `slateboard.testing.conformance.BlackboardConformance`: the suite every store passes.
- `slateboard.testing.commit_conformance`: the suites every store's ledger and every sink pass.
- `slateboard.testing.whatif`: `assert_policy_holds` and `whatif_boards`, a what-if of a changed policy or rule set
  over a corpus of recorded boards (a policy change tested in CI against history).
- `slateboard.testing.faults.Faults`: a kill switch that SIGKILLs its own process at the N-th write boundary
  (store appends, ledger writes, sink calls), for crash tests with real processes.
- `slateboard.testing.harness.run_fault_matrix`: a scenario under every fault (SIGKILL at write boundaries, a flaky
  sink, hung agents, a full disk, two controllers on one board), each case judged: nothing lost, nothing applied
  twice, verify and replay pass (docs/RELIABILITY.md).
- `slateboard.testing.postgres.throwaway_server`: a PostgreSQL server started for a test session or a benchmark
  and deleted afterwards (`durable=True` for PostgreSQL's durable defaults).
"""

from slateboard.testing import outcomes, postgres, strategies
from slateboard.testing.strategies import (
    Evidence,
    Fault,
    citations,
    evidence,
    faults,
    findings,
    interleavings,
    proposals,
    schedules,
)
from slateboard.testing.whatif import assert_policy_holds, load_rules, whatif_boards

__all__ = (
    "outcomes",
    "postgres",
    "strategies",
    "Evidence",
    "Fault",
    "citations",
    "evidence",
    "faults",
    "findings",
    "interleavings",
    "proposals",
    "schedules",
    "assert_policy_holds",
    "load_rules",
    "whatif_boards",
)
