"""A board's entries 1..n held column by column, exactly as the store keeps them: what a snapshot holds, and what
a board restored from one reads its entries from, decoding each entry only when something reads it.

Per entry: the store's sequence number, kind, schema version, author, time, payload (the stored JSON, byte for byte),
chain hash, and the subject the index files it under. Columns that repeat (kinds, authors, subjects, times) are a
table of distinct values and a code per entry; the numbers are arrays; hashes 32 raw bytes each; payloads UTF-8,
cut at `ends` and compressed in blocks of `BLOCK` entries, each block decompressed when one of its entries is first
read (findings of one board repeat their field names and much of their values: the bytes a cold open reads and
seals shrink several times over, for about 10 µs a block when read). With them come the index's version lists (by
kind, by kind and subject, by kind and author), so a restored board builds nothing per entry: a cold open costs
what reading these few large objects costs, not one Python object per entry.

`pack` turns the columns into plain data (bytes, strings, tuples, dicts) for a snapshot's body and `unpack` reads
them back, refusing data of the wrong shape with a `ColumnsError` naming what is wrong; arrays are stored
little-endian whatever the machine. The version lists are derived from the code columns when built
(`ColumnsBuilder`); `misfit_index` re-derives them to check a snapshot's (`Board.verify_snapshot`).
"""

from __future__ import annotations

import sys
import zlib
from array import array
from collections.abc import Mapping, MutableSequence, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from slateboard.blackboard.entries import StoredEntry

__all__ = ("BLOCK", "ColumnsBuilder", "Payloads", "ColumnsError", "EntryColumns", "Run", "Runs", "ints", "packed")

BLOCK = 64
"""Entries a compressed payload block holds: small enough that reading one entry decompresses little (~10 µs)."""
_HASH = 32  # bytes of a SHA-256 digest: a hash column is 32 bytes an entry
_CODE = "I"  # a code into a column's table, and a schema version: unsigned, 4 bytes where CPython runs
_NUMBER = "q"  # a sequence number, a version, an end offset: 8 bytes
_Key = tuple[str, str]
Run = MutableSequence[int]
T = TypeVar("T")
_ITEM_SIZES = {_CODE: 4, _NUMBER: 8}


class ColumnsError(ValueError):
    """Packed columns of the wrong shape: a damaged or forged snapshot body (the log is read instead)."""


def packed(values: array[int]) -> bytes:
    """The array's items as little-endian bytes (`ints` reads them back)."""
    if sys.byteorder == "big":  # pragma: no cover - every machine slateboard's CI runs on is little-endian
        values = values[:]
        values.byteswap()
    return values.tobytes()


def ints(data: object, typecode: str = _NUMBER) -> array[int]:
    """An array of `typecode` from bytes written by `packed`; `ColumnsError` when they cannot be one."""
    if not isinstance(data, bytes):
        raise ColumnsError(f"expected packed integers, got {type(data).__name__}")
    found = array(typecode)
    if found.itemsize != _ITEM_SIZES.get(typecode, found.itemsize):  # pragma: no cover - no such CPython build
        raise ColumnsError(f"this platform's {typecode!r} integers are {found.itemsize} bytes")
    if len(data) % found.itemsize:
        raise ColumnsError(f"{len(data)} bytes are not a whole number of {found.itemsize}-byte integers")
    found.frombytes(data)
    if sys.byteorder == "big":  # pragma: no cover
        found.byteswap()
    return found


@dataclass(frozen=True, slots=True)
class Runs:
    """The index's version lists, in log order: by kind, by (kind, subject) and by (kind, author)."""

    by_kind: dict[str, Run]
    by_subject: dict[_Key, Run]
    by_author: dict[_Key, Run]

    def copy(self) -> Runs:
        """Runs that can grow without changing these (a board's index appends to its own)."""
        return Runs(_copied(self.by_kind), _copied(self.by_subject), _copied(self.by_author))


