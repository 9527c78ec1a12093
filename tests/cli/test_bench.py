"""`slateboard bench` measures real work: every case runs to its outcome, and the reference appends the same rows."""

import json
from pathlib import Path

import pytest

from slateboard.cli.bench import bench
from slateboard.errors import ConfigurationError
from tests.cli.conftest import Invoke


def test_bench_runs_every_case_and_the_reference_writes_the_same_rows(tmp_path: Path) -> None:
    result = bench(cases=6, concurrency=3, directory=tmp_path)
    assert result.statuses == {"awaiting_approval": 6}  # the support case's happy path, every time
    assert result.entries == 26 * 6  # each case's log, as `slateboard run support-case` shows it
    assert result.transactions == 8 * 6  # the engine's own appends: a cycle's results with its next decision
    assert result.seconds > 0
    assert result.raw_seconds > 0
    assert result.ratio == pytest.approx(result.raw_seconds / result.seconds)
    assert list(tmp_path.iterdir()) == []  # its files were removed


def test_bench_refuses_nonsense_sizes() -> None:
    with pytest.raises(ConfigurationError, match="cases >= 1 and concurrency >= 1"):
        bench(cases=0)
    with pytest.raises(ConfigurationError, match="got 2 and 0"):
        bench(cases=2, concurrency=0)


def test_the_bench_command_prints_its_figures_and_json(slateboard: Invoke, tmp_path: Path) -> None:
    text = slateboard("bench", "--cases", "3", "--dir", str(tmp_path))
    assert text.code == 0, text.stderr
    assert "3 support cases, 8 at once: awaiting_approval 3" in text.stdout
    assert "78 entries in 24 appends" in text.stdout
    assert "ratio raw/engine: " in text.stdout
    machine = slateboard("bench", "--cases", "3", "--concurrency", "2", "--dir", str(tmp_path), "--json")
    document = json.loads(machine.stdout)
    assert (document["cases"], document["concurrency"], document["entries"]) == (3, 2, 78)
    assert document["statuses"] == {"awaiting_approval": 3}
    assert document["ratio"] == pytest.approx(document["raw_seconds"] / document["seconds"])
    assert list(tmp_path.iterdir()) == []  # its temporary files were removed; it never opens the default store
