"""Property tests of policies: vetoes win, verdicts are a function of (snapshot, policy version), default-deny.

Boards are real (memory, and a SQLite file for determinism); proposals (confidence, approved or unapproved
citations, changes, reversibility, domains, rivals on one target) and rule sets (the built-ins with drawn
parameters) come from hypothesis strategies. A rule set is drawn as a recipe, so an equal `Policy` can be
built a second time from it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Citation, Finding, Proposal, Verdict, policies
from slateboard.blackboard.board import Board
from slateboard.blackboard.view import BoardView
from slateboard.policies import Policy, PolicyContext, PolicyRule
from slateboard.state.records import COMMIT_LAYER, Effect, Vote

SUBJECTS = ("case-1", "case-2")
TARGETS = ("Case/1", "Case/2", "Account/7")
ACTIONS = ("update", "notify", "delete")
FIELDS = ("Status", "Owner", "Price", "To")
DOMAINS = ("compliance", "service", "sales")
AUTHORS = ("compliance", "service", "sales", "marketing", "bot")
VETOES = ("deny", "escalate")


class Flag(Finding):
    kind_name = "tests.policies.properties.Flag"
    frozen: bool = True


@dataclass(frozen=True)
class Veto:
    """A test rule that vetoes (`deny` or `escalate`) every proposal on `targets`."""

    effect: Effect
    targets: frozenset[str]
    id: str = "veto"

    def evaluate(self, context: PolicyContext) -> Vote | None:
        if context.proposal.target not in self.targets:
            return None
        return Vote(rule=self.id, effect=self.effect, message=f"{context.proposal.target} is vetoed")


def touches_price(proposal: Proposal) -> bool:
    return "Price" in proposal.changes


# Strategies -----------------------------------------------------------------------------------------------

names = st.sets(st.sampled_from(ACTIONS), min_size=1).map(sorted)
maybe_actions = st.none() | names
veto = st.sampled_from(("deny", "escalate", "needs_approval"))

RULES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "allow": st.fixed_dictionaries({"actions": maybe_actions}),
    "min_confidence": st.fixed_dictionaries({"threshold": st.floats(0, 1), "effect": veto}),
    "require_citations": st.fixed_dictionaries(
        {"approved": st.booleans(), "min_count": st.integers(1, 2), "effect": veto}
    ),
    "escalate_on_conflict": st.just({}),
    "freeze_on": st.fixed_dictionaries({"only_frozen": st.booleans(), "effect": veto}),
    "priority": st.permutations(DOMAINS).map(lambda d: {"domains": list(d)}),
    "require_approval": st.fixed_dictionaries({"price": st.booleans()}),
    "max_changes": st.fixed_dictionaries({"limit": st.integers(0, 3), "actions": maybe_actions}),
    "allowed_fields": st.fixed_dictionaries(
        {"fields": st.sets(st.sampled_from(FIELDS), min_size=1).map(sorted), "actions": maybe_actions}
    ),
}

Recipe = tuple[tuple[str, dict[str, Any]], ...]


@st.composite
def recipes(draw: st.DrawFn, kinds: tuple[str, ...] = tuple(RULES)) -> Recipe:
    chosen = draw(st.lists(st.sampled_from(kinds), unique=True, max_size=len(kinds)))
    return tuple((kind, draw(RULES[kind])) for kind in chosen)


def build(recipe: Recipe) -> list[PolicyRule]:
    """The rules of a recipe, built afresh each call (a second call gives equal, not identical, rules)."""
    built: list[PolicyRule] = []
    for kind, params in recipe:
        if kind == "freeze_on":
            when = (lambda f: f.frozen) if params["only_frozen"] else None
            built.append(policies.freeze_on(Flag, when=when, effect=params["effect"]))
        elif kind == "priority":
            built.append(policies.priority(*params["domains"]))
        elif kind == "require_approval":
            built.append(policies.require_approval(touches_price) if params["price"] else policies.require_approval())
        elif kind == "min_confidence":
            built.append(policies.min_confidence(params["threshold"], effect=params["effect"]))
        else:
            built.append(getattr(policies, kind)(**params))
    return built


citations = st.lists(
    st.builds(Citation, source=st.sampled_from(("kb", "crm", "forum")), approved=st.booleans()), max_size=3
).map(tuple)
changes = st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(("A", "B", 1)), max_size=4)

proposals = st.builds(
    Proposal,
    subject=st.sampled_from(SUBJECTS),
    action=st.sampled_from(ACTIONS),
    target=st.sampled_from(TARGETS),
    changes=changes,
    confidence=st.floats(0, 1),
    citations=citations,
    reversible=st.booleans(),
    requires_approval=st.booleans(),
    domain=st.none() | st.sampled_from(DOMAINS),
)
flags = st.builds(Flag, subject=st.sampled_from(SUBJECTS + TARGETS), frozen=st.booleans(), confidence=st.just(1.0))
entries = st.lists(st.tuples(proposals | flags, st.sampled_from(AUTHORS)), min_size=1, max_size=8).filter(
    lambda items: any(isinstance(record, Proposal) for record, _ in items)
)


# Helpers --------------------------------------------------------------------------------------------------


async def fill(board: Board, items: list[tuple[Finding, str]]) -> BoardView:
    for record, author in items:
        await board.write(record, author=author)
    return await board.view()


def every_proposal(view: BoardView) -> list[int]:
    return [e.version for e in view.entries(Proposal)]


def check_combination(verdict: Verdict, default: str) -> None:
    """What every verdict must say about its own votes."""
    effects = {vote.effect for vote in verdict.votes}
    if "deny" in effects:
        assert verdict.outcome == "deny"
    elif "escalate" in effects:
        assert verdict.outcome == "escalate"
    elif "allow" not in effects and default == "deny":
        assert verdict.outcome == "deny"
        assert [r.rule for r in verdict.reasons] == ["default-deny"]
    elif "needs_approval" in effects:
        assert verdict.outcome == "needs_approval"
    else:
        assert verdict.outcome == "allow"
    assert verdict.reasons
    assert all(reason.effect == verdict.outcome for reason in verdict.reasons)


# (1) A veto always wins -----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    items=entries,
    recipe=recipes(),
    effect=st.sampled_from(VETOES),
    vetoed=st.sets(st.sampled_from(TARGETS), min_size=1),
    default=st.sampled_from(("deny", "allow")),
)
def test_a_veto_always_wins(
    items: list[tuple[Finding, str]], recipe: Recipe, effect: Effect, vetoed: frozenset[str], default: Any
) -> None:
    policy = Policy(*build(recipe), Veto(effect, frozenset(vetoed)), default=default)

    async def main() -> None:
        with Blackboard.open("memory://") as bb:
            view = await fill(bb.board("b"), items)
        for version in every_proposal(view):
            verdict = policy.evaluate(view, version)
            check_combination(verdict, default)
            if view.entry(version).payload.target in vetoed:
                assert verdict.outcome not in ("allow", "needs_approval")
                assert verdict.outcome == "deny" or effect == "escalate"
                if verdict.outcome == effect:
                    assert "veto" in [r.rule for r in verdict.reasons]

    anyio.run(main)


# (2) Same snapshot, same policy version: same verdict -----------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    items=entries,
    later=st.lists(st.tuples(proposals | flags, st.sampled_from(AUTHORS)), min_size=1, max_size=4),
    recipe=recipes(),
    default=st.sampled_from(("deny", "allow")),
    store=st.sampled_from(("memory", "sqlite")),
)
def test_the_same_snapshot_and_policy_version_give_the_same_verdict(
    items: list[tuple[Finding, str]],
    later: list[tuple[Finding, str]],
    recipe: Recipe,
    default: Any,
    store: str,
) -> None:
    policy, again = Policy(*build(recipe), default=default), Policy(*build(recipe), default=default)
    assert again.version == policy.version

    async def main(url: str) -> None:
        with Blackboard.open(url) as bb:
            board = bb.board("b")
            view = await fill(board, items)
            first = {v: policy.evaluate(view, v) for v in every_proposal(view)}
            judged = policy.judge(view)
            for version, verdict in first.items():
                assert policy.evaluate(view, version) == verdict
                assert again.evaluate(view, version) == verdict
                assert verdict.policy == policy.version
                assert verdict.at == view.version
            assert judged == again.judge(view)
            assert all(first[v.proposal] == v for v in judged)
            # The log moves on (more findings, proposals and the verdicts themselves); the old snapshot does not.
            await board.write_many(list(judged), author=COMMIT_LAYER)
            for record, author in later:
                await board.write(record, author=author)
            past = await board.view(at=view.version)
            for version, verdict in first.items():
                assert again.evaluate(past, version) == verdict
            assert again.judge(past) == judged

    if store == "memory":
        anyio.run(main, "memory://")
    else:
        with tempfile.TemporaryDirectory() as directory:
            anyio.run(main, f"sqlite:///{Path(directory) / 'p.db'}")


# (3) Default-deny -----------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(items=entries, recipe=recipes())
def test_under_default_deny_a_proposal_no_rule_allows_is_denied(
    items: list[tuple[Finding, str]], recipe: Recipe
) -> None:
    policy = Policy(*build(recipe))
    assert policy.default == "deny"

    async def main() -> None:
        with Blackboard.open("memory://") as bb:
            view = await fill(bb.board("b"), items)
        for version in every_proposal(view):
            verdict = policy.evaluate(view, version)
            check_combination(verdict, "deny")
            if not any(vote.effect == "allow" for vote in verdict.votes):
                assert verdict.outcome in ("deny", "escalate")
                if verdict.outcome == "deny" and not any(v.effect == "deny" for v in verdict.votes):
                    assert [r.rule for r in verdict.reasons] == ["default-deny"]
                    assert verdict.reasons[0].effect == "deny"

    anyio.run(main)


GATES = tuple(kind for kind in RULES if kind not in ("allow", "min_confidence", "require_citations"))


@settings(max_examples=40, deadline=None)
@given(items=entries, recipe=recipes(GATES))
def test_without_an_affirmative_rule_default_deny_denies_everything(
    items: list[tuple[Finding, str]], recipe: Recipe
) -> None:
    # Only gates and vetoes: nothing can allow, so nothing is allowed or waits for a person.
    policy = Policy(*build(recipe))

    async def main() -> None:
        with Blackboard.open("memory://") as bb:
            view = await fill(bb.board("b"), items)
        for verdict in policy.judge(view):
            assert verdict.outcome in ("deny", "escalate")
            vetoed = any(v.effect in VETOES for v in verdict.votes)
            assert vetoed or [r.rule for r in verdict.reasons] == ["default-deny"]

    anyio.run(main)
