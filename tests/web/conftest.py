"""Fixtures of the review page's tests: a store where support-case waits for a person and a conflict escalated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slateboard import Blackboard, scenarios
from slateboard.observe import board_audit

TOKEN = "test-token-" + "x" * 24
WAITING = "support-case"
CONFLICT = "sc-conflict"
SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A SQLite store where `support-case` waits for a reply's approval and `sc-conflict` escalated."""
    url = f"sqlite:///{tmp_path / 'review.db'}"
    with Blackboard.open(url) as blackboard:
        scenarios.resolve("support-case").run_sync(blackboard, board=WAITING)
        scenarios.resolve("support-case", "conflict").run_sync(blackboard, board=CONFLICT)
    return url


@pytest.fixture
def blackboard(store_url: str) -> Iterator[Blackboard]:
    with Blackboard.open(store_url) as bb:
        yield bb


def waiting_key(blackboard: Blackboard) -> str:
    """The key of the reply waiting on `support-case`."""
    return board_audit(blackboard, WAITING).waiting[0]
