"""A rule of one's own, and a property test of it: a majority vote among sources (docs/rules.md).

A literature review checks a claim against several retrieval agents. `sufficient` pools their confidence; this team
wants something else: the claim is settled when a clear majority of the sources agree on `supported`, whatever
their confidence, and at least three have answered. No built-in rule says that, so it is written here against the
public rule protocol (`slateboard.rules`): an `id`, and `assess(state, subject) -> Assessment | None`.

The properties, drawn with `sb.evidence` (n sources of which a drawn share agree):

- the rule is met exactly when the majority reaches the share and enough sources answered, and its reason names
  the split;
- in a controller, a run ends "sufficient" exactly then, and the board replays identically (the rule reads only the
  state, so it is a pure function of the log);
- a what-if with a stricter majority never loosens a decision.

Run it: `python -m pytest examples/13_custom_rule.py`
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import anyio
from hypothesis import event, given, settings
from hypothesis import strategies as st

from slateboard import Agent, Blackboard, Controller, Finding, agent, rules
from slateboard.rules import Assessment, BoardState, Reason
from slateboard.testing import strategies as sb


class Claim(Finding):
    kind_name = "examples.rule.Claim"
    text: str = "drug X reduces relapse"


class Support(Finding):
    kind_name = "examples.rule.Support"
    supported: bool


@dataclass(frozen=True)
class Majority:
    """Evidence of `kind` suffices on a subject when at least `min_sources` authors have a finding there and at
    least `share` of them (each author's newest finding) agree on one value of `field`."""

    kind: type[Finding]  # read by the controller (`OfKind`): a person's settlement choosing one meets the rule
    field: str
    share: float = 2 / 3
    min_sources: int = 3

    @property
    def id(self) -> str:
        return f"majority({self.kind.kind_name}.{self.field} >= {self.share:.2f})"

    def assess(self, state: BoardState, subject: str) -> Assessment | None:
        newest = state.newest_per_author(self.kind, subject)  # author -> version, settled-aside findings left out
        if not newest:
            return None  # nothing to judge on this subject (yet)
        votes = Counter(getattr(state.finding(v), self.field) for v in newest.values())
        ranked = votes.most_common()
        count = ranked[0][1]
        tied = len(ranked) > 1 and ranked[1][1] == count  # no majority for any one value
        met = len(newest) >= self.min_sources and not tied and count / len(newest) >= self.share
        split = ", ".join(f"{v!r}: {n}" for v, n in sorted(votes.items(), key=str))
        message = (
            f"{count} of {len(newest)} source(s) agree on {self.kind.kind_name}.{self.field} on {subject!r} "
            f"({split}; needs {self.share:.0%} of at least {self.min_sources})"
        )
        versions = tuple(sorted(newest.values()))
        return Assessment(met, Reason(rule=self.id, message=message, findings=versions, agents=tuple(sorted(newest))))


# -- the rule on its own ------------------------------------------------------------------------------------


def assess(pairs: tuple[tuple[str, Support], ...], rule: Majority) -> Assessment | None:
    """The rule's answer on a board where each author wrote its finding (a state built as the controller builds it)."""

    async def main() -> Assessment | None:
        with Blackboard.open("memory://") as bb:
            board = bb.board("review")
            for author, finding in pairs:
                await board.write(finding, author=author)
            return rule.assess(BoardState.of(await board.view()), pairs[0][1].subject)

    return anyio.run(main)


@settings(max_examples=60, deadline=None)
@given(sb.evidence(Support, "supported", sources=st.integers(1, 6)), st.sampled_from([0.5, 2 / 3, 0.8]))
def test_the_majority_rule_is_met_exactly_when_enough_sources_agree(ev: sb.Evidence[Support], share: float) -> None:
    rule = Majority(Support, "supported", share=share)
    found = assess(ev.pairs, rule)
    n = len(ev.pairs)
    majority = max(ev.agreement, 1 - ev.agreement)
    expected = n >= rule.min_sources and majority >= share and ev.agreement != 0.5
    event(f"met: {expected}")
    assert found is not None
    assert found.met == expected
    assert found.reason.rule == rule.id
    assert f"of {n} source(s)" in found.reason.message
    assert len(found.reason.findings) == n


# -- the rule in a controller -------------------------------------------------------------------------------


def checker(name: str, answer: bool) -> Agent:
    """An agent per drawn source, answering `answer`."""

    @agent(name=name)
    def check(claim: Claim) -> Support:
        return Support(subject=claim.subject, supported=answer, confidence=0.9)

    return check


def run(answers: tuple[bool, ...], share: float) -> tuple[str, bool, bool]:
    """Run the review with one agent per answer; return the status, whether replay is identical, and whether a
    what-if under a stricter majority changed the status from insufficient to sufficient (it never may)."""
    agents = [checker(f"source-{i}", a) for i, a in enumerate(answers)]
    majority = Majority(Support, "supported", share=share)
    controller = Controller(agents, [majority, rules.budget(max_cycles=5)])

    async def main() -> tuple[str, bool, bool]:
        with Blackboard.open("memory://") as bb:
            board = bb.board("claim-1")
            outcome = await controller.run(board, Claim(subject="claim-1", confidence=1.0))
            replay = await controller.replay(board)
            stricter = Majority(Support, "supported", share=min(1.0, share + 0.2))
            report = await controller.whatif(board, rules=[stricter, rules.budget(max_cycles=5)])
            loosened = report.outcome != "sufficient" and report.would_be == "sufficient"
            return outcome.status, replay.identical, loosened

    return anyio.run(main)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=5).map(tuple), st.sampled_from([0.5, 2 / 3]))
def test_a_controller_with_the_rule_decides_replays_and_whatifs_consistently(
    answers: tuple[bool, ...], share: float
) -> None:
    status, identical, loosened = run(answers, share)
    top = Counter(answers).most_common()
    clear = len(top) == 1 or top[0][1] > top[1][1]
    expected = len(answers) >= 3 and clear and top[0][1] / len(answers) >= share
    event(f"status: {status}")
    assert status == ("sufficient" if expected else "insufficient")
    assert identical
    assert not loosened
