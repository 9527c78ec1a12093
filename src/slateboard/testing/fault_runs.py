"""The faulty runs of the fault harness, each in its own OS process (`slateboard.testing.harness` starts them).

    python -m slateboard.testing.fault_runs DIR SCENARIO CASE...
    python -m slateboard.testing.fault_runs DIR SCENARIO --matrix [--full] CASE...

runs SCENARIO (a built-in name, or any reference `scenarios.resolve` takes) once per CASE on the board "fault" of
the SQLite file DIR/CASE.db, in a process forked from this one after the imports (a case costs a run, not an
interpreter start). The cases run at once (each has its own file; a hung one spends its deadline waiting, not
computing), and their lines come out in the order given. A CASE is:

- `reference`: uninterrupted, its write boundaries counted (written to DIR/reference.json);
- `kill-after-K` / `kill-before-K`: SIGKILLed right after (before) the K-th write boundary (`testing.faults`);
- `flaky-sink`: the sink fails every other call (a ConnectionError, as a network would);
- `hung-sync` / `hung-async`: the first agent never answers (a sync agent with no timeout waiting forever; an async
  one blocking the event loop with `time.sleep`), under a run deadline of `HUNG_DEADLINE` seconds;
- `full-disk-N`: the process may not grow files beyond N more bytes than the store held once opened
  (RLIMIT_FSIZE, SIGXFSZ ignored: the write fails as on a full disk);
- `pair`: two processes run the same board at once (two controllers on one board).

Each case prints one JSON line: the case, its exit code (-9 for SIGKILL) and the error it raised, if any.

`--matrix` runs `reference` first, then the kill points of its write boundaries (`kill_points`: all of them with
`--full`, else a sample) and the CASEs given (`full-disk` sized to a third of the reference's file), after a line
`{"matrix": [the names]}`: the harness's whole matrix in one process.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from slateboard.agents.spec import Agent
from slateboard.blackboard.board import Blackboard
from slateboard.blackboard.stores.registry import open_store
from slateboard.commit.layer import CommitLayer, CommitTarget
from slateboard.controller import rules
from slateboard.controller.rules import Budget
from slateboard.scenarios import catalog
from slateboard.scenarios.handoffs_systems import Systems, ToolRegistry
from slateboard.scenarios.model import Scenario
from slateboard.testing.faults import Faults

__all__ = ("BOARD", "HUNG_DEADLINE", "build_sink", "hung", "kill_points", "store_url", "main")

BOARD = "fault"
HUNG_DEADLINE = 2.0
_NEVER = threading.Event()


def store_url(directory: Path, case: str) -> str:
    """The SQLite file a case runs on."""
    return f"sqlite:///{directory / case}.db"


def build_sink(scenario: Scenario, faults: Faults | None) -> CommitTarget | None:
    """The scenario's sink with its calls counted by `faults` (none: the sink as the scenario makes it)."""
    made = scenario.sink() if scenario.sink is not None else None
    if made is None or faults is None:
        return made
    if isinstance(made, ToolRegistry):  # handoffs: the systems behind the registry are the boundary
        return ToolRegistry(faults.sink(Systems()))
    if isinstance(made, CommitLayer):  # another layer: its ledger writes are counted through the store
        return made
    return faults.sink(made)


def hung(scenario: Scenario, kind: str) -> Scenario:
    """`scenario` with its first agent never answering (`kind` "sync" or "async") and a run deadline."""
    first = scenario.agents[0]

    def waits(**_: Any) -> Any:
        _NEVER.wait()

    async def blocks(**_: Any) -> Any:
        time.sleep(3600)  # noqa: ASYNC251 - the fault: it blocks the event loop

    stuck: Agent = replace(first, fn=waits if kind == "sync" else blocks, timeout=None, retries=0)
    kept = tuple(rule for rule in scenario.rules if not isinstance(rule, Budget))
    return replace(scenario, agents=(stuck, *scenario.agents[1:]), rules=(*kept, rules.budget(deadline=HUNG_DEADLINE)))


