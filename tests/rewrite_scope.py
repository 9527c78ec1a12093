"""Assert rewriting for the suite's own test files only (loaded first: `-p tests.rewrite_scope` in addopts).

pytest rewrites the `assert` statements of every module of every installed distribution that offers a pytest
plugin: here all of slateboard (it ships one), langsmith, hypothesis, anyio and xdist, some 600 modules. The
rewritten code is cached only where bytecode may be written, so with PYTHONDONTWRITEBYTECODE set (as on this
machine and in CI) every pytest process (each xdist worker, each example run under pytest) parses and rewrites all
of them again: about 9 s of CPU a process, more than collecting the tests costs. None of it tells us anything:
slateboard's library code has no `assert` statements (CI checks it), and a failing assert inside a third-party
library is that library's bug, reported with its line either way.

A plugin named with `-p` is imported after pytest marks those packages and before it imports them, so clearing the
marks here leaves rewriting where it is useful: test files, conftest files, and whatever a conftest registers
with `pytest.register_assert_rewrite`. The marks live in a private attribute of pytest's import hook; should it
change, nothing here breaks a run: the suite is then only as slow as before.
"""

import sys

from _pytest.assertion.rewrite import AssertionRewritingHook


def _keep_rewriting_to_test_files() -> None:
    for finder in sys.meta_path:
        if isinstance(finder, AssertionRewritingHook):  # absent under --assert=plain
            marked = vars(finder).get("_must_rewrite")
            cache = vars(finder).get("_marked_for_rewrite_cache")
            if isinstance(marked, set) and isinstance(cache, dict):
                marked.clear()
                cache.clear()


_keep_rewriting_to_test_files()
