"""Retracting a source: the boards that cite it are reopened on their next run, or, when a commit rested on what is
now stale, escalated naming the commit, which stays applied exactly once until a person decides."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from slateboard import Blackboard, Controller, Retraction, retract, retract_sync, sinks
from slateboard.blackboard.stores.postgres import backend
from slateboard.errors import ApprovalError, ConfigurationError
from slateboard.observe import board_audit
from slateboard.observe.boards import board_summaries
from slateboard.state.projection import BoardState
from slateboard.state.retractions import RETRACTIONS_BOARD, SourceRef, parse_source
from tests.controller import retraction_kinds as kinds
from tests.controller.retraction_kinds import Article, Coverage, Proposal, controller, ticket


@pytest.fixture(autouse=True)
def kb_at_v7() -> Iterator[None]:
    kinds.KB["version"] = "v7"
    yield
    kinds.KB["version"] = "v7"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A real SQLite file, and a fresh schema on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'retract.db'}"
    request.getfixturevalue("postgres_server")
    return backend.fresh_url(tmp_path)


def version_of(state: BoardState, kind: type) -> int:
    return max(v for v, f in state.findings.items() if isinstance(f, kind))


def nothing_rests_on_stale(state: BoardState) -> None:
    """The last decision names no stale finding; no live proposal is stale unless its key was applied."""
    stale = state.staleness.stale
    assert state.last_decision is not None
    for reason in state.last_decision.reasons:
        assert not set(reason.findings) & stale, reason
    for key in state.keys.live():
        if not key.applied:
            assert key.version not in stale, key.describe()
            verdict = key.verdict
            assert verdict is None or not {f for v in verdict.votes for f in v.findings} & stale


@pytest.mark.anyio
async def test_an_uncommitted_board_is_reopened_and_judged_afresh(bb: Blackboard) -> None:
    flow = controller(approval=True)
    board = bb.board("t-1")
    first = await flow.run(board, ticket())
    assert first.status == "awaiting_approval"
    old_key = first.approvals[0].key
    state = BoardState.of(await board.view())
    article, proposal = version_of(state, Article), version_of(state, Proposal)

    report = await retract(bb, "kb:warranty", version="v7", reason="outdated article version", by="ana")
    assert (report.source, report.version, report.by, report.commits) == ("kb:warranty", "v7", "ana", 0)
    (affected,) = report.boards
    assert (affected.board, affected.citing, affected.derived, affected.commits) == ("t-1", (article,), (proposal,), ())
    assert affected.recorded
    entry = (await board.history())[-1]
    assert isinstance(entry.payload, Retraction)
    assert (entry.author, entry.payload.stale, entry.payload.notice) == ("ana", (article, proposal), report.notice)
    with pytest.raises(ApprovalError, match="no live proposal"):  # what rested on the old article waits no more
        await flow.approve(board, old_key, reviewer="bo")
    # The stored-row readers agree: the audit (and the review page's inbox) and `boards` show nothing waiting.
    assert board_audit(bb, "t-1").waiting == ()
    (summary,) = board_summaries(bb, ["t-1"])
    assert summary.waiting == 0

    kinds.KB["version"] = "v8"  # the knowledge base now returns the current article
    again = await flow.run(board)
    assert again.status == "awaiting_approval", again.reasons
    (waiting,) = again.approvals
    assert waiting.key != old_key
    assert waiting.changes["Policy"] == "v8"
    state = BoardState.of(await board.view())
    assert state.staleness.stale == {article, proposal}
    nothing_rests_on_stale(state)
    assert (await flow.replay(board)).identical
    await board.verify()


@pytest.mark.anyio
async def test_a_committed_board_is_reported_with_its_commits_and_never_reapplied(store_url: str) -> None:
    sink = sinks.Memory()
    flow = controller(approval=False, sink=sink)
    with Blackboard.open(store_url) as bb:
        board = bb.board("t-1")
        committed = await flow.run(board, ticket())
        assert committed.status == "committed"
        (commit,) = committed.commits

        report = await retract(bb, "kb:warranty", reason="the whole knowledge base was withdrawn", by="feed:kb")
        (affected,) = report.boards
        assert [c.key for c in affected.commits] == [commit.key]
        assert "a person must decide" in affected.describe()
        assert any("1 commit(s) rested on stale findings" in line for line in report.lines())

        kinds.KB["version"] = "v8"
        for _ in range(2):  # run again, twice: the commit is named each time and applied only once
            outcome = await flow.run(board)
            assert outcome.status == "escalated"
            (reason,) = outcome.reasons
            assert reason.startswith("retraction: commit of update Case/t-1")
            assert commit.key in reason
            assert "a person decides" in reason
        assert [a.key for a in sink.applied] == [commit.key]
        row = bb.store.ledger.get(commit.key, wait=True)
        assert row is not None
        assert row.status == "applied"

        closed = await flow.settle(board, reviewer="ana", close="kept: the customer was told already")
        assert closed.action == "close"
        assert (await flow.run(board)).status == "closed"
        assert [a.key for a in sink.applied] == [commit.key]
        assert (await flow.replay(board)).identical
        await board.verify()


@pytest.mark.anyio
async def test_compensating_the_commit_lets_the_run_go_on_on_fresh_evidence(tmp_path: Path) -> None:
    sink = sinks.Memory()
    flow = controller(approval=False, sink=sink)
    with Blackboard.open(f"sqlite:///{tmp_path / 'r.db'}") as bb:
        board = bb.board("t-1")
        (commit,) = (await flow.run(board, ticket())).commits
        await retract(bb, "kb:warranty", version="v7", reason="outdated", by="ana")
        kinds.KB["version"] = "v8"
        assert (await flow.run(board)).status == "escalated"
        await flow.compensate(board, commit.key, reviewer="ana", reason="rested on the retracted article")
        outcome = await flow.run(board)
        assert outcome.status == "committed", outcome.reasons
        (fresh,) = outcome.commits
        assert fresh.key != commit.key
        assert fresh.changes["Policy"] == "v8"
        assert sorted(a.key for a in sink.applied) == sorted([commit.key, fresh.key])  # each key once
        nothing_rests_on_stale(BoardState.of(await board.view()))
        assert (await flow.replay(board)).identical


@pytest.mark.anyio
async def test_a_board_that_runs_after_the_retraction_records_it_and_catches_new_citations(bb: Blackboard) -> None:
    report = await retract(bb, "kb:warranty", version="v7", reason="outdated", by="ana")
    assert report.boards == ()
    flow = controller(approval=False)
    board = bb.board("late")
    outcome = await flow.run(board, ticket("late"))  # the knowledge base still returns v7: stale on arrival
    assert outcome.status == "insufficient", outcome.reasons
    assert outcome.commits == ()
    state = BoardState.of(await board.view())
    assert state.staleness.notices == {report.notice}
    assert state.staleness.stale == {version_of(state, Article)}
    assert state.newest(Coverage, "late")  # what cites another source stands
    nothing_rests_on_stale(state)
    again = await flow.run(board)  # the notice is recorded once, and the run does not ask the agent again
    assert again.version == outcome.version
    assert sum(isinstance(e.payload, Retraction) for e in await board.history()) == 1
    assert (await flow.replay(board)).identical


def test_a_retraction_of_another_version_or_source_leaves_the_board_alone(tmp_path: Path) -> None:
    flow: Controller = controller(approval=False)
    with Blackboard.open(f"sqlite:///{tmp_path / 'r.db'}") as bb:
        board = bb.board("t-1")
        assert flow.run_sync(board, ticket()).status == "committed"
        head = board.view_sync().version
        for source, version in (("kb:warranty", "v6"), ("kb:other", None)):
            report = retract_sync(bb, source, version=version, reason="not ours", by="ana")
            assert report.boards == ()
        assert board.view_sync().version == head
        assert flow.run_sync(board).status == "committed"  # the notices are recorded; nothing is stale
        assert BoardState.of(board.view_sync()).staleness.stale == set()
        notices = [e.payload for e in bb.board(RETRACTIONS_BOARD).history_sync()]
        assert [(n.source, n.version) for n in notices if isinstance(n, Retraction)] == [
            ("kb:warranty", "v6"),
            ("kb:other", None),
        ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("kb", SourceRef("kb")), ("kb@v7", SourceRef("kb", "v7")), ("git@host:repo@3", SourceRef("git@host:repo", "3"))],
)
def test_a_source_and_its_version_are_read_from_source_at_version(text: str, expected: SourceRef) -> None:
    assert parse_source(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["", " ", "kb@", "@v7"])
def test_a_malformed_source_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ConfigurationError, match="source"):
        parse_source(text)


def test_retract_refuses_an_empty_source_reason_or_author_and_writes_nothing(tmp_path: Path) -> None:
    with Blackboard.open(f"sqlite:///{tmp_path / 'r.db'}") as bb:
        for kwargs, field in (
            ({"source": "", "reason": "r"}, "source"),
            ({"source": "kb", "reason": " "}, "reason"),
            ({"source": "kb", "reason": "r", "by": ""}, "by"),
            ({"source": "kb", "version": "", "reason": "r"}, "version"),
        ):
            with pytest.raises(ConfigurationError, match=field):
                retract_sync(bb, **kwargs)  # type: ignore[arg-type]
        assert bb.boards() == []


@pytest.mark.anyio
async def test_a_notice_a_run_recorded_first_is_not_recorded_twice(bb: Blackboard) -> None:
    from slateboard.controller.retraction import _record_on  # noqa: PLC0415 - the race's other side, on its own

    flow = controller(approval=True)
    board = bb.board("t-1")
    await flow.run(board, ticket())
    # The notice lands store-wide, and a run starts before `retract` reaches this board: the run records it.
    notice = Retraction(source="kb:warranty", version="v7", reason="outdated", by="ana")
    number = (await bb.board(RETRACTIONS_BOARD).write(notice, author="ana")).version
    await flow.run(board)
    found = await _record_on(board, notice, number)
    assert found is not None
    assert found.recorded
    retractions = [e.payload for e in await board.history() if isinstance(e.payload, Retraction)]
    assert [r.notice for r in retractions] == [number]
    # What it made stale when written; the knowledge agent, asked again, cited v7 once more: stale on arrival.
    assert set(retractions[0].stale) < set(found.stale)


@pytest.mark.anyio
async def test_a_board_resumed_from_its_snapshot_keeps_what_is_stale(tmp_path: Path) -> None:
    from slateboard.state.resume import resumed_state, save_state  # noqa: PLC0415 - the snapshot side only here

    flow = controller(approval=True)
    url = f"sqlite:///{tmp_path / 'snap.db'}"
    with Blackboard.open(url) as bb:
        board = bb.board("t-1")
        await flow.run(board, ticket())
        await retract(bb, "kb:warranty", version="v7", reason="outdated", by="ana")
        kinds.KB["version"] = "v8"
        await flow.run(board)
        expected = BoardState.of(await board.view(), flow.agents)
        assert await save_state(board, expected) == expected.version
    with Blackboard.open(url) as cold:  # a new handle: the state comes from the snapshot, not the log
        state = await resumed_state(cold.board("t-1"), flow.agents, keep=False)
        assert cold.board("t-1").cache_info().rows_loaded == 0
    assert state.staleness == expected.staleness
    assert state.aside == expected.aside == expected.staleness.stale
    assert vars(state.keys).keys() == vars(expected.keys).keys()
    assert [k.key for k in state.keys.live()] == [k.key for k in expected.keys.live()]
