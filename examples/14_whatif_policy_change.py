"""What-if: test a policy change against history before it ships (docs/whatif.md).

A support team keeps its recorded boards. Compliance asks for a stricter policy: every customer-facing update
should wait for a person, and nothing below 0.95 confidence goes through. Before changing anything, the team asks
the recorded boards what the new policy would have done, without running an agent, calling a sink or writing a
single entry:

1. record a few boards with the built-in scenarios (handoffs commits; support-case waits for a person; its conflict
   variant escalates before anything is proposed);
2. re-judge every board under the stricter policy (`whatif_boards`), print the report (a line per change), and
   check the boards are byte for byte what they were;
3. the same under the recorded policies: nothing changes (`assert_policy_holds` passes);
4. a dry run of a fresh case: what the commit layer would apply, with nothing applied.

Run it: `python examples/14_whatif_policy_change.py` (a SQLite file in a temporary directory; `--db URL` to keep
one).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import anyio

from slateboard import Blackboard, scenarios
from slateboard.controller import DryRun
from slateboard.testing import assert_policy_holds, whatif_boards

STRICTER = """
default = "deny"

[[rules]]
rule = "min_confidence"
threshold = 0.95

[[rules]]
rule = "require_approval"
actions = ["update", "send_reply", "open_ticket"]
reason = "compliance: a person signs off customer-facing changes"
"""

RECORDED = ("handoffs", "support-case", "support-case/conflict")


def main(url: str, workdir: Path) -> None:
    stricter = workdir / "stricter.toml"
    stricter.write_text(STRICTER, encoding="utf-8")
    with Blackboard.open(url) as bb:
        for name in RECORDED:  # 1. history
            run = scenarios.get(name).run_sync(bb)
            print(f"recorded {run.board.name}: {run.outcome.status}")
        before = hashes(bb)

        reports = whatif_boards(bb, policy=stricter)  # 2. the stricter policy, against every recorded board
        for report in reports:
            print(report)
        changed = [r.board for r in reports if r.changed]
        assert changed == ["handoffs", "support-case"], changed  # the conflict escalated before any proposal
        assert reports[0].would_be == "escalated"  # 0.9 < 0.95: a person decides
        assert hashes(bb) == before  # nothing was written

        for name in ("handoffs", "support-case"):  # 3. the recorded policies hold, by construction
            policy = scenarios.get(name).policy
            assert policy is not None
            assert_policy_holds(bb, policy=policy, boards=[name])
        print("the recorded policies re-judge every board as recorded")

    planned = DryRun(of="handoffs")  # 4. a fresh case, run for real up to the sink, applying nothing
    with Blackboard.open("memory://") as scratch:  # a store of its own: its ledger says "applied" for these keys
        outcome = scenarios.get("handoffs").run_sync(scratch, sink=planned).outcome
    print(f"dry run: {outcome.status}, {len(planned.planned)} application(s) recorded, none applied")
    for step in planned.planned:
        print(f"  {step}")


def hashes(bb: Blackboard) -> list[str]:
    """Every entry's hash on every board of the store."""

    async def read() -> list[str]:
        return [entry.hash for name in bb.boards() for entry in await bb.board(name).history()]

    return anyio.run(read)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a store URL to keep the boards (default: a temporary SQLite file)")
    parser.add_argument("--quick", action="store_true", help="accepted for the example runner; this example is quick")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        main(args.db or f"sqlite:///{Path(tmp) / 'history.db'}", Path(tmp))
