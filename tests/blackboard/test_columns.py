"""A board's entries as columns (slateboard.blackboard.columns): over random runs of stored rows, the columns give
back every row byte for byte and the subject each is filed under, through `pack`, pickle and `unpack`, whether
built in one go or from a prefix of other columns; their version lists are the ones a reference fold gives; and
packed data of the wrong shape is refused, or found when the entry it spoils is read, with a `ColumnsError`."""

from __future__ import annotations

import pickle
import zlib
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard.blackboard.columns import BLOCK, ColumnsBuilder, ColumnsError, EntryColumns, Payloads, packed
from slateboard.blackboard.entries import StoredEntry

BOARD = "b"

# (kind, author, subject or None, payload) per row; payloads of any length and script, so blocks break anywhere.
_ROW = st.tuples(
    st.sampled_from(["k.A", "k.B", "k.C"]),
    st.sampled_from(["x", "y"]),
    st.sampled_from([None, "s-1", "s-2", "ü"]),
    st.text(max_size=40),
)
ROWS = st.lists(_ROW, min_size=1, max_size=3 * BLOCK + 5)


def stored(made: list[tuple[str, str, str | None, str]]) -> list[tuple[StoredEntry, str | None]]:
    return [
        (
            StoredEntry(
                seq=100 + v,
                board=BOARD,
                version=v,
                kind=kind,
                schema_version=1 + v % 2,
                author=author,
                recorded_at=f"2026-01-01T00:00:{v % 7:02d}+00:00",
                payload=payload,
                hash=f"{v:064x}",
            ),
            subject,
        )
        for v, (kind, author, subject, payload) in enumerate(made, 1)
    ]


def built(rows: list[tuple[StoredEntry, str | None]]) -> EntryColumns:
    builder = ColumnsBuilder(BOARD)
    for row, subject in rows:
        builder.add(row, subject)
    return builder.build()


def round_trip(columns: EntryColumns) -> EntryColumns:
    return EntryColumns.unpack(BOARD, pickle.loads(pickle.dumps(columns.pack(), protocol=5)))  # noqa: S301


def reference_runs(rows: list[tuple[StoredEntry, str | None]]) -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
    """The version lists as `LogIndex._add` files them, one entry at a time."""
    by_kind: dict[str, list[int]] = {}
    by_subject: dict[tuple[str, str], list[int]] = {}
    by_author: dict[tuple[str, str], list[int]] = {}
    for row, subject in rows:
        by_kind.setdefault(row.kind, []).append(row.version)
        by_author.setdefault((row.kind, row.author), []).append(row.version)
        if subject is not None:
            by_subject.setdefault((row.kind, subject), []).append(row.version)
    return by_kind, by_subject, by_author


def as_lists(runs: dict) -> dict:  # type: ignore[type-arg]
    return {key: list(run) for key, run in runs.items()}


@settings(max_examples=60, deadline=None)
@given(made=ROWS)
def test_columns_give_back_every_row_and_its_subject(made: list[tuple[str, str, str | None, str]]) -> None:
    rows = stored(made)
    columns = round_trip(built(rows))
    assert columns.count == len(rows)
    for row, subject in rows:
        assert columns.row(row.version) == row
        assert columns.subject(row.version) == subject
        assert columns.author(row.version) == row.author
        assert columns.hash(row.version) == row.hash
    runs = columns.runs
    assert (as_lists(runs.by_kind), as_lists(runs.by_subject), as_lists(runs.by_author)) == reference_runs(rows)
    assert columns.misfit_index() is None


