"""Fresh stores and boards for tests: one per test, or one per hypothesis example.

The plugin's function-scoped fixtures (`slateboard_store`, `slateboard_board`) are made once per test, so inside
`@given` every example would share one store, and hypothesis' `function_scoped_fixture` health check says so.
`FreshStores` is what the session-scoped `slateboard_fresh` fixture gives instead: it makes a new, empty store (and
board) each time it is asked, inside the example, and closes it (verifying the board) when the example is done:

```python
@given(ev=sb.evidence(Entitlement, "entitled"))
def test_each_example_gets_its_own_board(slateboard_fresh, ev):
    with slateboard_fresh.board() as board:          # `async with` in an async test
        anyio.run(ev.write, board)
```

`open_blackboard` and `verify_boards` are the pieces the plugin's own fixtures use too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Generic, TypeVar

import pytest

from slateboard._internal.sync import run_sync
from slateboard.blackboard.board import Blackboard, Board
from slateboard.blackboard.stores.registry import UnavailableForTests, backend_for_tests
from slateboard.errors import ConfigurationError, TamperedLogError

__all__ = ("FreshStores", "Fresh", "board_problems", "open_blackboard", "verify_boards")

T = TypeVar("T", Blackboard, Board)


def open_blackboard(kind: str, directory: Path) -> Blackboard:
    """A fresh `Blackboard` on the registered store `kind` ("memory", "sqlite", ...), its files (if any) under
    `directory`."""
    try:
        url = backend_for_tests(kind).fresh_url(directory)
    except UnavailableForTests as exc:  # a store whose server is not reachable here: skip, saying why
        pytest.skip(f"slateboard: {exc}")
    except ConfigurationError as exc:
        raise pytest.UsageError(f"slateboard: {exc}") from exc
    return Blackboard.open(url)


async def board_problems(boards: Iterable[Board]) -> list[str]:
    """What is wrong with each board's log: an edited, reordered or removed entry, or a tail cut short."""
    problems = []
    for board in boards:
        try:
            head = await board.verify()
        except TamperedLogError as exc:
            problems.append(f"board {board.name!r} on {board.store.url}: {exc}")
            continue
        # verify() alone cannot see a removed tail; the entries this process already read can.
        seen = board.cache_info().entries
        if head.version < seen:
            problems.append(f"board {board.name!r} on {board.store.url}: truncated to {head.version} of {seen} entries")
    return problems


def _fail_on(problems: list[str], when: str) -> None:
    if problems:
        pytest.fail(f"slateboard: verification failed {when}:\n  " + "\n  ".join(problems), pytrace=False)


def verify_boards(boards: Iterable[Board]) -> None:
    """Fail the test when any board's log was edited, reordered or cut short behind this process's back."""
    _fail_on(run_sync(board_problems, list(boards)), "at teardown")


class Fresh(Generic[T]):
    """A new store, opened on entering (`with` or `async with`) and closed on leaving; a board is verified first.

    Leaving because the body raised closes the store without verifying, so the body's own error is what shows.
    """

    def __init__(self, stores: FreshStores, pick: Callable[[Blackboard], T], board: str | None) -> None:
        self._stores = stores
        self._pick: Callable[[Blackboard], T] = pick
        self._board_name = board
        self._blackboard: Blackboard | None = None
        self._directory: Path | None = None

    def _open(self) -> T:
        self._directory = self._stores.new_directory()
        self._blackboard = open_blackboard(self._stores.kind, self._directory)
        return self._pick(self._blackboard)

    def _board(self) -> list[Board]:
        if self._blackboard is None or self._board_name is None:
            return []
        return [self._blackboard.board(self._board_name)]

    def _close(self) -> None:
        if self._blackboard is not None:
            self._blackboard.close()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)  # hundreds of examples leave no files behind

    def __enter__(self) -> T:
        return self._open()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if kind is None and self._board():
                try:
                    problems = run_sync(board_problems, self._board())
                except RuntimeError as exc:  # anyio.run refuses inside a running event loop
                    raise ConfigurationError("inside an async test, use `async with slateboard_fresh.board()`") from exc
                _fail_on(problems, "when the example ended")
        finally:
            self._close()

    async def __aenter__(self) -> T:
        return self._open()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                _fail_on(await board_problems(self._board()), "when the example ended")
        finally:
            self._close()


def _itself(blackboard: Blackboard) -> Blackboard:
    return blackboard


class FreshStores:
    """Makes a new, empty store of one registered `kind` each time: the `slateboard_fresh` fixture.

    Safe inside `@given` (the fixture is session-scoped; each example asks for its own store). Files of a store with
    files (SQLite) go in a new directory under `directory`, removed when the store is closed.
    """

    def __init__(self, kind: str, directory: Path) -> None:
        self.kind = kind
        self.directory = directory
        self.made = 0

    def new_directory(self) -> Path:
        """A new, empty directory for the next store."""
        self.made += 1
        path = self.directory / f"store-{self.made}"
        path.mkdir(parents=True)
        return path

    def blackboard(self) -> Fresh[Blackboard]:
        """`with slateboard_fresh.blackboard() as bb:` an open `Blackboard` on a new store, closed on leaving."""
        return Fresh(self, _itself, None)

    def board(self, name: str = "board") -> Fresh[Board]:
        """`with slateboard_fresh.board() as board:` a board on a new store, verified and closed on leaving."""
        return Fresh(self, lambda blackboard: blackboard.board(name), name)
