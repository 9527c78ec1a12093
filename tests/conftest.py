import compileall
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import slateboard
from slateboard import Blackboard
from slateboard.testing.postgres import REQUIRE, VARIABLE, Unavailable, throwaway_server


def pytest_configure(config: pytest.Config) -> None:
    """Compile slateboard and the tests' own modules to bytecode once, before any test starts a process.

    Some sixty-five tests start Python processes of their own, often several (crash tests, workers, the examples,
    the command line), and each imports slateboard. With PYTHONDONTWRITEBYTECODE set (as on this machine and in
    CI) nothing ever writes the bytecode, so each of them compiled all of slateboard from source again: a quarter of
    a second of CPU a process. Python checks a cached file against its source's size and time before using it, so
    an edited module is compiled afresh as always; this only writes the cache that the variable forbids, once a run
    (a second of CPU the first time, a few milliseconds of stat calls after), in the main process only (xdist's
    workers start after it)."""
    if "PYTEST_XDIST_WORKER" in os.environ:
        return
    for package in (Path(slateboard.__file__).parent, Path(__file__).parent):
        compileall.compile_dir(package, quiet=2)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist: the modules with a test marked `slow` first, then the others by their number of tests, most first.

    `--dist loadfile` hands each worker whole modules in the collected order (`--no-loadscope-reorder` in the
    addopts keeps it). xdist's own order, by number of tests alone, put the modules of one or two long tests (real
    processes) last, where one of them kept a worker busy for a minute after the other had run out of work. Started
    first, the long modules run while the many short ones wait, and those even out the end. A module's tests keep
    their order, so its module-scoped fixtures still start once."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    module = {id(item): item.nodeid.split("::", 1)[0] for item in items}
    sizes = Counter(module.values())
    slow = {module[id(item)] for item in items if item.get_closest_marker("slow") is not None}
    order = sorted(sizes, key=lambda name: (name not in slow, -sizes[name]))  # stable: ties keep collection order
    rank = {name: place for place, name in enumerate(order)}
    items.sort(key=lambda item: rank[module[id(item)]])


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytest's own `pytester`, its runs without LangSmith's plugin, as the suite's own (pyproject's addopts).

    An in-process run imports every plugin not yet imported, and pytester then takes the modules it imported out
    of `sys.modules` again: with the plugin kept out of the suite's process, each run imported LangSmith afresh,
    its asserts rewritten (some two seconds of CPU a run)."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:langsmith_plugin")
    return pytester


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
