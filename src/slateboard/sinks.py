"""Sinks, the commit targets: `from slateboard import sinks`, then `sinks.Memory()`, `sinks.Function(fn)`,
`sinks.Table("cases")` (see slateboard.commit.sinks for the contract).

`sinks.Callable` is `sinks.Function` under its first name, kept for code that uses it; `Function` does not shadow
`typing.Callable` in a module that imports it unqualified.
"""

from slateboard.commit.sinks import (
    Applied,
    Function,
    Memory,
    Sink,
    SinkCapabilities,
    Table,
    TransactionalSink,
    capabilities_of,
)

Callable = Function

__all__ = (
    "Sink",
    "TransactionalSink",
    "SinkCapabilities",
    "capabilities_of",
    "Memory",
    "Function",
    "Callable",
    "Table",
    "Applied",
)
