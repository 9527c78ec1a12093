"""Property: no commit when two independent agents disagree, however sure each of them is.

Two agents check a customer's entitlement from independent sources (the CRM and the contracts system). Each on
its own may be confident enough to pass the policy's threshold; when they disagree, `rules.disagreement` must
send the case to a person and the sink must not see a single change. When they agree, confidently enough, the
update is committed exactly once, so the property is not vacuously true.

Hypothesis draws what the two agents answer with `slateboard.testing.strategies.evidence`: two findings from
distinct sources that agree or conflict (about half the examples each, by default), with drawn confidences. The
input carries those answers, so the scenario sits on the board itself and a failing example replays from the log.

`outcomes.record` counts how each example ended and `outcomes.reaches` fails the test when too few examples
committed or escalated: a property that never sees a commit proves nothing about commits. Measured over 200
examples: committed 44%, escalated 40%, insufficient 16% (with the evidence defaults before the testing kit:
22%, 75%, 2%).
`pytest --hypothesis-show-statistics` shows the shares of each run.

Run it: `python -m pytest examples/10_property_no_commit_on_disagreement.py`
"""

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Controller, Finding, Proposal, agent, policies, pool, rules, sinks
from slateboard.testing import outcomes
from slateboard.testing import strategies as sb

THRESHOLD = 0.8


class Entitlement(Finding):
    """Whether the customer is entitled to a free replacement."""

    kind_name = "examples.no_commit.Entitlement"
    entitled: bool


class Request(Finding):
    """A support request; for the test it also carries what each agent will answer."""

    kind_name = "examples.no_commit.Request"
    crm_answer: Entitlement
    contracts_answer: Entitlement


@agent(name="crm")
async def crm(request: Request) -> Entitlement:
    return request.crm_answer


@agent(name="contracts")
async def contracts(request: Request) -> Entitlement:
    return request.contracts_answer


@agent(name="case_updater")
async def case_updater(request: Request, answers: list[Entitlement]) -> Proposal:
    """Proposes the case update once the entitlement is settled; it never writes to the CRM itself."""
    return Proposal(
        subject=request.subject,
        action="update",
        target=f"Case/{request.subject}",
        changes={"Entitled": answers[-1].entitled},
        confidence=pool(a.confidence for a in answers),
        citations=tuple(c for a in answers for c in a.citations),
    )


DISAGREEMENT = rules.disagreement(Entitlement, field="entitled")
RULES = [
    DISAGREEMENT,
    rules.sufficient(Entitlement, min_confidence=THRESHOLD, min_sources=2),
    rules.sufficient(Proposal),
]
POLICY = policies.Policy(
    policies.min_confidence(THRESHOLD),
    policies.require_citations(approved=True),
    policies.escalate_on_conflict(DISAGREEMENT),
)


def run(answers: tuple[Entitlement, Entitlement]) -> tuple[str, tuple[str, ...], list[Proposal]]:
    """One real run on a fresh in-memory board: (status, reasons, what the sink applied)."""
    sink = sinks.Memory()
    controller = Controller([crm, contracts, case_updater], RULES, policy=POLICY, sink=sink)
    request = Request(subject=answers[0].subject, confidence=1.0, crm_answer=answers[0], contracts_answer=answers[1])

    async def main() -> tuple[str, tuple[str, ...], list[Proposal]]:
        with Blackboard.open("memory://") as bb:
            outcome = await controller.run(bb.board(request.subject), request)
            return outcome.status, outcome.reasons, list(sink.applied)

    return anyio.run(main)


@outcomes.reaches("committed", "escalated", min_share=0.1)
@settings(max_examples=25, deadline=None, derandomize=True)  # the same examples every run: shares never flake
@given(sb.evidence(Entitlement, "entitled", sources=st.just(2), confidence=st.floats(0.5, 1.0)))
def test_no_commit_when_independent_agents_disagree(ev: sb.Evidence[Entitlement]) -> None:
    (_, first), (_, second) = ev.pairs
    status, reasons, applied = run((first, second))
    outcomes.record(status)

    if first.entitled != second.entitled:
        assert applied == [], "a disagreement must never reach the sink"
        assert status == "escalated"
        assert any(r.startswith(DISAGREEMENT.id) for r in reasons), reasons
    elif pool([first.confidence, second.confidence]) >= THRESHOLD:
        assert status == "committed", reasons
        assert [p.changes for p in applied] == [{"Entitled": first.entitled}]
    else:
        assert applied == []
