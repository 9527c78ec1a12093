"""The testing kit, piece by piece and combined: what docs/testing.md shows, run as tests.

1. Strategies and a fresh board per example: `sb.evidence` draws sources that agree or split (about half each,
   by default); `slateboard_fresh` (a session-scoped fixture of the slateboard pytest plugin, so hypothesis'
   health check stays on) gives every example a new store and board, verified when the example ends.
2. Outcome shares: `outcomes.record` tallies how each example ended (and shows it in
   `--hypothesis-show-statistics`); `outcomes.reaches` fails a property that too few examples exercised.
3. Fault injection in process: `sb.faults` draws a timeout, an error, a conflict or an invalid answer that an
   agent applies with `Fault.inject`.
4. Crash tests: `Faults(kill_after=k)` SIGKILLs a real process at its k-th write boundary; the run resumes from
   what the store kept, and the sink inside the store holds the change exactly once, wherever the kill struck.
5. Conformance: a sink of your own passes `SinkConformance`, on the stores `slateboard_store_kind` names.

Run it: `python -m pytest examples/15_testing_kit.py --hypothesis-show-statistics`
"""

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings

from slateboard import (
    AgentContext,
    Blackboard,
    Board,
    Citation,
    Controller,
    Finding,
    Proposal,
    agent,
    policies,
    pool,
    rules,
    sinks,
)
from slateboard.blackboard.stores.base import open_store
from slateboard.testing import outcomes
from slateboard.testing import strategies as sb
from slateboard.testing.commit_conformance import SinkConformance
from slateboard.testing.conformance import OnRegisteredStores
from slateboard.testing.faults import Faults
from slateboard.testing.fresh import FreshStores


class Eligible(Finding):
    kind_name = "examples.kit.Eligible"
    eligible: bool


class Claim(Finding):
    """A warranty claim; for the fault tests it also carries the fault that strikes the checker."""

    kind_name = "examples.kit.Claim"
    fault: sb.Fault = sb.Fault(kind="none")


@agent(name="updater")
async def updater(claim: Claim, found: list[Eligible]) -> Proposal:
    """Proposes the claim's update from what the sources found; only the commit layer applies it."""
    return Proposal(
        subject=claim.subject,
        action="update",
        target=f"Claim/{claim.subject}",
        changes={"Eligible": found[-1].eligible},
        confidence=pool(f.confidence for f in found),
        citations=tuple(c for f in found for c in f.citations),
    )


DISAGREEMENT = rules.disagreement(Eligible, field="eligible")
RULES = [DISAGREEMENT, rules.sufficient(Eligible, min_confidence=0.8, min_sources=2), rules.sufficient(Proposal)]
POLICY = policies.Policy(
    policies.min_confidence(0.8), policies.require_citations(approved=True), policies.escalate_on_conflict()
)


# 1 and 2: evidence on a fresh board per example; the outcome shares guard the property against being vacuous.
@outcomes.reaches("committed", "escalated", "insufficient", min_share=0.05)
@settings(max_examples=40, deadline=None, derandomize=True)
@given(ev=sb.evidence(Eligible, "eligible"))
def test_no_commit_while_the_sources_disagree(slateboard_fresh: FreshStores, ev: sb.Evidence[Eligible]) -> None:
    sink = sinks.Memory()
    controller = Controller([updater], RULES, policy=POLICY, sink=sink)

    async def judge(board: Board) -> str:
        await ev.write(board)
        outcome = await controller.run(board, Claim(subject=ev.subject, confidence=1.0))
        return outcome.status

    with slateboard_fresh.board(ev.subject) as board:
        status = outcomes.record(anyio.run(judge, board))
    if not ev.unanimous:
        assert status == "escalated"
        assert sink.applied == []


# 3: faults injected into an agent, in process (a crash needs a process of its own: see 4).
@agent(name="checker", timeout=0.05, retries=1)
async def checker(claim: Claim, context: AgentContext) -> Eligible:
    found = Eligible(subject=claim.subject, eligible=True, confidence=0.95, citations=())
    return await claim.fault.inject(found, attempt=context.attempt)


