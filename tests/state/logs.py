"""Logs of slateboard's own records for the key-fold tests: a hypothesis strategy, the rows and entries they make,
and a reference fold written from the specification (slateboard.state.keys' docstring), with no incremental state.

A log is generated as a list of operations and interpreted in order, so that records name real keys and versions:
"verdict 2" judges the third-newest proposal so far (its key and version); with no proposal yet, the record
names an orphan key, as a log whose proposal rows cannot be read does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from slateboard.blackboard.entries import Entry, StoredEntry
from slateboard.blackboard.records import Record, encode_record
from slateboard.state.keys import KeyBook, KeyState
from slateboard.state.proposal import Proposal
from slateboard.state.records import (
    ApprovalDecision,
    ApprovalRequest,
    Commit,
    CommitFailure,
    Compensation,
    DoubtResolved,
    Verdict,
    Vote,
)
from slateboard.state.vocabulary import EFFECTS, KEY_OUTCOMES, PRESSING, KeyStatus, OutcomeStatus

BOARD = "b"
ORPHAN = "k-orphan"
AT = datetime(2026, 1, 1, tzinfo=UTC)


class Offer(Proposal):
    """A proposal subclass with a field of its own; "foreign" logs rename its kind to one nobody can import."""

    kind_name = "tests.state.Offer"
    discount: int = 0


FOREIGN_KIND = "zz.UnknownOffer"

_PICK = st.integers(0, 5)
OP = st.one_of(
    st.tuples(
        st.just("propose"),
        st.sampled_from(["a", "b"]),  # author
        st.sampled_from(["T/1", "T/2"]),  # target
        st.sampled_from([1, 2]),  # the value it proposes
        st.sampled_from([None, "shared"]),  # an explicit idempotency key (two targets may share it)
        st.booleans(),  # an Offer rather than a plain Proposal
    ),
    st.tuples(st.just("verdict"), _PICK, st.sampled_from(EFFECTS)),
    st.tuples(st.just("request"), _PICK),
    st.tuples(st.just("decide"), _PICK, st.sampled_from(["approved", "rejected"]), st.booleans()),
    st.tuples(st.just("commit"), _PICK, st.sampled_from(["crm", "tickets"])),
    st.tuples(st.just("fail"), _PICK, st.sampled_from(["dead", "in_doubt"])),
    st.tuples(st.just("resolve"), _PICK, st.booleans()),
    st.tuples(st.just("compensate"), _PICK),
)
OPS = st.lists(OP, max_size=24)


@dataclass(frozen=True)
class Logged:
    """One entry of a generated log."""

    version: int
    author: str
    record: Record


def build(ops: list[tuple[Any, ...]]) -> list[Logged]:
    """The log the operations describe."""
    log: list[Logged] = []
    proposals: list[tuple[int, str, str]] = []  # (version, key, target), oldest first
    for op in ops:
        version = len(log) + 1
        if op[0] == "propose":
            _, author, target, value, key, offer = op
            kind = Offer if offer else Proposal
            record: Record = kind(subject="s", confidence=0.9, action="update", target=target,
                                  changes={"Status": value}, idempotency_key=key)  # fmt: skip
            proposals.append((version, record.key(BOARD), target))
            log.append(Logged(version, author, record))
            continue
        picked = proposals[-1 - op[1] % len(proposals)] if proposals else (0, ORPHAN, "T/0")
        log.append(Logged(version, *_record(op, *picked)))
    return log


def _record(op: tuple[Any, ...], proposal: int, key: str, target: str) -> tuple[str, Record]:
    name, arg = op[0], op[2] if len(op) > 2 else None
    edits = {"Status": 9} if len(op) > 3 and op[3] else {}
    made: dict[str, Any] = {
        "verdict": lambda: ("slateboard.commit", Verdict(
            key=key, proposal=proposal, action="update", target=target, outcome=arg,
            reasons=(Vote(rule=f"rule-{arg}", effect=arg, message="m"),), policy="p", at=proposal)),
        "request": lambda: ("slateboard.commit", ApprovalRequest(
            key=key, proposal=proposal, recommended="r", action="update", target=target, changes={},
            confidence=0.9, reason="why")),
        "decide": lambda: ("ana", ApprovalDecision(
            key=key, decision=arg, reviewer="ana", edits=edits, changes=edits, reason="because")),
        "commit": lambda: ("slateboard.commit", Commit(
            key=key, proposal=proposal, action="update", target=target, changes={}, sink=arg)),
        "fail": lambda: ("slateboard.commit", CommitFailure(
            key=key, proposal=proposal, target=target, status=arg, error="e")),
        "resolve": lambda: ("bo", DoubtResolved(key=key, applied=arg, reviewer="bo")),
        "compensate": lambda: ("cy", Compensation(key=key, target=target, reviewer="cy", reason="undo")),
    }  # fmt: skip
    return made[name]()  # type: ignore[no-any-return]


def rows(log: list[Logged], *, foreign: bool = False) -> list[StoredEntry]:
    """The stored rows of `log`; `foreign` gives its `Offer` rows a kind this process cannot import."""
    found = []
    for item in log:
        kind, schema, payload = encode_record(item.record)
        if foreign and kind == Offer.kind_name:
            kind = FOREIGN_KIND
        found.append(StoredEntry(seq=item.version, board=BOARD, version=item.version, kind=kind,
                                 schema_version=schema, author=item.author, recorded_at=AT.isoformat(),
                                 payload=payload, hash=f"{item.version:064x}"))  # fmt: skip
    return found


def entries(log: list[Logged]) -> list[Entry]:
    """The `Entry` objects a board would hand the controller for `log`."""
    return [Entry.from_stored(row, item.record, AT) for row, item in zip(rows(log), log, strict=True)]


def book(log: list[Logged]) -> KeyBook:
    found = KeyBook()
    for item in log:
        found.ingest(BOARD, item.version, item.author, item.record)
    return found


# --- the reference fold: every answer recomputed from the whole prefix -----------------------------------------


@dataclass(frozen=True)
class Expected:
    """What the specification says about one key after a prefix of the log."""

    version: int
    live: bool
    verdict: Verdict | None
    request: ApprovalRequest | None
    decision: ApprovalDecision | None
    decision_version: int
    last: Record | None
    commits: tuple[Commit, ...]
    sinks: frozenset[str]
    doubted: bool
    found_applied: bool
    compensated: bool
    status: KeyStatus


def live_versions(log: list[Logged]) -> tuple[int, ...]:
    """Each author's newest proposal per action and target, in log order."""
    newest: dict[tuple[str, str, str], int] = {}
    for item in log:
        if isinstance(item.record, Proposal):
            newest[(item.author, item.record.action, item.record.target)] = item.version
    return tuple(sorted(newest.values()))


