"""Reading where each idempotency key stands from stored rows, where the finding classes may not be importable.

`observe` works on a store written by code this process cannot import. Two kinds of row feed the key fold
(`slateboard.state.keys.KeyBook`): slateboard's own records, whose classes are always importable, and proposals.
A `slateboard.Proposal` row always decodes; a row of a `Proposal` subclass decodes when its kind is importable
here, and is otherwise read from its JSON when that holds a valid proposal (its subclass fields left out, which
the idempotency key never depends on). Any other row is not a proposal.

The metrics and the audit decode rows for their own needs and hand each to `take`; `key_book` is the same fold of
a board's rows on its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from slateboard.blackboard.board import Blackboard
from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import Record, decode_record
from slateboard.errors import ConfigurationError, InvalidFindingError, UnknownFindingKindError
from slateboard.state.impact import withdraw_stale
from slateboard.state.keys import KEYED, KeyBook
from slateboard.state.proposal import Proposal

__all__ = ("board_rows", "key_book", "proposal_from_json", "read_proposal", "take")

_FIELDS = frozenset(Proposal.model_fields)
_KEYED = frozenset(cls.kind_name for cls in KEYED)


def proposal_from_json(payload: Any) -> Proposal | None:
    """The proposal a row of an unknown kind holds, read from its parsed JSON payload; None if it holds none."""
    if not isinstance(payload, dict) or not {"action", "target"} <= payload.keys():
        return None  # the common case, cheaply: a finding that is no proposal
    try:
        return Proposal.model_validate({k: v for k, v in payload.items() if k in _FIELDS})
    except (InvalidFindingError, ValueError):  # pydantic's ValidationError is a ValueError
        return None


def read_proposal(row: StoredEntry) -> Proposal | None:
    """The proposal `row` holds, if it holds one: decoded when its kind is importable, else read from its JSON."""
    if '"action"' not in row.payload or '"target"' not in row.payload:
        return None  # every proposal is stored with both: most rows are findings, and skip the decoding
    try:
        cls = registry.get(row.kind)
    except UnknownFindingKindError:
        try:
            return proposal_from_json(json.loads(row.payload))
        except json.JSONDecodeError:
            return None
    if not issubclass(cls, Proposal):
        return None
    try:
        record = decode_record(row.kind, row.schema_version, row.payload, where=f"{row.board} v{row.version}")
    except InvalidFindingError:
        return None
    return record if isinstance(record, Proposal) else None


def take(book: KeyBook, row: StoredEntry, record: Record | None) -> None:
    """Feed `row` to `book`: its decoded `record`, or, when the caller did not decode it, the proposal it may hold
    (records that name no key are ignored by the fold)."""
    found = record if record is not None else read_proposal(row)
    if found is not None:
        book.ingest(row.board, row.version, row.author, found)


def key_book(rows: Sequence[StoredEntry]) -> KeyBook:
    """Where each key of one board stands, from its stored rows (all of them, in version order); a record whose
    payload does not validate is left out."""
    book = KeyBook()
    for row in rows:
        record: Record | None = None
        if row.kind in _KEYED:
            try:
                record = decode_record(row.kind, row.schema_version, row.payload, where=f"{row.board} v{row.version}")
            except InvalidFindingError:
                continue
        take(book, row, record)
    withdraw_stale(book, rows)
    return book


def board_rows(blackboard: Blackboard, board: str) -> list[StoredEntry]:
    """Every stored row of `board`, in version order (kinds need not be importable); `ConfigurationError` naming the
    board and the store when it has none."""
    found = blackboard.store.read(board, after=0, upto=None, wait=True)
    if not found:
        raise ConfigurationError(f"board {board!r} has no entries in {blackboard.url}")
    return found
