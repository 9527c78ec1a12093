"""A third-party store for the tests: `wrapped://NAME`, a store of its own classes over an in-memory store.

It stands for a backend slateboard does not ship: nothing in slateboard knows its classes, so whatever passes
on it passes through the plug points alone (the registry, the `Store` and `Ledger` protocols, and the
`TableTransaction` a sink inside the store writes through). Storage is kept per NAME, so opening a URL again
reaches the same storage, as with a database, and the suites' second-handle checks run on it too.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slateboard.blackboard.entries import PendingEntry, StoredEntry
from slateboard.blackboard.stores import (
    Ledger,
    LedgerRow,
    LedgerStatus,
    MemoryStore,
    StoreBackend,
    StoreOptions,
    TableRow,
    TableTransaction,
    register_store,
    unregister_store,
)
from slateboard.blackboard.stores.tables import Apply

SCHEME = "wrapped"
_STORAGE: dict[str, MemoryStore] = {}
_LOCK = threading.Lock()


class WrappedTables:
    """The wrapped store's `TableTransaction`: its own class, passing rows to the inner transaction."""

    def __init__(self, inner: TableTransaction) -> None:
        self._inner = inner
        self.writes = 0

    def read_row(self, table: str, target: str) -> TableRow | None:
        return self._inner.read_row(table, target)

    def write_row(self, table: str, target: str, row: TableRow) -> None:
        self.writes += 1
        self._inner.write_row(table, target, row)


class WrappedLedger:
    """The wrapped store's ledger: every call goes to the inner ledger; sinks get a `WrappedTables`."""

    def __init__(self, inner: Ledger) -> None:
        self._inner = inner

    def get(self, key: str, *, wait: bool) -> LedgerRow | None:
        return self._inner.get(key, wait=wait)

    def claim(self, row: LedgerRow, *, wait: bool) -> tuple[LedgerRow, bool]:
        return self._inner.claim(row, wait=wait)

    def transition(self, key: str, expect: Collection[str], changes: dict[str, Any], *, wait: bool) -> LedgerRow | None:
        return self._inner.transition(key, expect, changes, wait=wait)

    def apply_atomically(self, row: LedgerRow, apply: Apply, *, holder: str = "", wait: bool) -> tuple[LedgerRow, bool]:
        return self._inner.apply_atomically(row, lambda tx: apply(WrappedTables(tx)), holder=holder, wait=wait)

    def rows(self, status: LedgerStatus | None, *, wait: bool) -> list[LedgerRow]:
        return self._inner.rows(status, wait=wait)

    def table_rows(self, table: str, *, wait: bool) -> dict[str, TableRow]:
        return self._inner.table_rows(table, wait=wait)

    def acquire(self, target: str, holder: str, lease: float, steal: str, *, wait: bool) -> tuple[int, str]:
        return self._inner.acquire(target, holder, lease, steal, wait=wait)

    def release(self, target: str, token: int, *, wait: bool) -> None:
        self._inner.release(target, token, wait=wait)


class WrappedStore:
    """A `Store` over the in-memory storage its URL names."""

    def __init__(self, url: str, inner: MemoryStore) -> None:
        self.url = url
        self._inner = inner
        self._ledger = WrappedLedger(inner.ledger)
        self.closed = False

    @property
    def ledger(self) -> WrappedLedger:
        return self._ledger

    def append(
        self, board: str, entries: Sequence[PendingEntry], *, expected_version: int | None, wait: bool
    ) -> list[StoredEntry]:
        return self._inner.append(board, entries, expected_version=expected_version, wait=wait)

    def read(self, board: str, *, after: int, upto: int | None, wait: bool) -> list[StoredEntry]:
        return self._inner.read(board, after=after, upto=upto, wait=wait)

    def head(self, board: str, *, wait: bool) -> tuple[int, str]:
        return self._inner.head(board, wait=wait)

    def boards(self) -> list[str]:
        return self._inner.boards()

    def feed(self, after: str | None, limit: int, *, wait: bool) -> list[tuple[str, StoredEntry]]:
        return self._inner.feed(after, limit, wait=wait)

    def close(self) -> None:
        self.closed = True


def open_wrapped(url: str, options: StoreOptions) -> WrappedStore:
    """The opener `register_store` is given: the same name reaches the same storage (`read_only` is not
    honoured: this store stands for the plug points, which read-only stores do not need)."""
    with _LOCK:
        inner = _STORAGE.setdefault(url, MemoryStore(url))
    return WrappedStore(url, inner)


def fresh_url(directory: Path) -> str:
    """A URL no store has used yet (the directory is unused: this store keeps nothing on disk)."""
    return f"{SCHEME}://{uuid.uuid4().hex}"


@contextmanager
def registered() -> Iterator[StoreBackend]:
    """`wrapped://` registered through the registry's API for the duration, as a third party's code would do."""
    backend = register_store(SCHEME, open_wrapped, test_url=fresh_url)
    try:
        yield backend
    finally:
        unregister_store(SCHEME)
        with _LOCK:
            _STORAGE.clear()
