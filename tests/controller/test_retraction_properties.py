"""A run resumed after a random retraction ends with no decision and no standing proposal resting on a stale finding:
what rested on it was judged afresh, or, for a commit, escalated naming it; no key is ever applied twice, and the
board replays identically."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, retract_sync, sinks
from slateboard.state.projection import BoardState
from tests.controller import retraction_kinds as kinds
from tests.controller.test_retraction import nothing_rests_on_stale

TARGETS = (
    ("kb:warranty", "v7"),
    ("kb:warranty", None),
    ("kb:warranty", "v6"),  # a version nothing cites
    ("crm", None),
    ("crm", "v1"),  # the CRM is cited without a version: a versioned retraction does not reach it
    ("elsewhere", None),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    approval=st.booleans(),
    target=st.sampled_from(TARGETS),
    moved_on=st.booleans(),
    before_first_run=st.booleans(),
)
def test_a_resumed_run_rests_on_nothing_stale(
    approval: bool, target: tuple[str, str | None], moved_on: bool, before_first_run: bool
) -> None:
    source, version = target
    sink = sinks.Memory()
    flow = kinds.controller(approval=approval, sink=sink)
    kinds.KB["version"] = "v7"
    try:
        with tempfile.TemporaryDirectory() as folder, Blackboard.open(f"sqlite:///{Path(folder) / 'p.db'}") as bb:
            board = bb.board("t-1")
            if before_first_run:
                retract_sync(bb, source, version=version, reason="withdrawn", by="feed")
            first = flow.run_sync(board, kinds.ticket())
            if not before_first_run:
                retract_sync(bb, source, version=version, reason="withdrawn", by="feed")
            kinds.KB["version"] = "v8" if moved_on else "v7"
            outcome = flow.run_sync(board, kinds.ticket())
            event(f"first: {first.status}; after the retraction: {outcome.status}")
            state = BoardState.of(board.view_sync())
            nothing_rests_on_stale(state)
            if outcome.status == "escalated":
                assert all(r.startswith("retraction: commit of") for r in outcome.reasons)
            keys = [a.key for a in sink.applied]
            assert len(keys) == len(set(keys))  # applied at most once each
            committed = {k.key for k in state.keys.keys.values() if k.applied}
            assert set(keys) == committed
            assert flow.replay_sync(board).identical
    finally:
        kinds.KB["version"] = "v7"
