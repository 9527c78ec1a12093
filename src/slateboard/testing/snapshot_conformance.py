"""The snapshot conformance suite: what every store that keeps snapshots (blackboard.snapshots) must give.

Mix it in like the store suite (`OnRegisteredStores` first), on stores that keep snapshots:

```python
class TestSnapshots(OnRegisteredStores, SnapshotConformance):
    pass
```

A board restored cold from its snapshot reads the same entries as one read from the log, reads only the
entries after the snapshot, and decodes each of the snapshot's entries when first read; a snapshot that does not
match the log (edited, re-sealed with a forged finding or index, from a rewritten or another board's log, columns
of the wrong shape, or a body that tries to run code) is refused or reported, and a forged entry raises
`TamperedLogError` when read, never trusted silently. Hypothesis drives the equality over random boards and
snapshot points.
"""

from __future__ import annotations

import pickle
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import replace

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slateboard.blackboard import Blackboard, Board
from slateboard.blackboard.columns import ColumnsBuilder, EntryColumns
from slateboard.blackboard.snapshots import SnapshotRow, SnapshotShelf, seal_snapshot, shelf_of
from slateboard.errors import TamperedLogError
from slateboard.testing.conformance import Note, Vote
from slateboard.testing.registered import OnRegisteredStores, check, check_equal

__all__ = ("SnapshotConformance", "OnRegisteredStores")

# A random board: batches of (subject, a Vote or a Note) written in turn; then where the snapshot is taken.
_batches = st.lists(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans()), min_size=1, max_size=4),
    min_size=1,
    max_size=8,
)


class _Forged:
    """A body that would run a function when unpickled: a snapshot must refuse it without calling anything."""

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (anyio.run, (None,))


async def _fill(board: Board, batches: Sequence[Sequence[tuple[str, bool]]]) -> None:
    for i, batch in enumerate(batches):
        records = [
            Vote(subject=s, value=flag, confidence=0.5) if flag else Note(subject=s, text=f"{i}", confidence=0.5)
            for s, flag in batch
        ]
        await board.write_many(records, author=f"author-{i % 2}")


