"""`slateboard metrics` shows the four maturity signals against the field's targets, as text and JSON, from a
real SQLite file (tests/observe/maturity_boards.py, whose figures tests/observe/test_maturity.py counts by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from tests.cli.conftest import Invoke
from tests.observe.maturity_boards import make_store


def test_slateboard_metrics_shows_the_signals_against_their_targets(tmp_path: Path, slateboard: Invoke) -> None:
    url, _ = anyio.run(make_store, tmp_path / "signals.db")
    path = Path(url.removeprefix("sqlite:///"))
    before = path.read_bytes()
    shown = slateboard("metrics", "--db", url, "--json")
    assert shown.code == 0, shown.stderr
    signals = json.loads(shown.stdout)["maturity"]
    assert signals["handoff_success_rate"]["value"] == 0.75
    assert signals["handoff_success_rate"]["target"] == "> 99%"
    assert signals["non_idempotent_retry_rate"]["value"] == 0.5
    assert signals["audit_coverage"]["value"] == 0.5
    assert signals["mean_time_to_recover"]["target"] == "< 15 min"

    text = slateboard("metrics", "--db", url)
    assert text.code == 0, text.stderr
    lines = {line.split("│")[1].strip(): line for line in text.stdout.splitlines() if line.count("│") > 4}
    assert "75.0%" in lines["Handoff success rate"]
    assert "> 99%" in lines["Handoff success rate"]
    assert " no " in lines["Handoff success rate"]
    assert "50.0%" in lines["Non-idempotent retry rate"]
    assert " yes " in lines["Mean time to recover"]
    assert "< 15 min" in lines["Mean time to recover"]
    assert path.read_bytes() == before  # a read-only command
