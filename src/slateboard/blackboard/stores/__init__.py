"""Stores: where a blackboard's log and its ledger live. One module per backend, each a `Store` and `Ledger` pair.

- `base`: the `Store` protocol, opening a store from its URL, and `call_store` (async code reaching a sync store).
- `ledger`: the `Ledger` protocol (idempotency keys and target locks) and its row.
- `memory`: `memory://`, in this process.
- `sqlite`: `sqlite:///path`, the embedded default.
"""

from slateboard.blackboard.stores.base import Store, WouldBlock, call_store, chain, open_store
from slateboard.blackboard.stores.ledger import Ledger, LedgerRow, LedgerStatus, TargetLocked
from slateboard.blackboard.stores.memory import MemoryLedger, MemoryStore, MemoryTables

__all__ = (
    "Store",
    "Ledger",
    "LedgerRow",
    "LedgerStatus",
    "TargetLocked",
    "WouldBlock",
    "MemoryStore",
    "MemoryLedger",
    "MemoryTables",
    "open_store",
    "call_store",
    "chain",
)
