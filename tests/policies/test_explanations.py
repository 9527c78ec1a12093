"""Policy rules explain themselves usefully by default: `require_approval` names its condition (a lambda by its own
expression), and a `freeze_on` flag says what its effect does instead of always "freezes every action"."""

from __future__ import annotations

import pytest

from slateboard import Blackboard, Proposal, policies
from slateboard.blackboard.board import Board
from slateboard.policies import Policy
from tests.policies.test_builtins import ComplianceFlag, judge_one, proposal

pytestmark = pytest.mark.anyio


@pytest.fixture
def board(bb: Blackboard) -> Board:
    return bb.board("case-1")


def first_touch(p: Proposal) -> bool:
    """The first outreach to a lead."""
    return p.action == "email"


def no_docstring(p: Proposal) -> bool:
    return p.action == "email"


@pytest.mark.parametrize(
    ("rule", "rule_id", "reason"),
    [
        (
            policies.require_approval(lambda p: p.action == "email"),
            'require_approval(p.action == "email")',
            '`p.action == "email"` holds for this proposal: a person approves it first',
        ),
        (
            policies.require_approval(first_touch),
            "require_approval(first_touch)",
            "The first outreach to a lead: a person approves it first",
        ),
        (
            policies.require_approval(no_docstring),
            "require_approval(no_docstring)",
            "no_docstring(proposal) holds for this proposal: a person approves it first",
        ),
        (
            policies.require_approval(),
            "require_approval(irreversible)",
            "an irreversible or externally visible action waits for a person",
        ),
        (
            policies.require_approval(lambda p: True, reason="every update waits", id="gate"),
            "gate",
            "every update waits",
        ),
    ],
)
def test_require_approval_names_its_condition_by_default(rule: object, rule_id: str, reason: str) -> None:
    assert getattr(rule, "id") == rule_id  # noqa: B009 - a PolicyRule's id, read the same way for every case
    assert getattr(rule, "reason") == reason  # noqa: B009


def test_two_lambdas_with_different_conditions_are_different_rules() -> None:
    a = policies.require_approval(lambda p: p.confidence < 0.5)
    b = policies.require_approval(lambda p: p.confidence < 0.9)
    assert a.id != b.id
    assert Policy(a).version != Policy(b).version


async def test_the_approval_request_reads_the_default_reason(board: Board) -> None:
    policy = Policy(policies.allow(), policies.require_approval(lambda p: p.action == "email"))
    verdict = await judge_one(board, policy, proposal(action="email"))
    assert verdict.outcome == "needs_approval"
    assert verdict.reasons[0].rule == 'require_approval(p.action == "email")'
    assert "<lambda>" not in str(verdict.reasons[0])


@pytest.mark.parametrize(
    ("effect", "says"),
    [
        ("deny", "freezes every action on 'case-1'"),
        ("escalate", "sends every action on 'case-1' to a person to decide"),
        ("needs_approval", "holds every action on 'case-1' for a person's approval"),
    ],
)
async def test_a_freeze_says_what_its_effect_does(board: Board, effect: str, says: str) -> None:
    policy = Policy(policies.allow(), policies.freeze_on(ComplianceFlag, effect=effect))
    flag = await board.write(ComplianceFlag(subject="case-1", confidence=1.0), author="compliance")
    verdict = await judge_one(board, policy, proposal())
    assert verdict.outcome == effect
    message = verdict.reasons[0].message
    assert message == f"tests.policies.builtins.ComplianceFlag v{flag.version} by compliance {says}"
    if effect != "deny":
        assert "freezes" not in message