def reference(log: list[Logged]) -> dict[str, Expected]:
    """Every key `log` names, as the specification has it."""
    live = live_versions(log)
    carried: dict[str, list[int]] = {}
    keyed: dict[str, list[Logged]] = {}
    for item in log:
        if isinstance(item.record, Proposal):
            carried.setdefault(item.record.key(BOARD), []).append(item.version)
        else:
            keyed.setdefault(str(getattr(item.record, "key")), []).append(item)  # noqa: B009
    return {key: _expect(key, carried.get(key, []), keyed.get(key, []), live) for key in {*carried, *keyed}}


def _expect(key: str, carried: list[int], items: list[Logged], live: tuple[int, ...]) -> Expected:
    mine = [v for v in live if v in carried]
    verdicts = [i.record for i in items if isinstance(i.record, Verdict)]
    version = mine[0] if mine else carried[-1] if carried else verdicts[-1].proposal if verdicts else 0
    verdict = next((v for v in reversed(verdicts) if v.proposal == version), None)
    decisions = [i for i in items if isinstance(i.record, ApprovalDecision)]
    decision = decisions[-1].record if decisions else None
    settling = [i.record for i in items if isinstance(i.record, Commit | CommitFailure | DoubtResolved | Compensation)]
    last = settling[-1] if settling else None
    commits = tuple(r for r in settling if isinstance(r, Commit))
    requests = [i.record for i in items if isinstance(i.record, ApprovalRequest)]
    return Expected(
        version=version,
        live=bool(mine),
        verdict=verdict,
        request=requests[-1] if requests else None,
        decision=decision if isinstance(decision, ApprovalDecision) else None,
        decision_version=decisions[-1].version if decisions else 0,
        last=last,
        commits=commits,
        sinks=frozenset(c.sink for c in commits),
        doubted=any(isinstance(r, CommitFailure) and r.status == "in_doubt" for r in settling),
        found_applied=any(isinstance(r, DoubtResolved) and r.applied for r in settling),
        compensated=any(isinstance(r, Compensation) for r in settling),
        status=_status(verdict, decision if isinstance(decision, ApprovalDecision) else None, last),
    )


def _status(verdict: Verdict | None, decision: ApprovalDecision | None, last: Record | None) -> KeyStatus:
    """The specification's table: the gate, then the settlement."""
    gate: dict[str, KeyStatus] = {"deny": "rejected", "escalate": "escalated"}
    if verdict is None:
        return "unjudged"
    if verdict.outcome in gate:
        return gate[verdict.outcome]
    if decision is None:
        return "awaiting_approval" if verdict.outcome == "needs_approval" else _settlement(last)
    return "rejected" if decision.decision == "rejected" else _settlement(last)


def _settlement(last: Record | None) -> KeyStatus:
    match last:
        case Commit() | DoubtResolved(applied=True):
            return "committed"
        case Compensation():
            return "compensated"
        case CommitFailure(status="dead"):
            return "failed"
        case CommitFailure():
            return "in_doubt"
        case _:
            return "authorized"


def observed(state: KeyState) -> Expected:
    """What the fold says about one key, in the reference's terms."""
    return Expected(
        version=state.version,
        live=state.is_live,
        verdict=state.verdict,
        request=state.request,
        decision=state.decision,
        decision_version=state.decision_version,
        last=state.last,
        commits=tuple(state.commits),
        sinks=frozenset(state.sinks),
        doubted=state.doubted,
        found_applied=state.found_applied,
        compensated=state.compensated,
        status=state.status,
    )


def run_status(expected: dict[str, Expected]) -> OutcomeStatus | None:
    """The run's status the specification gives: the most pressing outcome among the live keys."""
    present = {KEY_OUTCOMES[e.status] for e in expected.values() if e.live}
    return next((s for s in PRESSING if s in present), None)
