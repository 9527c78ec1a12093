"""The `memory://` store: the log, the ledger and in-database sink tables in this process's memory.

Fast, for tests and notebooks; gone when closed. It passes the same conformance suites as every other store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import replace
from itertools import repeat
from pathlib import Path
from typing import Any

from slateboard.blackboard.entries import GENESIS_HASH, PendingEntry, StoredEntry, seal_rows
from slateboard.blackboard.stores.base import FeedRow, check_head, decode_position, encode_position
from slateboard.blackboard.stores.ledger import (
    LedgerRow,
    LedgerStatus,
    TargetLocked,
    check_columns,
    check_params,
    lock_is_free,
)
from slateboard.blackboard.stores.registry import StoreBackend, StoreOptions
from slateboard.blackboard.stores.snapshot_shelves import MemorySnapshots
from slateboard.blackboard.stores.tables import Apply, TableRow, sink_table
from slateboard.errors import ConfigurationError, ReadOnlyStoreError

__all__ = ("MemoryStore", "MemoryLedger", "MemoryTables", "backend")

_Row = tuple[dict[str, Any], int, str]
_ABSENT: Any = object()
_new, _STORED = tuple.__new__, repeat(StoredEntry)


class MemoryTables:
    """The tables of sinks inside the store (`sinks.Table`) on `memory://`: the store's `TableTransaction`.

    Inside `apply_atomically`, `write_row` journals the row it replaces, so a sink that raises halfway is undone
    row by row, at a cost that does not grow with the tables.
    """

    def __init__(self) -> None:
        # table -> target -> (data, revision, last key); plain tuples, which the benchmarks fill directly.
        self.tables: dict[str, dict[str, _Row]] = {}
        self._journal: list[tuple[str, str, Any]] | None = None

    def read_row(self, table: str, target: str) -> TableRow | None:
        found = self.tables.get(sink_table(table), {}).get(target)
        return TableRow(*found) if found is not None else None

    def write_row(self, table: str, target: str, row: TableRow) -> None:
        name = sink_table(table)
        rows = self.tables.setdefault(name, {})
        if self._journal is not None:
            self._journal.append((name, target, rows.get(target, _ABSENT)))
        rows[target] = (row.data, row.revision, row.last_key)

    def rows(self, table: str) -> dict[str, TableRow]:
        """Every row of `table`, by target in sorted order."""
        return {target: TableRow(*row) for target, row in sorted(self.tables.get(sink_table(table), {}).items())}

    def begin(self) -> None:
        self._journal = []

    def end(self, *, undo: bool) -> None:
        journal, self._journal = self._journal or [], None
        if undo:
            for table, target, before in reversed(journal):
                if before is _ABSENT:
                    self.tables[table].pop(target, None)
                else:
                    self.tables[table][target] = before


class MemoryLedger:
    """The ledger of a `memory://` store (`read_only`: one that refuses every change)."""

    def __init__(self, *, read_only: bool = False, url: str = "memory://") -> None:
        self._read_only = read_only
        self._url = url
        self._rows: dict[str, LedgerRow] = {}
        self._locks: dict[str, tuple[str, int, float]] = {}
        self._mutex = threading.Lock()
        self.tables = MemoryTables()

    def _writable(self) -> None:
        if self._read_only:
            raise ReadOnlyStoreError("change the ledger", url=self._url)

    def get(self, key: str, *, wait: bool) -> LedgerRow | None:
        with self._mutex:
            return self._rows.get(key)

    def claim(self, row: LedgerRow, *, wait: bool) -> tuple[LedgerRow, bool]:
        self._writable()
        with self._mutex:
            existing = self._rows.get(row.key)
            if existing is not None:
                check_params(existing, row)
                return existing, False
            self._rows[row.key] = row
            return row, True

    def transition(self, key: str, expect: Collection[str], changes: dict[str, Any], *, wait: bool) -> LedgerRow | None:
        check_columns(changes)
        self._writable()
        with self._mutex:
            row = self._rows.get(key)
            if row is None or row.status not in expect:
                return None
            self._rows[key] = replace(row, **changes)
            return self._rows[key]

    def apply_atomically(self, row: LedgerRow, apply: Apply, *, holder: str = "", wait: bool) -> tuple[LedgerRow, bool]:
        """Claim, apply and settle at once, unless another live holder (not `holder`) has the target's lock."""
        self._writable()
        with self._mutex:
            existing = self._rows.get(row.key)
            if existing is not None:
                check_params(existing, row)
                return existing, False
            lock = self._locks.get(row.target)
            if lock is not None and not lock_is_free(holder, "", lock, time.time()):
                raise TargetLocked(row.target, lock[0])
            # A sink that raises halfway leaves the tables as they were: its writes are journaled and undone.
            self.tables.begin()
            try:
                applied = replace(row, status="applied", attempts=1, receipt=apply(self.tables))
            except BaseException:
                self.tables.end(undo=True)
                raise
            self.tables.end(undo=False)
            self._rows[row.key] = applied
            return applied, True

    def rows(self, status: LedgerStatus | None, *, wait: bool) -> list[LedgerRow]:
        with self._mutex:
            return [r for _, r in sorted(self._rows.items()) if status is None or r.status == status]

    def table_rows(self, table: str, *, wait: bool) -> dict[str, TableRow]:
        with self._mutex:
            return self.tables.rows(table)

    def acquire(self, target: str, holder: str, lease: float, steal: str, *, wait: bool) -> tuple[int, str]:
        """(fencing token, holder) when acquired; (0, current holder) when another holds the lease."""
        self._writable()
        with self._mutex:
            now, current = time.time(), self._locks.get(target)
            if current is not None and not lock_is_free(holder, steal, current, now):
                return 0, current[0]
            token = (current[1] if current else 0) + 1
            self._locks[target] = (holder, token, now + lease)
            return token, holder

    def release(self, target: str, token: int, *, wait: bool) -> None:
        self._writable()
        with self._mutex:
            current = self._locks.get(target)
            if current is not None and current[1] == token:
                # Keep the token so the next holder's is higher: fencing tokens never go back.
                self._locks[target] = (current[0], token, 0.0)


