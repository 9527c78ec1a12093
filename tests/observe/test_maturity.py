"""The four maturity signals of seed 004 on a real SQLite file (tests/observe/maturity_boards.py) whose every figure
is counted by hand below; and real runs of the support case, which meet every target they measure."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, scenarios
from slateboard.observe.maturity import maturity
from slateboard.state.records import CONTROLLER
from tests.observe.maturity_boards import attempt, decision, make_store

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(tmp_path: Path) -> tuple[str, dict[str, float]]:
    return await make_store(tmp_path / "signals.db")


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_each_signal_is_the_figure_counted_by_hand(store: tuple[str, dict[str, float]]) -> None:
    url, recoveries = store
    with Blackboard.open(url, read_only=True) as bb:
        found = maturity(bb)
    assert found.boards == 4

    handoff = found.handoff_success_rate
    # recovers: 3 of 4; stuck: 1 of 2; ledgered: 1 of 1; tampered: 1 of 1.
    assert (handoff.value, handoff.measured, handoff.met) == (6 / 8, 8, False)

    recover = found.mean_time_to_recover
    assert recover.measured == 2  # the reader's incident and the key's; the stuck board's two stay open
    assert recover.value == pytest.approx((recoveries["agent"] + recoveries["key"]) / 2)
    assert recover.met is True  # far under 15 minutes
    assert "2 of 4 failed step(s) recovered" in recover.detail
    assert "2 not yet" in recover.detail

    retries = found.non_idempotent_retry_rate
    # One change applied under two keys, over one keyed retry (k-1's second call): 1 / (1 + 1).
    assert (retries.value, retries.measured, retries.met) == (0.5, 2, False)

    audit = found.audit_coverage
    # recovers and stuck are complete; ledgered misses k-2's record; tampered's chain is broken.
    assert (audit.value, audit.measured, audit.met) == (0.5, 4, False)
    assert "1 with a broken chain, 1 ledger action(s) missing" in audit.detail

    only = maturity(Blackboard.open(url, read_only=True), ["stuck"])
    assert (only.boards, only.handoff_success_rate.value, only.audit_coverage.value) == (1, 0.5, 1.0)
    assert only.mean_time_to_recover.value is None
    assert only.mean_time_to_recover.met is None


async def test_a_real_support_case_run_meets_every_target_it_measures(tmp_path: Path) -> None:
    with Blackboard.open(f"sqlite:///{tmp_path / 'real.db'}") as bb:
        for variant in ("happy", "timeout"):
            await scenarios.get("support-case", variant).run(bb)
        found = maturity(bb)
    assert found.handoff_success_rate.met is True
    assert found.mean_time_to_recover.measured == 1  # the timed-out retrieval, recovered by its retry
    assert found.audit_coverage.value == 1.0
    assert found.non_idempotent_retry_rate.value is None  # no sink call was retried: nothing to rate


# A task: one agent's attempts, each recoverable failure but the last (the runner's retry rule).
FAILED = ("timeout", "error", "denied", "invalid")
task = st.tuples(
    st.sampled_from(("intake", "routing", "knowledge")),
    st.lists(st.sampled_from(("timeout", "error")), max_size=2),
    st.sampled_from(("ok", "conflict", *FAILED)),
)


def expected(tasks: list[tuple[str, list[str], str]]) -> tuple[int, int, int, int]:
    """(handoffs, succeeded, incidents recovered, incidents open), counted the plain way: task by task, then each
    agent's attempts in order (an incident opens at a failed attempt and closes at the agent's next good one)."""
    succeeded = sum(last not in FAILED for _, _, last in tasks)
    recovered, open_steps = 0, set()
    for agent, retries, last in tasks:
        for status in (*retries, last):
            if status in FAILED:
                open_steps.add(agent)
            elif agent in open_steps:
                open_steps.discard(agent)
                recovered += 1
    return len(tasks), succeeded, recovered, len(open_steps)


@settings(max_examples=60, deadline=None)
@given(tasks=st.lists(task, min_size=1, max_size=8))
def test_property_handoffs_and_incidents_are_counted_task_by_task(tasks: list[tuple[str, list[str], str]]) -> None:
    async def write(bb: Blackboard) -> None:
        for agent, retries, last in tasks:
            runs = [attempt(agent, n, status) for n, status in enumerate((*retries, last), 1)]
            await bb.board("b").write_many([*runs, decision("continue")], author=CONTROLLER)

    with Blackboard.open("memory://") as bb:
        anyio.run(write, bb)
        found = maturity(bb)
    handoffs, succeeded, recovered, still_open = expected(tasks)
    event(f"handoff target met: {found.handoff_success_rate.met}")
    event(f"incidents recovered: {recovered > 0}, open: {still_open > 0}")
    assert found.handoff_success_rate.measured == handoffs
    assert found.handoff_success_rate.value == succeeded / handoffs
    assert found.mean_time_to_recover.measured == recovered
    assert f"; {still_open} not yet" in found.mean_time_to_recover.detail
    assert found.audit_coverage.value == 1.0
