"""The slateboard pytest plugin, loaded through the `pytest11` entry point whenever slateboard is installed.

Fixtures (function-scoped but the last: every test gets its own store, so no test sees another's boards):

- `slateboard_memory`, `slateboard_sqlite`: an open `Blackboard` on a fresh memory store or on a SQLite file in
  `tmp_path`.
- `slateboard_store_kind`: the registered store backend (its URL scheme) the test runs on. Like anyio's
  `anyio_backend`, it is parametrized by default, over the stores `--slateboard-store` (or the `slateboard_store`
  ini option) selects, every registered one unless told otherwise; override it in a `conftest.py` to run everything
  on one store of your own.
- `slateboard_store`: an open `Blackboard` on a fresh store of `slateboard_store_kind`, so a test using it runs once
  per store (`test_x[memory]`, `test_x[sqlite]`).
- `slateboard_board`: a fresh board on `slateboard_store`, verified at teardown.
- `slateboard_scenario`: a `ScenarioFactory`; `slateboard_scenario("support-case/conflict")` runs a scenario on
  `slateboard_store` and returns the `ScenarioRun`; the boards it ran on are verified at teardown.
- `scenario_run`: the `ScenarioRun` of the test's `@pytest.mark.slateboard_scenario(...)` marker.
- `slateboard_fresh` (session-scoped, so safe inside hypothesis' `@given`): a `FreshStores` factory;
  `with slateboard_fresh.board() as board:` gives each example a new store and board, verified and closed when the
  example ends. Its store is `slateboard_fresh_kind`, session-scoped and parametrized like `slateboard_store_kind`.

The marker `@pytest.mark.slateboard_scenario(scenario, expect=None, board=None)` turns a test into a scenario check:
the scenario runs on `slateboard_store` before the test body, and the test fails, listing the problems, when the
outcome differs from the expectation. The body runs only when the outcome matches.

Every piece a collector of scenario files needs is a plain function here (`resolve_scenario`, `store_kinds`,
`store_choices`, `open_blackboard`, `verify_boards`, `expectation_failure`), so such a collector is a thin layer
over them.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from slateboard._internal.sync import run_sync
from slateboard.blackboard.board import Blackboard, Board
from slateboard.blackboard.stores.registry import BUILTIN_SCHEMES, registered_schemes
from slateboard.commit.layer import CommitTarget
from slateboard.errors import ConfigurationError, ScenarioError
from slateboard.scenarios.catalog import resolve
from slateboard.scenarios.model import Expectation, Scenario, ScenarioRun
from slateboard.testing.fresh import FreshStores, open_blackboard, verify_boards

__all__ = (
    "FreshStores",
    "ScenarioFactory",
    "expectation_failure",
    "open_blackboard",
    "resolve_scenario",
    "store_choices",
    "store_kinds",
    "verify_boards",
)

_ALL, _BOTH = "all", "both"  # every registered store; the two built-ins (memory and sqlite)
_OPTION, _INI = "--slateboard-store", "slateboard_store"
_MARKER = "slateboard_scenario"
_RUN_KEY = pytest.StashKey[ScenarioRun]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("slateboard")
    # Checked in pytest_configure, not by argparse: a conftest.py may register a store after options are read.
    group.addoption(
        _OPTION,
        action="append",
        default=None,
        metavar="STORE",
        help=f"a store the slateboard_store fixture runs on (repeat for several): one of {', '.join(store_choices())} "
        f"(default: the {_INI} ini option, else all)",
    )
    parser.addini(_INI, help=f"default for {_OPTION}: store names separated by spaces, or all, or both", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(scenario, expect=None, board=None): run a slateboard scenario (a built-in name, a YAML file, "
        "module:attribute or a Scenario) on slateboard_store and fail the test when its outcome differs from the "
        "expectation; the test receives the ScenarioRun as the scenario_run fixture",
    )
    # A bad choice fails the session at once, not in the first test that uses a store.
    store_kind, fresh_kind = _store_kind_plugins(store_kinds(config))
    config.pluginmanager.register(store_kind, "slateboard-store-kind")
    config.pluginmanager.register(fresh_kind, "slateboard-fresh-kind")


def store_choices() -> tuple[str, ...]:
    """What `--slateboard-store` accepts: every registered store backend, `all`, and `both` (memory and sqlite)."""
    return (*registered_schemes(), _ALL, _BOTH)


def store_kinds(config: pytest.Config) -> tuple[str, ...]:
    """The stores `slateboard_store` runs on: `--slateboard-store`, else the ini option, else all registered."""
    chosen: list[str] = config.getoption(_OPTION) or []
    source = _OPTION
    if not chosen:
        chosen = str(config.getini(_INI)).replace(",", " ").split()
        source = f"{_INI} ="
    known = registered_schemes()
    kinds: list[str] = []
    for choice in chosen or [_ALL]:
        if choice == _ALL:
            kinds += known
        elif choice == _BOTH:
            kinds += BUILTIN_SCHEMES
        elif choice in known:
            kinds.append(choice)
        else:
            raise pytest.UsageError(f"{source} {choice!r}: choose one of {', '.join(store_choices())}")
    return tuple(dict.fromkeys(kinds))


def _store_kind_plugins(kinds: tuple[str, ...]) -> tuple[object, object]:
    """The default `slateboard_store_kind` and `slateboard_fresh_kind` fixtures, made once the session's options
    say which stores to run on.

    The parameters are the fixture's own (as with anyio's `anyio_backend`), so a `conftest.py` fixture of the same
    name replaces it whole, and a test that parametrizes `slateboard_store_kind` itself keeps its own choice.
    """

    class StoreKind:
        @pytest.fixture(params=kinds)
        def slateboard_store_kind(self, request: pytest.FixtureRequest) -> str:
            """The registered store (its URL scheme: "memory", "sqlite", ...) slateboard_store runs on in this
            test; parametrized over --slateboard-store's stores. Override it in conftest.py to choose your own."""
            return str(request.param)

    # A plain function, not a method: pytest deprecates session-scoped fixtures defined as instance methods.
    @pytest.fixture(scope="session", params=kinds)
    def slateboard_fresh_kind(request: pytest.FixtureRequest) -> str:
        """The registered store slateboard_fresh makes its stores on; session-scoped (safe in @given) and
        parametrized over --slateboard-store's stores. Override it in conftest.py with scope="session"."""
        return str(request.param)

    fresh = types.ModuleType("slateboard_fresh_kind")  # pytest reads fixtures from a module's own attributes
    fresh.slateboard_fresh_kind = slateboard_fresh_kind  # type: ignore[attr-defined]
    return StoreKind(), fresh


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Module | pytest.Class, name: str, obj: object) -> None:
    # A marked test need not ask for `scenario_run`: it is added here, before pytest works out the test's fixture
    # closure, so the scenario runs and the store parametrization applies to it as well.
    # A mark on a class or module goes on that node, not on the function, which a subclass may share unmarked.
    if not callable(obj) or not collector.istestfunction(obj, name):
        return
    uses_run = pytest.mark.usefixtures("scenario_run")
    function = getattr(obj, "__func__", obj)
    if any(mark.name == _MARKER for mark in getattr(function, "pytestmark", ())):
        uses_run(function)
    elif collector.get_closest_marker(_MARKER) is not None and uses_run.mark not in collector.own_markers:
        collector.add_marker(uses_run)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    run = item.stash.get(_RUN_KEY, None)
    if run is not None and run.problems:
        pytest.fail(expectation_failure(run), pytrace=False)


