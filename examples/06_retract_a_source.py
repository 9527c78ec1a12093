"""Retract a source: an outdated knowledge article, and every board whose decisions rested on it.

Run it: `python examples/06_retract_a_source.py` (a SQLite file in a temporary directory; `--db URL` to keep one).
The seed's story (seed 000): a reviewer finds that the knowledge agent retrieved an outdated article version. Two
warranty cases ran on version v7 of the article: case-1 committed its update, case-2 waits for a person. The article
is retracted (`slateboard retract kb:warranty@v7 --reason ...` does the same); the knowledge base now serves v8.

- `affected_boards` (`slateboard boards --affected-by kb:warranty@v7`) lists both boards and what rests on v7;
- on its next run, case-2 is judged afresh: the knowledge agent is asked again, cites v8, and a new proposal waits;
- case-1's commit is never undone silently: its run escalates, naming the commit, until a person compensates it,
  after which the run goes on from fresh evidence. The ledger applies each key once; both boards replay identically.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from slateboard import Blackboard, Citation, Controller, Finding, Proposal, agent, policies, retract_sync, rules, sinks
from slateboard.observe import affected_boards

SERVED = {"version": "v7"}  # the article version the knowledge base returns today


class Claim(Finding):
    kind_name = "example06.Claim"
    product: str


class Article(Finding):
    kind_name = "example06.Article"
    section: str


@agent
async def knowledge(claim: Claim) -> Article:
    cited = Citation(source="kb:warranty", version=SERVED["version"], approved=True, locator="section 2.1")
    return Article(subject=claim.subject, section="2.1", confidence=0.95, citations=(cited,))


@agent
async def action(claim: Claim, article: Article) -> Proposal:
    return Proposal(
        subject=claim.subject,
        action="update",
        target=f"Case/{claim.subject}",
        changes={"Status": "Covered", "Policy": f"kb:warranty@{article.citations[0].version}"},
        confidence=0.9,
        citations=article.citations,
    )


def key_account(proposal: Proposal) -> bool:
    """Key accounts wait for a person."""
    return proposal.target == "Case/case-2"


def build(sink: sinks.Memory) -> Controller:
    policy = policies.Policy(
        policies.min_confidence(0.85), policies.require_approval(key_account, id="key-account"), policies.allow()
    )
    return Controller([knowledge, action], [rules.sufficient(Proposal, min_confidence=0.8)], policy=policy, sink=sink)


def main(url: str) -> None:
    sink = sinks.Memory()
    controller = build(sink)
    with Blackboard.open(url) as blackboard:
        first = {}
        for name in ("case-1", "case-2"):
            claim = Claim(subject=name, product="P-200", confidence=1.0)
            first[name] = controller.run_sync(blackboard.board(name), claim)
            print(f"{name}: {first[name].status}")
        assert [first[n].status for n in first] == ["committed", "awaiting_approval"]

        print("\nboards --affected-by kb:warranty@v7")
        for board in affected_boards(blackboard, "kb:warranty@v7"):
            print(f"  {board.describe()}")

        report = retract_sync(blackboard, "kb:warranty", version="v7", reason="outdated article version", by="ana")
        print()
        for line in report.lines():
            print(line)
        assert [b.board for b in report.boards] == ["case-1", "case-2"]
        SERVED["version"] = "v8"

        print("\nthe next runs")
        reopened = controller.run_sync(blackboard.board("case-2"))
        print(f"case-2: {reopened.status}: {reopened.approvals[0].recommended}")
        assert reopened.status == "awaiting_approval"
        assert reopened.approvals[0].changes["Policy"] == "kb:warranty@v8"

        escalated = controller.run_sync(blackboard.board("case-1"))
        print(f"case-1: {escalated.status}: {escalated.reasons[0]}")
        assert escalated.status == "escalated"
        (commit,) = first["case-1"].commits
        controller.compensate_sync(blackboard.board("case-1"), commit.key, reviewer="ana", reason="rested on kb v7")
        fresh = controller.run_sync(blackboard.board("case-1"))
        print(f"case-1 after ana compensated {commit.key}: {fresh.status} with {fresh.commits[0].changes}")
        assert fresh.status == "committed"

        keys = [applied.key for applied in sink.applied]
        assert len(keys) == len(set(keys)) == 2  # the old commit and the fresh one, each applied once
        for name in ("case-1", "case-2"):
            assert controller.replay_sync(blackboard.board(name)).identical
            blackboard.board(name).verify_sync()
        print("\neach key applied once; both boards replay identically and verify")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="store URL (default: SQLite in a temporary directory)")
    parser.add_argument("--quick", action="store_true", help="the same run (it is already small)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        main(args.db or f"sqlite:///{Path(tmp) / 'retract.db'}")