@settings(max_examples=40, deadline=None)
@given(made=ROWS, cut=st.floats(0, 1))
def test_columns_continued_from_a_prefix_equal_columns_built_in_one_go(
    made: list[tuple[str, str, str | None, str]], cut: float
) -> None:
    """What `Board.save_snapshot` does on a restored board: the snapshot's first entries, then rows from the log."""
    rows = stored(made)
    taken = round(cut * len(rows))
    first = round_trip(built(rows))
    builder = ColumnsBuilder(BOARD)
    builder.take(first, taken)
    for row, subject in rows[taken:]:
        builder.add(row, subject)
    again = round_trip(builder.build())
    whole = built(rows)
    assert [again.row(v) for v in range(1, len(rows) + 1)] == [whole.row(v) for v in range(1, len(rows) + 1)]
    assert as_lists(again.runs.by_subject) == as_lists(whole.runs.by_subject)


def test_a_row_that_does_not_follow_is_refused() -> None:
    builder = ColumnsBuilder(BOARD)
    (row, _), (second, _) = stored([("k.A", "x", None, "{}"), ("k.A", "x", None, "{}")])
    with pytest.raises(ValueError, match="does not follow"):
        builder.add(second, None)
    builder.add(row, None)
    with pytest.raises(ValueError, match="does not follow"):
        builder.add(second._replace(board="other"), None)


def packed_of(count: int = BLOCK + 3) -> dict[str, object]:
    return built(stored([("k.A", "x", "s", f'{{"n": {i}}}') for i in range(count)])).pack()


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"count": 0}, "count"),
        ({"hashes": b"short"}, "hashes"),
        ({"seq": b"123"}, "whole number"),
        ({"seq": packed(array("q", [1]))}, "seq holds 1"),
        ({"payloads": (b"x",)}, "blocks"),
        ({"kinds": ("k.A", 3)}, "strings"),
        ({"kinds": ()}, "empty table"),
        ({"subjects": ("s",)}, "None and then strings"),
        ({"by_kind": {"k.A": packed(array("q", [0]))}}, "outside"),
        ({"by_subject": {"k.A": packed(array("q", [1]))}}, "outside"),
    ],
)
def test_packed_columns_of_the_wrong_shape_are_refused(edit: dict[str, object], reason: str) -> None:
    with pytest.raises(ColumnsError, match=reason):
        EntryColumns.unpack(BOARD, {**packed_of(), **edit})


def test_a_damaged_block_or_code_is_found_when_its_entry_is_read() -> None:
    """Checks a cold open does not pay for (O(entries)): they fail the read of the entry they spoil, only."""
    good = packed_of()
    blocks = good["payloads"]
    assert isinstance(blocks, tuple)
    damaged = EntryColumns.unpack(BOARD, {**good, "payloads": (b"not zlib", *blocks[1:])})
    assert damaged.row(BLOCK + 1).payload == f'{{"n": {BLOCK}}}'  # the next block reads
    with pytest.raises(ColumnsError, match="block 0 cannot be decompressed"):
        damaged.row(1)
    longer = zlib.compress(zlib.decompress(blocks[0]) + b"more")
    with pytest.raises(ColumnsError, match="does not hold"):
        EntryColumns.unpack(BOARD, {**good, "payloads": (longer, *blocks[1:])}).row(2)
    codes = array("I", [0] * (BLOCK + 3))
    codes[4] = 7
    spoiled = EntryColumns.unpack(BOARD, {**good, "author_codes": packed(codes)})
    assert spoiled.author(1) == "x"
    with pytest.raises(ColumnsError, match="author code of entry 5"):
        spoiled.row(5)


def test_payload_blocks_are_decompressed_once_and_cut_at_their_ends() -> None:
    texts = ["", "é" * 3, "x" * 500, *map(str, range(2 * BLOCK))]
    data = "".join(texts).encode()
    ends, at = [], 0
    for text in texts:
        at += len(text.encode())
        ends.append(at)
    payloads = Payloads.compressed(data, array("q", ends))
    assert len(payloads.blocks) == -(-len(texts) // BLOCK)
    assert [payloads.get(v) for v in range(1, len(texts) + 1)] == texts
    assert payloads.block(0) is payloads.block(0)  # kept once decompressed
    assert payloads.plain(len(texts)) == data
    assert payloads.plain(2) == "é".encode() * 3
