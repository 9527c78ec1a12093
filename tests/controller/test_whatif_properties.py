"""Property: a what-if with the recorded policy and rules is always "no change", and leaves the board as it was.

The boards are as messy as example 12 makes them, drawn with `slateboard.testing.strategies`: outside sources write
entitlement findings in a drawn schedule around two runs, two agents are struck by drawn faults, and a person
answers a waiting approval (yes or no) or leaves it. The outcomes cover committed, awaiting_approval, escalated,
rejected and failed; the test checks that several of them were reached, so the property is not vacuous.
"""

from __future__ import annotations

from collections import Counter

import anyio
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from slateboard import (
    AgentContext,
    Blackboard,
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
from slateboard.testing import strategies as sb
from slateboard.testing.strategies import FaultKind

TIMEOUT = 0.05


class Entitlement(Finding):
    kind_name = "tests.whatifprop.Entitlement"
    entitled: bool


class Request(Finding):
    """A support request; for the test it also carries each agent's answer and fault."""

    kind_name = "tests.whatifprop.Request"
    answers: tuple[Entitlement, Entitlement]
    faults: tuple[sb.Fault, sb.Fault]


@agent(name="crm", timeout=TIMEOUT, rating=10)
async def crm(request: Request, context: AgentContext) -> Entitlement:
    return await request.faults[0].inject(request.answers[0], attempt=context.attempt)


@agent(name="contracts", timeout=TIMEOUT)
async def contracts(request: Request, context: AgentContext) -> Entitlement:
    return await request.faults[1].inject(request.answers[1], attempt=context.attempt)


@agent(name="case_updater")
async def case_updater(request: Request, answers: list[Entitlement]) -> Proposal:
    unanimous = len({a.entitled for a in answers}) == 1
    return Proposal(
        subject=request.subject,
        action="update",
        target=f"Case/{request.subject}",
        changes={"Entitled": answers[-1].entitled},
        confidence=pool(a.confidence for a in answers),
        citations=tuple(c for a in answers for c in a.citations),
        reversible=unanimous,
    )


AGENTS = [crm, contracts, case_updater]
RULES = [
    rules.escalate_below(Entitlement, confidence=0.2),
    rules.sufficient(Entitlement, min_confidence=0.8, min_sources=2),
    rules.sufficient(Proposal),
]
POLICY = policies.Policy(
    policies.min_confidence(0.85),
    policies.require_citations(approved=True),
    policies.escalate_on_conflict(),
    policies.require_approval(lambda p: not p.reversible, reason="a split answer waits for a person"),
)
in_process = sb.faults(kinds=["none", "none", "none", "timeout", "error", "conflict"])
Scenario = tuple[Request, list[tuple[str, Entitlement]], int, str | None]


@st.composite
def boards(draw: st.DrawFn) -> Scenario:
    """The input, the outside writes in schedule order, when the first run starts, and a person's answer."""
    outside = draw(sb.evidence(Entitlement, "entitled", sources=st.integers(1, 3), confidence=st.floats(0.15, 1)))
    answers = draw(
        sb.evidence(Entitlement, "entitled", sources=st.just(2), subject=outside.subject, confidence=st.floats(0.5, 1))
    )
    (_, first), (_, second) = answers.pairs
    request = Request(
        subject=outside.subject, confidence=1.0, answers=(first, second), faults=(draw(in_process), draw(in_process))
    )
    said = dict(outside.pairs)
    writes = [(author, said[author]) for author in draw(sb.schedules(list(said)))]
    answer = draw(st.sampled_from([None, "approve", "reject"]))
    return request, writes, draw(st.integers(0, len(writes))), answer


async def record(bb: Blackboard, scenario: Scenario) -> str:
    """Run the drawn board (twice, around the outside writes), let the person answer; return the outcome status."""
    request, writes, start, answer = scenario
    controller = Controller(AGENTS, RULES, policy=POLICY, sink=sinks.Memory())
    board = bb.board(request.subject)
    for author, finding in writes[:start]:
        await board.write(finding, author=author)
    await controller.run(board, request)
    for author, finding in writes[start:]:
        await board.write(finding, author=author)
    outcome = await controller.run(board, request)
    if outcome.approvals and answer == "approve":
        outcome = await controller.approve(board, outcome.approvals[0].key, reviewer="ana")
    elif outcome.approvals and answer == "reject":
        outcome = await controller.reject(board, outcome.approvals[0].key, reviewer="ana", reason="not entitled")
    return outcome.status


def _clean(confidence: float, faults: tuple[FaultKind, FaultKind] = ("none", "none")) -> Scenario:
    """A board in the strategies' own vocabulary, pinned as an `@example` so every run sees these outcomes."""
    first, second = (
        Entitlement(
            subject="case-1", entitled=True, confidence=confidence, citations=(Citation(source=s, approved=True),)
        )
        for s in ("crm", "contracts")
    )
    struck = (sb.Fault(kind=faults[0]), sb.Fault(kind=faults[1]))
    return Request(subject="case-1", confidence=1.0, answers=(first, second), faults=struck), [], 0, None


def test_whatif_under_the_recorded_policy_and_rules_never_changes_anything() -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=60, deadline=None)
    @given(boards())
    @example(_clean(0.95))  # committed
    @example(_clean(0.95, ("error", "none")))  # failed
    def check(scenario: Scenario) -> None:
        async def main() -> None:
            with Blackboard.open("memory://") as bb:
                status = await record(bb, scenario)
                board = bb.board(scenario[0].subject)
                head = await board.head()
                rebuilt = Controller(AGENTS, RULES, policy=POLICY, sink=sinks.Memory())
                implicit = await rebuilt.whatif(board)
                explicit = await rebuilt.whatif(board, policy=POLICY, rules=RULES)
                assert await board.head() == head  # nothing written
            event(f"outcome: {status}")
            seen[status] += 1
            for report in (implicit, explicit):
                assert not report.changed, str(report)
                assert report.outcome == report.would_be == status
                assert len(report.decisions) >= 1

        anyio.run(main)

    check()
    # The property is not vacuous: the drawn boards ended in several different ways.
    assert len(seen) >= 4, seen
    assert {"committed", "escalated", "failed"} <= set(seen), seen


GATED = policies.Policy(
    *POLICY.rules, policies.require_approval(lambda p: True, reason="every update waits for a person", id="gate-all")
)
"""The recorded policy with one more gate: every proposal waits for a person."""


def test_an_added_gate_never_commits_what_was_not_committed() -> None:
    changed = 0

    @settings(max_examples=40, deadline=None)
    @given(boards())
    @example(_clean(0.95))  # committed without a person: the gate holds it back
    def check(scenario: Scenario) -> None:
        nonlocal changed

        async def main() -> None:
            nonlocal changed
            with Blackboard.open("memory://") as bb:
                await record(bb, scenario)
                rebuilt = Controller(AGENTS, RULES, policy=POLICY, sink=sinks.Memory())
                report = await rebuilt.whatif(bb.board(scenario[0].subject), policy=GATED)
            for proposal in report.proposals:
                if proposal.would_be_status == "committed":
                    assert proposal.recorded_status == "committed", str(report)
                if proposal.recorded_verdict == "allow":  # allowed without a person: now one is asked
                    assert proposal.would_be_verdict == "needs_approval", str(report)
                    assert "gate-all" in proposal.rules
            assert not any(d.changed for d in report.decisions)  # the rules did not change
            changed += report.changed

        anyio.run(main)

    check()
    assert changed >= 1  # the gate made a difference somewhere: the property is not vacuous
