"""Tools for testing with slateboard and for testing slateboard's plug points.

- `slateboard.testing.conformance.BlackboardConformance`: the suite every store passes.
- `slateboard.testing.commit_conformance`: the suites every store's ledger and every sink pass.
- `slateboard.testing.faults.Faults`: a kill switch that SIGKILLs its own process at the N-th write boundary
  (store appends, ledger writes, sink calls), for crash tests with real processes.
"""

__all__ = ()
