"""`Blackboard` (a store opened from a URL) and `Board` (one case's versioned log on it).

Every public coroutine of `Board` has a blocking `<name>_sync` twin for scripts (`board.write_sync(...)`,
`board.view_sync()`, ...); `watch_sync` is a plain iterator. `Blackboard.feed` and `follow` read every board in
one order (`feed.py`).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import repeat
from types import TracebackType
from typing import Self

import anyio
import anyio.to_thread

from slateboard._internal.sync import sync_iter_twin, sync_twin
from slateboard.blackboard.columns import ColumnsBuilder
from slateboard.blackboard.draft import MAX_NAME, Draft, known_author
from slateboard.blackboard.entries import (
    GENESIS_HASH,
    Entry,
    Head,
    PendingEntry,
    StoredEntry,
    entries_of,
    make_pending,
    row_problem,
    seal,
)
from slateboard.blackboard.feed import DEFAULT_FEED_LIMIT, FeedItem, follow_feed, read_feed
from slateboard.blackboard.group import GroupCommit
from slateboard.blackboard.records import DEFAULT_MAX_PAYLOAD_BYTES, Record, decode_record, stored_form
from slateboard.blackboard.snapshots import (
    Rejected,
    Restored,
    SnapshotCheck,
    SnapshotRow,
    SnapshotShelf,
    check_entries,
    load,
    make_row,
    shelf_of,
)
from slateboard.blackboard.stores.base import (
    AppendRequest,
    GroupStore,
    Store,
    append_to,
    call_read,
    call_store,
    open_store,
)
from slateboard.blackboard.stores.registry import Durability
from slateboard.blackboard.view import BoardView, IndexInfo, LogIndex
from slateboard.errors import (
    ConfigurationError,
    InvalidFindingError,
    StoreError,
    TamperedLogError,
    UnknownVersionError,
)

__all__ = ("Blackboard", "Board", "DEFAULT_URL")

DEFAULT_URL = "sqlite:///slateboard.db"
_log = logging.getLogger("slateboard.blackboard")
_MAX_NAME = MAX_NAME
_VERIFY_PAGE = 5000
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _check_name(what: str, name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME or not name.isprintable():
        raise ConfigurationError(
            f"{what} must be a printable, non-empty string of at most {_MAX_NAME} characters, got {name!r}"
        )
    return name


_keeps_snapshots: weakref.WeakKeyDictionary[Store, bool] = weakref.WeakKeyDictionary()


def _shelf(store: Store) -> SnapshotShelf | None:
    """`shelf_of(store)`, with whether the store keeps snapshots worked out once per store: the check is against a
    runtime protocol, and costs more than the rest of a small run's restore (every run on a new board asks)."""
    try:
        keeps = _keeps_snapshots.get(store)
    except TypeError:  # a store that cannot be weakly referenced: asked every time
        return shelf_of(store)
    if keeps is None:
        shelf = shelf_of(store)
        _keeps_snapshots[store] = shelf is not None
        return shelf
    return store.snapshots if keeps else None  # type: ignore[attr-defined]  # a HasSnapshots, checked once


class _Changes:
    """Wakes `watch` loops of this process as soon as a write lands; other processes are polled for."""

    def __init__(self) -> None:
        self._waiters: set[tuple[int, anyio.Event]] = set()

    def arm(self) -> tuple[int, anyio.Event]:
        token = (threading.get_ident(), anyio.Event())
        self._waiters.add(token)
        return token

    def disarm(self, token: tuple[int, anyio.Event]) -> None:
        self._waiters.discard(token)

    @contextmanager
    def armed(self) -> Iterator[anyio.Event]:
        """An event set by the next write of this thread's event loop, while the block runs."""
        token = self.arm()
        try:
            yield token[1]
        finally:
            self.disarm(token)

    def notify(self) -> None:
        if not self._waiters:  # every write calls this: most have nobody watching
            return
        # An anyio Event belongs to its thread's event loop; other threads' watchers poll instead.
        me = threading.get_ident()
        for thread, event in list(self._waiters):
            if thread == me:
                event.set()


