"""The write path's batch helpers equal the per-entry functions they stand for, and its entries behave as pydantic
models do (a written entry can be copied with changes and dumped without its unset fields, as a read one can).

`seal_rows` makes an append's stored rows as it hashes them (one loop for the memory and SQLite stores);
`entries_of` makes an append's entries in one loop. Each is checked against the plain function it replaces,
`seal` and `Entry.from_stored`, over batches that reach every branch (kinds, authors and times that change
within a batch or stay, a new board and one already holding entries).
"""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ConfigDict

from slateboard import Blackboard, Entry, Finding, Record
from slateboard.blackboard.draft import Draft
from slateboard.blackboard.entries import (
    GENESIS_HASH,
    PendingEntry,
    entries_of,
    make_stored,
    seal,
    seal_rows,
)
from slateboard.blackboard.view import LogIndex

STAMPS = ("2026-01-01T00:00:00.000001+00:00", "2026-01-02T00:00:00+00:00")
HEADS = st.tuples(st.sampled_from(["k.A", "k.B"]), st.sampled_from([1, 2]), st.sampled_from(["a", "b"]))
BATCH = st.lists(st.tuples(HEADS, st.sampled_from(STAMPS), st.text(max_size=8)), max_size=6)


def pending_of(batch: list[tuple[tuple[str, int, str], str, str]]) -> list[PendingEntry]:
    return [PendingEntry(kind, sv, author, stamp, f'"{text}"') for (kind, sv, author), stamp, text in batch]


@given(BATCH, st.integers(0, 5), st.integers(0, 50), st.sampled_from([GENESIS_HASH, "ab" * 32]))
def test_sealed_rows_are_each_entry_sealed_in_turn(
    batch: list[tuple[tuple[str, int, str], str, str]], version: int, first_seq: int, prev_hash: str
) -> None:
    """Property: `seal_rows` gives each entry the next version and seq, its own fields, and `seal`'s hash."""
    entries = pending_of(batch)
    rows = seal_rows(prev_hash, "board", version, first_seq, entries)
    assert len(rows) == len(entries)
    prev = prev_hash
    for n, (entry, row) in enumerate(zip(entries, rows, strict=True), 1):
        prev = seal(prev, "board", version + n, entry)
        assert type(row) is tuple
        assert row == (first_seq + n, "board", version + n, *entry, prev)


class Note(Finding):
    kind_name = "tests.write_path.Note"
    n: int
    note: str = ""  # left unset: a record's unset field must not change what the entry holds


