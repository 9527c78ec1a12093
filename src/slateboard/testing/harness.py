"""The fault harness: a scenario run under every fault slateboard promises to survive, each case judged the same way.

```python
from slateboard.testing.harness import run_fault_matrix

report = run_fault_matrix("support-case", tmp_path)            # the affordable default matrix
report = run_fault_matrix("handoffs", tmp_path, full=True)     # SIGKILL at every write boundary
print(report.summary())                                          # "handoffs: 33 cases tried, 33 survived"
```

    python -m slateboard.testing.harness support-case [--full]     (prints the report; exit 1 if a case failed)

The cases (each a real OS process, see `slateboard.testing.fault_runs`): SIGKILL right after each write boundary
(`full`: every one; by default a sample: before the first, after the first, around the first sink call and before
the last) and right before the first; a sink failing every other call; a sync agent with no timeout that never
answers and an async agent blocking the event loop, under a run deadline; a full disk (RLIMIT_FSIZE); two
controllers running one board at once. After each, the board is resumed here with the scenario's own controller,
and the case survives when:

- no entry was lost: the resumed log starts with every entry the faulty run left, unchanged;
- no commit was applied twice: one Commit entry per key, and the sink's records are the uninterrupted run's
  (a table's rows and revisions; the outside systems' records);
- `verify` passes and `replay` re-derives every decision;
- the outcome is the uninterrupted run's (status and effects), or records why not: a key in doubt or dead, or a
  failed run, with reasons (a hung agent's run must fail naming the agent; a full disk must raise a SlateboardError).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slateboard.blackboard.board import Blackboard
from slateboard.blackboard.entries import Entry
from slateboard.commit import sinks
from slateboard.errors import SlateboardError
from slateboard.scenarios import catalog
from slateboard.scenarios.handoffs_systems import ToolRegistry, records
from slateboard.scenarios.model import Scenario
from slateboard.state.records import Commit, CommitFailure, Decision
from slateboard.testing.fault_runs import BOARD, build_sink, hung, kill_points, store_url

__all__ = ("FaultCase", "FaultReport", "run_fault_matrix", "kill_points", "FULL_VARIABLE")

FULL_VARIABLE = "SLATEBOARD_FAULTS"  # "full": the test suite runs the full matrix
_SYSTEMS = ("crm", "ticketing", "warehouse")


@dataclass(frozen=True)
class FaultCase:
    """One case of the matrix: its name, whether the run survived it, and what was found (or what held)."""

    name: str
    survived: bool
    detail: str


@dataclass(frozen=True)
class FaultReport:
    """Every case tried on one scenario."""

    scenario: str
    cases: tuple[FaultCase, ...]
    boundaries: tuple[str, ...] = field(default=())

    @property
    def tried(self) -> int:
        return len(self.cases)

    @property
    def survived(self) -> int:
        return sum(case.survived for case in self.cases)

    @property
    def failures(self) -> tuple[FaultCase, ...]:
        return tuple(case for case in self.cases if not case.survived)

    def summary(self) -> str:
        """One line per failed case after the figures: "support-case: 14 cases tried, 14 survived"."""
        lines = [f"{self.scenario}: {self.tried} cases tried, {self.survived} survived"]
        lines += [f"  FAILED {case.name}: {case.detail}" for case in self.failures]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Result:
    status: str
    effects: dict[str, Any]


def run_fault_matrix(
    scenario: str, directory: Path | None = None, *, full: bool | None = None, cases: tuple[str, ...] | None = None
) -> FaultReport:
    """Run `scenario` (a built-in name or any `scenarios.resolve` reference) under the fault matrix in
    `directory` (a fresh temporary one by default); `full`: a kill at every write boundary (default: when
    SLATEBOARD_FAULTS=full); `cases`: only these of the non-kill cases ("flaky-sink", "hung-sync", "hung-async",
    "full-disk", "pair")."""
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="slateboard-faults-"))
    directory.mkdir(parents=True, exist_ok=True)
    full = os.environ.get(FULL_VARIABLE) == "full" if full is None else full
    built = catalog.resolve(scenario)
    others = cases if cases is not None else ("flaky-sink", "hung-sync", "hung-async", "full-disk", "pair")
    # One process: the reference run first, then every case it implies (fault_runs' --matrix).
    lines = _spawn(directory, scenario, ["--matrix", *(["--full"] if full else []), *others])
    boundaries = json.loads((directory / "reference.json").read_text())["boundaries"]
    names = next(line["matrix"] for line in lines if "matrix" in line)
    ran = {line["case"]: line for line in lines if "case" in line}
    reference = _outcome(built, store_url(directory, "reference"))
    judged = [_judge(built, directory, name, ran, reference) for name in names]
    return FaultReport(scenario, tuple(judged), tuple(boundaries))


def _spawn(directory: Path, scenario: str, cases: list[str]) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", "slateboard.testing.fault_runs", str(directory), scenario, *cases]
    timeout = 900  # generous (the cases run at once, a full matrix some thirty): a hang fails here, not the caller
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SlateboardError(f"the fault runs of {scenario!r} failed: {done.stderr.strip()[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _judge(scenario: Scenario, directory: Path, name: str, ran: dict[str, Any], reference: _Result) -> FaultCase:
    runs = [ran[f"{name}-a"], ran[f"{name}-b"]] if name == "pair" else [ran[name]]
    problems = [f"the run raised {r['error']}" for r in runs if r["error"] and not _expected_error(name, r["error"])]
    if name.startswith("kill-") and runs[0]["returncode"] != -9 and name != "kill-before-1":
        problems.append(f"the process was not killed (exit {runs[0]['returncode']})")
    if name.startswith("hung-"):
        return _judge_hung(scenario, directory, name, problems)
    url = store_url(directory, name)
    problems += _resume_and_check(scenario, url, reference)
    return FaultCase(name, not problems, "; ".join(problems) or "held")


def _expected_error(name: str, error: str) -> bool:
    # A full disk must surface as a typed store error; any other case must not raise at all.
    return name.startswith("full-disk-") and error.startswith("slateboard.errors.")


def _judge_hung(scenario: Scenario, directory: Path, name: str, problems: list[str]) -> FaultCase:
    stuck = hung(scenario, name.removeprefix("hung-"))
    with Blackboard.open(store_url(directory, name), read_only=True) as bb:
        board = bb.board(BOARD)
        history = board.history_sync()
        board.verify_sync()
        replayed = stuck.controller(sink=build_sink(stuck, None)).replay_sync(board)
    decisions = [e.payload for e in history if isinstance(e.payload, Decision)]
    final = decisions[-1] if decisions else None
    agent = stuck.agents[0].name
    if final is None or final.status != "failed":
        problems.append(f"the run did not fail at its deadline (last decision: {final})")
    elif not any(agent in str(reason) for reason in final.reasons):
        problems.append(f"the failed run's reasons do not name the hung agent {agent!r}")
    if not replayed.identical:
        problems.append(f"replay differs: {replayed}")
    return FaultCase(name, not problems, "; ".join(problems) or f"failed at the deadline, naming {agent}")


def _resume_and_check(scenario: Scenario, url: str, reference: _Result) -> list[str]:
    problems: list[str] = []
    with Blackboard.open(url) as bb:
        board = bb.board(BOARD)
        before = board.history_sync()
        controller = scenario.controller()
        outcome = controller.run_sync(board, *scenario.inputs(BOARD))
        after = board.history_sync()
        if after[: len(before)] != before:
            problems.append("entries the faulty run left were changed or lost")
        try:
            board.verify_sync()
        except SlateboardError as exc:
            problems.append(f"verify: {exc}")
        if not controller.replay_sync(board).identical:
            problems.append("replay differs")
        keys = Counter(e.payload.key for e in after if isinstance(e.payload, Commit))
        problems += [f"key {key} committed {n} times" for key, n in keys.items() if n > 1]
        result = _Result(outcome.status, _effects(bb, scenario, after))
    if result != reference and not _recorded(after, outcome.reasons):
        problems.append(f"outcome {result.status} with {result.effects} differs from {reference}")
    return problems


def _recorded(history: Sequence[Entry], reasons: tuple[str, ...]) -> bool:
    """Whether a run that ended otherwise than the reference says why: a key in doubt or dead, with reasons."""
    return bool(reasons) and any(isinstance(e.payload, CommitFailure) for e in history)


def _outcome(scenario: Scenario, url: str) -> _Result:
    """The uninterrupted run's outcome (asked of its finished board: a resume that finds nothing to do) and
    effects."""
    with Blackboard.open(url) as bb:
        board = bb.board(BOARD)
        status = scenario.controller().run_sync(board, *scenario.inputs(BOARD)).status
        return _Result(status, _effects(bb, scenario, board.history_sync()))


def _effects(bb: Blackboard, scenario: Scenario, history: Sequence[Entry]) -> dict[str, Any]:
    """What the run did to the world: committed keys, and the sink's records (a table's, or the systems')."""
    effects: dict[str, Any] = {"commits": sorted(e.payload.key for e in history if isinstance(e.payload, Commit))}
    made = scenario.sink() if scenario.sink is not None else None
    if isinstance(made, sinks.Table):
        rows = bb.store.ledger.table_rows(made.name, wait=True)
        effects["table"] = {target: (row.data, row.revision) for target, row in sorted(rows.items())}
    elif isinstance(made, ToolRegistry):
        effects["systems"] = {s: [(r["key"], r["target"]) for r in records(bb, s)] for s in _SYSTEMS}
    return effects


def main(argv: list[str]) -> int:
    """`python -m slateboard.testing.harness SCENARIO... [--full]`: print each report; 1 if a case failed."""
    full = "--full" in argv
    reports = [run_fault_matrix(name, full=full) for name in argv if not name.startswith("--")]
    for report in reports:
        print(report.summary())
    tried, survived = sum(r.tried for r in reports), sum(r.survived for r in reports)
    print(f"all: {tried} cases tried, {survived} survived")
    return 0 if tried == survived else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
