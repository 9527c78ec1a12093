"""Resuming the controller's state from a board's snapshot (slateboard.state.resume): over random logs of the
controller's own records and findings, and random snapshot points, the state resumed cold from the snapshot and
the entries after it equals the state folded from the whole log; a controller resumes a real SQLite board from
its snapshot with the same outcome and a replay that re-derives every decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Controller, Proposal, rules
from slateboard.blackboard.records import Record
from slateboard.state import resume
from slateboard.state.projection import BoardState
from slateboard.state.resume import resumed_state, save_state
from tests.controller.kinds import Case, Entitlement, PolicyCheck, crm_entitlement, knowledge, proposer
from tests.state import logs

AGENTS = (crm_entitlement, knowledge)
TRANSIENT = ("agents", "_readers")


def fingerprint(state: BoardState) -> dict[str, Any]:
    """Every field of the state that decisions read, the key fold's included (KeyBook compares by identity)."""
    found = {name: value for name, value in vars(state).items() if name not in TRANSIENT}
    found["keys"] = vars(state.keys)
    return found


# A log: the key fold's operations, with cases and entitlements (findings agents read) between them.
FINDINGS = st.lists(st.tuples(st.sampled_from(["c-1", "c-2"]), st.booleans()), max_size=6)


def records(ops: list[tuple[Any, ...]], findings: list[tuple[str, bool]]) -> list[tuple[Record, str]]:
    made: list[tuple[Record, str]] = [(item.record, item.author) for item in logs.build(ops)]
    for i, (subject, is_case) in enumerate(findings):
        finding: Record = (
            Case(subject=subject, confidence=1.0)
            if is_case
            else Entitlement(subject=subject, entitled=bool(i % 2), confidence=0.9)
        )
        made.insert(min(2 * i, len(made)), (finding, "input" if is_case else "crm_entitlement"))
    return made


async def resumed_equals_folded(made: list[tuple[Record, str]], at: int) -> tuple[int, int]:
    """Write `made` in two batches around a snapshot at `at`; (version restored, rows read) on a cold handle."""
    with Blackboard.open("memory://") as bb:
        board = bb.board(logs.BOARD)
        if made[:at]:
            await board.write_each(made[:at])
        await save_state(board, BoardState.of(await board.view(), AGENTS))
        if made[at:]:
            await board.write_each(made[at:])
        expected = BoardState.of(await board.view(), AGENTS)
        cold = Blackboard(bb.store).board(logs.BOARD)
        state = await resumed_state(cold, AGENTS, keep=False)
        assert fingerprint(state) == fingerprint(expected)
        assert state.agents == AGENTS
        restored = cold.cache_info()
        return at, restored.rows_loaded


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=logs.OPS, findings=FINDINGS, point=st.floats(0, 1))
def test_the_state_resumed_from_a_snapshot_equals_the_fold_of_the_log(
    ops: list[tuple[Any, ...]], findings: list[tuple[str, bool]], point: float
) -> None:
    made = records(ops, findings)
    if not made:
        return
    at = round(point * len(made))
    covered, rows_read = anyio.run(resumed_equals_folded, made, at)
    assert rows_read == len(made) - covered  # only the tail was read from the log


def test_a_state_kept_for_other_agents_is_folded_again() -> None:
    """The state marks work by what each agent reads: another controller's agents fold their own."""

    async def check() -> None:
        with Blackboard.open("memory://") as bb:
            board = bb.board("b")
            await board.write_each([(Case(subject="c-1", confidence=1.0), "input")])
            await save_state(board, BoardState.of(await board.view(), (crm_entitlement,)))
            cold = Blackboard(bb.store).board("b")
            state = await resumed_state(cold, AGENTS, keep=False)
            assert fingerprint(state) == fingerprint(BoardState.of(await cold.view(), AGENTS))
            assert cold.cache_info().rows_loaded == 0  # the entries still came from the snapshot

    anyio.run(check)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_a_controller_resumes_a_sqlite_board_from_its_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resume, "SNAPSHOT_EVERY", 4)
    url = f"sqlite:///{tmp_path / 'resume.db'}"
    controller = Controller(
        [crm_entitlement, knowledge, proposer],
        [rules.sufficient(Entitlement), rules.sufficient(PolicyCheck), rules.sufficient(Proposal)],
    )
    with Blackboard.open(url) as bb:
        first = await controller.run(bb.board("case-1"), Case(subject="case-1", confidence=1.0))
        length = len(await bb.board("case-1").history())
    assert first.status == "sufficient"
    assert length >= 4
    with Blackboard.open(url) as bb:  # a cold load with the whole log after no snapshot: it keeps one
        board = bb.board("case-1")
        again = await controller.run(board, Case(subject="case-1", confidence=1.0))
        assert (again.status, again.version) == (first.status, first.version)
        assert board.cache_info().rows_loaded == length
    with Blackboard.open(url) as bb:  # the next cold load reads the snapshot and nothing after it
        board = bb.board("case-1")
        third = await controller.run(board, Case(subject="case-1", confidence=1.0))
        assert (third.status, third.version, third.reasons) == (first.status, first.version, first.reasons)
        assert board.cache_info().rows_loaded == 0
        assert len(await board.history()) == length  # no agent ran again
        assert (await controller.replay(board)).identical
        assert (await board.verify_snapshot()).valid


def test_a_read_only_store_resumes_without_keeping_a_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resume, "SNAPSHOT_EVERY", 2)
    url = f"sqlite:///{tmp_path / 'ro.db'}"
    with Blackboard.open(url) as bb:
        bb.board("b").write_each_sync([(Case(subject=f"c-{i}", confidence=1.0), "input") for i in range(3)])

    async def load() -> tuple[int, int | None]:
        with Blackboard.open(url, read_only=True) as bb:
            board = bb.board("b")
            state = await resumed_state(board, AGENTS)
            return state.version, (await board.verify_snapshot()).version

    assert anyio.run(load) == (3, None)  # folded from the log; nothing kept, nothing raised
