"""The fault harness on each built-in scenario: SIGKILL at write boundaries then resume, a sink failing every other
call, hung agents of both kinds, a full disk and two controllers on one board, each in real processes; every case
must survive (no lost entry, no duplicate commit, verify and replay pass, the outcome is the uninterrupted run's or
records why not). The default matrix samples the kill points; SLATEBOARD_FAULTS=full kills at every boundary."""

from pathlib import Path

import pytest

from slateboard.testing.harness import FaultCase, FaultReport, kill_points, run_fault_matrix

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("scenario", ["support-case", "lead-to-cash", "handoffs"])
def test_every_fault_case_is_survived(scenario: str, tmp_path: Path) -> None:
    report = run_fault_matrix(scenario, tmp_path)
    assert report.survived == report.tried, report.summary()
    names = {case.name for case in report.cases}
    assert {"kill-before-1", "flaky-sink", "hung-sync", "hung-async", "pair"} <= names
    assert any(name.startswith("full-disk-") for name in names)
    assert sum(name.startswith("kill-after-") for name in names) >= 3
    assert any(name.startswith("sink.") for name in report.boundaries)  # the sample reaches a sink call


def test_the_full_matrix_kills_at_every_boundary_and_the_sample_around_the_first_sink_call() -> None:
    boundaries = ["store.append"] * 4 + ["ledger.claim", "sink.apply", "ledger.transition", "store.append"]
    assert kill_points(boundaries, full=True) == ["kill-before-1", *(f"kill-after-{k}" for k in range(1, 9))]
    assert kill_points(boundaries, full=False) == [
        "kill-before-1",
        "kill-after-1",
        "kill-after-5",
        "kill-after-6",
        "kill-after-7",
    ]


def test_a_report_counts_and_names_what_failed() -> None:
    report = FaultReport("x", (FaultCase("a", True, "held"), FaultCase("b", False, "key k committed 2 times")))
    assert (report.tried, report.survived) == (2, 1)
    assert report.summary() == "x: 2 cases tried, 1 survived\n  FAILED b: key k committed 2 times"
