from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slateboard import Blackboard
from slateboard.blackboard.stores.postgres import backend
from slateboard.workers import WorkQueue, queue_of


@pytest.fixture
def url(postgres_server: str, tmp_path: Path) -> str:
    """A fresh schema on the session's PostgreSQL server."""
    return backend.fresh_url(tmp_path)


@pytest.fixture
def bb(url: str) -> Iterator[Blackboard]:
    with Blackboard.open(url) as blackboard:
        yield blackboard


@pytest.fixture
def queue(bb: Blackboard) -> WorkQueue:
    return queue_of(bb)
