"""Variants of your own scenario: one YAML file, three ways it can go, each checked against what it expects.

Run it: `python examples/05_scenario_variants.py` (a SQLite file in a temporary directory; `--db URL` to keep one).
A literature review checks a claim with two readers before a recorder writes the verdict to the claim's own row
(`target: "Claim/{subject}"`: each board writes its own). The file declares its variants: the readers disagree
(escalated), a retraction notice freezes every action (rejected: the policy names the file's own kind `Retracted`
by its short name), one reader only (insufficient). Each variant runs on its own board, which records the
variant, so the controller that ran it is rebuilt from the board alone and replays it identically. An unknown
variant is an error that names the known ones.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from slateboard import Blackboard, scenarios
from slateboard.errors import ScenarioError

CLAIMS = """\
name: claim-review
kinds:
  Claim: {text: str, paper: str}
  Support: {supported: bool}
  Retracted: {retracted: bool}
agents:
  - {name: reader, reads: [Claim], writes: Support,
     emit: {supported: true, confidence: 0.9, citations: [{source: "doi:{Claim.paper}", approved: true}]}}
  - {name: second-reader, reads: [Claim], writes: Support,
     emit: {supported: true, confidence: 0.85, citations: [{source: pubmed, approved: true}]}}
  - name: recorder
    reads: [Claim, Support]
    writes: Proposal
    emit: {action: record, target: "Claim/{subject}", changes: {Verdict: supported, Paper: "{Claim.paper}"},
           confidence: 0.9, citations: [{source: pubmed, approved: true}]}
rules:
  - disagreement: {kind: Support, field: supported}
  - sufficient: {kind: Support, min_confidence: 0.8, min_sources: 2}
  - sufficient: {kind: Proposal}
policy:
  rules:
    - {rule: freeze_on, kind: Retracted, where: {retracted: true}}
    - {rule: require_citations, approved: true}
sink: table:claims
inputs: [{kind: Claim, text: "drug X lowers blood pressure", paper: "10.1000/{subject}"}]
expect: {status: committed, commits: 1}
variants:
  disagree:
    agents: {second-reader: {emit: {supported: false, confidence: 0.85}}}
    expect: {status: escalated, reasons: [disagree]}
  retracted:
    agents: {retraction-watch: {reads: [Claim], writes: Retracted, emit: {retracted: true}}}
    expect: {status: rejected, commits: 0}
  one-reader:
    remove_agents: [second-reader]
    expect: {status: insufficient}
"""


def main(url: str, folder: Path) -> None:
    path = folder / "claims.yaml"
    path.write_text(CLAIMS, encoding="utf-8")
    with Blackboard.open(url) as blackboard:
        for variant in scenarios.load(path).variant_names:
            run = scenarios.resolve(str(path), variant).run_sync(blackboard)
            rows = [commit.target for commit in run.outcome.commits]
            print(f"{run.scenario.title:<26} on {run.board.name:<24} {run.outcome.status:<12} rows {rows}")
            assert run.ok, run.problems
            # What `slateboard replay BOARD` and `approve` do: rebuild the controller from what the board recorded.
            controller, board = scenarios.controller_for(blackboard, run.board.name)
            assert controller.replay_sync(board).identical
        try:
            scenarios.resolve(str(path), "retraced")
        except ScenarioError as exc:
            print(f"unknown variant: {exc}")
        else:
            raise SystemExit("an unknown variant was accepted")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="store URL (default: SQLite in a temporary directory)")
    parser.add_argument("--quick", action="store_true", help="the same run (it is already small)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        main(args.db or f"sqlite:///{Path(tmp) / 'claims.db'}", Path(tmp))
