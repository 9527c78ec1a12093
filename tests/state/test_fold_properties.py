"""The key fold (slateboard.state.keys.KeyBook) against a fold rebuilt from the specification at every prefix of a
log, and the controller, the metrics and the audit agreeing on every key of it; the log strategy reaches every key
status."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from slateboard.controller.outcomes import build_outcome
from slateboard.observe.audit import build_audit
from slateboard.observe.metrics import collect
from slateboard.observe.rows import key_book
from slateboard.policies.policy import Policy
from slateboard.state.projection import BoardState, live_proposals
from slateboard.state.proposal import Proposal
from slateboard.state.records import Decision, Reason
from slateboard.state.vocabulary import KEY_STATUSES, KeyStatus
from tests.state import logs

# Reaching a status needs one example, not the smallest: no shrinking.
FIRST_FOUND = settings(max_examples=5000, database=None, phases=[Phase.generate])
SUFFICIENT = Decision(cycle=1, status="sufficient", reasons=(Reason(rule="r", message="m"),))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs.OPS)
def test_the_incremental_fold_equals_the_specification_at_every_prefix(ops: list[tuple[Any, ...]]) -> None:
    log = logs.build(ops)
    state = BoardState(())
    for length, entry in enumerate(logs.entries(log), start=1):
        state.ingest(entry)
        prefix = log[:length]
        expected = logs.reference(prefix)
        assert set(state.keys.keys) == set(expected)
        for key, found in state.keys.keys.items():
            assert logs.observed(found) == expected[key], key
        assert live_proposals(state) == logs.live_versions(prefix)
        assert [k.key for k in state.keys.live()] == sorted(
            (k for k, e in expected.items() if e.live), key=lambda k: expected[k].version
        )
        assert state.keys.run_status() == logs.run_status(expected)
        assert [k.key for k in state.keys.pending()] == [
            k.key for k in state.keys.live() if expected[k.key].status == "authorized"
        ]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs.OPS, st.booleans())
def test_the_controller_the_metrics_and_the_audit_agree_on_every_key(ops: list[tuple[Any, ...]], foreign: bool) -> None:
    log = logs.build(ops)
    state = BoardState(())
    for entry in logs.entries(log):
        state.ingest(entry)
    rows = logs.rows(log, foreign=foreign)  # foreign: the Offer proposals' kind is not importable where read
    keys = list(state.keys.keys.values())
    read = key_book(rows)  # what metrics and the audit fold from the rows, kinds known or not
    assert list(read.keys) == list(state.keys.keys)
    for key in keys:
        assert logs.observed(read.keys[key.key]) == logs.observed(key)
        assert [type(p) for p in read.keys[key.key].proposals.values()] == [
            Proposal if foreign else type(p) for p in key.proposals.values()
        ]  # an Offer of a kind unknown where it is read is read as the Proposal its JSON holds

    def count(status: KeyStatus) -> int:
        return sum(k.status == status for k in keys)

    found = collect({logs.BOARD: rows})
    approvals, commits = found.approvals, found.commits
    assert approvals.requested == sum(k.request is not None for k in keys)
    assert approvals.pending == count("awaiting_approval")
    assert approvals.approved == sum(k.decision is not None and k.decision.decision == "approved" for k in keys)
    assert approvals.rejected == sum(k.decision is not None and k.decision.decision == "rejected" for k in keys)
    assert (commits.dead_lettered, commits.in_doubt) == (count("failed"), count("in_doubt"))
    assert commits.applied == sum(k.applied for k in keys)
    assert commits.doubted == sum(k.doubted for k in keys)
    assert commits.compensated == sum(k.applied and k.compensated for k in keys)
    assert sum(commits.sinks.values()) == sum(len(k.sinks) for k in keys)

    audit = build_audit(logs.BOARD, "memory://", rows)
    assert audit.waiting == tuple(k.key for k in keys if k.status == "awaiting_approval")
    assert audit.committed == tuple(k.key for k in keys if k.status == "committed")

    outcome = build_outcome(logs.BOARD, state, SUFFICIENT, version=len(log), policy=Policy())
    live = state.keys.live()
    assert outcome.status == (state.keys.run_status() or "sufficient")
    assert [p.key(logs.BOARD) for p in outcome.proposals] == [k.key for k in live]
    waiting = [k for k in audit.waiting if (found := state.keys.live_key(k)) is not None and found.request is not None]
    assert [a.key for a in outcome.approvals] == waiting  # the requests of the live keys awaiting approval
    assert {c.key for c in outcome.commits} <= {k.key for k in live}
    assert len(outcome.key_reasons) == (len(live) if live else 0)


def _statuses(ops: list[tuple[Any, ...]]) -> set[str]:
    return {k.status for k in logs.book(logs.build(ops)).keys.values()}


@pytest.mark.parametrize("status", KEY_STATUSES)
def test_the_log_strategy_reaches_every_key_status(status: KeyStatus) -> None:
    example = find(logs.OPS, lambda ops: status in _statuses(ops), settings=FIRST_FOUND)
    assert status in _statuses(example)


@pytest.mark.parametrize("case", ["shared", "superseded", "orphan"])
def test_the_log_strategy_reaches_shared_superseded_and_orphan_keys(case: str) -> None:
    def reached(ops: list[tuple[Any, ...]]) -> bool:
        keys = logs.book(logs.build(ops)).keys.values()
        if case == "shared":  # two live proposals carry one key
            return any(len(k.live) > 1 for k in keys)
        if case == "superseded":  # judged, then its proposals were superseded
            return any(k.proposals and not k.live and k.verdict is not None for k in keys)
        return any(not k.proposals and k.verdict is not None for k in keys)  # no proposal of it was read

    assert reached(find(logs.OPS, reached, settings=FIRST_FOUND))