class MemoryStore:
    """A store in this process's memory: fast, for tests and notebooks, gone when closed.

    `read_only`: a store that refuses appends and ledger changes (it stays empty; `memory://` opened read-only).
    """

    def __init__(self, url: str = "memory://", *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self._boards: dict[str, list[StoredEntry]] = {}
        # Every entry in seq order: seq is given and the entry stored under one lock, so seq is commit order.
        self._all: list[StoredEntry] = []
        self._lock = threading.Lock()
        self.ledger = MemoryLedger(read_only=read_only, url=url)
        self.snapshots = MemorySnapshots(read_only=read_only, url=url)

    def append(
        self, board: str, entries: Sequence[PendingEntry], *, expected_version: int | None, wait: bool
    ) -> list[StoredEntry]:
        if self.read_only:
            raise ReadOnlyStoreError(f"append to board {board!r}", url=self.url)
        with self._lock:
            log = self._boards.get(board)
            version = check_head(board, len(log) if log else 0, expected_version)
            rows = seal_rows(log[-1].hash if log else GENESIS_HASH, board, version, len(self._all), entries)
            stored: list[StoredEntry] = list(map(_new, _STORED, rows))  # `make_stored` of each
            if stored:
                if log is None:
                    self._boards[board] = stored.copy()
                else:
                    log.extend(stored)
                self._all.extend(stored)
            return stored

    def read(self, board: str, *, after: int, upto: int | None, wait: bool) -> list[StoredEntry]:
        with self._lock:
            log = self._boards.get(board, [])
            return log[max(after, 0) : upto]

    def head(self, board: str, *, wait: bool) -> tuple[int, str]:
        with self._lock:
            log = self._boards.get(board)
            return (len(log), log[-1].hash) if log else (0, GENESIS_HASH)

    def boards(self) -> list[str]:
        with self._lock:
            return sorted(self._boards)

    def feed(self, after: str | None, limit: int, *, wait: bool) -> list[FeedRow]:
        """Entries of every board in seq order (seq n is the n-th entry stored); the position is the seq."""
        start = 0 if after is None else decode_position(after, 1, url=self.url)[0]
        with self._lock:
            rows = self._all[start : start + limit]
        return [(encode_position(row.seq), row) for row in rows]

    def close(self) -> None:
        """Nothing to release; the entries stay readable until the store is dropped."""


def _open(url: str, options: StoreOptions) -> MemoryStore:
    if not url.startswith("memory://"):
        raise ConfigurationError(f"store URL {url!r}: write 'memory://' for a store in this process's memory")
    return MemoryStore(url, read_only=options.read_only)


def _test_url(directory: Path) -> str:
    return "memory://"


backend = StoreBackend("memory", _open, test_url=_test_url, reopenable=False)
"""`memory://`: registered through the `slateboard.stores` entry point `memory`. Every open is a new store."""
