"""A batch of generated B2B support cases, run concurrently with a progress bar (the controller in a pipeline).

Each case gets its own board. Four agents work on it, as in the support-case article (seed 000): intake
classifies the request, entitlement checks the customer's contract, knowledge checks the warranty policy and its
exceptions, and the action agent proposes the CRM update. Rules send low-confidence intakes and an entitlement that
contradicts a policy exception to a person; the policy wants confidence, approved sources, and a person's approval
for irreversible actions (refunds); allowed updates go to `sinks.Table("cases")`, a table in the store's own
database, committed exactly once.

The cases are generated lazily (a generator: 10,000 cases are never all in memory) from a seeded random source, so
the mix of outcomes is the same on every run: most are committed, some wait for approval, some are escalated,
rejected (a forum post is not an approved source) or insufficient (no contract on file).

Run it from the repository root::

    python examples/02_batch_support_cases.py                  # 10,000 cases on a temporary SQLite file
    python examples/02_batch_support_cases.py --quick          # 200 cases
    python examples/02_batch_support_cases.py --db sqlite:///cases.db --concurrency 16

Run it twice with the same `--db`: the second run resumes every board from its log, runs no agent and commits
nothing again. The results load into a dataframe with `pandas.DataFrame(result.records())`.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from slateboard import Blackboard, Citation, Controller, Finding, Proposal, agent, policies, pool, rules, sinks
from slateboard.controller.batch import run_many_sync

PRODUCTS = ("X100 controller", "X200 controller", "X200 controller (refurbished)", "S10 sensor", "G5 gateway")
DESCRIPTIONS = (
    "controller fails its self-test after the firmware update",
    "sensor fails to report since Monday",
    "broken",
)
KB = {  # product -> the knowledge-base article that covers it (approved for customer-facing use)
    "X100 controller": "kb/KB-1042",
    "X200 controller": "kb/KB-1042",
    "X200 controller (refurbished)": "kb/KB-1187",
    "S10 sensor": "kb/KB-0931",
}


class Case(Finding):
    """A support case as the intake form records it (the generator also sets what the systems will answer)."""

    kind_name = "examples.batch.Case"
    customer: str
    product: str
    description: str
    contract: str  # what the contracts system holds: "active", "expired" or "missing"
    wants_refund: bool = False


class Intake(Finding):
    kind_name = "examples.batch.Intake"
    category: str


class Entitlement(Finding):
    kind_name = "examples.batch.Entitlement"
    entitled: bool


class PolicyCheck(Finding):
    kind_name = "examples.batch.PolicyCheck"
    excluded: bool
    article: str


@agent(rating=30)
async def intake(case: Case) -> Intake:
    """Classifies the request; a vague description gives a low confidence (rule: a person reads it)."""
    vague = len(case.description.split()) < 4
    category = "hardware-failure" if "fail" in case.description else "question"
    return Intake(subject=case.subject, category=category, confidence=0.6 if vague else 0.95)


@agent(rating=20)
async def entitlement(case: Case, intake: Intake) -> Entitlement:
    """Looks the customer's contract up; a missing contract gives an unsure answer."""
    source = (Citation(source="contracts", version=case.customer, approved=True),)
    if case.contract == "missing":
        return Entitlement(subject=case.subject, entitled=False, confidence=0.5, citations=source)
    return Entitlement(subject=case.subject, entitled=case.contract == "active", confidence=0.95, citations=source)


@agent(rating=10)
async def knowledge(case: Case, intake: Intake) -> PolicyCheck:
    """Checks the warranty policy; refurbished units are an exception; without an article, a forum post."""
    article = KB.get(case.product)
    if article is None:
        source = Citation(source="community-forum/thread-8812", approved=False)
        return PolicyCheck(subject=case.subject, excluded=False, article="none", confidence=0.9, citations=(source,))
    cite = (Citation(source=article, version="2026-10", approved=True),)
    excluded = "refurbished" in case.product
    return PolicyCheck(subject=case.subject, excluded=excluded, article=article, confidence=0.97, citations=cite)


@agent
async def action(case: Case, ent: Entitlement, check: PolicyCheck) -> Proposal:
    """Recommends the CRM update; it never writes to the CRM itself (only the commit layer does)."""
    if case.wants_refund and ent.entitled:
        change, reversible = {"Status": "Refund issued"}, False
    else:
        change, reversible = {"Status": "Replacement shipped" if ent.entitled else "Quote sent"}, True
    return Proposal(
        subject=case.subject,
        action="update",
        target=f"Case/{case.subject}",
        changes=change,
        reversible=reversible,
        confidence=pool([ent.confidence, check.confidence]),
        citations=check.citations,  # what the customer is told rests on the policy article
    )


def build_controller() -> Controller:
    return Controller(
        [intake, entitlement, knowledge, action],
        [
            rules.escalate_below(Intake, confidence=0.75),
            rules.contradiction(
                Entitlement,
                PolicyCheck,
                when=lambda e, p: e.entitled and p.excluded,
                reason="entitlement contradicts a policy exception",
            ),
            rules.sufficient(Entitlement, min_confidence=0.8),
            rules.sufficient(Proposal),
        ],
        inputs=[Case],
        policy=policies.Policy(
            policies.min_confidence(0.85),
            policies.require_citations(approved=True),
            policies.escalate_on_conflict(),
            policies.require_approval(lambda p: not p.reversible),
        ),
        sink=sinks.Table("cases"),
    )


def generate(n: int, seed: int = 0) -> Iterator[tuple[str, Case]]:
    """`n` support cases, one at a time: (board name, case). The same seed gives the same cases."""
    rng = random.Random(seed)
    for i in range(n):
        product = rng.choices(PRODUCTS, weights=(40, 40, 4, 13, 3))[0]
        description = rng.choices(DESCRIPTIONS, weights=(60, 36, 4))[0]
        contract = rng.choices(("active", "expired", "missing"), weights=(90, 6, 4))[0]
        yield (
            f"case-{i:05d}",
            Case(
                subject=f"case-{i:05d}",
                customer=f"customer-{rng.randrange(500):03d}",
                product=product,
                description=description,
                contract=contract,
                wants_refund=rng.random() < 0.05,
                confidence=1.0,
            ),
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--cases", type=int, default=10_000, help="how many cases to generate (default 10,000)")
    parser.add_argument("--quick", action="store_true", help="200 cases")
    parser.add_argument("--db", help="the store's URL (default: a SQLite file in a temporary directory)")
    parser.add_argument("--concurrency", type=int, default=8, help="boards at once (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated cases")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    n = 200 if args.quick else args.cases
    with tempfile.TemporaryDirectory(prefix="slateboard-batch-") as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'cases.db'}"
        with Blackboard.open(url) as bb:
            result = run_many_sync(
                build_controller(),
                bb,
                generate(n, args.seed),
                concurrency=args.concurrency,
                timeout=60,
                progress=not args.no_progress,
            )
            rows = len(sinks.Table("cases").rows(bb))
    print(f"{len(result.results):,} cases on {url}{' (interrupted)' if result.interrupted else ''}")
    for status, count in result.counts().items():
        print(f"  {status} {count}")
    print(f"{result.rate:,.1f} cases/s ({result.seconds:.1f} s, concurrency {args.concurrency})")
    print(f"rows in the cases table: {rows:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
