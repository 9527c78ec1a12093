"""For random boards on a real SQLite file (findings citing random sources and versions, agents deriving findings
from random earlier ones) and a random retraction: exactly the findings that cite the retracted source (that version,
when one is named) and those derived from them, transitively, are stale; no other. The controller's fold, the
stored-row reading (`boards --affected-by`) and the `Retraction` entry `retract` writes all say so."""

import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from slateboard import AgentRun, Blackboard, Citation, Finding, Record, Retraction, retract_sync
from slateboard.observe.affected import affected_boards
from slateboard.state.projection import BoardState
from slateboard.state.retractions import Staleness

SOURCES = ("kb", "crm", "forum")
VERSIONS = (None, "1", "2")


class Note(Finding):
    kind_name = "tests.retraction.Note"


@dataclass(frozen=True)
class Step:
    """Either an input finding (`agent` None) or an agent's attempt on earlier findings with its outputs."""

    agent: str | None
    inputs: tuple[int, ...]  # indices into the findings written so far
    ok: bool
    outputs: tuple[tuple[tuple[str, str | None], ...], ...]  # each output's citations


citations = st.lists(st.tuples(st.sampled_from(SOURCES), st.sampled_from(VERSIONS)), max_size=2, unique=True)


@st.composite
def boards(draw: st.DrawFn) -> list[Step]:
    steps = [Step(None, (), True, (tuple(draw(citations)),))]
    written = 1
    for _ in range(draw(st.integers(0, 10))):
        if draw(st.integers(0, 2)) == 0:
            steps.append(Step(None, (), True, (tuple(draw(citations)),)))
            written += 1
            continue
        inputs = tuple(draw(st.lists(st.integers(0, written - 1), min_size=1, max_size=3, unique=True)))
        ok = draw(st.integers(0, 5)) > 0
        outputs = tuple(tuple(draw(citations)) for _ in range(draw(st.integers(1, 2)))) if ok else ()
        steps.append(Step(draw(st.sampled_from(("x", "y"))), inputs, ok, outputs))
        written += len(outputs)
    return steps


@st.composite
def retractions(draw: st.DrawFn, steps: list[Step]) -> tuple[str, str | None]:
    """Mostly a source (or a source and version) the board cites, so every outcome is reached; sometimes any."""
    on_board = sorted({c for step in steps for output in step.outputs for c in output}, key=str)
    if on_board and draw(st.integers(0, 3)) > 0:
        source, version = draw(st.sampled_from(on_board))
        return source, version if draw(st.booleans()) else None
    return draw(st.sampled_from(SOURCES)), draw(st.sampled_from(VERSIONS))


def cited(citations: tuple[tuple[str, str | None], ...]) -> tuple[Citation, ...]:
    return tuple(Citation(source=s, version=v) for s, v in citations)


Cites = tuple[tuple[str, str | None], ...]


def write(board_steps: list[Step], url: str) -> tuple[dict[int, set[int]], dict[int, Cites]]:
    """Write the board; return each finding's direct inputs and its citations, by version."""
    inputs: dict[int, set[int]] = {}
    cites: dict[int, Cites] = {}
    findings: list[int] = []
    with Blackboard.open(url) as bb:
        board = bb.board("b")
        version = 0
        for step in board_steps:
            records: list[tuple[Record, str]] = []
            if step.agent is None:
                records.append((Note(subject="s", confidence=1.0, citations=cited(step.outputs[0])), "input"))
            else:
                used = tuple(findings[i] for i in step.inputs)
                status = "ok" if step.ok else "error"
                run = AgentRun(agent=step.agent, subject="s", inputs=(used,), attempt=1, status=status,
                               outputs=len(step.outputs))  # fmt: skip
                records.append((run, "slateboard.controller"))
                records += [(Note(subject="s", confidence=0.9, citations=cited(c)), step.agent) for c in step.outputs]
            board.write_each_sync(records)
            for offset, step_cites in enumerate(step.outputs):
                at = version + len(records) - len(step.outputs) + offset + 1
                findings.append(at)
                cites[at] = step_cites
                inputs[at] = set() if step.agent is None else {findings[i] for i in step.inputs}
            version += len(records)
    return inputs, cites


def expected_stale(inputs: dict[int, set[int]], cites: dict[int, Cites], source: str, version: str | None) -> set[int]:
    stale: set[int] = set()
    for finding in sorted(cites):
        hit = any(s == source and (version is None or v == version) for s, v in cites[finding])
        if hit or inputs[finding] & stale:
            stale.add(finding)
    return stale


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_exactly_the_citing_and_derived_findings_are_stale(data: st.DataObject) -> None:
    board_steps = data.draw(boards(), label="board")
    source, version = data.draw(retractions(board_steps), label="retraction")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'p.db'}"
        inputs, cites = write(board_steps, url)
        expected = expected_stale(inputs, cites, source, version)
        direct = {f for f in expected if any(s == source and (version is None or v == version) for s, v in cites[f])}
        event(f"stale: {'none' if not expected else 'all' if expected == set(cites) else 'some'}")
        event(f"derived stale: {bool(expected - direct)}")
        with Blackboard.open(url) as bb:
            before = affected_boards(bb, f"{source}@{version}" if version else source)
            report = retract_sync(bb, source, version=version, reason="outdated", by="ana")
            view = bb.board("b").view_sync()
            state = BoardState.of(view)
            after = affected_boards(bb, f"{source}@{version}" if version else source)
            history = bb.board("b").history_sync()
        assert state.staleness.stale == expected
        assert state.aside == expected
        folded = Staleness()  # the state's fold, fed by each entry's role, is the one `record` gives entry by entry
        for entry in history:
            folded.record(entry.version, entry.author, entry.payload)
        assert folded == state.staleness
        assert set(state.every(Note, "s")) == set(cites) - expected
        if not expected:
            assert before == after == []
            assert report.boards == ()
            assert view.version == len(history)  # nothing was written on the board
            assert not any(isinstance(e.payload, Retraction) for e in history)
            return
        (impact,) = before
        assert (set(impact.citing), set(impact.derived)) == (direct, expected - direct)
        assert not impact.recorded
        (recorded,) = after
        assert recorded.recorded
        assert recorded.stale == impact.stale
        (board,) = report.boards
        assert set(board.stale) == expected
        last = history[-1].payload
        assert isinstance(last, Retraction)
        assert set(last.stale) == expected
        assert sum(isinstance(e.payload, Retraction) for e in history) == 1  # the log only grew by the retraction
