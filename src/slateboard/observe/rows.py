"""Reading slateboard's own records and proposals from stored rows, where the finding classes may not be importable.

`observe` works on a store written by code this process cannot import. Two kinds of row feed the key fold
(`slateboard.state.keys.KeyBook`): slateboard's own records, whose classes are always importable, and proposals.
A `slateboard.Proposal` row always decodes; a row of a `Proposal` subclass decodes when its kind is importable
here, and is otherwise read from its JSON when that holds a valid proposal (its subclass fields left out, which
the idempotency key never depends on). Any other row is not a proposal.
"""

from __future__ import annotations

import json
from typing import Any

from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import decode_record
from slateboard.errors import InvalidFindingError, UnknownFindingKindError
from slateboard.state.proposal import Proposal

__all__ = ("proposal_from_json", "read_proposal")

_FIELDS = frozenset(Proposal.model_fields)


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
