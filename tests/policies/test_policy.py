"""`Policy`: how votes combine, what it refuses, its version hash, what a verdict records, and `judge`."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from slateboard import Blackboard, Citation, Proposal, Verdict, policies, rules
from slateboard.blackboard.board import Board
from slateboard.errors import PolicyError
from slateboard.policies import Policy, PolicyContext
from slateboard.state.records import COMMIT_LAYER, Effect, Vote

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Says:
    """A test rule that always votes `effect` (or abstains when None)."""

    effect: Effect | None
    id: str

    def evaluate(self, context: PolicyContext) -> Vote | None:
        if self.effect is None:
            return None
        return Vote(rule=self.id, effect=self.effect, message=f"{self.id} says {self.effect}")


@dataclass(frozen=True)
class Broken:
    id: str = "broken"

    def evaluate(self, context: PolicyContext) -> Vote | None:
        raise KeyError("no such field")


class Threshold:
    """A custom rule that is not a dataclass: its version must not depend on where it sits in memory."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.id = "threshold"

    def evaluate(self, context: PolicyContext) -> Vote | None:
        effect: Effect = "allow" if context.proposal.confidence >= self.limit else "deny"
        return Vote(rule=self.id, effect=effect, message=f"limit {self.limit}")


def below(limit: float) -> Callable[[Proposal], bool]:
    return lambda p: p.confidence < limit


def under(proposal: Proposal, limit: float) -> bool:
    return proposal.confidence < limit


def sample_policy() -> Policy:
    """Built the same way in this process and in a fresh one (see the version test)."""
    return Policy(
        policies.min_confidence(0.85),
        policies.require_citations(approved=True),
        policies.escalate_on_conflict(rules.disagreement(Proposal, field="action")),
        policies.priority("compliance", "service", "sales"),
        policies.require_approval(below(0.95), id="gate"),
        policies.max_changes(3, actions=["update"]),
        Threshold(0.5),
    )


@pytest.fixture(params=["memory", "sqlite"])
def board(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Board]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'policy.db'}"
    with Blackboard.open(url) as bb:
        yield bb.board("case-1")


def proposal(target: str = "Case/1", *, action: str = "update", **extra: Any) -> Proposal:
    fields: dict[str, Any] = {"changes": {"Status": "Open"}, "confidence": 0.9}
    fields.update(extra)
    return Proposal(subject="case-1", action=action, target=target, **fields)


async def verdict_on(board: Board, policy: Policy, item: Proposal | None = None) -> Verdict:
    entry = await board.write(item or proposal(), author="agent")
    return policy.evaluate(await board.view(), entry.version)


# Combination ----------------------------------------------------------------------------------------------

COMBINATIONS = [
    # votes (in rule order), the policy default, the outcome, the deciding rules
    (["allow", "deny", "escalate", "needs_approval"], "deny", "deny", ["r1"]),
    (["deny", "allow", "deny"], "deny", "deny", ["r0", "r2"]),
    (["allow", "escalate", "needs_approval", "escalate"], "deny", "escalate", ["r1", "r3"]),
    (["needs_approval"], "deny", "deny", ["default-deny"]),
    ([None, None], "deny", "deny", ["default-deny"]),
    ([], "deny", "deny", ["default-deny"]),
    (["allow", "needs_approval", None], "deny", "needs_approval", ["r1"]),
    (["allow", None, "allow"], "deny", "allow", ["r0", "r2"]),
    ([], "allow", "allow", ["default-allow"]),
    ([None, "needs_approval"], "allow", "needs_approval", ["r1"]),
    (["allow", "deny"], "allow", "deny", ["r1"]),
    (["escalate"], "allow", "escalate", ["r0"]),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("votes", "default", "outcome", "deciding"), COMBINATIONS)
async def test_deny_beats_escalate_beats_default_deny_beats_needs_approval_beats_allow(
    board: Board, votes: list[Effect | None], default: Any, outcome: str, deciding: list[str]
) -> None:
    policy = Policy(*(Says(effect, f"r{i}") for i, effect in enumerate(votes)), default=default)
    verdict = await verdict_on(board, policy)
    assert verdict.outcome == outcome
    assert [v.rule for v in verdict.reasons] == deciding
    assert all(v.effect == outcome for v in verdict.reasons)
    assert [v.rule for v in verdict.votes] == [f"r{i}" for i, e in enumerate(votes) if e is not None]
    assert verdict.overridden_by is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("votes", "default", "outcome"),
    [
        (["allow"], "deny", "needs_approval"),
        ([], "allow", "needs_approval"),
        (["allow", "deny"], "deny", "deny"),
        (["allow", "escalate"], "deny", "escalate"),
        ([], "deny", "deny"),
    ],
)
async def test_a_proposal_that_asks_for_approval_is_never_simply_allowed(
    board: Board, votes: list[Effect], default: Any, outcome: str
) -> None:
    policy = Policy(*(Says(effect, f"r{i}") for i, effect in enumerate(votes)), default=default)
    verdict = await verdict_on(board, policy, proposal(requires_approval=True))
    assert verdict.outcome == outcome
    assert "proposal.requires_approval" in [v.rule for v in verdict.votes]
    if outcome == "needs_approval":
        assert [v.rule for v in verdict.reasons] == ["proposal.requires_approval"]


