"""Turning the controller's state into a decision: conflicts first, then sufficiency, then the agenda.

The order is the contract: a conflict or a confidence gate escalates even when the evidence would suffice;
evidence that suffices ends the run; otherwise the agents with work run next, unless a budget is spent;
with nothing left to run the run is insufficient, or failed when an agent failed for good.

Rule results are cached per subject and recomputed only for subjects that changed since the last decision,
so the cost of a decision follows what changed, not the length of the log.

A person's settlement is an authoritative answer, not one more source: a case closed by a person is decided
"closed"; while a settlement stands on a subject (no newer finding of its kinds), the conflicts it settled, and any
conflict over findings of the kinds it judged, do not fire there, and a sufficiency rule on the kind of the finding
it chose is met by that choice.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slateboard.agents.spec import Agent
from slateboard.controller.retraction import stale_commit_reasons
from slateboard.controller.rules import Assessment, Budget, ConflictRule, OwnSubject, Rule, SufficiencyRule
from slateboard.errors import ConfigurationError
from slateboard.state.projection import BoardState
from slateboard.state.records import Decision, Reason, Settlement, Task
from slateboard.state.rules import OfKind

__all__ = ("Evaluator", "RuleSet", "split_rules")


def split_rules(rules: Sequence[Rule]) -> tuple[list[SufficiencyRule], list[ConflictRule], Budget]:
    """Sort rules by what they do; `ConfigurationError` for anything that is not a rule (untyped callers pass any)."""
    sufficiency: list[SufficiencyRule] = []
    conflicts: list[ConflictRule] = []
    budgets: list[Budget] = []
    for rule in rules:
        if isinstance(rule, Budget):
            budgets.append(rule)
        elif isinstance(rule, SufficiencyRule):
            sufficiency.append(rule)
        elif isinstance(rule, ConflictRule):
            conflicts.append(rule)
        else:
            raise ConfigurationError(f"{rule!r} is not a rule: use the constructors in slateboard.rules")
    if len(budgets) > 1:
        raise ConfigurationError("give at most one rules.budget(...)")
    return sufficiency, conflicts, budgets[0] if budgets else Budget()


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A controller's rules sorted once (checking a rule against the protocols costs more than a decision's
    arithmetic): the sufficiency rules with their own subjects and kinds, the conflict rules, the budget."""

    sufficiency: tuple[SufficiencyRule, ...]
    conflicts: tuple[ConflictRule, ...]
    budget: Budget
    own: tuple[str | None, ...]
    kinds: tuple[type | None, ...]

    @classmethod
    def of(cls, rules: Sequence[Rule]) -> RuleSet:
        """Sort `rules`; `ConfigurationError` for anything that is not a rule."""
        sufficiency, conflicts, budget = split_rules(rules)
        return cls(
            sufficiency=tuple(sufficiency),
            conflicts=tuple(conflicts),
            budget=budget,
            own=tuple(rule.subject if isinstance(rule, OwnSubject) else None for rule in sufficiency),
            kinds=tuple(rule.kind if isinstance(rule, OfKind) else None for rule in sufficiency),
        )


