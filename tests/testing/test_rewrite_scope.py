"""tests.rewrite_scope (loaded by the addopts): asserts are rewritten in the test files, not in library packages."""

import sys

import pytest
from _pytest.assertion.rewrite import AssertionRewritingHook

import slateboard.blackboard.board


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