class Board:
    """One board: an append-only, hash-chained log of entries with versions 1..n. Get it with `bb.board(name)`."""

    def __init__(
        self,
        name: str,
        store: Store,
        *,
        clock: Clock,
        max_payload_bytes: int,
        on_write: Callable[[], None] | None = None,
        group: GroupCommit | None = None,
    ) -> None:
        self._name = name
        # Concurrent boards' appends share one transaction when the store can group them (group.py).
        self._group = group
        self._store = store
        self._clock = clock
        self._max_payload = max_payload_bytes
        self._index = LogIndex()
        self._changes = _Changes()
        self._on_write = on_write  # wakes the blackboard's followers

    @property
    def name(self) -> str:
        return self._name

    @property
    def store(self) -> Store:
        """The store this board lives in (the commit layer keeps its ledger there)."""
        return self._store

    def __repr__(self) -> str:
        return f"Board({self._name!r}, store={self._store.url!r})"

    async def write(self, finding: Record, *, author: str, expected_version: int | None = None) -> Entry:
        """Append one finding. With `expected_version`, fail with `StaleVersionError` if the board moved on."""
        # The hot path of every single write: no draft, no batch built around it.
        at, stamp = self._stamped()
        known_author(author)
        kind, schema_version, payload, record, _ = stored_form(finding, self._max_payload)
        pending = (make_pending((kind, schema_version, author, stamp, payload)),)
        (entry,) = await self._land(pending, (record,), at, expected_version)
        return entry

    async def write_many(
        self, findings: Iterable[Record], *, author: str, expected_version: int | None = None
    ) -> tuple[Entry, ...]:
        """Append findings as one atomic batch: all get consecutive versions, or nothing is written."""
        if isinstance(findings, Record):
            raise InvalidFindingError(findings.kind_name, [("", "write_many takes a list of findings, not one")])
        return await self.write_draft(self.draft(zip(findings, repeat(author)), after=expected_version))

    async def write_each(
        self, authored: Iterable[tuple[Record, str]], *, expected_version: int | None = None
    ) -> tuple[Entry, ...]:
        """Append (record, author) pairs as one atomic batch, e.g. a controller cycle's runs and findings."""
        # An iterator is read once, and every record encoded and checked, before anything is written.
        return await self.write_draft(self.draft(authored, after=expected_version))

    def draft(self, authored: Iterable[tuple[Record, str]] = (), *, after: int | None) -> Draft:
        """(record, author) pairs encoded and checked for one atomic append after version `after`, not yet written.

        Add to it with `draft.add(record, author)`; write it with `write_draft`. Its `entries` are the entries the
        append will give (the controller decides on them before writing its decision in the same append).
        """
        at, stamp = self._stamped()
        return Draft(self._name, after, at, max_bytes=self._max_payload, authored=authored, stamp=stamp)

    async def write_draft(self, draft: Draft) -> tuple[Entry, ...]:
        """Append `draft` as one atomic batch, with `StaleVersionError` if the board is no longer at `draft.after`."""
        if draft.board != self._name:
            raise ConfigurationError(f"a draft for board {draft.board!r} cannot be written to board {self._name!r}")
        return await self._land(draft.pending, draft.records, draft.recorded_at, draft.after)

    async def _land(
        self, pending: Sequence[PendingEntry], records: Sequence[Record], at: datetime, after: int | None
    ) -> tuple[Entry, ...]:
        """Append `pending` (whose records, as every reader loads them, are `records`) and index what landed."""
        if self._group is None:
            stored = await append_to(self._store, self._name, pending, after)
        else:
            stored = await self._group.append(AppendRequest(self._name, pending, after))
        if len(stored) != len(records):
            problem = f"board {self._name!r}: the store returned {len(stored)} entries for an append of {len(records)}"
            raise StoreError(problem, url=self._store.url)
        entries = entries_of(stored, records, at)
        self._index.extend(entries)
        self._changes.notify()
        if self._on_write is not None:
            self._on_write()
        return entries

    def _stamped(self) -> tuple[datetime, str]:
        """The clock's time now, in UTC, and as stored."""
        now = self._clock()
        if now.tzinfo is not UTC:
            if now.tzinfo is None:
                raise ConfigurationError("the blackboard's clock returned a naive datetime; it must carry a timezone")
            now = now.astimezone(UTC)
        return now, now.isoformat()

    async def view(self, *, at: int | None = None) -> BoardView:
        """An immutable snapshot: the latest, or the board as it was at version `at`."""
        index = self._index
        if type(at) is int and 0 <= at <= index.version:  # the controller's own reads, twice a cycle: no read
            return BoardView(self._name, at, index)
        known = isinstance(at, int) and not isinstance(at, bool) and 0 <= at <= self._index.version
        if not known:  # the first `at` entries never change: a version this process holds needs no read
            await self._catch_up()
        head = self._index.version
        if at is None:
            at = head
        elif isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= head:
            raise UnknownVersionError(self._name, at, head)
        return BoardView(self._name, at, self._index)

    async def history(self) -> tuple[Entry, ...]:
        """Every entry, in version order."""
        return (await self.view()).entries()

    async def head(self) -> Head:
        """The latest version and its hash: export it to detect a later truncation with `verify(head=...)`."""
        version, digest = await call_store(self._store.head, self._name)
        return Head(board=self._name, version=version, hash=digest)

    def cache_info(self) -> IndexInfo:
        """How many entries this process holds (and of them, snapshot entries not decoded yet), and how many rows it
        has read from the store in all."""
        index = self._index
        return IndexInfo(entries=index.version, rows_loaded=index.rows_loaded, undecoded=index.undecoded)

    async def _catch_up(self) -> None:
        index = self._index
        rows = await call_read(self._store.read, self._name, after=index.version, upto=None)
        if rows:
            index.rows_loaded += len(rows)
            index.extend(self._decode(row) for row in rows)

    def _decode(self, row: StoredEntry) -> Entry:
        where = f"board {self._name!r} version {row.version}"
        try:
            return Entry.from_stored(row, decode_record(row.kind, row.schema_version, row.payload, where=where))
        except (TypeError, ValueError, AttributeError) as exc:  # our own store wrote it checked: it was edited
            problem = row_problem(row) or f"the stored row cannot be read ({exc})"
            at = row.version if type(row.version) is int else self._index.version + 1
            raise TamperedLogError(self._name, at, problem) from exc

    async def verify(self, *, head: Head | None = None) -> Head:
        """Recompute the hash chain from the store; `TamperedLogError` names the first bad version.

        Finds any edited, deleted or reordered entry. A removed tail, or a chain recomputed from an edit
        onward, is found when `head` (exported earlier by `board.head()`) is given.
        """
        prev_hash, version = GENESIS_HASH, 0
        known = self._index
        while True:
            rows = await call_store(self._store.read, self._name, after=version, upto=version + _VERIFY_PAGE)
            for row in rows:
                version += 1
                self._check_row(row, version, prev_hash, known)
                prev_hash = row.hash
            if len(rows) < _VERIFY_PAGE:
                break
        if head is not None:
            await self._check_head(head, version)
        return Head(board=self._name, version=version, hash=prev_hash)

    def _check_row(self, row: StoredEntry, version: int, prev_hash: str, known: LogIndex) -> None:
        name = self._name
        problem = row_problem(row)
        if problem is not None:
            raise TamperedLogError(name, version, problem)
        if row.version != version:
            raise TamperedLogError(name, version, f"version {version} is missing (the next stored is {row.version})")
        if seal(prev_hash, name, version, row) != row.hash:
            raise TamperedLogError(name, version, "the entry does not match its hash (edited, moved or re-chained)")
        if version <= known.version and known.hash(version) != row.hash:
            raise TamperedLogError(name, version, "the entry differs from what this process read earlier")

    async def _check_head(self, head: Head, last: int) -> None:
        if head.board != self._name:
            raise ConfigurationError(f"verify: the head given is for board {head.board!r}, not {self._name!r}")
        if head.version > last:
            raise TamperedLogError(
                self._name,
                last + 1,
                f"truncated: the exported head is version {head.version}, the log ends at {last}",
            )
        if head.version:
            (row,) = await call_store(self._store.read, self._name, after=head.version - 1, upto=head.version)
            if row.hash != head.hash:
                raise TamperedLogError(self._name, head.version, "the hash differs from the exported head")

    async def watch(self, *, after: int | None = None, poll_interval: float = 0.2) -> AsyncGenerator[Entry, None]:
        """New entries as they land, in version order, forever (break out of the loop to stop).

        Starts after the current head, or after version `after` (0 replays the whole log first). Writes
        from this process wake it at once; writes from other processes are seen within `poll_interval`.
        """
        last = (await self.head()).version if after is None else after
        while True:
            token = self._changes.arm()
            try:
                view = await self.view()
                if view.version > last:
                    for entry in view.since(last):
                        yield entry
                    last = view.version
                    continue
                with anyio.move_on_after(poll_interval):
                    await token[1].wait()
            finally:
                self._changes.disarm(token)

    async def restore(self) -> Restored | None:
        """Take the board's snapshot (blackboard.snapshots) into this process's index, if it holds nothing yet and
        the snapshot matches the log; the next reads fetch only the entries after it.

        The snapshot's entries are held as columns and each is decoded when something first reads it, so a restore
        costs what reading the snapshot costs. None when the index already held entries (nothing to restore); else
        the version the snapshot covers and what was kept beside its entries (the controller's state), or version 0:
        no snapshot, a store without them, or one refused (logged, and reported by `verify_snapshot`), in which case
        the log is read as usual.
        """
        if self._index.version:
            return None
        shelf = _shelf(self._store)
        row = None if shelf is None else await call_read(shelf.get, self._name)
        if row is None:
            return Restored(0, None)
        anchor = await call_store(self._store.read, self._name, after=row.version - 1, upto=row.version)
        loaded = await anyio.to_thread.run_sync(load, row, anchor[0].hash if anchor else None)
        if isinstance(loaded, Rejected):
            _log.warning("board %r: the snapshot at version %d is ignored: %s", self._name, row.version, loaded.reason)
            return Restored(0, None)
        if not self._index.restore(loaded.columns, self._decode):
            return None  # another task of this process read the board meanwhile
        return Restored(loaded.version, loaded.extra)

    async def save_snapshot(self, extra: object = None, *, at: int | None = None) -> int:
        """Keep a snapshot of the board at version `at` (default: the latest), with `extra` beside its entries (a
        layer above keeps its own state there; it must be picklable plain data). Returns the version it covers
        (0: an empty board, nothing kept). The entries are kept exactly as stored: those this process took from a
        snapshot come from it, the others are read from the log again. The encoding runs in a worker thread."""
        shelf = _shelf(self._store)
        if shelf is None:
            raise ConfigurationError(f"the store {self._store.url} keeps no snapshots")
        version = (await self.view(at=at)).version
        if not version:
            return 0
        index = self._index
        taken = min(index.cold.count, version) if index.cold is not None else 0
        rows = await call_store(self._store.read, self._name, after=taken, upto=version) if version > taken else []
        row = await anyio.to_thread.run_sync(self._snapshot_row, taken, rows, extra)
        await call_store(shelf.put, row)
        return row.version

    def _snapshot_row(self, taken: int, rows: Sequence[StoredEntry], extra: object) -> SnapshotRow:
        index, builder = self._index, ColumnsBuilder(self._name)
        if index.cold is not None and taken:
            builder.take(index.cold, taken)
        for row in rows:
            if row.version != builder.count + 1 or row.hash != index.hash(row.version):
                raise TamperedLogError(self._name, builder.count + 1, "the log differs from what this process read")
            builder.add(row, index.subject(row.version))
        return make_row(builder.build(), extra)

    async def verify_snapshot(self) -> SnapshotCheck:
        """Check the board's snapshot against the log: its seal, the hash it records at its version, every entry it
        holds compared with the stored one (and the subject it files each under with the one the entry's finding
        has), and its index with its entries. A refused snapshot is never used (see `restore`)."""
        shelf = _shelf(self._store)
        row = None if shelf is None else await call_store(shelf.get, self._name)
        if row is None:
            return SnapshotCheck(board=self._name, version=None, valid=True, reason="no snapshot")
        rows = await call_store(self._store.read, self._name, after=0, upto=max(row.version, 0))
        anchor = rows[-1].hash if rows and rows[-1].version == row.version else None
        loaded = await anyio.to_thread.run_sync(load, row, anchor)
        if isinstance(loaded, Rejected):
            return SnapshotCheck(board=self._name, version=row.version, valid=False, reason=loaded.reason)
        try:
            problem = await anyio.to_thread.run_sync(check_entries, loaded, rows, self._subject_of)
        except TamperedLogError as exc:  # the log's own row cannot be read: `verify` says more
            problem = f"the log cannot be read: {exc}"
        reason = problem or f"matches the log's first {row.version} entries"
        return SnapshotCheck(board=self._name, version=row.version, valid=problem is None, reason=reason)

    def _subject_of(self, row: StoredEntry) -> str | None:
        subject = getattr(self._decode(row).payload, "subject", None)
        return subject if isinstance(subject, str) else None

    write_sync = sync_twin(write)
    write_many_sync = sync_twin(write_many)
    write_each_sync = sync_twin(write_each)
    write_draft_sync = sync_twin(write_draft)
    view_sync = sync_twin(view)
    history_sync = sync_twin(history)
    head_sync = sync_twin(head)
    verify_sync = sync_twin(verify)
    watch_sync = sync_iter_twin(watch)
    restore_sync = sync_twin(restore)
    save_snapshot_sync = sync_twin(save_snapshot)
    verify_snapshot_sync = sync_twin(verify_snapshot)


