"""Every file in examples/ runs, as a user would run it, in a fresh process.

A property example (any examples/*.py that defines a `test_` function) is run with `python -m pytest FILE -n 0`
and must pass: in one process, as a file of a few tests needs (the repository's addopts would otherwise start an
xdist worker per core, each importing everything again, for a file xdist keeps on one worker anyway). Any other
example is a script, run as `python examples/FILE --quick` (every script accepts `--quick`: a small run for CI),
and must exit 0. Each runs from an empty directory of its own, so nothing it writes (a database, hypothesis's
example store) lands in the repository. All of them start at once and each test waits for its own, so the suite
takes about as long as the slowest example, not the sum of them.
"""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILES = sorted(EXAMPLES.glob("*.py"))
TIMEOUT = 240

pytestmark = pytest.mark.slow
NO_LANGSMITH = ("-p", "no:langsmith_plugin")  # a second of imports per process, used by no example


def is_property_example(path: Path) -> bool:
    return "def test_" in path.read_text(encoding="utf-8")


def command(path: Path) -> list[str]:
    if is_property_example(path):
        return [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider", "-n", "0", *NO_LANGSMITH]
    return [sys.executable, str(path), "--quick"]


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[Path, tuple[subprocess.Popen[bytes], Path]]]:
    """Every example's process, started together; output goes to a file (a pipe could fill up and block)."""
    running: dict[Path, tuple[subprocess.Popen[bytes], Path]] = {}
    try:
        for path in FILES:
            where = tmp_path_factory.mktemp(path.stem)
            with (where / "output.txt").open("wb") as out:
                running[path] = (
                    subprocess.Popen(command(path), cwd=where, stdout=out, stderr=subprocess.STDOUT),
                    where,
                )
        yield running
    finally:
        for process, _ in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def test_the_examples_are_found() -> None:
    names = [p.name for p in FILES]
    assert "10_property_no_commit_on_disagreement.py" in names
    assert sum(map(is_property_example, FILES)) >= 3


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_example_runs(path: Path, launched: dict[Path, tuple[subprocess.Popen[bytes], Path]]) -> None:
    process, where = launched[path]
    code = process.wait(timeout=TIMEOUT)
    output = (where / "output.txt").read_text(encoding="utf-8", errors="replace")
    assert code == 0, f"{' '.join(command(path))} exited {code}\n{output}"
    if is_property_example(path):
        assert " passed" in output, output