@outcomes.reaches("sufficient", "escalated", "failed", min_share=0.1)  # an agent that fails for good: failed
@settings(max_examples=30, deadline=None, derandomize=True)
@given(fault=sb.faults(kinds=["none", "timeout", "error", "conflict", "invalid"]))
def test_every_fault_ends_in_an_outcome_that_says_why(slateboard_fresh: FreshStores, fault: sb.Fault) -> None:
    controller = Controller([checker], [rules.sufficient(Eligible, min_confidence=0.9)])

    async def judge(board: Board) -> Any:
        return await controller.run(board, Claim(subject="claim-1", confidence=1.0, fault=fault))

    with slateboard_fresh.board() as board:
        outcome = anyio.run(judge, board)
    outcomes.record(outcome)
    assert outcome.reasons, outcome
    if fault.status(1) == "conflict":  # a reported conflict is never retried away
        assert outcome.status == "escalated"


# 4: a real process killed at each write boundary, and resumed.
TABLE = sinks.Table("claims")
APPROVED = {source: (Citation(source=source, approved=True),) for source in ("crm", "contracts")}
AGREED = sb.Evidence(
    pairs=tuple(
        (source, Eligible(subject="claim-7", eligible=True, confidence=0.9, citations=cited))
        for source, cited in APPROVED.items()
    ),
    agreement=1.0,
    field="eligible",
    value=True,
)


def crash_run(database: Path, kill_after: int | None) -> int:
    """One run on the SQLite file; with `kill_after`, the process SIGKILLs itself at that write boundary."""
    faults = Faults(kill_after=kill_after)
    controller = Controller([updater], RULES, policy=POLICY, sink=faults.sink(TABLE))

    async def main() -> None:
        with Blackboard(faults.store(open_store(f"sqlite:///{database}"))) as bb:
            board = bb.board("claim-7")
            written = {entry.author for entry in await board.history()}
            for author, finding in AGREED.pairs:  # a killed run may have written some of them
                if author not in written:
                    await board.write(finding, author=author)
            await controller.run(board, Claim(subject="claim-7", confidence=1.0))

    anyio.run(main)
    return faults.count


def killed_at(database: Path, k: int) -> int:
    """`crash_run` in a child process (forked: no interpreter to start) that SIGKILLs itself at boundary k; the
    child's exit code, -9 when the kill struck."""
    pid = os.fork()
    if pid == 0:
        try:
            crash_run(database, k)
        finally:
            os._exit(1)  # the run ended without reaching boundary k
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_run_killed_at_any_write_boundary_commits_exactly_once(tmp_path: Path) -> None:
    boundaries = crash_run(tmp_path / "count.db", None)  # how many boundaries an uninterrupted run crosses
    assert boundaries >= 5
    for k in range(1, boundaries + 1):
        database = tmp_path / f"kill-{k}.db"
        assert killed_at(database, k) == -9, k  # SIGKILL: no cleanup ran
        crash_run(database, None)  # resume from what the store kept
        with Blackboard.open(f"sqlite:///{database}") as bb:
            rows = TABLE.rows(bb)
            assert [(row["data"], row["revision"]) for row in rows.values()] == [({"Eligible": True}, 1)], k
            assert anyio.run(bb.board("claim-7").verify).version >= 1


# 5: a sink of your own passes the conformance suite. The stores here are memory only, for the tests above too
# (by default every registered store, `--slateboard-store` narrows them; conftest.py may choose them).
class ClaimsFile:
    """An outside system: one record per idempotency key; `lookup` lets the commit layer ask what it applied."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    def apply(self, proposal: Proposal, key: str) -> dict[str, Any]:
        self.records.setdefault(key, {"id": len(self.records) + 1, "target": proposal.target})
        return self.records[key]

    def lookup(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)


@pytest.fixture
def slateboard_store_kind() -> str:
    return "memory"


@pytest.fixture(scope="session")
def slateboard_fresh_kind() -> str:  # the same choice for slateboard_fresh, which is session-scoped
    return "memory"


class TestClaimsFile(OnRegisteredStores, SinkConformance):
    def make_sink(self) -> Any:
        self.file = ClaimsFile()
        return sinks.Function(self.file.apply, name="claims-file", lookup=self.file.lookup)

    def applications(self, sink: Any, blackboard: Blackboard, key: str) -> int | None:
        return 1 if key in self.file.records else 0
