"""What a store's append returns is what every reader reads: the same rows, seqs included, in commit order.

The SQLite store gives each row its seq itself (the largest seq so far plus one, read while it holds the write
lock) and inserts the rows it returns; the memory store keeps the rows it returns. Either way a writer's rows must
be a reader's exactly, and seqs must count 1, 2, 3 ... in the order appends landed, across boards, through a
group's refused requests (rolled back to their savepoint) and the ones after them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from slateboard import Finding
from slateboard.blackboard.draft import Draft
from slateboard.blackboard.entries import (
    GENESIS_HASH,
    PendingEntry,
    StoredEntry,
    make_pending,
    make_stored,
    seal,
    seal_run,
)
from slateboard.blackboard.records import encode_record, stored_form
from slateboard.blackboard.stores.base import AppendRequest, Store
from slateboard.blackboard.stores.memory import MemoryStore
from slateboard.blackboard.stores.sqlite import SQLiteStore
from slateboard.errors import InvalidFindingError, SlateboardError, StaleVersionError

STAMP = "2026-01-01T00:00:00.000001+00:00"
# Requests: (board, entries, expected version); a step is one request (`append`) or several (`append_group`).
REQUESTS = st.tuples(st.sampled_from(["x", "y"]), st.integers(1, 3), st.one_of(st.none(), st.integers(0, 4)))
STEPS = st.lists(st.lists(REQUESTS, min_size=1, max_size=4), min_size=1, max_size=6)


def pending(n: int, tag: str) -> list[PendingEntry]:
    kinds = ("tests.Row", "tests.Other")
    return [PendingEntry(kinds[i % 2], 1, f"author-{i % 2}", STAMP, f'{{"tag": "{tag}-{i}"}}') for i in range(n)]


def refused_then_landed(steps: list[list[tuple[str, int, int | None]]]) -> bool:
    """A group where a request is refused (its rows rolled back) and a later one lands."""
    for step in steps:
        heads = {"x": 0, "y": 0}
        outcomes = []
        for board, n, expected in step:
            landed = expected is None or expected == heads[board]
            outcomes.append(landed)
            heads[board] += n if landed else 0
        if len(step) > 1 and False in outcomes and True in outcomes[outcomes.index(False) :]:
            return True
    return False


def test_the_steps_reach_every_outcome() -> None:
    find(STEPS, lambda steps: any(len(step) == 1 for step in steps) and any(len(step) > 1 for step in steps))
    find(STEPS, refused_then_landed)
    find(STEPS, lambda steps: all(e is None for step in steps for _, _, e in step) and len(steps) > 2)


def land(store: Store, step: list[AppendRequest]) -> list[list[StoredEntry] | SlateboardError]:
    if len(step) > 1 and isinstance(store, SQLiteStore):
        return list(store.append_group(step, wait=True))
    results: list[list[StoredEntry] | SlateboardError] = []
    for request in step:
        try:
            results.append(
                store.append(request.board, request.entries, expected_version=request.expected_version, wait=True)
            )
        except StaleVersionError as exc:
            results.append(exc)
    return results


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_an_appends_rows_are_a_readers_rows_and_seqs_count_in_commit_order(
    tmp_path_factory: pytest.TempPathFactory, kind: str, steps: list[list[tuple[str, int, int | None]]]
) -> None:
    directory: Path = tmp_path_factory.mktemp("rows")
    store: Store = SQLiteStore(directory / "r.db", url="sqlite:///r.db") if kind == "sqlite" else MemoryStore()
    landed: list[StoredEntry] = []
    try:
        for number, step in enumerate(steps):
            requests = [AppendRequest(b, pending(n, f"{number}.{k}"), e) for k, (b, n, e) in enumerate(step)]
            for request, result in zip(requests, land(store, requests), strict=True):
                head = landed_head(landed, request.board)
                if request.expected_version is not None and request.expected_version != head:
                    assert isinstance(result, StaleVersionError), result
                    continue
                assert isinstance(result, list), result
                assert [row.version for row in result] == list(range(head + 1, head + len(request.entries) + 1))
                assert [row[3:8] for row in result] == [(*e,) for e in request.entries]  # kind ... payload, as given
                first, last = result[0].version, result[-1].version
                assert store.read(request.board, after=first - 1, upto=last, wait=True) == result
                landed.extend(result)
        assert [row.seq for row in landed] == list(range(1, len(landed) + 1))  # no gap, in commit order
        assert [row for _, row in store.feed(None, 1000, wait=True)] == landed
        for board in ("x", "y"):
            chain = [row for row in landed if row.board == board]
            prev = GENESIS_HASH
            for row in chain:
                assert seal(prev, board, row.version, row) == row.hash
                prev = row.hash
    finally:
        store.close()


def landed_head(landed: list[StoredEntry], board: str) -> int:
    return max((row.version for row in landed if row.board == board), default=0)


def test_rows_are_named_tuples_made_alike_either_way() -> None:
    assert make_pending(("k", 1, "a", STAMP, "{}")) == PendingEntry("k", 1, "a", STAMP, "{}")
    row = make_stored((7, "b", 1, "k", 1, "a", STAMP, "{}", "f" * 64))
    assert row == StoredEntry(7, "b", 1, "k", 1, "a", STAMP, "{}", "f" * 64)
    assert (type(row), row.seq, row.hash) == (StoredEntry, 7, "f" * 64)


@given(
    st.lists(
        st.tuples(st.sampled_from(["k.A", "k.B"]), st.sampled_from([1, 2]), st.sampled_from(["a", "b"])), max_size=6
    )
)
def test_sealing_a_run_equals_sealing_each_entry_in_turn(heads: list[tuple[str, int, str]]) -> None:
    """`seal_run` (which reuses a run's encoded kind, author and time) gives what `seal` gives entry by entry."""
    entries = [PendingEntry(kind, sv, author, STAMP if i % 3 else "2026-01-02T00:00:00+00:00", f'"{i}"')
               for i, (kind, sv, author) in enumerate(heads)]  # fmt: skip
    prev, expected = "ab" * 32, []
    for version, entry in enumerate(entries, 5):
        prev = seal(prev, "board", version, entry)
        expected.append(prev)
    assert seal_run("ab" * 32, "board", 4, entries) == expected


class Row(Finding):
    kind_name = "tests.append_rows.Row"
    value: int
    note: str = ""


class Loose(Finding):  # a dict field: its records are validated from their JSON, never cloned
    kind_name = "tests.append_rows.Loose"
    table: dict[str, int]


LIMIT = 400
MADE = st.sampled_from(["validated", "constructed", "encoded-before", "loose"])


def record_of(how: str, n: int) -> Finding:
    if how == "constructed":  # never validated: must be validated from its JSON, as a reader would
        return Row.model_construct(subject=f"s{n}", confidence=0.5, value=n)
    if how == "loose":
        return Loose(subject=f"s{n}", confidence=0.5, table={"n": n})
    row = Row(subject=f"s{n}", confidence=0.5, value=n)
    if how == "encoded-before":
        encode_record(row, max_bytes=LIMIT)  # as the runner checks an agent's output before the board writes it
    return row


@given(st.lists(MADE, max_size=6), st.sampled_from([None, 3]))
def test_a_drafts_rows_and_records_are_each_records_stored_form(made: list[str], after: int | None) -> None:
    """Property: the draft's batch loop (which encodes a run of one class inline) gives every record the row and
    the reader's record `stored_form` gives it, whichever way the record was made."""
    records = [record_of(how, n) for n, how in enumerate(made)]
    draft = Draft("b", after, datetime(2026, 1, 1, tzinfo=UTC), max_bytes=LIMIT, authored=[(r, "a") for r in records])
    assert len(draft) == len(records)
    assert len(draft.entries) == (len(records) if after is not None else 0)
    for record, row, mine in zip(records, draft.pending, draft.records, strict=True):
        kind, schema_version, payload, theirs, _ = stored_form(record, LIMIT)
        assert row == (kind, schema_version, "a", "2026-01-01T00:00:00+00:00", payload)
        assert (type(mine), mine, mine.model_fields_set) == (type(theirs), theirs, theirs.model_fields_set)


@pytest.mark.parametrize("how", ["too big", "unencodable", "invalid"])
def test_a_draft_refuses_a_record_as_stored_form_does(how: str) -> None:
    if how == "too big":
        record: Finding = Row(subject="s", confidence=0.5, value=1, note="x" * LIMIT)
    elif how == "unencodable":
        record = Row(subject="s", confidence=0.5, value=1, note="\ud800")
    else:
        record = Row.model_construct(subject="", confidence=2.0, value=1)  # never validated, and not valid
    with pytest.raises(InvalidFindingError) as direct:
        stored_form(record, LIMIT)
    ok = Row(subject="s", confidence=0.5, value=0)
    with pytest.raises(InvalidFindingError) as drafted:
        Draft("b", None, datetime(2026, 1, 1, tzinfo=UTC), max_bytes=LIMIT, authored=[(ok, "a"), (record, "a")])
    assert str(drafted.value) == str(direct.value)
