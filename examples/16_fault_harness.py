"""The fault harness: does a scenario survive crashes, a flaky sink, hung agents, a full disk and a second
controller? (docs/RELIABILITY.md)

For a built-in scenario (or any scenario reference, e.g. your own `package.module:attribute`), the harness runs it
once uninterrupted to count its write boundaries, then under each fault, every case in a real OS process of its
own: SIGKILL right after write boundaries, a sink failing every other call, a sync agent that never answers and an
async agent blocking the event loop (under a run deadline), a full disk, two controllers on one board. It resumes
each board and checks that nothing was lost, nothing committed twice, the log verifies and replays, and the outcome
is the uninterrupted run's or records why not.

Run it: `python examples/16_fault_harness.py` (all three built-in scenarios, sampled kill points);
`--full` kills at every write boundary; `--quick` only support-case, for CI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from slateboard.testing.harness import run_fault_matrix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("scenarios", nargs="*", default=["support-case", "lead-to-cash", "handoffs"])
    parser.add_argument("--full", action="store_true", help="kill at every write boundary (slow)")
    parser.add_argument("--quick", action="store_true", help="support-case only, sampled kill points (CI)")
    args = parser.parse_args()
    chosen = ["support-case"] if args.quick else args.scenarios
    tried = survived = 0
    with tempfile.TemporaryDirectory() as scratch:
        for name in chosen:
            report = run_fault_matrix(name, Path(scratch) / name, full=args.full)
            print(report.summary())
            for case in report.cases:
                print(f"  {'ok  ' if case.survived else 'FAIL'} {case.name}: {case.detail}")
            tried, survived = tried + report.tried, survived + report.survived
    print(f"all: {tried} cases tried, {survived} survived")
    return 0 if tried == survived else 1


if __name__ == "__main__":
    sys.exit(main())
