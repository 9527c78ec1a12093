"""`slateboard.testing.assert_policy_holds` and `whatif_boards`: a policy change tested against recorded boards."""

from __future__ import annotations

from pathlib import Path

import pytest

from slateboard import Blackboard, policies, scenarios
from slateboard.errors import ConfigurationError
from slateboard.testing import assert_policy_holds, load_rules, whatif_boards

CORPUS = ("handoffs", "support-case", "support-case/conflict")


@pytest.fixture
def corpus(tmp_path: Path) -> str:
    """A store of recorded boards: a committed one, one waiting for a person, one escalated."""
    url = f"sqlite:///{tmp_path / 'corpus.db'}"
    with Blackboard.open(url) as bb:
        for name in CORPUS:
            scenarios.get(name).run_sync(bb)
    return url


def test_the_recorded_policies_hold_on_every_board(corpus: str) -> None:
    same = scenarios.get("support-case").policy
    assert same is not None
    reports = assert_policy_holds(corpus, policy=same, boards=["support-case", "support-case-conflict"])
    assert [r.would_be for r in reports] == ["awaiting_approval", "escalated"]


def test_a_stricter_policy_fails_the_check_listing_what_would_change(corpus: str, tmp_path: Path) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text("default: deny\nrules:\n  - rule: min_confidence\n    threshold: 0.99\n")
    with pytest.raises(AssertionError) as failed:
        assert_policy_holds(corpus, policy=strict)
    message = str(failed.value)
    assert message.startswith("the changed policy or rules would decide 2 of 3 recorded board(s) differently")
    assert "outcome: committed -> escalated" in message
    assert "support-case-conflict" not in message  # escalated before any proposal: nothing to re-judge there
    with Blackboard.open(corpus) as bb:
        reports = whatif_boards(bb, policy=policies.load(strict))
    assert [(r.board, r.changed) for r in reports] == [
        ("handoffs", True),
        ("support-case", True),
        ("support-case-conflict", False),
    ]


def test_rules_by_reference_and_what_is_refused(corpus: str) -> None:
    stricter = "slateboard.scenarios.handoffs:VARIANTS"
    with pytest.raises(ConfigurationError, match="is not a rule"):
        assert_policy_holds(corpus, rules=stricter, boards=["handoffs"])
    with pytest.raises(ConfigurationError, match="is a function, not a list or tuple of rules"):
        load_rules("slateboard.scenarios.handoffs:handoffs")
    with pytest.raises(ConfigurationError, match="a what-if needs a changed policy or rule set"):
        assert_policy_holds(corpus)
    with pytest.raises(ConfigurationError, match="cannot load the rules"):
        load_rules("slateboard.scenarios.handoffs:NOPE")