class Evaluator:
    """Decides for one `BoardState`; keeps per-subject rule results between decisions."""

    def __init__(self, agents: Sequence[Agent], rules: Sequence[Rule] | RuleSet) -> None:
        self.agents = tuple(agents)
        ruleset = rules if isinstance(rules, RuleSet) else RuleSet.of(rules)
        self.sufficiency, self.conflicts, self.budget = ruleset.sufficiency, ruleset.conflicts, ruleset.budget
        self._own, self._kinds = ruleset.own, ruleset.kinds
        self._met: list[dict[str, Assessment]] = [{} for _ in self.sufficiency]
        self._triggered: list[dict[str, Reason]] = [{} for _ in self.conflicts]
        self._when_args = [
            tuple(inspect.signature(a.when).parameters) if a.when is not None else () for a in self.agents
        ]

    def decide(self, state: BoardState) -> Decision:  # noqa: PLR0911 - one return per kind of decision
        """The next decision; call it exactly where a decision entry is (or will be) on the log."""
        cycle = state.decisions + 1
        if state.closed is not None:
            version, settlement = state.closed
            closed = Reason(rule="settled", message=settlement.describe(version), agents=(settlement.reviewer,))
            return Decision(cycle=cycle, status="closed", reasons=(closed,))
        self._refresh(state)
        conflicts = self._conflict_reasons(state) + stale_commit_reasons(state)
        if conflicts:
            return Decision(cycle=cycle, status="escalate", reasons=conflicts)
        met, missing = self._sufficiency(state)
        if self.sufficiency and not missing:
            return Decision(cycle=cycle, status="sufficient", reasons=met)
        agenda = self._agenda(state)
        failures = self._failure_reasons(state)
        if agenda:
            spent = self._spent(state)
            if spent is not None:
                return Decision(cycle=cycle, status="failed", reasons=(spent, *failures))
            names = ", ".join(f"{t.agent} on {t.subject!r}" for t in agenda)
            return Decision.trusted(cycle, "continue", (Reason.trusted("agenda", names),), agenda)
        if not self.sufficiency and not failures:
            quiet = Reason(rule="quiescent", message="no agent has work left and no rule asks for more evidence")
            return Decision(cycle=cycle, status="sufficient", reasons=(quiet,))
        unmet = _unmet_reasons(missing)
        stall = Reason(rule="stall", message="no agent has work left, and the evidence does not suffice")
        if failures:
            return Decision(cycle=cycle, status="failed", reasons=(*failures, *unmet, stall))
        return Decision(cycle=cycle, status="insufficient", reasons=(*unmet, stall))

    def _refresh(self, state: BoardState) -> None:
        for subject in state.take_touched():
            standing = state.standing(subject)
            for rule, kind, cache in zip(self.sufficiency, self._kinds, self._met, strict=True):
                assessment = (standing and _settled(rule.id, kind, state, standing)) or rule.assess(state, subject)
                if assessment is None:
                    cache.pop(subject, None)
                else:
                    cache[subject] = assessment
            for conflict, triggered in zip(self.conflicts, self._triggered, strict=True):
                reason = conflict.check(state, subject)
                if reason is not None and any(_settles(state, s, conflict.id, reason) for _, s in standing):
                    reason = None  # settled by a person, and no new evidence since
                if reason is None:
                    triggered.pop(subject, None)
                else:
                    triggered[subject] = reason

    def _conflict_reasons(self, state: BoardState) -> tuple[Reason, ...]:
        if not state.unresolved and not any(self._triggered):  # most decisions: no conflict anywhere
            return ()
        reasons = [triggered[s] for triggered in self._triggered for s in sorted(triggered)]
        for (agent, subject), (version, run) in sorted(state.unresolved.items()):
            if run.status == "conflict":
                message = f"agent {agent} reported a conflict on {subject!r} (v{version}): {run.error}"
                reasons.append(Reason(rule="agent-conflict", message=message, agents=(agent,)))
        return tuple(reasons)

    def _sufficiency(self, state: BoardState) -> tuple[tuple[Reason, ...], list[Reason | tuple[str, str]]]:
        """Met reasons, and what is unmet: a rule's own reason, or (rule id, where) for a rule with no finding yet,
        made into a reason only when the decision names it (a run that goes on does not). A rule must be met on
        every subject the inputs are about (or on its own subject)."""
        met: list[Reason] = []
        unmet: list[Reason | tuple[str, str]] = []
        for rule, own, cache in zip(self.sufficiency, self._own, self._met, strict=True):
            required = [own] if own is not None else list(state.input_subjects) or sorted(cache)[:1]
            missing = [s for s in required if s not in cache or not cache[s].met]
            if required and not missing:
                met.append(cache[required[0]].reason)
            elif missing and missing[0] in cache:
                unmet.append(cache[missing[0]].reason)
            else:
                unmet.append((rule.id, f" on {missing[0]!r}" if missing else ""))
        return tuple(met), unmet

    def _failure_reasons(self, state: BoardState) -> tuple[Reason, ...]:
        if not state.unresolved:
            return ()
        reasons = []
        for (agent, subject), (version, run) in sorted(state.unresolved.items()):
            if run.status != "conflict":
                message = (
                    f"agent {agent} failed on {subject!r} after {run.attempt} attempt(s) "
                    f"(v{version}, {run.status}): {run.error}"
                )
                reasons.append(Reason(rule="agent-failure", message=message, agents=(agent,)))
        return tuple(reasons)

    def _spent(self, state: BoardState) -> Reason | None:
        limits = self.budget
        if state.cycles >= limits.max_cycles:
            return Reason(rule=limits.id, message=f"the run has used its {limits.max_cycles} cycles")
        if state.agent_runs >= limits.max_agent_runs:
            return Reason(rule=limits.id, message=f"the run has used its {limits.max_agent_runs} agent attempts")
        if limits.deadline is not None and state.now and state.started_at:
            elapsed = (state.now - state.started_at).total_seconds()
            if elapsed > limits.deadline:
                return Reason(rule=limits.id, message=f"the run is past its deadline of {limits.deadline:g} s")
        return None

    def _agenda(self, state: BoardState) -> tuple[Task, ...]:
        tasks: list[tuple[int, int, Task]] = []
        for index, subject in sorted(state.candidates):
            agent = self.agents[index]
            inputs = self._inputs(state, agent, subject)
            runnable = (
                inputs is not None
                and (agent.name, subject, inputs) not in state.task_status
                and self._precondition(state, index, inputs)
            )
            if not runnable or inputs is None:
                # Not runnable until one of its inputs changes, which makes it a candidate again.
                state.candidates.discard((index, subject))
                continue
            tasks.append((-agent.rating, index, Task.trusted(agent.name, subject, inputs)))
        if len(tasks) == 1:  # a line of agents: one task a cycle, nothing to order
            return (tasks[0][2],)
        return tuple(task for _, _, task in sorted(tasks, key=lambda t: (t[0], t[1], t[2].subject)))

    @staticmethod
    def _inputs(state: BoardState, agent: Agent, subject: str) -> tuple[tuple[int, ...], ...] | None:
        versions = []
        for param in agent.params:
            if param.kind is None:
                continue
            found = (state.newest(param.kind, subject),) if param.role == "one" else state.every(param.kind, subject)
            if not found or not found[0]:
                return None
            versions.append(tuple(found))
        return tuple(versions)

    def _precondition(self, state: BoardState, index: int, inputs: tuple[tuple[int, ...], ...]) -> bool:
        agent = self.agents[index]
        if agent.when is None:
            return True
        values: dict[str, Any] = {}
        finding_params = [p for p in agent.params if p.kind is not None]
        for param, versions in zip(finding_params, inputs, strict=True):
            found = [state.finding(v) for v in versions]
            values[param.name] = found[0] if param.role == "one" else found
        try:
            return bool(agent.when(**{name: values[name] for name in self._when_args[index]}))
        except Exception:  # a precondition that cannot be evaluated does not hold; the agent does not run
            return False