@dataclass(frozen=True, slots=True)
class EntryColumns:
    """Entries 1..`count` of `board`, column by column (see the module docstring); `runs` is their index."""

    board: str
    seq: array[int]
    schema_versions: array[int]
    kinds: tuple[str, ...]
    kind_codes: array[int]
    authors: tuple[str, ...]
    author_codes: array[int]
    subjects: tuple[str | None, ...]  # code 0 is None: an entry whose record has no string subject
    subject_codes: array[int]
    times: tuple[str, ...]
    time_codes: array[int]
    payloads: Payloads
    hashes: bytes
    runs: Runs

    @property
    def count(self) -> int:
        return len(self.seq)

    def author(self, version: int) -> str:
        return _decoded(self.authors, self.author_codes, version, "author")

    def subject(self, version: int) -> str | None:
        """The subject the index files entry `version` under (None: none)."""
        return _decoded(self.subjects, self.subject_codes, version, "subject")

    def hash(self, version: int) -> str:
        at = (version - 1) * _HASH
        return self.hashes[at : at + _HASH].hex()

    def row(self, version: int) -> StoredEntry:
        """Entry `version` as the store keeps it (`ColumnsError` when the columns cannot give it)."""
        i = version - 1
        payload = self.payloads.get(version)
        return StoredEntry(
            seq=self.seq[i],
            board=self.board,
            version=version,
            kind=_decoded(self.kinds, self.kind_codes, version, "kind"),
            schema_version=self.schema_versions[i],
            author=self.author(version),
            recorded_at=_decoded(self.times, self.time_codes, version, "time"),
            payload=payload,
            hash=self.hash(version),
        )

    def pack(self) -> dict[str, object]:
        """Plain data for a snapshot's body (`unpack` reads it back)."""
        runs = self.runs
        return {
            "count": self.count,
            "seq": packed(self.seq),
            "schema_versions": packed(self.schema_versions),
            "kinds": self.kinds,
            "kind_codes": packed(self.kind_codes),
            "authors": self.authors,
            "author_codes": packed(self.author_codes),
            "subjects": self.subjects,
            "subject_codes": packed(self.subject_codes),
            "times": self.times,
            "time_codes": packed(self.time_codes),
            "payloads": self.payloads.blocks,
            "ends": packed(self.payloads.ends),
            "hashes": self.hashes,
            "by_kind": _packed_runs(runs.by_kind),
            "by_subject": _packed_runs(runs.by_subject),
            "by_author": _packed_runs(runs.by_author),
        }

    @classmethod
    def unpack(cls, board: str, data: object) -> EntryColumns:
        """Columns from `pack`'s plain data; `ColumnsError` naming the first thing of the wrong shape."""
        if not isinstance(data, dict):
            raise ColumnsError(f"expected the packed columns, got {type(data).__name__}")
        count = data.get("count")
        if not isinstance(count, int) or count < 1:
            raise ColumnsError(f"count must be a positive int, got {count!r}")
        reader = _Reader(data, count)
        blocks = reader.value("payloads", tuple)
        if len(blocks) != -(-count // BLOCK) or not all(isinstance(block, bytes) for block in blocks):
            raise ColumnsError(f"the payloads must be {-(-count // BLOCK)} blocks of bytes")
        payloads = Payloads(blocks, reader.numbers("ends", _NUMBER))
        hashes = reader.value("hashes", bytes)
        if len(hashes) != count * _HASH:
            raise ColumnsError(f"the hashes hold {len(hashes)} bytes, not {count * _HASH}")
        subjects = reader.value("subjects", tuple)
        if not subjects or subjects[0] is not None or not all(isinstance(s, str) for s in subjects[1:]):
            raise ColumnsError("the subjects' table must be None and then strings")
        kinds, authors = reader.names("kinds"), reader.names("authors")
        return cls(
            board=board,
            seq=reader.numbers("seq", _NUMBER),
            schema_versions=reader.numbers("schema_versions", _CODE),
            kinds=kinds,
            kind_codes=reader.codes("kind_codes", kinds),
            authors=authors,
            author_codes=reader.codes("author_codes", authors),
            subjects=subjects,
            subject_codes=reader.codes("subject_codes", subjects),
            times=(times := reader.names("times")),
            time_codes=reader.codes("time_codes", times),
            payloads=payloads,
            hashes=hashes,
            runs=Runs(reader.runs("by_kind", str), reader.runs("by_subject", tuple), reader.runs("by_author", tuple)),
        )

    def misfit_index(self) -> str | None:
        """None when `runs` are exactly the version lists the code columns give, else which list differs."""
        derived = _derive_runs(self)
        for name in ("by_kind", "by_subject", "by_author"):
            ours, theirs = getattr(self.runs, name), getattr(derived, name)
            if {k: list(v) for k, v in ours.items()} != {k: list(v) for k, v in theirs.items()}:
                return f"its index ({name.replace('_', ' ')}) does not list its entries"
        return None


def _decoded(table: tuple[T, ...], codes: array[int], version: int, name: str) -> T:
    try:
        return table[codes[version - 1]]
    except IndexError:  # codes are checked when read, not when unpacked: a cold open reads none of them
        raise ColumnsError(f"the {name} code of entry {version} points outside its table") from None


class Payloads:
    """The entries' stored payloads, UTF-8, compressed in blocks of `BLOCK` entries; `ends[i]` is where entry i+1's
    payload ends in all of them one after another. A block is decompressed when first read, and kept."""

    def __init__(self, blocks: tuple[bytes, ...], ends: array[int]) -> None:
        self.blocks, self.ends = blocks, ends
        self._plain: list[bytes | None] = [None] * len(blocks)

    @classmethod
    def compressed(cls, data: bytes | bytearray, ends: array[int]) -> Payloads:
        view, blocks, start = memoryview(data), [], 0
        for last in range(BLOCK - 1, len(ends) + BLOCK - 1, BLOCK):
            end = ends[min(last, len(ends) - 1)]
            blocks.append(zlib.compress(view[start:end]))
            start = end
        return cls(tuple(blocks), ends)

    def _start(self, i: int) -> int:
        return self.ends[i - 1] if i else 0

    def block(self, number: int, *, keep: bool = True) -> bytes:
        """Block `number` decompressed (`ColumnsError` when it is not the bytes its ends say); kept for the next
        entry read from it unless not `keep`."""
        found = self._plain[number]
        if found is None:
            first, last = number * BLOCK, min((number + 1) * BLOCK, len(self.ends)) - 1
            size = self.ends[last] - self._start(first)
            try:
                inflate = zlib.decompressobj()
                found = inflate.decompress(self.blocks[number], size + 1)  # never more than it should hold
            except zlib.error as exc:
                raise ColumnsError(f"payload block {number} cannot be decompressed: {exc}") from exc
            if len(found) != size or inflate.unconsumed_tail or not inflate.eof:
                raise ColumnsError(f"payload block {number} does not hold the {size} bytes its ends say")
            if keep:
                self._plain[number] = found
        return found

    def get(self, version: int) -> str:
        """Entry `version`'s payload (`ColumnsError` when the columns cannot give it)."""
        i = version - 1
        number = i // BLOCK
        base = self._start(number * BLOCK)
        start, end = self._start(i) - base, self.ends[i] - base
        if not 0 <= start <= end:
            raise ColumnsError(f"the payload of entry {version} has its ends out of order")
        try:
            return self.block(number)[start:end].decode()
        except UnicodeDecodeError as exc:
            raise ColumnsError(f"the payload of entry {version} is not UTF-8: {exc}") from exc

    def plain(self, upto: int) -> bytes:
        """The payloads of entries 1..`upto`, one after another."""
        blocks = -(-upto // BLOCK)
        return b"".join(self.block(n, keep=False) for n in range(blocks))[: self.ends[upto - 1] if upto else 0]


class _Reader:
    """Checked reads of `pack`'s plain data: each column of the right type, length and range."""

    def __init__(self, data: Mapping[str, Any], count: int) -> None:
        self._data, self._count = data, count

    def value(self, name: str, kind: type) -> Any:
        found = self._data.get(name)
        if not isinstance(found, kind):
            raise ColumnsError(f"{name} must be a {kind.__name__}, got {type(found).__name__}")
        return found

    def names(self, name: str) -> tuple[str, ...]:
        found = self.value(name, tuple)
        if not all(isinstance(item, str) for item in found):
            raise ColumnsError(f"{name} must hold strings")
        return found  # type: ignore[no-any-return]

    def numbers(self, name: str, typecode: str) -> array[int]:
        found = ints(self._data.get(name), typecode)
        if len(found) != self._count:
            raise ColumnsError(f"{name} holds {len(found)} items, not {self._count}")
        return found

    def codes(self, name: str, table: Sequence[object]) -> array[int]:
        # Unsigned, so never negative; a code past its table raises IndexError when read (see `EntryColumns`).
        if not table:
            raise ColumnsError(f"{name} has an empty table")
        return self.numbers(name, _CODE)

    def runs(self, name: str, key_type: type) -> dict[Any, Run]:
        """A version list per key. Checked in O(keys), not O(entries): each list's ends are within 1..count (a list
        out of order is found by `misfit_index`, which `verify_snapshot` runs)."""
        found = self.value(name, dict)
        runs: dict[Any, Run] = {}
        for key, data in found.items():
            run = ints(data)
            if not isinstance(key, key_type) or not run or run[0] < 1 or run[-1] > self._count:
                raise ColumnsError(f"{name} holds a list of versions outside 1..{self._count} (key {key!r})")
            runs[key] = run
        return runs


class ColumnsBuilder:
    """Columns built entry by entry (`add`), or from a prefix of other columns (`take`), then `build()`."""

    def __init__(self, board: str) -> None:
        self.board = board
        self._seq, self._schema, self._ends = array(_NUMBER), array(_CODE), array(_NUMBER)
        self._payloads, self._hashes = bytearray(), bytearray()
        self._kinds, self._authors, self._times = _Table(), _Table(), _Table()
        self._subjects = _Table([None])

    @property
    def count(self) -> int:
        return len(self._seq)

    def take(self, columns: EntryColumns, upto: int) -> None:
        """Entries 1..`upto` of `columns` (this builder must be empty)."""
        if self.count or columns.board != self.board:
            raise ValueError("take() starts a builder of the same board")
        self._seq, self._schema = columns.seq[:upto], columns.schema_versions[:upto]
        self._ends = columns.payloads.ends[:upto]
        self._payloads = bytearray(columns.payloads.plain(upto))
        self._hashes = bytearray(columns.hashes[: upto * _HASH])
        self._kinds = _Table(columns.kinds, columns.kind_codes[:upto])
        self._authors = _Table(columns.authors, columns.author_codes[:upto])
        self._subjects = _Table(columns.subjects, columns.subject_codes[:upto])
        self._times = _Table(columns.times, columns.time_codes[:upto])

    def add(self, row: StoredEntry, subject: str | None) -> None:
        """The next entry, `row` as stored, filed under `subject` (None: no string subject)."""
        if row.board != self.board or row.version != self.count + 1:
            raise ValueError(f"entry {row.version} of board {row.board!r} does not follow {self.count}")
        self._seq.append(row.seq)
        self._schema.append(row.schema_version)
        self._payloads += row.payload.encode()
        self._ends.append(len(self._payloads))
        self._hashes += bytes.fromhex(row.hash)
        self._kinds.add(row.kind)
        self._authors.add(row.author)
        self._subjects.add(subject)
        self._times.add(row.recorded_at)

    def build(self) -> EntryColumns:
        columns = EntryColumns(
            board=self.board,
            seq=self._seq,
            schema_versions=self._schema,
            kinds=self._kinds.names(),
            kind_codes=self._kinds.codes,
            authors=self._authors.names(),
            author_codes=self._authors.codes,
            subjects=self._subjects.names(),
            subject_codes=self._subjects.codes,
            times=self._times.names(),
            time_codes=self._times.codes,
            payloads=Payloads.compressed(self._payloads, self._ends),
            hashes=bytes(self._hashes),
            runs=Runs({}, {}, {}),
        )
        return replace(columns, runs=_derive_runs(columns))


class _Table:
    """A column of repeated values: the distinct values, and each entry's code into them."""

    def __init__(self, values: Sequence[Any] = (), codes: array[int] | None = None) -> None:
        self._codes: dict[Any, int] = {value: code for code, value in enumerate(values)}
        self._values = list(values)
        self.codes = codes if codes is not None else array(_CODE)

    def add(self, value: Any) -> None:
        code = self._codes.get(value)
        if code is None:
            code = self._codes[value] = len(self._values)
            self._values.append(value)
        self.codes.append(code)

    def names(self) -> tuple[Any, ...]:
        return tuple(self._values)


def _derive_runs(columns: EntryColumns) -> Runs:
    by_kind: dict[int, list[int]] = {}
    by_subject: dict[tuple[int, int], list[int]] = {}
    by_author: dict[tuple[int, int], list[int]] = {}
    codes = zip(columns.kind_codes, columns.author_codes, columns.subject_codes, strict=True)
    for version, (kind, author, subject) in enumerate(codes, 1):
        by_kind.setdefault(kind, []).append(version)
        by_author.setdefault((kind, author), []).append(version)
        if subject:
            by_subject.setdefault((kind, subject), []).append(version)
    kinds, authors, subjects = columns.kinds, columns.authors, columns.subjects
    return Runs(
        {kinds[k]: array(_NUMBER, run) for k, run in by_kind.items()},
        {(kinds[k], subjects[s]): array(_NUMBER, run) for (k, s), run in by_subject.items()},  # type: ignore[misc]
        {(kinds[k], authors[a]): array(_NUMBER, run) for (k, a), run in by_author.items()},
    )


def _packed_runs(runs: Mapping[Any, Run]) -> dict[Any, bytes]:
    return {key: packed(run if isinstance(run, array) else array(_NUMBER, run)) for key, run in runs.items()}


def _copied(runs: Mapping[Any, Run]) -> dict[Any, Run]:
    return {key: run[:] for key, run in runs.items()}