def resolve_scenario(scenario: str | Path | Scenario) -> Scenario:
    """A `Scenario` given as itself, by built-in name (`family` or `family/variant`), by the path of a YAML
    scenario file, or as `package.module:attribute`."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, str | Path):
        return resolve(str(scenario))
    raise ConfigurationError(f"a scenario is a name, a file, module:attribute or a Scenario, got {scenario!r}")


def expectation_failure(run: ScenarioRun) -> str:
    """A readable account of how `run`'s outcome differs from its expectation, with the outcome's reasons."""
    lines = [
        f"scenario {run.scenario.title!r} on {run.board.store.url} (board {run.board.name!r}) did not end as expected:",
        *(f"  - {problem}" for problem in run.problems),
        f"outcome: {run.outcome.status}",
        *(f"  reason: {reason}" for reason in run.outcome.reasons),
    ]
    return "\n".join(lines)


class ScenarioFactory:
    """Runs scenarios on one blackboard: call it from sync tests, await `run` from async ones.

    `expect` replaces the scenario's own expectation (a status string is shorthand for `Expectation(status)`);
    `board` defaults to the scenario's title, so running the same scenario twice resumes the same board.
    """

    def __init__(self, blackboard: Blackboard) -> None:
        self.blackboard = blackboard
        self._runs: list[ScenarioRun] = []

    @property
    def runs(self) -> tuple[ScenarioRun, ...]:
        """Every run made through this factory, in order."""
        return tuple(self._runs)

    def __call__(
        self,
        scenario: str | Scenario,
        *,
        expect: Expectation | str | None = None,
        board: str | None = None,
        sink: CommitTarget | None = None,
    ) -> ScenarioRun:
        """Run `scenario` to its outcome on the fixture's store and return the run (its `problems` unchecked)."""
        try:
            return run_sync(self._run, scenario, expect, board, sink)
        except RuntimeError as exc:
            # anyio.run's refusal inside a running loop; say what to do instead.
            if not str(exc).startswith("Already running"):
                raise
            raise ConfigurationError(
                "slateboard_scenario(...) cannot run inside an event loop: use `await slateboard_scenario.run(...)`"
            ) from exc

    async def run(
        self,
        scenario: str | Scenario,
        *,
        expect: Expectation | str | None = None,
        board: str | None = None,
        sink: CommitTarget | None = None,
    ) -> ScenarioRun:
        """`__call__` for async tests."""
        return await self._run(scenario, expect, board, sink)

    async def _run(
        self, scenario: str | Scenario, expect: Expectation | str | None, board: str | None, sink: CommitTarget | None
    ) -> ScenarioRun:
        chosen = resolve_scenario(scenario)
        if expect is not None:
            expectation = Expectation(status=expect) if isinstance(expect, str) else expect
            chosen = dataclasses.replace(chosen, expect=expectation)
        run = await chosen.run(self.blackboard, board=board, sink=sink)
        self._runs.append(run)
        return run

    def boards(self) -> list[Board]:
        """The distinct boards the runs used."""
        return list({id(run.board): run.board for run in self._runs}.values())


