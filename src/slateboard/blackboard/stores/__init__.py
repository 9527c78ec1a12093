"""Stores: where a blackboard's log and its ledger live. One module per backend, each a `Store` and `Ledger` pair
registered under its URL scheme.

- `base`: the `Store` protocol (its `feed`: every board in one order), `call_store` (async code reaching a sync
  store), and the position format of the built-in feeds.
- `registry`: `open_store(url)` finds the backend by the URL's scheme: `register_store` at run time, or the
  entry-point group `slateboard.stores` (how the built-ins and third parties are found alike).
- `ledger`: the `Ledger` protocol (idempotency keys and target locks) and its row.
- `tables`: the `TableTransaction` protocol, through which a sink inside the store writes in the ledger's transaction.
- `memory`: `memory://`, in this process.
- `migrations`: numbered schema steps, and the rules both SQL stores follow to check and run them at open.
- `sqlite`: `sqlite:///path`, the embedded default (with `sqlite_ledger`, `sqlite_schema`, `sqlite_migrations`).
- `postgres`: `postgresql://...` (with `postgres_ledger` and `postgres_migrations`, its schema).
"""

from slateboard.blackboard.stores.base import FeedRow, Store, WouldBlock, call_store, chain
from slateboard.blackboard.stores.ledger import Ledger, LedgerRow, LedgerStatus, TargetLocked
from slateboard.blackboard.stores.memory import MemoryLedger, MemoryStore, MemoryTables
from slateboard.blackboard.stores.registry import (
    StoreBackend,
    StoreOptions,
    open_store,
    register_store,
    registered_schemes,
    unregister_store,
)
from slateboard.blackboard.stores.tables import TableRow, TableTransaction

__all__ = (
    "Store",
    "FeedRow",
    "Ledger",
    "LedgerRow",
    "LedgerStatus",
    "TargetLocked",
    "WouldBlock",
    "TableRow",
    "TableTransaction",
    "StoreBackend",
    "StoreOptions",
    "MemoryStore",
    "MemoryLedger",
    "MemoryTables",
    "open_store",
    "register_store",
    "registered_schemes",
    "unregister_store",
    "call_store",
    "chain",
)
