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

The test files themselves are rewritten by every xdist worker, since each collects the whole suite: some 6 s of
CPU a worker, and again on every run, as nothing may write pytest's cache of rewritten files either. Before the
workers start, the main process writes that cache (pytest's own files, `__pycache__/*-pytest-*.pyc`, checked
against each source's hash before use) for the files it lacks, so that the workers, and later runs, read it
instead. It uses pytest's private rewriting functions; should they change, the workers rewrite as before.
"""

import os
import sys
from pathlib import Path

import _pytest.assertion.rewrite as rewriting
import pytest
from _pytest.assertion import assertstate_key
from _pytest.assertion.rewrite import AssertionRewritingHook
from _pytest.pathlib import fnmatch_ex


def _keep_rewriting_to_test_files() -> None:
    for finder in sys.meta_path:
        if isinstance(finder, AssertionRewritingHook):  # absent under --assert=plain
            marked = vars(finder).get("_must_rewrite")
            cache = vars(finder).get("_marked_for_rewrite_cache")
            if isinstance(marked, set) and isinstance(cache, dict):
                marked.clear()
                cache.clear()


_keep_rewriting_to_test_files()


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist, in the main process: cache the rewritten test and conftest files the workers will import."""
    workers = config.getoption("numprocesses", None)
    if "PYTEST_XDIST_WORKER" in os.environ or not workers or config.getoption("assertmode") != "rewrite":
        return
    try:
        state = config.stash[assertstate_key]
        patterns = [*config.getini("python_files"), "conftest.py"]
        for path in _test_files(config, patterns):
            pyc = rewriting.get_cache_dir(path) / (path.name[:-3] + rewriting.PYC_TAIL)
            if rewriting._read_pyc(path, pyc) is None:
                pyc.parent.mkdir(exist_ok=True)
                source_hash, code = rewriting._rewrite_test(path, config)
                rewriting._write_pyc(state, code, source_hash, pyc)
    except (AttributeError, KeyError, TypeError, OSError):  # pytest's private functions changed: rewrite as before
        return


def _test_files(config: pytest.Config, patterns: list[str]) -> list[Path]:
    """The files under the run's paths (its arguments, else `testpaths`) named as test or conftest files."""
    found: set[Path] = set()
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::", 1)[0])
        candidates = path.rglob("*.py") if path.is_dir() else [path]
        found.update(p for p in candidates if any(fnmatch_ex(pattern, p) for pattern in patterns))
    return sorted(found)