class _Flaky(Faults):
    """Faults that make every other sink call fail before it runs (nothing applied), and count the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.sink_calls = 0

    def call(self, name: str, operation: Any, *args: Any, **kwargs: Any) -> Any:
        self._strike(name)
        return super().call(name, operation, *args, **kwargs)

    async def acall(self, name: str, operation: Any, *args: Any, **kwargs: Any) -> Any:
        self._strike(name)
        return await super().acall(name, operation, *args, **kwargs)

    def _strike(self, name: str) -> None:
        if name.startswith("sink."):
            self.sink_calls += 1
            if self.sink_calls % 2 == 1:
                raise ConnectionError(f"injected: the sink is unreachable (call {self.sink_calls})")


def _run(directory: Path, reference: str, case: str) -> None:
    """One case, in this (forked) process."""
    scenario = catalog.resolve(reference)
    faults: Faults = Faults()
    if case.startswith(("kill-after-", "kill-before-")):
        point = int(case.rsplit("-", 1)[1])
        faults = Faults(kill_after=point) if "after" in case else Faults(kill_before=point)
    elif case == "flaky-sink":
        faults = _Flaky()
    elif case.startswith("hung-"):
        scenario = hung(scenario, case.removeprefix("hung-"))
    store = open_store(store_url(directory, "pair" if case.startswith("pair") else case))
    if case.startswith("full-disk-"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        held = sum(p.stat().st_size for p in directory.glob(f"{case}.db*"))
        limit = held + int(case.rsplit("-", 1)[1])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    with Blackboard(faults.store(store)) as bb:
        controller = scenario.controller(sink=build_sink(scenario, faults))
        controller.run_sync(bb.board(BOARD), *scenario.inputs(BOARD))
    if case == "reference":
        (directory / "reference.json").write_text(json.dumps({"boundaries": faults.boundaries}))


def _fork(directory: Path, reference: str, case: str) -> int:
    """Run `case` in a forked child; its pid. The child records what it raised in DIR/CASE.error; what it prints
    goes to stderr, so that stdout holds only this process's result lines."""
    sys.stdout.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        _run(directory, reference, case)
    except BaseException as exc:
        (directory / f"{case}.error").write_text(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(code)


def kill_points(boundaries: list[str], *, full: bool) -> list[str]:
    """The kill cases for a run with these write boundaries: all of them, or the default sample."""
    count = len(boundaries)
    if full:
        chosen = set(range(1, count + 1))
    else:
        sink = next((k for k, name in enumerate(boundaries, 1) if name.startswith("sink.")), count)
        chosen = {k for k in (1, sink - 1, sink, sink + 1, count - 1) if 1 <= k <= count}
    return ["kill-before-1", *(f"kill-after-{k}" for k in sorted(chosen))]


def _matrix(directory: Path, reference: str, options: list[str]) -> list[str]:
    """Run the reference; the cases it implies (see the module's docstring)."""
    _run_all(directory, reference, ["reference"])
    boundaries = json.loads((directory / "reference.json").read_text())["boundaries"]
    size = sum(p.stat().st_size for p in directory.glob("reference.db*"))
    others = [f"full-disk-{size // 3}" if case == "full-disk" else case for case in options if case != "--full"]
    names = [*kill_points(boundaries, full="--full" in options), *others]
    print(json.dumps({"matrix": names}), flush=True)
    return names


def _run_all(directory: Path, reference: str, cases: list[str]) -> None:
    """Fork every case at once; print each one's line, in the order given, as they end."""
    names = [name for case in cases for name in ([f"{case}-a", f"{case}-b"] if case == "pair" else [case])]
    pids = [_fork(directory, reference, name) for name in names]
    for name, pid in zip(names, pids, strict=True):
        _, status = os.waitpid(pid, 0)
        error_file = directory / f"{name}.error"
        error = error_file.read_text() if error_file.exists() else ""
        line = {"case": name, "returncode": os.waitstatus_to_exitcode(status), "error": error}
        print(json.dumps(line), flush=True)


def main(argv: list[str]) -> None:
    directory, reference, cases = Path(argv[0]), argv[1], argv[2:]
    if cases[:1] == ["--matrix"]:
        cases = _matrix(directory, reference, cases[1:])
    _run_all(directory, reference, cases)


if __name__ == "__main__":
    main(sys.argv[1:])
