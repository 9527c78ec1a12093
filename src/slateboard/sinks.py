"""Sinks, the commit targets: `from slateboard import sinks`, then `sinks.Memory()`, `sinks.Callable(fn)`,
`sinks.Table("cases")` (see slateboard.commit.sinks for the contract)."""

from slateboard.commit.sinks import Applied, Memory, Sink, Table, TransactionalSink
from slateboard.commit.sinks import Callable_ as Callable

__all__ = ("Sink", "TransactionalSink", "Memory", "Callable", "Table", "Applied")