@pytest.mark.anyio
async def test_a_rule_that_raises_votes_escalate_and_a_deny_still_wins(board: Board) -> None:
    verdict = await verdict_on(board, Policy(policies.allow(), Broken()))
    assert verdict.outcome == "escalate"
    assert [v.rule for v in verdict.reasons] == ["broken"]
    assert "KeyError" in verdict.reasons[0].message
    assert "a person decides" in verdict.reasons[0].message
    denied = await verdict_on(board, Policy(Broken(), Says("deny", "no")), proposal("Case/2"))
    assert denied.outcome == "deny"
    assert [v.rule for v in denied.reasons] == ["no"]


@pytest.mark.anyio
async def test_a_when_predicate_that_raises_escalates_instead_of_allowing(board: Board) -> None:
    def explode(p: Proposal) -> bool:
        raise RuntimeError("predicate broke")

    policy = Policy(policies.allow(), policies.require_approval(explode))
    verdict = await verdict_on(board, policy)
    assert verdict.outcome == "escalate"
    assert "predicate broke" in verdict.reasons[0].message


# What a Policy refuses ------------------------------------------------------------------------------------


def test_two_rules_with_one_id_are_refused() -> None:
    with pytest.raises(PolicyError, match="share") as caught:
        Policy(policies.min_confidence(0.5), policies.min_confidence(0.5, effect="deny"))
    assert caught.value.rule == "min_confidence(0.5)"
    both = Policy(policies.min_confidence(0.5), policies.min_confidence(0.5, effect="deny", id="hard-floor"))
    assert [r.id for r in both.rules] == ["min_confidence(0.5)", "hard-floor"]


def test_at_most_one_priority_rule() -> None:
    with pytest.raises(PolicyError, match="at most one priority") as caught:
        Policy(policies.priority("a", "b"), policies.priority("b", "a", id="other"))
    assert caught.value.rule == "priority"
    assert Policy(policies.priority("a", "b")).ranking == ("a", "b")
    assert Policy(policies.allow()).ranking is None


@pytest.mark.parametrize(
    "bad",
    ["allow", policies.allow, rules.sufficient(Proposal), None, Says],
    ids=["string", "uncalled-factory", "controller-rule", "none", "class"],
)
def test_what_is_not_a_policy_rule_is_refused_by_position(bad: Any) -> None:
    with pytest.raises(PolicyError, match="not a policy rule") as caught:
        Policy(policies.allow(), bad)
    assert caught.value.rule == "#2"


def test_a_default_other_than_deny_or_allow_is_refused() -> None:
    with pytest.raises(PolicyError, match="default"):
        Policy(policies.allow(), default="maybe")  # type: ignore[arg-type]


# Version --------------------------------------------------------------------------------------------------


def test_two_identical_policies_have_one_version() -> None:
    assert sample_policy().version == sample_policy().version
    assert len(sample_policy().version) == 16


def test_the_version_is_the_same_in_another_process() -> None:
    code = "from tests.policies.test_policy import sample_policy; print(sample_policy().version)"
    found = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == sample_policy().version


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (lambda: Policy(policies.min_confidence(0.85)), lambda: Policy(policies.min_confidence(0.86))),
        (lambda: Policy(policies.min_confidence(0.85)), lambda: Policy(policies.min_confidence(0.85, effect="deny"))),
        (lambda: Policy(policies.require_citations()), lambda: Policy(policies.require_citations(approved=True))),
        (lambda: Policy(policies.max_changes(2)), lambda: Policy(policies.max_changes(2, actions=["update"]))),
        (lambda: Policy(policies.priority("a", "b")), lambda: Policy(policies.priority("b", "a"))),
        (lambda: Policy(policies.allow()), lambda: Policy(policies.allow(), default="allow")),
        (lambda: Policy(policies.allow()), lambda: Policy(policies.allow(), policies.require_approval())),
        (
            lambda: Policy(policies.require_approval(below(0.5))),
            lambda: Policy(policies.require_approval(below(0.9))),
        ),
        (
            lambda: Policy(policies.require_approval(functools.partial(under, limit=0.5))),
            lambda: Policy(policies.require_approval(functools.partial(under, limit=0.9))),
        ),
        (lambda: Policy(Threshold(0.5)), lambda: Policy(Threshold(0.6))),
    ],
    ids=[
        "threshold",
        "effect",
        "approved",
        "actions",
        "ranking",
        "default",
        "added-rule",
        "closure",
        "partial",
        "custom-rule",
    ],
)
def test_the_version_changes_when_a_parameter_changes(
    first: Callable[[], Policy], second: Callable[[], Policy]
) -> None:
    assert first().version == first().version
    assert first().version != second().version


