"""`slateboard bench` measures real work: every case runs to its outcome, and the reference appends the same rows."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from slateboard.cli.bench import bench
from slateboard.errors import ConfigurationError


def test_bench_runs_every_case_and_the_reference_writes_the_same_rows(tmp_path: Path) -> None:
    result = bench(cases=6, concurrency=3, directory=tmp_path)
    assert result.statuses == {"awaiting_approval": 6}  # the support case's happy path, every time
    assert result.entries == 26 * 6  # each case's log, as `slateboard run support-case` shows it
    assert result.transactions == 14 * 6  # appended in the engine's own batches
    assert result.seconds > 0
    assert result.raw_seconds > 0
    assert result.ratio == pytest.approx(result.raw_seconds / result.seconds)
    assert list(tmp_path.iterdir()) == []  # its files were removed


def test_bench_refuses_nonsense_sizes() -> None:
    with pytest.raises(ConfigurationError, match="cases >= 1 and concurrency >= 1"):
        bench(cases=0)


def test_the_bench_command_prints_its_figures_and_json(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "slateboard.cli", "bench", "--cases", "3", "--dir", str(tmp_path)]
    text = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "3 support cases, 8 at once: awaiting_approval 3" in text
    assert "78 entries in 42 appends" in text
    assert "ratio raw/engine: " in text
    document = json.loads(subprocess.run([*command, "--json"], capture_output=True, text=True, check=True).stdout)
    assert (document["cases"], document["entries"], document["statuses"]) == (3, 78, {"awaiting_approval": 3})
