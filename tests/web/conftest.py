"""Fixtures of the review page's tests: a store where support-case waits for a person and a conflict escalated."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from slateboard import Blackboard, Finding, scenarios
from slateboard.observe import board_audit

TOKEN = "test-token-" + "x" * 24
WAITING = "support-case"
CONFLICT = "sc-conflict"
SCRIPT = "<script>alert('x')</script>"


class Note(Finding):
    """A finding whose text is whatever an agent (or an attacker behind it) wrote."""

    kind_name = "tests.web.Note"
    text: str


def in_thread(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`call(*args, **kwargs)` in a fresh thread: Playwright's sync API keeps an event loop running on the test's
    thread, where slateboard's sync facade (which starts its own loop) may not run."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call, *args, **kwargs).result()


def _fill(url: str) -> None:
    with Blackboard.open(url) as blackboard:
        scenarios.resolve("support-case").run_sync(blackboard, board=WAITING)
        scenarios.resolve("support-case", "conflict").run_sync(blackboard, board=CONFLICT)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A SQLite store where `support-case` waits for a reply's approval and `sc-conflict` escalated."""
    url = f"sqlite:///{tmp_path / 'review.db'}"
    in_thread(_fill, url)
    return url


@pytest.fixture
def blackboard(store_url: str) -> Iterator[Blackboard]:
    with Blackboard.open(store_url) as bb:
        yield bb


def waiting_key(blackboard: Blackboard) -> str:
    """The key of the reply waiting on `support-case`."""
    waiting: tuple[str, ...] = in_thread(board_audit, blackboard, WAITING).waiting
    return waiting[0]
