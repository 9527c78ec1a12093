"""`Policy`: judges each proposal against its rules and returns a `Verdict`.

Semantics. Every rule votes (or abstains). Any "deny" wins; then any "escalate"; a proposal nobody allowed is
denied unless the policy is allow-by-default; then any "needs_approval" (or the proposal's own
`requires_approval`) makes it wait for a person; otherwise it is allowed. So a veto always wins over any
allow. A rule that raises is read as "escalate": a person decides rather than a broken rule.

A policy's `version` is a hash of its rules and their parameters, recorded in every verdict, so a replay can
tell whether a verdict was reached under the same policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from slateboard._internal import telemetry
from slateboard._internal.describe import describe, digest
from slateboard.blackboard.view import BoardView
from slateboard.errors import PolicyError
from slateboard.policies.builtins import PolicyRule, _Priority
from slateboard.policies.context import PolicyContext, state_of
from slateboard.state.projection import BoardState, live_proposals
from slateboard.state.proposal import Proposal
from slateboard.state.records import Verdict, Vote
from slateboard.state.vocabulary import POLICY_DEFAULTS, VETOES, Effect, PolicyDefault

__all__ = ("Policy", "describe")

_ORDER = VETOES  # the order in which effects win: deny, then escalate, then needs_approval
_REQUESTED = Vote(
    rule="proposal.requires_approval", effect="needs_approval", message="the proposal asks for a person's approval"
)


class Policy:
    """A set of policy rules: `Policy(policies.min_confidence(0.85), policies.require_citations(), ...)`.

    `default="allow"` makes a proposal that no rule allows pass (vetoes still win); the default is "deny".
    """

    def __init__(self, *rules: PolicyRule, default: PolicyDefault = "deny", source: str = "") -> None:
        if default not in POLICY_DEFAULTS:
            raise PolicyError(f"default must be 'deny' or 'allow', got {default!r}", file=source or None)
        seen: set[str] = set()
        for position, rule in enumerate(rules, 1):
            if not isinstance(rule, PolicyRule):
                raise PolicyError(f"{rule!r} is not a policy rule (use slateboard.policies.*)", rule=f"#{position}")
            if rule.id in seen:
                raise PolicyError("two rules share this id; give one of them id='...'", rule=rule.id)
            seen.add(rule.id)
        self.rules: tuple[PolicyRule, ...] = tuple(rules)
        self.default = default
        self.source = source
        ranking = [r.domains for r in rules if isinstance(r, _Priority)]
        if len(ranking) > 1:
            raise PolicyError("give at most one priority(...) rule", rule="priority")
        self.ranking: tuple[str, ...] | None = ranking[0] if ranking else None
        self.version = _version(default, self.rules)

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """Load a policy from a TOML or YAML file (see `slateboard.policies.load`)."""
        from slateboard.policies.files import load  # noqa: PLC0415 - files imports this module

        return load(path)

    def __repr__(self) -> str:
        where = f", source={self.source!r}" if self.source else ""
        return f"Policy({len(self.rules)} rules, default={self.default!r}, version={self.version!r}{where})"

    def evaluate(self, view: BoardView, proposal: int, *, state: BoardState | None = None) -> Verdict:
        """The verdict on the proposal at entry `proposal` of `view`, judged on that snapshot."""
        state = state if state is not None else state_of(view)
        return self._judge(view, state, live_proposals(state), proposal)

    def judge(self, view: BoardView, *, state: BoardState | None = None) -> tuple[Verdict, ...]:
        """Verdicts for every live proposal on `view` that has none yet, in log order (`state`, when given, is the
        projection of `view`: it says which proposals stand and which are judged)."""
        state = state if state is not None else state_of(view)
        live = live_proposals(state)
        return tuple(self._judge(view, state, live, v) for v in live if v not in state.keys.judged)

    def _judge(self, view: BoardView, state: BoardState, live: tuple[int, ...], version: int) -> Verdict:
        proposal = view.entry(version).payload
        if not isinstance(proposal, Proposal):
            raise PolicyError(
                f"entry v{version} of board {view.board!r} is a {type(proposal).__name__}, not a Proposal"
            )
        author = view.entry(version).author
        context = PolicyContext(view, state, version, proposal, author, live, self.ranking)
        with telemetry.span("slateboard.policy.evaluate", board=view.board, version=view.version) as span:
            votes = [vote for rule in self.rules if (vote := _vote(rule, context)) is not None]
            if proposal.requires_approval:
                votes.append(_REQUESTED)
            outcome, reasons = self._combine(votes)
            span.set(
                proposal=version, action=proposal.action, target=proposal.target, outcome=outcome, policy=self.version
            )
        return Verdict(
            key=proposal.key(view.board),
            proposal=version,
            action=proposal.action,
            target=proposal.target,
            outcome=outcome,
            reasons=reasons,
            votes=tuple(votes),
            policy=self.version,
            at=view.version,
            overridden_by=next((v.overridden_by for v in reasons if v.overridden_by is not None), None),
        )

    def _combine(self, votes: Sequence[Vote]) -> tuple[Effect, tuple[Vote, ...]]:
        for effect in _ORDER[:2]:
            deciding = tuple(v for v in votes if v.effect == effect)
            if deciding:
                return effect, deciding
        allows = tuple(v for v in votes if v.effect == "allow")
        if not allows and self.default == "deny":
            message = "no rule allowed this proposal, and the policy denies by default"
            return "deny", (Vote(rule="default-deny", effect="deny", message=message),)
        gates = tuple(v for v in votes if v.effect == "needs_approval")
        if gates:
            return "needs_approval", gates
        if allows:
            return "allow", allows
        return "allow", (Vote(rule="default-allow", effect="allow", message="no rule objected (allow by default)"),)


def _vote(rule: PolicyRule, context: PolicyContext) -> Vote | None:
    try:
        return rule.evaluate(context)
    except Exception as exc:  # a broken rule must not be read as "no objection"
        message = f"the rule could not be evaluated ({type(exc).__name__}: {exc}); a person decides"
        return Vote(rule=rule.id, effect="escalate", message=message, findings=(context.version,))


def _version(default: str, rules: Sequence[PolicyRule]) -> str:
    return digest({"default": default, "rules": list(rules)})
