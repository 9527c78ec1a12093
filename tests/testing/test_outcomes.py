"""Strategy defaults reach every outcome in useful shares, and `slateboard.testing.outcomes` shows it.

The evidence is judged by a real controller (rules, a policy, a sink) on real memory boards; the shares are
measured with `outcomes.reaches`, the way a user would guard their own property against being vacuous. Runs are
derandomized, so the measured shares are the same on every run (a figure, not a flaky threshold).
"""

import textwrap

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import Controller, Finding, Outcome, Proposal, agent, policies, pool, rules, sinks
from slateboard.errors import ConfigurationError
from slateboard.testing import outcomes
from slateboard.testing import strategies as sb
from slateboard.testing.fresh import FreshStores

pytest_plugins = ["pytester"]

MEASURED = settings(max_examples=80, deadline=None, database=None, derandomize=True)


class Eligibility(Finding):
    kind_name = "tests.outcomes.Eligibility"
    eligible: bool


class Claim(Finding):
    kind_name = "tests.outcomes.Claim"


@agent(name="updater")
async def updater(claim: Claim, found: list[Eligibility]) -> Proposal:
    return Proposal(
        subject=claim.subject,
        action="update",
        target=f"Claim/{claim.subject}",
        changes={"Eligible": found[-1].eligible},
        confidence=pool(f.confidence for f in found),
        citations=tuple(c for f in found for c in f.citations),
    )


DISAGREEMENT = rules.disagreement(Eligibility, field="eligible")
CONTROLLER = Controller(
    [updater],
    [DISAGREEMENT, rules.sufficient(Eligibility, min_confidence=0.8, min_sources=2), rules.sufficient(Proposal)],
    policy=policies.Policy(
        policies.min_confidence(0.8), policies.require_citations(approved=True), policies.escalate_on_conflict()
    ),
    sink=sinks.Memory(),
)


async def judge(board_of: FreshStores, ev: sb.Evidence[Eligibility]) -> Outcome:
    async with board_of.board(ev.subject) as board:
        await ev.write(board)
        return await CONTROLLER.run(board, Claim(subject=ev.subject, confidence=1.0))


@outcomes.reaches("committed", "escalated", "insufficient", min_share=0.1)
@MEASURED
@given(ev=sb.evidence(Eligibility, "eligible"))
def test_default_evidence_reaches_every_outcome_it_drives(
    slateboard_fresh: FreshStores, ev: sb.Evidence[Eligibility]
) -> None:
    outcome = anyio.run(judge, slateboard_fresh, ev)
    outcomes.record(outcome)
    # The property itself: no commit while the sources disagree.
    if not ev.unanimous:
        assert outcome.status == "escalated"
        assert outcome.commits == ()


@outcomes.reaches("unanimous", "split", min_share=0.35)
@MEASURED
@given(ev=sb.evidence(Eligibility, "eligible", sources=st.integers(2, 5)))
def test_default_agreement_is_unanimous_about_half_the_time(ev: sb.Evidence[Eligibility]) -> None:
    n = len(ev.pairs)
    agreeing = round(ev.agreement * n)
    assert 1 <= agreeing <= n
    outcomes.record("unanimous" if ev.unanimous else "split", label="evidence")


@outcomes.reaches("sure", "unsure", min_share=0.2)
@MEASURED
@given(ev=sb.evidence(Eligibility, "eligible"))
def test_default_confidence_is_sure_or_unsure_as_a_whole(ev: sb.Evidence[Eligibility]) -> None:
    lowest = min(f.confidence for _, f in ev.pairs)
    highest = max(f.confidence for _, f in ev.pairs)
    band = "sure" if lowest >= 0.7 else "unsure" if highest <= 0.6 else "mixed"
    outcomes.record(band, label="confidence")


def test_a_vacuous_property_fails_naming_the_outcome_it_never_saw() -> None:
    @outcomes.reaches("committed", "escalated", min_share=0.1)
    @settings(max_examples=20, database=None)
    @given(st.integers())
    def always_escalates(n: int) -> None:
        outcomes.record("escalated")

    with pytest.raises(outcomes.VacuousPropertyError, match=r"ended committed.*Seen: escalated 100% \(20\) of 20"):
        always_escalates()


def test_a_property_that_records_nothing_fails_too() -> None:
    @outcomes.reaches("committed")
    @settings(max_examples=5, database=None)
    @given(st.integers())
    def silent(n: int) -> None:
        pass

    with pytest.raises(outcomes.VacuousPropertyError, match="no example called"):
        silent()


def test_a_failing_property_fails_as_itself() -> None:
    @outcomes.reaches("committed")
    @settings(max_examples=20, database=None)
    @given(st.integers(0, 10))
    def wrong(n: int) -> None:
        outcomes.record("committed")
        assert n < 5

    with pytest.raises(AssertionError) as raised:
        wrong()
    assert not isinstance(raised.value, outcomes.VacuousPropertyError)


def test_tallies_count_and_explain_themselves() -> None:
    with outcomes.tally() as outer, outcomes.tally() as inner:
        for status in ("committed", "escalated", "escalated", "insufficient"):
            outcomes.record(status)
    outcomes.record("committed")  # no tally active: counted nowhere
    assert outer.counts == inner.counts
    assert outer.total == 4
    assert outer.share("escalated") == 0.5
    assert outer.shares() == {"escalated": 0.5, "committed": 0.25, "insufficient": 0.25}
    assert str(outer) == "escalated 50% (2), committed 25% (1), insufficient 25% (1) of 4 examples"
    assert outer.missing(("committed", "rejected"), 0.2) == ["rejected"]
    assert str(outcomes.Tally()) == "no examples recorded"


def test_record_refuses_what_is_not_an_outcome() -> None:
    with pytest.raises(ConfigurationError, match="Outcome"):
        outcomes.record(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="at least one"):
        outcomes.reaches()
    with pytest.raises(ConfigurationError, match="min_share"):
        outcomes.reaches("committed", min_share=0)


def test_the_shares_show_in_hypothesis_statistics(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(
        test_inner=textwrap.dedent(
            """
            from hypothesis import given, settings, strategies as st
            from slateboard.testing import outcomes

            @settings(max_examples=40, database=None)
            @given(st.booleans())
            def test_shares(flag):
                outcomes.record("committed" if flag else "escalated")
            """
        )
    )
    result = pytester.runpytest_inprocess("--hypothesis-show-statistics")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*%, outcome: committed", "*%, outcome: escalated"])
