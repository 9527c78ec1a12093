"""The store conformance suite: one set of tests that every blackboard store must pass.

Run it on every registered store (slateboard's own and any a package registers under `slateboard.stores`), one
parametrized copy per store, by mixing in `OnRegisteredStores`:

```python
class TestStores(OnRegisteredStores, BlackboardConformance):
    pass
```

The stores come from the pytest plugin's `slateboard_store_kind` fixture: `--slateboard-store mystore`, or a
`conftest.py` fixture of that name, narrows them to yours. Or say yourself how to open a fresh blackboard:

```python
class TestMyStore(BlackboardConformance):
    def open_blackboard(self) -> Blackboard:
        return Blackboard(MyStore(...))
```

Tests are async (run by anyio's pytest plugin). Hypothesis drives the invariant tests, so
`open_blackboard` is a plain method, not a fixture: every example gets a fresh, empty store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slateboard.blackboard import Blackboard, Citation, Finding
from slateboard.errors import InvalidFindingError, StaleVersionError, UnknownVersionError
from slateboard.testing.feed_conformance import FeedConformance
from slateboard.testing.registered import OnRegisteredStores, check, check_equal

__all__ = (
    "BlackboardConformance",
    "OnRegisteredStores",
    "Note",
    "Vote",
    "ConformanceVote",
    "check",
    "check_equal",
)


class Note(Finding):
    """A finding kind the suite writes."""

    kind_name = "slateboard.testing.Note"
    text: str


class Vote(Finding):
    """A second kind, with a subclass, to check kind filters."""

    kind_name = "slateboard.testing.Vote"
    value: bool


class ConformanceVote(Vote):
    """A subclass of `Vote`: queries for `Vote` must include it."""

    kind_name = "slateboard.testing.ConformanceVote"


def note(text: str = "n", subject: str = "s") -> Note:
    return Note(subject=subject, text=text, confidence=0.5)


# One operation of a random script: (board index, kind of write, batch size, stale?)
_ops = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(["write", "many", "expect"]), st.integers(0, 4), st.booleans()),
    max_size=25,
)


class BlackboardConformance(FeedConformance, ABC):
    """Behaviours every store gives a `Blackboard`, its feed across boards included (`feed_conformance`); see the
    module docstring."""

    @abstractmethod
    def open_blackboard(self) -> Blackboard:
        """A new blackboard on a fresh, empty store."""

    def reopen(self, blackboard: Blackboard) -> Blackboard | None:
        """A second handle on the same storage (None where storage does not outlive its handle)."""
        return None

    @asynccontextmanager
    async def fresh(self) -> AsyncIterator[Blackboard]:
        blackboard = self.open_blackboard()
        try:
            yield blackboard
        finally:
            blackboard.close()

    @pytest.mark.anyio
    async def test_versions_count_from_one_without_gaps(self) -> None:
        async with self.fresh() as bb:
            board = bb.board("b")
            versions = [(await board.write(note(str(i)), author="a")).version for i in range(5)]
            versions += [e.version for e in await board.write_many([note(), note()], author="a")]
            check_equal(versions, [1, 2, 3, 4, 5, 6, 7])
            check_equal([e.version for e in await board.history()], versions)

    @pytest.mark.anyio
    async def test_entry_carries_what_was_written(self) -> None:
        async with self.fresh() as bb:
            finding = Note(subject="case-1", text="hello", confidence=0.75, citations=(Citation(source="kb"),))
            entry = await bb.board("b").write(finding, author="intake")
            check_equal(
                (entry.board, entry.kind, entry.author, entry.payload), ("b", Note.kind_name, "intake", finding)
            )
            check(entry.recorded_at.tzinfo is not None, "entry.recorded_at.tzinfo is not None")
            check_equal(len(entry.hash), 64)
            (stored,) = await bb.board("b").history()
            check_equal(stored, entry)
            check_equal(entry, type(entry).model_construct(**dict(entry)))  # the fast constructor builds the same model
            check_equal(entry.model_dump()["payload"]["text"], "hello")

    @pytest.mark.anyio
    async def test_a_batch_may_be_any_iterable(self) -> None:
        async with self.fresh() as bb:
            board = bb.board("b")
            entries = await board.write_many((note(str(i)) for i in range(3)), author="a")
            check_equal([(e.version, e.payload.text) for e in entries], [(1, "0"), (2, "1"), (3, "2")])  # type: ignore[attr-defined]
            with pytest.raises(InvalidFindingError, match="not one"):
                await board.write_many(note(), author="a")  # type: ignore[arg-type]
            check_equal((await board.view()).version, 3)

    @pytest.mark.anyio
    async def test_stale_write_fails_and_writes_nothing(self) -> None:
        async with self.fresh() as bb:
            board = bb.board("b")
            await board.write(note(), author="a", expected_version=0)
            await board.write(note(), author="a", expected_version=1)
            for stale in (0, 1, 3):
                with pytest.raises(StaleVersionError) as caught:
                    await board.write(note("lost"), author="a", expected_version=stale)
                check_equal((caught.value.expected, caught.value.actual), (stale, 2))
            with pytest.raises(StaleVersionError):
                await board.write_many([note("lost"), note("lost")], author="a", expected_version=1)
            history = await board.history()
            check_equal([e.version for e in history], [1, 2])
            check(all(e.payload.text != "lost" for e in history), "no stale write left an entry")  # type: ignore[attr-defined]

    @pytest.mark.anyio
    async def test_batch_with_an_invalid_member_writes_nothing(self) -> None:
        async with self.fresh() as bb:
            board = bb.board("b")
            with pytest.raises(InvalidFindingError):
                await board.write_many([note(), {"subject": "x"}], author="a")  # type: ignore[list-item]
            with pytest.raises(InvalidFindingError, match="author"):
                await board.write(note(), author="")
            check_equal(await board.history(), ())
            check_equal(bb.boards(), [])

    @pytest.mark.anyio
    async def test_view_at_a_version_sees_only_that_prefix(self) -> None:
        async with self.fresh() as bb:
            board = bb.board("b")
            for i in range(4):
                await board.write(note(str(i)), author="a")
            early = await board.view(at=2)
            await board.write(note("later"), author="a")
            check_equal([n.text for n in early.findings(Note)], ["0", "1"])
            check_equal([n.text for n in (await board.view(at=2)).findings(Note)], ["0", "1"])
            check_equal((await board.view(at=0)).findings(), ())
            check_equal((await board.view()).version, 5)
            for bad in (-1, 6):
                with pytest.raises(UnknownVersionError):
                    await board.view(at=bad)

    @pytest.mark.anyio
    async def test_typed_queries_filter_by_kind_subject_and_author(self) -> None:
        async with self.fresh() as bb:
            board = bb.board("b")
            await board.write(Vote(subject="s1", value=True, confidence=0.9), author="x")
            await board.write(note(subject="s1"), author="x")
            await board.write(ConformanceVote(subject="s2", value=False, confidence=0.8), author="y")
            await board.write(Vote(subject="s1", value=False, confidence=0.7), author="y")
            view = await board.view()
            check_equal([v.value for v in view.findings(Vote)], [True, False, False])
            check_equal([v.value for v in view.findings(Vote, subject="s1")], [True, False])
            check_equal([v.value for v in view.findings(Vote, author="y")], [False, False])
            check_equal([v.subject for v in view.findings(Vote, subject="s1", author="y")], ["s1"])
            check_equal(len(view.findings()), 4)
            latest = view.latest(Vote, subject="s1")
            check_equal(latest, Vote(subject="s1", value=False, confidence=0.7))
            check_equal(view.latest(Vote, subject="s1", author="x"), Vote(subject="s1", value=True, confidence=0.9))
            check(view.latest(Note, subject="nobody") is None, "view.latest(Note, subject='nobody') is None")
            check_equal([e.version for e in view.entries(Vote, author="y")], [3, 4])

    @pytest.mark.anyio
    async def test_boards_are_independent_and_seq_orders_all(self) -> None:
        async with self.fresh() as bb:
            a, b = bb.board("a"), bb.board("b")
            entries = [
                await a.write(note(), author="w"),
                await b.write(note(), author="w"),
                await a.write(note(), author="w"),
            ]
            check_equal([(e.board, e.version) for e in entries], [("a", 1), ("b", 1), ("a", 2)])
            check_equal([e.seq for e in entries], sorted({e.seq for e in entries}))
            check_equal(bb.boards(), ["a", "b"])
            check(bb.board("a") is a, "bb.board('a') is a")

    @pytest.mark.anyio
    async def test_verify_returns_the_head(self) -> None:
        async with self.fresh() as bb:
            board = bb.board("b")
            check_equal((await board.verify()).version, 0)
            last = (await board.write_many([note(), note(), note()], author="a"))[-1]
            head = await board.verify()
            check_equal((head.version, head.hash), (3, last.hash))
            check_equal(await board.head(), head)
            check_equal(await board.verify(head=head), head)

    @pytest.mark.anyio
    async def test_watch_yields_new_entries_in_order(self) -> None:
        async with self.fresh() as bb:
            board = bb.board("b")
            await board.write(note("before"), author="a")
            seen: list[str] = []
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:

                    async def consume() -> None:
                        async for entry in board.watch(poll_interval=0.05):
                            seen.append(entry.payload.text)  # type: ignore[attr-defined]
                            if len(seen) == 3:
                                break

                    tg.start_soon(consume)
                    await anyio.wait_all_tasks_blocked()  # the watcher is waiting for what comes next
                    await board.write(note("one"), author="a")
                    await board.write_many([note("two"), note("three")], author="a")
            check_equal(seen, ["one", "two", "three"])

    @pytest.mark.anyio
    async def test_concurrent_tasks_lose_nothing(self) -> None:
        tasks, each = 6, 15
        stale: list[StaleVersionError] = []
        async with self.fresh() as bb:
            board = bb.board("b")

            async def writer(name: str) -> None:
                written = 0
                while written < each:
                    head = await board.head()
                    try:
                        await board.write(note(f"{name}-{written}"), author=name, expected_version=head.version)
                    except StaleVersionError as exc:
                        stale.append(exc)
                        continue
                    written += 1

            async with anyio.create_task_group() as tg:
                for i in range(tasks):
                    tg.start_soon(writer, f"w{i}")
            history = await board.history()
            check_equal([e.version for e in history], list(range(1, tasks * each + 1)))
            texts = {e.payload.text for e in history}  # type: ignore[attr-defined]
            check_equal(texts, {f"w{i}-{n}" for i in range(tasks) for n in range(each)})
            check(all(exc.expected < exc.actual for exc in stale), "every stale rejection expected an older version")
            await board.verify()

    @pytest.mark.anyio
    async def test_reopened_store_keeps_every_entry(self) -> None:
        async with self.fresh() as bb:
            board = bb.board("b")
            written = [await board.write(note(str(i)), author="a") for i in range(3)]
            again = self.reopen(bb)
            if again is None:
                pytest.skip("this store does not outlive its handle")
            with again:
                check_equal(await again.board("b").history(), tuple(written))
                check_equal((await again.board("b").write(note(), author="a", expected_version=3)).version, 4)

    @pytest.mark.anyio
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(script=_ops)
    async def test_invariant_1_versions_gapless_and_stale_writes_rejected(
        self, script: list[tuple[int, str, int, bool]]
    ) -> None:
        async with self.fresh() as bb:
            model: dict[str, list[str]] = {}
            for step, (board_no, how, size, stale) in enumerate(script):
                name = f"b{board_no}"
                board, log = bb.board(name), model.setdefault(name, [])
                texts = [f"{step}.{i}" for i in range(size if how == "many" else 1)]
                expected = (len(log) - 1 if stale else len(log)) if how == "expect" else None
                if expected is not None and expected < 0:
                    expected = len(log) + 1
                try:
                    await board.write_many([note(t) for t in texts], author="a", expected_version=expected)
                except StaleVersionError:
                    check(expected != len(log), "expected != len(log)")
                    continue
                check(expected in (None, len(log)), "expected in (None, len(log))")
                log.extend(texts)
            for name, log in model.items():
                history = await bb.board(name).history()
                check_equal([e.version for e in history], list(range(1, len(log) + 1)))
                check_equal([e.payload.text for e in history], log)  # type: ignore[attr-defined]
                await bb.board(name).verify()

    @pytest.mark.anyio
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(plans=st.lists(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), max_size=6), min_size=2, max_size=5))
    async def test_invariant_1_under_concurrent_tasks(self, plans: list[list[tuple[bool, int]]]) -> None:
        """Tasks interleave reads and writes at random points: nothing accepted is lost, nothing stale lands."""
        accepted: list[str] = []
        rejected: list[str] = []
        async with self.fresh() as bb:
            board = bb.board("b")

            async def run(task: int, plan: list[tuple[bool, int]]) -> None:
                for step, (optimistic, pause) in enumerate(plan):
                    expected = (await board.head()).version if optimistic else None
                    for _ in range(pause):  # let other tasks move the board on meanwhile
                        await anyio.lowlevel.checkpoint()
                    text = f"{task}.{step}"
                    try:
                        await board.write(note(text), author=f"t{task}", expected_version=expected)
                    except StaleVersionError:
                        rejected.append(text)
                    else:
                        accepted.append(text)

            async with anyio.create_task_group() as tg:
                for task, plan in enumerate(plans):
                    tg.start_soon(run, task, plan)
            history = await board.history()
            check_equal([e.version for e in history], list(range(1, len(accepted) + 1)))
            check_equal(sorted(e.payload.text for e in history), sorted(accepted))  # type: ignore[attr-defined]
            check(not set(rejected) & set(accepted), "a rejected write must not also be accepted")
            await board.verify()

    @pytest.mark.anyio
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(batches=st.lists(st.lists(st.tuples(st.sampled_from("pq"), st.sampled_from("xy")), max_size=3), max_size=8))
    async def test_invariant_2_a_view_depends_only_on_its_prefix(self, batches: list[list[tuple[str, str]]]) -> None:
        async with self.fresh() as bb:
            board = bb.board("b")
            written: list[tuple[str, str]] = []
            snapshots = []
            for batch in batches:
                await board.write_many([note(f"{len(written) + i}", s) for i, (s, _) in enumerate(batch)], author="a")
                written.extend(batch)
                snapshots.append(await board.view())
            await board.write(note("after", "p"), author="a")
            for version in range(len(written) + 1):
                view = await board.view(at=version)
                prefix = written[:version]
                for subject in "pq":
                    texts = [n.text for n in view.findings(Note, subject=subject)]
                    check_equal(texts, [str(i) for i, (s, _) in enumerate(prefix) if s == subject])
                    latest = view.latest(Note, subject=subject)
                    check_equal(latest.text if latest else None, texts[-1] if texts else None)
            for snapshot in snapshots:
                again = await board.view(at=snapshot.version)
                check_equal(snapshot.findings(), again.findings())
                check_equal(snapshot.entries(), again.entries())
