"""Resuming the controller's state from a board's snapshot (slateboard.state.resume): over random logs of the
controller's own records and findings, and random snapshot points, the state resumed cold from the snapshot and
the entries after it equals the state folded from the whole log; a controller resumes a real SQLite board from
its snapshot with the same outcome and a replay that re-derives every decision."""

from __future__ import annotations

from array import array
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
from slateboard.state.records import AgentRun, Settlement
from slateboard.state.resume import resumed_state, save_state
from slateboard.state.retractions import Retraction, SourceRef
from tests.controller.kinds import Case, Entitlement, PolicyCheck, cite, crm_entitlement, knowledge, proposer
from tests.state import logs

AGENTS = (crm_entitlement, knowledge)
TRANSIENT = ("agents", "_readers")


def fingerprint(state: BoardState) -> dict[str, Any]:
    """Every field of the state that decisions read, the key fold's included (KeyBook compares by identity)."""
    found = {name: value for name, value in vars(state).items() if name not in TRANSIENT}
    found["keys"] = vars(state.keys)
    return found


# A log: the key fold's operations, with findings (cases, entitlements citing a source or none, entitlements an
# agent run produced from its inputs), retractions of a source and settlements setting findings aside between them.
FINDINGS = st.lists(
    st.tuples(
        st.sampled_from(["c-1", "c-2"]),
        st.sampled_from(["case", "entitlement", "produced", "retract", "settle"]),
        st.sampled_from([None, "crm", "kb"]),
    ),
    max_size=8,
)


def group(i: int, subject: str, what: str, source: str | None) -> list[tuple[Record, str]]:
    cited = cite(source) if source else ()
    entitlement = Entitlement(subject=subject, entitled=bool(i % 2), confidence=0.9, citations=cited)
    if what == "case":
        return [(Case(subject=subject, confidence=1.0, citations=cited), "input")]
    if what == "entitlement":
        return [(entitlement, "crm_entitlement")]
    if what == "produced":
        run = AgentRun(agent="crm_entitlement", subject=subject, inputs=((1,),), attempt=1, status="ok", outputs=1)
        return [(run, "crm_entitlement"), (entitlement, "crm_entitlement")]
    if what == "retract":
        return [(Retraction(source=source or "crm", reason="recalled", by="ana"), "ana")]
    settle = Settlement(
        reviewer="ana", action="choose", escalation=1, subject=subject, kinds=(Entitlement.kind_name,), set_aside=(3, 4)
    )
    return [(settle, "ana")]


def records(ops: list[tuple[Any, ...]], findings: list[tuple[str, str, str | None]]) -> list[tuple[Record, str]]:
    made: list[tuple[Record, str]] = [(item.record, item.author) for item in logs.build(ops)]
    for i, (subject, what, source) in enumerate(findings):
        at = min(2 * i, len(made))
        made[at:at] = group(i, subject, what, source)
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
        # The state's on-demand mappings (findings, provenance, the staleness fold's citations and inputs) agree
        # with the folded dicts on every read, not only as a whole.
        for version in range(len(made) + 2):
            assert state.findings.get(version) == expected.findings.get(version)
            assert (version in state.provenance) == (version in expected.provenance)
            assert state.staleness.cites(version, SourceRef("crm")) == expected.staleness.cites(
                version, SourceRef("crm")
            )
        assert state.agents == AGENTS
        restored = cold.cache_info()
        return at, restored.rows_loaded


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=logs.OPS, findings=FINDINGS, point=st.floats(0, 1))
def test_the_state_resumed_from_a_snapshot_equals_the_fold_of_the_log(
    ops: list[tuple[Any, ...]], findings: list[tuple[str, str, str | None]], point: float
) -> None:
    made = records(ops, findings)
    if not made:
        return
    at = round(point * len(made))
    covered, rows_read = anyio.run(resumed_equals_folded, made, at)
    assert rows_read == len(made) - covered  # only the tail was read from the log


def test_stale_set_aside_and_produced_findings_resume_on_both_sides_of_the_snapshot() -> None:
    """One log that reaches every packed field: cited, produced and settled findings, and a retraction, with the
    snapshot between them (the property above draws such logs too; this one always runs)."""
    made = records(
        [],
        [
            ("c-1", "case", None),
            ("c-1", "entitlement", "crm"),
            ("c-2", "produced", "kb"),
            ("c-1", "settle", None),
            ("c-2", "entitlement", "crm"),
            ("c-1", "retract", "crm"),
            ("c-2", "produced", None),
        ],
    )

    async def check() -> BoardState:
        for at in (3, 5, 7):
            covered, rows_read = await resumed_equals_folded(made, at)
            assert rows_read == len(made) - covered
        with Blackboard.open("memory://") as bb:
            await bb.board("b").write_each(made)
            return BoardState.of(await bb.board("b").view(), AGENTS)

    folded = anyio.run(check)
    # Every outcome was reached: stale and set-aside findings, and findings derived from inputs.
    assert folded.staleness.stale
    assert folded.aside - folded.staleness.stale
    assert folded.staleness._inputs
    assert any(p.produced for p in folded.provenance.values())


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


def test_a_resumed_state_decodes_no_entry_of_the_snapshot_until_a_rule_reads_it() -> None:
    """What makes a cold open cost no object per entry: after `resumed_state`, the snapshot's entries are still
    columns; a finding read through the state is decoded then, and is the very object a view returns."""

    async def check() -> None:
        with Blackboard.open("memory://") as bb:
            board = bb.board("b")
            await board.write_each([(Case(subject=f"c-{i % 3}", confidence=1.0), "input") for i in range(40)])
            await save_state(board, BoardState.of(await board.view(), AGENTS))
            await board.write_each([(Case(subject="c-9", confidence=1.0), "input")])
            cold = Blackboard(bb.store).board("b")
            state = await resumed_state(cold, AGENTS, keep=False)
            assert (state.version, cold.cache_info().undecoded) == (41, 40)
            newest = state.newest(Case, "c-1")
            assert state.finding(newest) is (await cold.view()).entry(newest).payload
            assert cold.cache_info().undecoded == 39

    anyio.run(check)


MAPPING_OPS = st.lists(
    st.tuples(st.sampled_from(["set", "del", "get", "in"]), st.integers(0, 12), st.integers()), max_size=30
)


@settings(max_examples=80, deadline=None)
@given(base=st.sets(st.integers(1, 10)), ops=MAPPING_OPS)
def test_the_on_demand_mapping_behaves_as_the_dict_it_stands_for(
    base: set[int], ops: list[tuple[str, int, int]]
) -> None:
    versions = sorted(base)
    model = {v: -v for v in versions}
    fetched: list[int] = []

    def fetch(at: int, version: int) -> int:
        assert versions[at] == version
        fetched.append(version)
        return -version

    mapping = resume._ByVersion(array("q", versions), fetch)
    for op, key, value in ops:
        if op == "set":
            mapping[key], model[key] = value, value
        elif op == "del":
            assert (key in model) == (key in mapping)
            if key in model:
                del mapping[key], model[key]
            else:
                with pytest.raises(KeyError):
                    del mapping[key]
        elif op == "get":
            assert mapping.get(key) == model.get(key)
        else:
            assert (key in mapping) == (key in model)
        assert len(mapping) == len(model)
        assert sorted(mapping) == sorted(model)
    assert mapping == model
    assert set(fetched) <= base  # only the snapshot's keys are ever fetched
