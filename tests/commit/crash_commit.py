"""A support-case run that commits, in its own OS process, for the commit crash test.

    python -m tests.commit.crash_commit URL MODE SINK_FILE [--kill-after K | --kill-before K]
    python -m tests.commit.crash_commit each DIR MODE [--server URL] POINT...   (POINT: after-K, before-K or reference)

`gather_evidence` writes the evidence, `propose` two reversible proposals (the case's status and a note to
the contact), the policy allows them and the sink applies them. MODE picks the sink:

- "table": `sinks.Table("cases")` in the store itself (exactly once; SINK_FILE is unused);
- "lookup": an outside sink, a JSON-lines file appended and fsynced per application, with `lookup(key)`;
- "plain": the same file sink without `lookup` (an interrupted call goes to a person, in doubt).

Every write boundary goes through `slateboard.testing.faults`; with a kill point the process SIGKILLs itself
there. Otherwise it prints one JSON line: the outcome's status and the boundaries it crossed, in order.

`each` runs one run per POINT (`reference` is not killed), each in its own process with its own store and sink
file (DIR/POINT.jsonl): the SQLite file DIR/POINT.db, or with `--server` a schema of its own on that PostgreSQL
server (`store_url` names both, for the test to open). The processes are forked from this one after the imports and
before anything is opened, so a point costs a run, not an interpreter start; each line printed is the POINT and
the exit code `os.waitstatus_to_exitcode` gives for it (-9 when SIGKILL ended it), as `subprocess` reports it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from slateboard import Blackboard, Citation, Controller, Finding, Proposal, agent, policies, rules, sinks
from slateboard.blackboard.stores.base import open_store
from slateboard.blackboard.stores.registry import backend_for
from slateboard.testing.faults import Faults

BOARD = "case-7"
MODES = ("table", "lookup", "plain")
TABLE = sinks.Table("cases")


class Case(Finding):
    kind_name = "tests.commit.crash.Case"
    description: str = "the replacement unit was never shipped"


class Evidence(Finding):
    kind_name = "tests.commit.crash.Evidence"
    shipped: bool


CASE = Case(subject=BOARD, confidence=1.0)
KB = (Citation(source="kb", approved=True),)


@agent
async def gather_evidence(case: Case) -> Evidence:
    return Evidence(subject=case.subject, shipped=False, confidence=0.95, citations=KB)


@agent
async def propose(case: Case, evidence: Evidence) -> list[Proposal]:
    return [
        Proposal(
            subject=case.subject,
            action="update",
            target=f"Case/{case.subject}",
            changes={"Status": "Replacement ordered"},
            confidence=0.9,
            citations=KB,
        ),
        Proposal(
            subject=case.subject,
            action="notify",
            target="Contact/ana",
            changes={"Message": "A replacement is on its way"},
            confidence=0.9,
            citations=KB,
        ),
    ]


POLICY = policies.Policy(policies.min_confidence(0.8), policies.require_citations(approved=True), policies.allow())
RULES = [rules.sufficient(Evidence, min_confidence=0.8), rules.sufficient(Proposal)]


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The records a file sink holds, in the order they were applied."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def file_sink(path: Path, *, with_lookup: bool) -> Any:
    """An outside sink: one JSON line per application, fsynced before it answers."""

    def apply(proposal: Proposal, key: str) -> dict[str, Any]:
        line = len(read_lines(path)) + 1
        record = {"key": key, "target": proposal.target, "changes": proposal.changes}
        with path.open("a") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return {"line": line, "target": proposal.target}

    def lookup(key: str) -> dict[str, Any] | None:
        for line, record in enumerate(read_lines(path), 1):
            if record["key"] == key:
                return {"line": line, "target": record["target"]}
        return None

    return sinks.Callable(apply, name="case-file", lookup=lookup if with_lookup else None)


def sink_for(mode: str, sink_file: Path) -> Any:
    """The sink MODE names."""
    if mode == "table":
        return TABLE
    if mode in ("lookup", "plain"):
        return file_sink(sink_file, with_lookup=mode == "lookup")
    raise ValueError(f"unknown sink mode {mode!r}; use one of {MODES}")


def build(mode: str, sink_file: Path, faults: Faults | None = None) -> Controller:
    """The run's controller; the same definition resumes a killed run (its fingerprint does not name the sink)."""
    sink = sink_for(mode, sink_file)
    return Controller(
        [gather_evidence, propose], RULES, policy=POLICY, sink=faults.sink(sink) if faults is not None else sink
    )


def run(url: str, mode: str, sink_file: Path, faults: Faults) -> None:
    """One run through `faults`; prints its status and boundaries unless a kill point ended it first."""
    with Blackboard(faults.store(open_store(url))) as bb:
        outcome = build(mode, sink_file, faults).run_sync(bb.board(BOARD), CASE)
    print(json.dumps({"status": outcome.status, "boundaries": faults.boundaries}), flush=True)


def parse_point(point: str) -> Faults:
    """`after-K` or `before-K` as the `Faults` that kill there; `reference` as ones that only count."""
    if point == "reference":
        return Faults()
    when, _, number = point.partition("-")
    if when not in ("after", "before") or not number.isdigit():
        raise ValueError(f"kill point {point!r}: write after-K, before-K or reference")
    return Faults(**{f"kill_{when}": int(number)})


def store_url(directory: Path, point: str, server: str | None = None) -> str:
    """The store of one run: a SQLite file in `directory`, or a schema on the PostgreSQL `server` named after the
    directory (which the test names at random: a server given to the tests outlives their sessions) and the point."""
    if server is None:
        return f"sqlite:///{directory / point}.db"
    schema = f"crash_{directory.name}_{point}".replace("-", "_").lower()
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}schema={schema}"


def each(directory: Path, mode: str, points: list[str], server: str | None = None) -> None:
    """One forked process per kill point, one after another; prints each one's exit code."""
    # Load the store's backend (its modules, SQLAlchemy's) here, once: each child then starts warm instead of paying
    # the imports again (about 0.3 s of CPU a run, ten times the run itself). Nothing is opened, no thread started.
    backend_for(store_url(directory, "warm", server))
    for point in points:
        faults = parse_point(point)
        sys.stdout.flush()  # a forked child must not print the parent's buffered lines again
        pid = os.fork()
        if pid == 0:  # the child: run, and leave without the parent's atexit handlers
            code = 0
            try:
                run(store_url(directory, point, server), mode, directory / f"{point}.jsonl", faults)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)  # reaped: a dead lock holder's pid is free, as after a real crash
        print(json.dumps({"point": point, "returncode": os.waitstatus_to_exitcode(status)}), flush=True)


def main() -> None:
    if sys.argv[1:2] == ["each"]:
        points = sys.argv[4:]
        server = None
        if points[:1] == ["--server"]:
            server, points = points[1], points[2:]
        each(Path(sys.argv[2]), sys.argv[3], points, server)
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("sink_file", type=Path)
    parser.add_argument("--kill-after", type=int)
    parser.add_argument("--kill-before", type=int)
    args = parser.parse_args()
    run(args.url, args.mode, args.sink_file, Faults(kill_after=args.kill_after, kill_before=args.kill_before))


if __name__ == "__main__":
    main()
