"""A person's answer to an escalation: choose a side of a conflict, supply a corrected finding, or close the case.

```python
await controller.settle(board, reviewer="ana", choose=11, note="the contract supersedes the CRM")
await controller.settle(board, reviewer="ana", finding=Entitlement(subject="c1", entitled=False, confidence=1.0))
await controller.settle(board, reviewer="ana", close="duplicate of case 40")
outcome = await controller.run(board)          # the run goes on from the answer
```

The answer is one `Settlement` entry on the board, authored by the reviewer (a corrected finding is written by the
reviewer just before it, in the same atomic batch). Nothing runs here: the next `run` decides from the log with the
settlement in it, and `replay` re-derives that decision the same way, since `BoardState` folds settlements like any
other entry. Which conflict is settled is read from the escalation itself: the reasons of the board's last
decision that name the chosen version (or, for a corrected finding, a finding of its kind on its subject).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from slateboard.blackboard.board import Board
from slateboard.blackboard.kinds import registry
from slateboard.blackboard.records import Finding, Record
from slateboard.errors import SettlementError, StaleVersionError
from slateboard.state.projection import BoardState
from slateboard.state.records import Reason, Settlement
from slateboard.state.vocabulary import SettlementAction

__all__ = ("settle", "plan", "correction")

_ATTEMPTS = 8  # another writer may move the board on between reading it and answering; then read it again


async def settle(
    board: Board,
    *,
    reviewer: str,
    choose: int | None = None,
    close: str | None = None,
    finding: Finding | None = None,
    note: str = "",
) -> Settlement:
    """Append a person's answer to the board's escalation and return it; see the module's docstring."""
    for _ in range(_ATTEMPTS):
        state = BoardState.of(await board.view())
        records = plan(board.name, state, reviewer=reviewer, choose=choose, close=close, finding=finding, note=note)
        try:
            await board.write_each(records, expected_version=state.version)
        except StaleVersionError:
            continue  # answer against what the other writer wrote: the conflict may have changed
        settlement = records[-1][0]
        if not isinstance(settlement, Settlement):  # plan always ends with the settlement
            raise SettlementError(board.name, "the answer was not recorded as a settlement")
        return settlement
    raise SettlementError(board.name, f"the board kept moving on while the answer was written ({_ATTEMPTS} tries)")


def plan(
    board: str,
    state: BoardState,
    *,
    reviewer: str,
    choose: int | None,
    close: str | None,
    finding: Finding | None,
    note: str,
) -> list[tuple[Record, str]]:
    """The entries (record, author) that answer the escalation `state` ends with; `SettlementError` if none can."""
    given = [name for name, value in (("choose", choose), ("close", close), ("finding", finding)) if value is not None]
    if len(given) != 1:
        said = " and ".join(given) if given else "none of them"
        raise SettlementError(board, f"settle takes exactly one of choose=, finding= or close= (got {said})")
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise SettlementError(board, f"reviewer must be a non-empty name, got {reviewer!r}")
    escalation = _escalation(board, state)
    if close is not None:
        if not isinstance(close, str) or not close.strip():
            raise SettlementError(board, f"close= takes the reason the case is closed, got {close!r}")
        answer = Settlement(reviewer=reviewer, action="close", escalation=escalation, reason=close, note=note)
        return [(answer, reviewer)]
    if finding is not None:
        return _correct(board, state, escalation, reviewer, finding, note)
    if isinstance(choose, bool) or not isinstance(choose, int):
        raise SettlementError(board, f"choose= takes the version of a finding, got {choose!r}")
    reasons = [r for r in _reasons(state) if choose in r.findings]
    if not reasons:
        raise SettlementError(
            board, f"not one of the escalated conflict's findings ({_versions(state)})", version=choose
        )
    subject = state.finding(choose).subject
    return [(_settlement(board, state, escalation, reviewer, "choose", subject, reasons, choose, (), note), reviewer)]


