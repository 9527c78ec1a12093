"""Running a conformance suite on every registered store, and the checks the suites share.

`OnRegisteredStores` is mixed in before a suite (`BlackboardConformance`, `LedgerConformance`, `SinkConformance`):
the pytest plugin's `slateboard_store_kind` fixture names the stores, by default every registered one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slateboard.blackboard import Blackboard
from slateboard.blackboard.stores.registry import StoreBackend, UnavailableForTests, backend_for_tests
from slateboard.errors import ConfigurationError

__all__ = ("OnRegisteredStores", "check", "check_equal")


def check(condition: object, what: str) -> None:
    """Fail the test unless `condition` holds. Not `assert`: a suite must not pass vacuously under `python -O`."""
    if not condition:
        raise AssertionError(f"conformance check failed: {what}")


def check_equal(actual: object, expected: object) -> None:
    """Fail the test, showing both values, unless they are equal."""
    if actual != expected:
        raise AssertionError(f"conformance check failed: got {actual!r}, expected {expected!r}")


class OnRegisteredStores:
    """Mix in before a conformance suite to run it on each store `slateboard_store_kind` names (by default every
    registered one): `open_blackboard` makes a fresh store through the backend's `test_url`, and `reopen` opens
    the same URL again where the backend is `reopenable`."""

    _backend: StoreBackend
    _directory: Path
    _opened: int

    @pytest.fixture(autouse=True)
    def _slateboard_conformance_store(self, slateboard_store_kind: str, tmp_path: Path) -> None:
        try:
            self._backend = backend_for_tests(slateboard_store_kind)
        except ConfigurationError as exc:
            pytest.fail(f"slateboard conformance: {exc}", pytrace=False)
        self._directory = tmp_path
        self._opened = 0

    def open_blackboard(self) -> Blackboard:
        """A blackboard on a fresh store of the backend (a new directory each time, for backends with files)."""
        self._opened += 1
        directory = self._directory / f"store-{self._opened}"
        directory.mkdir()
        try:
            url = self._backend.fresh_url(directory)
        except UnavailableForTests as exc:  # a store whose server is not reachable here: skip, saying why
            pytest.skip(f"slateboard conformance: {exc}")
        return Blackboard.open(url)

    def reopen(self, blackboard: Blackboard) -> Blackboard | None:
        """A second handle on the same storage: the same URL opened again, where the backend keeps it."""
        return Blackboard.open(blackboard.url) if self._backend.reopenable else None