class SnapshotConformance(ABC):
    """Snapshots kept by the store: restored cold, equal to the log, refused when they do not match it."""

    @abstractmethod
    def open_blackboard(self) -> Blackboard:
        """A new blackboard on a fresh, empty store (one that keeps snapshots)."""

    def cold(self, blackboard: Blackboard) -> Blackboard:
        """A second handle on the same store, holding no board in memory (the same URL again where the storage
        outlives its handle, else the same store object)."""
        if blackboard.url.startswith("memory://"):
            return Blackboard(blackboard.store)
        return Blackboard.open(blackboard.url)

    def shelf(self, blackboard: Blackboard) -> SnapshotShelf:
        found = shelf_of(blackboard.store)
        if found is None:
            pytest.skip(f"the store {blackboard.url} keeps no snapshots")
        return found

    async def _restored_equals_log(
        self, bb: Blackboard, batches: Sequence[Sequence[tuple[str, bool]]], at: int
    ) -> None:
        board = bb.board("snap")
        await _fill(board, batches[:at])
        covered = await board.save_snapshot({"note": "beside"})
        await _fill(board, batches[at:])
        expected = await board.history()
        cold = self.cold(bb)
        try:
            again = cold.board("snap")  # held: a blackboard keeps its boards only while they are in use
            restored = await again.restore()
            check(restored is not None, "a cold board restores")
            check_equal((restored.version, restored.extra), (covered, {"note": "beside"} if covered else None))  # type: ignore[union-attr]
            check_equal(await again.history(), expected)
            # Only the entries after the snapshot came from the log.
            check_equal(again.cache_info().rows_loaded, len(expected) - covered)
            check_equal(await again.restore(), None)  # a board holding entries restores nothing
            check((await again.verify_snapshot()).valid, "the snapshot matches the log")
        finally:
            if cold is not bb:
                cold.close()

    @pytest.mark.anyio
    async def test_a_fresh_board_has_no_snapshot(self) -> None:
        with self.open_blackboard() as bb:
            self.shelf(bb)
            restored = await bb.board("empty").restore()
            check_equal((restored.version, restored.extra) if restored else None, (0, None))
            check_equal(await bb.board("empty").save_snapshot(), 0)
            check_equal((await bb.board("empty").verify_snapshot()).version, None)

    @pytest.mark.anyio
    async def test_restored_board_equals_the_log_and_reads_only_the_tail(self) -> None:
        with self.open_blackboard() as bb:
            self.shelf(bb)
            await self._restored_equals_log(bb, [[("a", True), ("b", False)], [("a", False)], [("c", True)]], 2)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(batches=_batches, point=st.floats(0, 1))
    def test_property_restored_equals_log(self, batches: list[list[tuple[str, bool]]], point: float) -> None:
        """Random boards and snapshot points (none, the start, the middle, the end): the restored board equals
        the log's, and only the tail is read."""
        at = round(point * len(batches))
        with self.open_blackboard() as bb:
            self.shelf(bb)
            anyio.run(self._restored_equals_log, bb, batches, at)

    @pytest.mark.anyio
    async def test_a_newer_snapshot_replaces_the_older(self) -> None:
        with self.open_blackboard() as bb:
            shelf, board = self.shelf(bb), bb.board("snap")
            await _fill(board, [[("a", True)], [("b", False)]])
            check_equal(await board.save_snapshot(at=1), 1)
            check_equal(await board.save_snapshot(), 2)
            row = shelf.get("snap", wait=True)
            check_equal(row.version if row else None, 2)

    async def _refused(self, bb: Blackboard, row: SnapshotRow, reason: str) -> None:
        """`row` put as the board's snapshot is refused on restore (the log is read instead), and reported."""
        self.shelf(bb).put(row, wait=True)
        expected = await bb.board("snap").history()
        cold = self.cold(bb)
        try:
            again = cold.board("snap")
            restored = await again.restore()
            check_equal((restored.version, restored.extra) if restored else None, (0, None))
            check_equal(await again.history(), expected)
            check_equal(again.cache_info().rows_loaded, len(expected))  # the whole log, the snapshot unused
            found = await again.verify_snapshot()
            check(not found.valid and reason in found.reason, f"verify_snapshot reports {reason!r}: {found}")
        finally:
            if cold is not bb:
                cold.close()

    async def _kept(self, bb: Blackboard) -> SnapshotRow:
        await _fill(bb.board("snap"), [[("a", True), ("b", False)], [("c", False)]])
        await bb.board("snap").save_snapshot(at=2)
        row = self.shelf(bb).get("snap", wait=True)
        check(row is not None, "the snapshot was kept")
        return row  # type: ignore[return-value]

    @pytest.mark.anyio
    async def test_an_edited_body_is_refused(self) -> None:
        with self.open_blackboard() as bb:
            row = await self._kept(bb)
            body = row.body.replace(b"author-0", b"author-9")
            check(body != row.body, "the edit changed the body")
            await self._refused(bb, replace(row, body=body), "seal")

    @pytest.mark.anyio
    async def test_a_snapshot_of_a_rewritten_log_is_refused(self) -> None:
        with self.open_blackboard() as bb:
            row = await self._kept(bb)
            forged_hash = "ab" * 32  # a chain recomputed after an edit: the log's own hash at the version differs
            seal = seal_snapshot(row.board, row.version, forged_hash, row.format, row.body)
            await self._refused(bb, replace(row, hash=forged_hash, seal=seal), "rewritten")

    @pytest.mark.anyio
    async def test_a_snapshot_beyond_the_log_is_refused(self) -> None:
        with self.open_blackboard() as bb:
            row = await self._kept(bb)
            seal = seal_snapshot(row.board, 99, row.hash, row.format, row.body)
            await self._refused(bb, replace(row, version=99, seal=seal), "no version 99")

    def _resealed(self, row: SnapshotRow, packed: object, extra: object) -> SnapshotRow:
        """`row` with another body, sealed again (what someone who can write the store could do)."""
        body = pickle.dumps((packed, extra), protocol=5)
        return replace(row, body=body, seal=seal_snapshot(row.board, row.version, row.hash, row.format, body))

    def _with_entry(self, row: SnapshotRow, version: int, payload: str) -> SnapshotRow:
        """`row` re-sealed with entry `version`'s stored payload replaced, its index untouched."""
        packed, extra = pickle.loads(row.body)  # noqa: S301 - the suite's own snapshot
        columns = EntryColumns.unpack(row.board, packed)
        builder = ColumnsBuilder(row.board)
        for v in range(1, columns.count + 1):
            stored = columns.row(v)
            builder.add(stored._replace(payload=payload) if v == version else stored, columns.subject(v))
        return self._resealed(row, builder.build().pack(), extra)

    async def _cold_board(self, bb: Blackboard, row: SnapshotRow) -> tuple[Blackboard, Board]:
        """`row` put as the board's snapshot, and the board restored from it on a cold handle."""
        self.shelf(bb).put(row, wait=True)
        cold = self.cold(bb)
        board = cold.board("snap")
        restored = await board.restore()
        check_equal(restored.version if restored else None, row.version)
        return cold, board

    @pytest.mark.anyio
    async def test_a_resealed_forged_finding_is_reported_by_verify_and_refused_when_read(self) -> None:
        """A finding edited inside a re-sealed snapshot: `verify_snapshot` names it; a restored board raises
        `TamperedLogError` when the entry is first read (its subject is not the one the index files it under),
        while the entries around it read as the log's."""
        with self.open_blackboard() as bb:
            row = await self._kept(bb)
            expected = await bb.board("snap").history()
            forged = expected[0].payload.model_copy(update={"subject": "zz"})
            sealed = self._with_entry(row, 1, type(forged).__pydantic_serializer__.to_json(forged).decode())
            cold, board = await self._cold_board(bb, sealed)
            try:
                found = await board.verify_snapshot()
                check(not found.valid and "entry 1" in found.reason, f"verify names the forged entry: {found}")
                view = await board.view()
                check_equal(view.entry(2), expected[1])
                with pytest.raises(TamperedLogError, match="version 1"):
                    view.entry(1)
            finally:
                if cold is not bb:
                    cold.close()

    @pytest.mark.anyio
    async def test_a_snapshot_entry_that_cannot_be_decoded_raises_when_read(self) -> None:
        """A payload that is no longer the finding's JSON raises the `TamperedLogError` a stored row would."""
        with self.open_blackboard() as bb:
            row = await self._kept(bb)
            cold, board = await self._cold_board(bb, self._with_entry(row, 2, "not json"))
            try:
                view = await board.view()
                with pytest.raises(TamperedLogError, match="version 2"):
                    view.findings()
                check(not (await board.verify_snapshot()).valid, "verify reports the entry")
            finally:
                if cold is not bb:
                    cold.close()

    @pytest.mark.anyio
    async def test_a_resealed_forged_index_is_reported_by_verify(self) -> None:
        """The snapshot's index moved to another subject: verify finds that it no longer lists the entries."""
        with self.open_blackboard() as bb:
            row = await self._kept(bb)
            packed, extra = pickle.loads(row.body)  # noqa: S301 - the suite's own snapshot
            (kind, subject), versions = next(iter(packed["by_subject"].items()))
            del packed["by_subject"][(kind, subject)]
            packed["by_subject"][(kind, "zz")] = versions
            self.shelf(bb).put(self._resealed(row, packed, extra), wait=True)
            found = await bb.board("snap").verify_snapshot()
            check(not found.valid and "by subject" in found.reason, f"verify names the index: {found}")

    @pytest.mark.anyio
    async def test_columns_of_the_wrong_shape_are_refused(self) -> None:
        with self.open_blackboard() as bb:
            row = await self._kept(bb)
            packed, extra = pickle.loads(row.body)  # noqa: S301 - the suite's own snapshot
            await self._refused(bb, self._resealed(row, {**packed, "hashes": b"short"}, extra), "columns")

    @pytest.mark.anyio
    async def test_entries_are_decoded_when_first_read_and_stay_the_same_objects(self) -> None:
        with self.open_blackboard() as bb:
            row = await self._kept(bb)
            expected = await bb.board("snap").history()
            cold = self.cold(bb)
            try:
                board = cold.board("snap")
                await board.restore()
                check_equal(board.cache_info().undecoded, row.version)  # nothing decoded by the restore
                view = await board.view()
                latest = view.latest(Note, subject="b")
                check_equal(board.cache_info().undecoded, row.version - 1)  # only the entry read
                check(latest is view.entry(2).payload, "a decoded entry is kept: the same object every read")
                check_equal(view.entries(), tuple(expected))
                check_equal(board.cache_info().undecoded, 0)
            finally:
                if cold is not bb:
                    cold.close()

    @pytest.mark.anyio
    async def test_a_body_that_would_run_code_is_refused(self) -> None:
        with self.open_blackboard() as bb:
            row = await self._kept(bb)
            body = pickle.dumps(_Forged(), protocol=5)
            sealed = replace(row, body=body, seal=seal_snapshot(row.board, row.version, row.hash, row.format, body))
            await self._refused(bb, sealed, "not a type a snapshot may hold")
