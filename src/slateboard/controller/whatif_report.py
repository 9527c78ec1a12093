"""What `Controller.whatif` reports: per decision point and per proposal, the recorded and the would-be answer.

The report is data (frozen pydantic models, JSON for machines) with a text form for people: one line per change and
a summary count. `changed` is the one question a CI check asks: would the changed policy or rules have decided any
board differently?
"""

from __future__ import annotations

from typing import Literal

from slateboard.blackboard.records import FrozenModel
from slateboard.state.records import Reason, Vote
from slateboard.state.vocabulary import DecisionStatus, Effect, KeyStatus, OutcomeStatus

__all__ = ("DecisionWhatIf", "ProposalWhatIf", "WhatIfReport", "WouldBe", "reason_changes", "vote_changes")

WouldBe = OutcomeStatus | Literal["undetermined"]
"""A would-be outcome: an outcome status, or "undetermined" when the changed rules would let the run go on (a
what-if runs no agent, so what they would have found is not known)."""


class DecisionWhatIf(FrozenModel):
    """One decision entry: what was decided, what the changed rules decide on the same evidence, and why.

    `rules` are the rule ids whose reasons differ between the two; `why` says how, in the words outcome reasons use
    (`rule: sentence`), prefixed "now" (a reason the changed rules give) or "was" (a recorded reason they no longer
    give)."""

    version: int
    cycle: int
    recorded: DecisionStatus
    would_be: DecisionStatus
    rules: tuple[str, ...] = ()
    why: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.recorded != self.would_be

    def line(self) -> str:
        """One line for the text report."""
        because = f" because {'; '.join(self.why)}" if self.why else ""
        return f"decision v{self.version} (cycle {self.cycle}): {self.recorded} -> {self.would_be}{because}"


class ProposalWhatIf(FrozenModel):
    """One proposal the policy judged (on the log, or would judge): its verdict and where its key stands, recorded
    and would-be. A would-be "committed" key is one the commit layer would apply: a what-if calls no sink.

    `rules` are the policy rules whose votes differ; `why` says how (`rule: sentence`, "now" or "was")."""

    key: str
    proposal: int
    action: str
    target: str
    recorded_verdict: Effect | None
    would_be_verdict: Effect | None
    recorded_status: KeyStatus
    would_be_status: KeyStatus
    rules: tuple[str, ...] = ()
    why: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.recorded_verdict != self.would_be_verdict or self.recorded_status != self.would_be_status

    def line(self) -> str:
        """One line for the text report."""
        verdicts = f"verdict {self.recorded_verdict or 'none'} -> {self.would_be_verdict or 'none'}"
        status = f"{self.recorded_status} -> {self.would_be_status}"
        because = f" because {'; '.join(self.why)}" if self.why else ""
        return f"Proposal v{self.proposal} {self.action} {self.target} (key {self.key}): {verdicts}, {status}{because}"


class WhatIfReport(FrozenModel):
    """A board re-judged under a changed policy and/or rule set, with nothing run and nothing written.

    `policy` is the would-be policy's version (None: no policy); `rules` the would-be rule ids. `outcome` is the
    recorded outcome's status, `would_be` the would-be one, `reasons` why (the would-be outcome's reasons).
    `decisions` has every decision entry; `proposals` every proposal judged either way.
    """

    board: str
    policy: str | None
    rules: tuple[str, ...]
    outcome: OutcomeStatus | None
    would_be: WouldBe | None
    reasons: tuple[str, ...] = ()
    decisions: tuple[DecisionWhatIf, ...] = ()
    proposals: tuple[ProposalWhatIf, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether any decision, verdict, key or the outcome would change."""
        return self.outcome != self.would_be or bool(self.changes())

    def changes(self) -> tuple[DecisionWhatIf | ProposalWhatIf, ...]:
        """Every decision point and proposal that would change, in log order."""
        found: list[DecisionWhatIf | ProposalWhatIf] = [d for d in self.decisions if d.changed]
        found += [p for p in self.proposals if p.changed]
        return tuple(sorted(found, key=lambda c: c.version if isinstance(c, DecisionWhatIf) else c.proposal))

    def lines(self) -> list[str]:
        """The text report: a head line, one line per change, and the outcome."""
        changes = self.changes()
        counted = f"{len(self.decisions)} decision(s), {len(self.proposals)} proposal(s)"
        head = f"whatif {self.board!r}: {len(changes)} change(s) in {counted}"
        outcome = f"outcome: {self.outcome or 'none'} -> {self.would_be or 'none'}"
        if self.outcome == self.would_be:
            outcome = f"outcome: {self.outcome or 'none'} (unchanged)"
        return [head, *(f"  {change.line()}" for change in changes), f"  {outcome}"]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def reason_changes(recorded: tuple[Reason, ...], would_be: tuple[Reason, ...]) -> tuple[tuple[str, ...], list[str]]:
    """The rule ids whose reasons differ, and how: the would-be reasons first ("now"), then the recorded ("was")."""
    was, now = set(recorded), set(would_be)
    rules = dict.fromkeys(r.rule for r in (*recorded, *would_be) if (r in was) != (r in now))
    why = [f"now {r}" for r in would_be if r not in was] + [f"was {r}" for r in recorded if r not in now]
    return tuple(rules), why


def vote_changes(
    recorded: tuple[Vote, ...], would_be: tuple[Vote, ...], deciding: tuple[Vote, ...] = ()
) -> tuple[tuple[str, ...], list[str]]:
    """The policy rules whose votes differ (an effect changed, or a rule voted on one side only), and how; the
    rules that decide the would-be verdict (`deciding`, its reasons) first."""
    was = {v.rule: v for v in recorded}
    now = {v.rule: v for v in would_be}
    first = [v.rule for v in deciding if v.rule in now]
    rules, why = [], []
    for rule in dict.fromkeys([*first, *now, *was]):
        before, after = was.get(rule), now.get(rule)
        if before is not None and after is not None and before.effect == after.effect:
            continue
        rules.append(rule)
        if after is not None:
            why.append(f"now {after.rule} votes {after.effect}: {after.message}")
        else:
            why.append(f"was {rule} voted {before.effect if before is not None else 'nothing'}")
    return tuple(rules), why
