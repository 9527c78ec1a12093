"""Tools for testing with slateboard and for testing slateboard's plug points.

`slateboard.testing.conformance.BlackboardConformance` is the suite every store passes.
"""

__all__ = ()
