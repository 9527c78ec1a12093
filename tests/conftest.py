import os
from collections.abc import Iterator

import pytest

from slateboard import Blackboard
from slateboard.testing.postgres import REQUIRE, VARIABLE, Unavailable, throwaway_server


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bb(slateboard_store: Blackboard) -> Blackboard:
    """A fresh store, once on memory:// and once on a SQLite file: the slateboard pytest plugin's own fixture."""
    return slateboard_store


@pytest.fixture(scope="session")
def postgres_session() -> Iterator[str]:
    """A PostgreSQL server for this session (one per xdist worker), started at its first use and stopped at the
    end; skips when none can be had, and fails instead with SLATEBOARD_REQUIRE_POSTGRES=1 (CI). Module-scoped
    fixtures use it directly, making their own schemas (function-scoped ones: `postgres_server`)."""
    try:
        with throwaway_server() as url:
            yield url
    except Unavailable as exc:
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{REQUIRE}=1 but {exc}", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture
def postgres_server(postgres_session: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's PostgreSQL server URL, also in SLATEBOARD_TEST_POSTGRES for this test only, so the postgresql
    backend's test_url makes fresh schemas on it (and other tests, such as the plugin's own, never see it)."""
    monkeypatch.setenv(VARIABLE, postgres_session)
    return postgres_session


@pytest.fixture
def slateboard_store_kind(slateboard_store_kind: str, request: pytest.FixtureRequest) -> str:
    """The plugin's store parameter, with the PostgreSQL server started (or the test skipped) for "postgresql"."""
    if slateboard_store_kind == "postgresql":
        request.getfixturevalue("postgres_server")
    return slateboard_store_kind


@pytest.fixture(autouse=True)
def _postgres_for_fresh_stores(request: pytest.FixtureRequest) -> None:
    """`slateboard_fresh` makes its stores inside the test body: for "postgresql", start (or skip, or in CI fail
    for want of) the server first, as `slateboard_store_kind` does."""
    fresh = "slateboard_fresh_kind" in request.fixturenames
    if fresh and request.getfixturevalue("slateboard_fresh_kind") == "postgresql":
        request.getfixturevalue("postgres_server")