def _unmet_reasons(unmet: list[Reason | tuple[str, str]]) -> tuple[Reason, ...]:
    return tuple(
        item if isinstance(item, Reason) else Reason(rule=item[0], message=f"no finding of this kind{item[1]} yet")
        for item in unmet
    )


def _settles(state: BoardState, settlement: Settlement, rule: str, reason: Reason) -> bool:
    """Whether a standing settlement answers this conflict: it settled the rule, or the person has already judged
    every finding the rule names (all of the settled kinds, e.g. a confidence gate on the finding chosen)."""
    if rule in settlement.rules:
        return True
    return bool(reason.findings) and all(state.finding(v).kind_name in settlement.kinds for v in reason.findings)


def _settled(
    rule: str, kind: type | None, state: BoardState, standing: tuple[tuple[int, Settlement], ...]
) -> Assessment | None:
    """A sufficiency rule met by the newest standing settlement that chose a finding of its kind, if any."""
    if kind is None:
        return None
    for version, settlement in reversed(standing):
        chosen = settlement.chosen
        if chosen is not None and isinstance(state.finding(chosen), kind):
            message = f"{settlement.describe(version)}: an authoritative answer"
            return Assessment(
                True, Reason(rule=rule, message=message, findings=(chosen,), agents=(settlement.reviewer,))
            )
    return None