@given(st.lists(st.integers(0, 9), max_size=5), st.integers(0, 3))
def test_entries_of_equals_from_stored_entry_by_entry(numbers: list[int], version: int) -> None:
    """Property: the batch constructor gives what `Entry.from_stored` gives each row, fields set included."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    records = [Note(subject=f"s{n}", confidence=0.5, n=n) for n in numbers]
    pending = [PendingEntry(Note.kind_name, 1, "a", at.isoformat(), r.model_dump_json()) for r in records]
    rows = [make_stored(row) for row in seal_rows(GENESIS_HASH, "b", version, 7, pending)]
    batch = entries_of(rows, records, at)
    one_by_one = [Entry.from_stored(row, record, at) for row, record in zip(rows, records, strict=True)]
    assert list(batch) == one_by_one
    for mine, theirs in zip(batch, one_by_one, strict=True):
        assert mine.model_fields_set == theirs.model_fields_set == set(Entry.model_fields)
        assert mine.model_fields_set is not theirs.model_fields_set
    if len(batch) > 1:  # each entry's set is its own: pydantic's copies add to theirs
        assert batch[0].model_fields_set is not batch[1].model_fields_set
    with pytest.raises(ValueError, match=r"shorter|longer"):
        entries_of(rows, [*records, Note(subject="x", confidence=0.5, n=0)], at)


def behaves_as_a_model(entry: Entry) -> None:
    changed = entry.model_copy(update={"author": "someone else"})
    assert (changed.author, changed.version, entry.author) == ("someone else", entry.version, "a")
    assert entry.model_dump(exclude_unset=True) == entry.model_dump()  # every field of an entry is set
    assert pickle.loads(pickle.dumps(entry)) == entry  # noqa: S301 - our own bytes
    assert copy.deepcopy(entry) == entry


@pytest.mark.parametrize("url", ["memory://", "sqlite"])
def test_written_read_and_drafted_entries_copy_and_dump_as_models_do(tmp_path: Path, url: str) -> None:
    """Entries are built without validation on the write path, with a set of fields of their own: `model_copy`
    with changes adds to that set, and `model_dump(exclude_unset=True)` reads it (a frozenset broke both)."""
    url = f"sqlite:///{tmp_path / 'w.db'}" if url == "sqlite" else url
    with Blackboard.open(url) as bb:
        board = bb.board("b")
        written = board.write_sync(Note(subject="s", confidence=0.5, n=1), author="a")
        (batched,) = board.write_many_sync([Note(subject="s", confidence=0.5, n=2)], author="a")
        draft = Draft("b", 2, datetime(2026, 1, 1, tzinfo=UTC), max_bytes=1000)
        drafted = draft.add(Note(subject="s", confidence=0.5, n=3), "a")
        assert drafted is not None
        for entry in (written, batched, drafted):
            behaves_as_a_model(entry)
        if url == "memory://":
            return
    with Blackboard.open(url) as again:
        history = again.board("b").history_sync()  # decoded from the store's rows
        assert [entry.payload for entry in history] == [written.payload, batched.payload]
        for entry in history:
            behaves_as_a_model(entry)


KINDS = ("k.A", "k.B")
AUTHORS = ("a", "b")
# An entry: its kind, author and subject (None: no subject), each drawn so that runs of one kind and author form
# within a call and across calls, and break within a call and between calls.
FILED = st.tuples(st.sampled_from(KINDS), st.sampled_from(AUTHORS), st.sampled_from([None, "s1", "s2"]))


@given(st.lists(FILED, max_size=12), st.lists(st.integers(0, 4), max_size=8), st.booleans())
def test_an_index_extended_call_by_call_files_every_entry_as_one_by_one(
    filed: list[tuple[str, str, str | None]], cuts: list[int], fresh_strings: bool
) -> None:
    """Property: however an append's entries are split into calls to `LogIndex.extend` (which keeps the last
    kind's and author's version lists from one call to the next), with entries already held sent again, and with
    kind and author strings that are the same objects or equal copies (as decoded rows give), the index files every
    entry under its kind, author and subject as filing them one at a time does."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    entries = []
    for version, (named, by, subject) in enumerate(filed, 1):
        # Equal, not identical, when fresh: a decoded row's strings.
        kind, author = ("".join(named), "".join(by)) if fresh_strings else (named, by)
        payload = Note(subject=subject, confidence=0.5, n=version) if subject else Plain(n=version)
        row = make_stored((version, "b", version, kind, 1, author, at.isoformat(), "{}", ""))
        entries.append(Entry.from_stored(row, payload, at))
    index, start = LogIndex(), 0
    for cut in [*cuts, len(entries)]:
        end = min(start + cut, len(entries))
        index.extend(entries[max(start - 1, 0) : end])  # the entry before the call's first, already held
        start = end
    index.extend(entries)  # every entry again: all held, nothing filed twice
    by_kind: dict[str, list[int]] = {}
    by_author: dict[tuple[str, str], list[int]] = {}
    by_subject: dict[tuple[str, str], list[int]] = {}
    for version, (kind, author, subject) in enumerate(filed, 1):
        by_kind.setdefault(kind, []).append(version)
        by_author.setdefault((kind, author), []).append(version)
        if subject is not None:
            by_subject.setdefault((kind, subject), []).append(version)
    assert index.version == len(entries)
    assert (index._by_kind, index._by_author, index._by_subject) == (by_kind, by_author, by_subject)


class Plain(Record):
    kind_name = "tests.write_path.Plain"
    n: int


class Open(Record):  # extra attributes allowed: a record may carry a `subject` that is no field
    model_config = ConfigDict(extra="allow")
    kind_name = "tests.write_path.Open"


class Derived(Record):  # a `subject` that is a property, not a field
    kind_name = "tests.write_path.Derived"
    topic: str

    @property
    def subject(self) -> str:
        return f"about {self.topic}"


def test_the_index_files_a_subject_however_a_record_has_it() -> None:
    """The index skips looking for a subject only on classes whose records cannot have one: a field, a property
    and an extra attribute called `subject` are each filed (twice each: the class's answer is kept)."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    payloads: list[Record] = [
        Plain(n=1),
        Note(subject="s", confidence=0.5, n=2),
        Open(subject="o"),  # type: ignore[call-arg]  # an extra attribute
        Derived(topic="t"),
        Open(),
    ] * 2
    index = LogIndex()
    for version, payload in enumerate(payloads, 1):
        row = make_stored((version, "b", version, type(payload).kind_name, 1, "a", at.isoformat(), "{}", ""))
        index.extend([Entry.from_stored(row, payload, at)])
    assert index._by_subject == {
        (Note.kind_name, "s"): [2, 7],
        (Open.kind_name, "o"): [3, 8],
        (Derived.kind_name, "about t"): [4, 9],
    }