def test_a_custom_rule_object_has_a_stable_version() -> None:
    # Two live objects with equal parameters (their addresses differ): one version.
    one, other = Threshold(0.5), Threshold(0.5)
    assert Policy(one).version == Policy(other).version


# What a verdict records -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_verdict_records_the_policy_version_the_snapshot_and_the_proposal(board: Board) -> None:
    policy = Policy(policies.min_confidence(0.8), policies.require_citations())
    cite = (Citation(source="kb"),)
    first = await board.write(proposal(citations=cite), author="a")
    await board.write(proposal("Case/2", confidence=0.5), author="b")
    view = await board.view()
    verdicts = policy.judge(view)
    assert len(verdicts) == 2
    for verdict in verdicts:
        assert verdict.policy == policy.version
        assert verdict.at == view.version == 2
        assert verdict.key == view.entry(verdict.proposal).payload.key(board.name)
    allowed, refused = verdicts
    assert (allowed.proposal, allowed.outcome, allowed.action, allowed.target) == (
        first.version,
        "allow",
        "update",
        "Case/1",
    )
    assert [v.rule for v in allowed.reasons] == ["min_confidence(0.8)", "require_citations"]
    assert refused.outcome == "deny"  # the missing citation denies; the low confidence only escalates
    assert [v.rule for v in refused.reasons] == ["require_citations"]
    assert {v.rule: v.effect for v in refused.votes} == {"min_confidence(0.8)": "escalate", "require_citations": "deny"}
    old = policy.evaluate(await board.view(at=1), first.version)
    assert old.at == 1
    assert old.outcome == "allow"


@pytest.mark.anyio
async def test_evaluating_an_entry_that_is_no_proposal_is_an_error(board: Board) -> None:
    from tests.controller.kinds import Case  # noqa: PLC0415 - only this test needs it

    entry = await board.write(Case(subject="case-1", confidence=1.0), author="input")
    with pytest.raises(PolicyError, match="not a Proposal"):
        Policy(policies.allow()).evaluate(await board.view(), entry.version)


# judge ----------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_judge_skips_proposals_that_already_have_a_verdict(board: Board) -> None:
    policy = Policy(policies.allow())
    await board.write(proposal("Case/1"), author="a")
    await board.write(proposal("Case/2"), author="a")
    verdicts = policy.judge(await board.view())
    assert [v.target for v in verdicts] == ["Case/1", "Case/2"]
    await board.write_many(list(verdicts), author=COMMIT_LAYER)
    assert policy.judge(await board.view()) == ()
    third = await board.write(proposal("Case/3"), author="a")
    assert [v.proposal for v in policy.judge(await board.view())] == [third.version]
    # A verdict reached under another policy counts too: judge does not judge twice.
    assert Policy(policies.allow(), default="allow").judge(await board.view())[0].proposal == third.version


@pytest.mark.anyio
async def test_judge_judges_only_each_authors_newest_proposal_per_action_and_target(board: Board) -> None:
    policy = Policy(policies.allow(), policies.escalate_on_conflict())
    await board.write(proposal("Case/1", changes={"Status": "Open"}), author="a")
    newer = await board.write(proposal("Case/1", changes={"Status": "Closed"}), author="a")
    other_action = await board.write(proposal("Case/1", action="notify", changes={"To": "ana"}), author="a")
    other_target = await board.write(proposal("Case/2"), author="a")
    verdicts = policy.judge(await board.view())
    assert [v.proposal for v in verdicts] == [newer.version, other_action.version, other_target.version]
    # The superseded proposal is no rival of its successor: nothing escalates.
    assert [v.outcome for v in verdicts] == ["allow"] * 3


@pytest.mark.anyio
async def test_judge_keeps_proposals_of_different_authors_on_one_target(board: Board) -> None:
    policy = Policy(policies.allow(), policies.escalate_on_conflict())
    first = await board.write(proposal("Case/1", changes={"Status": "Open"}), author="a")
    second = await board.write(proposal("Case/1", changes={"Status": "Closed"}), author="b")
    verdicts = policy.judge(await board.view())
    assert [(v.proposal, v.outcome) for v in verdicts] == [(first.version, "escalate"), (second.version, "escalate")]
