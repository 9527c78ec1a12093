"""tests.rewrite_scope (loaded by the addopts): asserts are rewritten in the test files, not in library packages."""

import sys
from types import CodeType

import _pytest.assertion.rewrite as rewriting
import pytest
from _pytest.assertion.rewrite import AssertionRewritingHook

import slateboard.blackboard.board

pytest_plugins = ["pytester"]


def test_a_failing_assert_in_a_test_file_still_shows_both_sides() -> None:
    seen = [1, 2]
    with pytest.raises(AssertionError) as caught:
        assert seen == [1, 3]
    assert "[1, 2] == [1, 3]" in str(caught.value)
    assert isinstance(sys.modules[__name__].__loader__, AssertionRewritingHook)


def test_library_modules_are_imported_as_they_are() -> None:
    assert "tests.rewrite_scope" in sys.modules  # the addopts loaded it
    for module in (slateboard.blackboard.board, sys.modules["hypothesis"], sys.modules["anyio"]):
        assert not isinstance(module.__loader__, AssertionRewritingHook), module.__name__


def test_under_xdist_the_main_process_caches_the_rewritten_test_files(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers then read the cache (checked against the source's hash) instead of each rewriting every file."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # the configured runs are main processes
    pytester.makepyfile(test_cached="def test_it():\n    seen = 1\n    assert seen == 2\n")
    pytester.makepyfile(helper="X = 1\n")  # not a test file: imported plainly, never cached
    cached = pytester.path / "__pycache__" / f"test_cached{rewriting.PYC_TAIL}"
    pytester.parseconfigure(pytester.path, "-n", "0", "-p", "tests.rewrite_scope")
    assert not cached.exists()  # one process: it rewrites what it imports itself
    pytester.parseconfigure(pytester.path, "-n", "1", "-p", "tests.rewrite_scope")
    code = rewriting._read_pyc(pytester.path / "test_cached.py", cached)
    assert code is not None
    [test_it] = [c for c in code.co_consts if isinstance(c, CodeType)]
    assert "@py_assert1" in test_it.co_varnames  # rewritten
    assert list((pytester.path / "__pycache__").iterdir()) == [cached]