class Blackboard:
    """A store of boards, opened from a URL: `Blackboard.open("sqlite:///slate.db")` or `"memory://"`."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        group_commit: bool = True,
    ) -> None:
        """`group_commit`: concurrent boards' appends (a `run_many` batch) share transactions when the store can
        (SQLite and PostgreSQL; see slateboard.blackboard.group). Off, every append is a transaction of its own."""
        if max_payload_bytes < 1:
            raise ConfigurationError(f"max_payload_bytes must be positive, got {max_payload_bytes}")
        self.store = store
        self.group = GroupCommit(store) if group_commit and isinstance(store, GroupStore) else None
        self._clock = clock or _utc_now
        self._max_payload = max_payload_bytes
        # Weak: a pipeline that works through 10,000 boards must not keep every index alive.
        self._boards: weakref.WeakValueDictionary[str, Board] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()
        self._changes = _Changes()

    @classmethod
    def open(
        cls,
        url: str = DEFAULT_URL,
        *,
        clock: Clock | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        busy_timeout: float = 10.0,
        read_only: bool = False,
        durability: Durability | None = None,
        group_commit: bool = True,
    ) -> Blackboard:
        """Open (creating and migrating if needed) the store at `url`; use as a context manager to close it.

        `read_only=True` opens it for reading only: nothing is created, migrated or written (a store that does not
        exist, or whose layout is too old to read, is a `StoreError`), and writes raise `ReadOnlyStoreError`.

        `durability`: "cycle" (the default; also the URL option `?durability=cycle`) makes every append durable
        before it returns; "relaxed" lets appends skip their own fsync (a power cut may lose the last cycles, which
        a resumed run re-runs); the ledger of commits is always durable. See docs/blackboard.md.
        """
        store = open_store(url, busy_timeout=busy_timeout, read_only=read_only, durability=durability)
        return cls(store, clock=clock, max_payload_bytes=max_payload_bytes, group_commit=group_commit)

    @property
    def url(self) -> str:
        return self.store.url

    def board(self, name: str) -> Board:
        """The board called `name` (created on its first write). The same name gives the same object."""
        _check_name("a board name", name)
        with self._lock:
            board = self._boards.get(name)
            if board is None:
                board = Board(
                    name,
                    self.store,
                    clock=self._clock,
                    max_payload_bytes=self._max_payload,
                    on_write=self._changes.notify,
                    group=self.group,
                )
                self._boards[name] = board
            return board

    def boards(self) -> list[str]:
        """The names of the boards that have entries, sorted."""
        return self.store.boards()

    async def feed(self, *, after: str | None = None, limit: int = DEFAULT_FEED_LIMIT) -> tuple[FeedItem, ...]:
        """Up to `limit` entries of every board, in one order, after the position `after` (None: from the first).

        Pass the last item's `position` as `after` to read on: every entry comes out exactly once, including one
        whose writer commits late (the feed waits for it rather than skip it). Positions are opaque strings of this
        store that increase in feed order.
        """
        return await read_feed(self.store, after, limit)

    async def follow(self, *, after: str | None = None, poll_interval: float = 0.2) -> AsyncGenerator[FeedItem, None]:
        """Every board's entries in feed order, forever (break out of the loop to stop), after `after` (None: from
        the first). Writes through this blackboard wake it at once; other processes' within `poll_interval`."""
        async for item in follow_feed(self.store, after, poll_interval, self._changes.armed):
            yield item

    feed_sync = sync_twin(feed)
    follow_sync = sync_iter_twin(follow)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Blackboard({self.url!r})"