class _Blackboards:
    """The blackboards one test opened, one per store kind, all closed at its end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.opened: dict[str, Blackboard] = {}

    def get(self, kind: str) -> Blackboard:
        if kind not in self.opened:
            self.opened[kind] = open_blackboard(kind, self.directory)
        return self.opened[kind]

    def close(self) -> None:
        for blackboard in self.opened.values():
            blackboard.close()


@pytest.fixture
def _slateboard_blackboards(tmp_path: Path) -> Iterator[_Blackboards]:
    # One per kind and test: slateboard_sqlite and slateboard_store[sqlite] are the same blackboard.
    blackboards = _Blackboards(tmp_path)
    yield blackboards
    blackboards.close()


@pytest.fixture
def slateboard_memory(_slateboard_blackboards: _Blackboards) -> Blackboard:
    """An open `Blackboard` on a fresh in-memory store, closed after the test."""
    return _slateboard_blackboards.get("memory")


@pytest.fixture
def slateboard_sqlite(_slateboard_blackboards: _Blackboards) -> Blackboard:
    """An open `Blackboard` on a fresh SQLite file in `tmp_path` (`slateboard.db`), closed after the test."""
    return _slateboard_blackboards.get("sqlite")


@pytest.fixture
def slateboard_store(_slateboard_blackboards: _Blackboards, slateboard_store_kind: str) -> Blackboard:
    """An open `Blackboard` on a fresh store of `slateboard_store_kind` (by default the test runs once per store
    --slateboard-store selects), closed after the test."""
    return _slateboard_blackboards.get(slateboard_store_kind)


@pytest.fixture(scope="session")
def slateboard_fresh(slateboard_fresh_kind: str, tmp_path_factory: pytest.TempPathFactory) -> FreshStores:
    """A factory of fresh stores, safe inside `@given`: `with slateboard_fresh.board() as board:` makes a new store
    and board for each example, verified and closed when the example ends (`async with` in async tests)."""
    return FreshStores(slateboard_fresh_kind, tmp_path_factory.mktemp(f"slateboard-fresh-{slateboard_fresh_kind}"))


@pytest.fixture
def slateboard_board(request: pytest.FixtureRequest, slateboard_store: Blackboard) -> Iterator[Board]:
    """A fresh board (named after the test) on `slateboard_store`; its hash chain is verified at teardown."""
    board = slateboard_store.board(request.node.originalname if isinstance(request.node, pytest.Function) else "board")
    yield board
    verify_boards([board])


@pytest.fixture
def slateboard_scenario(slateboard_store: Blackboard) -> Iterator[ScenarioFactory]:
    """A `ScenarioFactory` on `slateboard_store`: `slateboard_scenario("support-case/conflict")` -> ScenarioRun.

    Every board a run used is verified at teardown.
    """
    factory = ScenarioFactory(slateboard_store)
    yield factory
    verify_boards(factory.boards())


@pytest.fixture
def scenario_run(request: pytest.FixtureRequest, slateboard_scenario: ScenarioFactory) -> ScenarioRun:
    """The `ScenarioRun` of the test's `@pytest.mark.slateboard_scenario(...)`, run on `slateboard_store`."""
    mark = request.node.get_closest_marker(_MARKER)
    if mark is None:
        pytest.fail(f"scenario_run needs @pytest.mark.{_MARKER}(scenario, expect=...) on the test", pytrace=False)
    unknown = set(mark.kwargs) - {"expect", "board"}
    if len(mark.args) != 1 or unknown:
        pytest.fail(
            f"@pytest.mark.{_MARKER} takes one scenario and optionally expect= and board=, "
            f"got args {mark.args!r} and keywords {sorted(mark.kwargs)}",
            pytrace=False,
        )
    try:
        scenario = resolve_scenario(mark.args[0])
    except ScenarioError as exc:
        pytest.fail(f"@pytest.mark.{_MARKER}: {exc}", pytrace=False)
    run = slateboard_scenario(scenario, expect=mark.kwargs.get("expect"), board=mark.kwargs.get("board"))
    if run.scenario.expect is None:
        pytest.fail(f"scenario {run.scenario.title!r} expects nothing: give the marker expect=", pytrace=False)
    request.node.stash[_RUN_KEY] = run
    return run