def _escalation(board: str, state: BoardState) -> int:
    """The version of the escalate decision to answer; refuse a board that is not waiting on one."""
    last = state.last_decision
    if last is None:
        raise SettlementError(board, "has no decision yet: run the controller on it first")
    if last.status != "escalate":
        raise SettlementError(
            board,
            f"is not escalated: its last decision is {last.status!r}; only an escalation can be settled",
            version=state.last_decision_version,
        )
    if state.closed is not None and state.closed[0] > state.last_decision_version:
        version, closed = state.closed
        raise SettlementError(board, f"was already {closed.describe(version)}", version=version)
    return state.last_decision_version


def _reasons(state: BoardState) -> list[Reason]:
    """The escalation's reasons that name findings (an agent's reported conflict names none: close it instead)."""
    last = state.last_decision
    return [r for r in (last.reasons if last is not None else ()) if r.findings]


def _versions(state: BoardState) -> str:
    versions = sorted({v for r in _reasons(state) for v in r.findings})
    return ", ".join(f"v{v}" for v in versions) if versions else "it names none; close the case instead"


def _correct(  # noqa: PLR0917 - the parts of one answer, gathered by plan
    board: str, state: BoardState, escalation: int, reviewer: str, finding: Finding, note: str
) -> list[tuple[Record, str]]:
    if not isinstance(finding, Finding):
        raise SettlementError(board, f"finding= takes a corrected Finding, got {type(finding).__name__}")
    reasons = [
        r
        for r in _reasons(state)
        if any(
            state.finding(v).kind_name == finding.kind_name and state.finding(v).subject == finding.subject
            for v in r.findings
        )
    ]
    if not reasons:
        raise SettlementError(
            board,
            f"no escalated conflict involves a {finding.kind_name} on {finding.subject!r} "
            f"(its findings: {_versions(state)})",
        )
    corrected = state.version + 1  # written just before the settlement, in the same batch
    answer = _settlement(
        board, state, escalation, reviewer, "correct", finding.subject, reasons, corrected, (finding.kind_name,), note
    )
    return [(finding, reviewer), (answer, reviewer)]


def _settlement(  # noqa: PLR0917 - the parts of one answer, gathered from the callers above
    board: str,
    state: BoardState,
    escalation: int,
    reviewer: str,
    action: SettlementAction,
    subject: str,
    reasons: Sequence[Reason],
    chosen: int,
    extra_kinds: tuple[str, ...],
    note: str,
) -> Settlement:
    """Settle `reasons` on `subject` with `chosen`, setting aside what it replaces (see `Settlement`)."""
    for version, earlier in state.standing(subject):
        if version > escalation and set(earlier.rules) & {r.rule for r in reasons}:
            raise SettlementError(board, f"this conflict was already {earlier.describe(version)}", version=version)
    findings = tuple(sorted({v for r in reasons for v in r.findings}))
    kinds = tuple(sorted({state.finding(v).kind_name for v in findings} | set(extra_kinds)))
    # A chosen side stands alone among the conflict's kinds; a corrected finding replaces only its own kind.
    replaced = extra_kinds if action == "correct" else kinds
    aside = tuple(sorted(v for kind in replaced for v in state.visible(kind, subject) if v != chosen))
    return Settlement(
        reviewer=reviewer,
        action=action,
        escalation=escalation,
        subject=subject,
        rules=tuple(dict.fromkeys(r.rule for r in reasons)),
        kinds=kinds,
        findings=findings,
        chosen=chosen,
        set_aside=aside,
        note=note,
    )


def correction(board: str, kind_name: str, fields: Mapping[str, Any], *, subject: str, where: str) -> Finding:
    """A reviewer's corrected finding of `kind_name` from its `fields` (what the command line's `--correct` and the
    review page's form send): `subject` and a confidence of 1 are filled in when left out. `SettlementError` names
    `where` the fields came from when the kind is not a finding kind or the fields do not make a valid one."""
    kind = registry.get(kind_name, where=where)
    if not issubclass(kind, Finding):
        raise SettlementError(board, f"{where}: {kind_name} is not a finding kind")
    given = {"confidence": 1.0, "subject": subject, **fields}
    try:
        return kind.model_validate(given)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettlementError(board, f"{where}: not a valid {kind_name}: {problems}") from exc
