"""A quorum: evidence of a kind suffices only once enough of the agents expected to answer have answered.

`sufficient` counts the sources that spoke; it cannot tell a source that had nothing to say from one that never
answered. A claim "verified on two sources" while the third, the dissenter, timed out on every attempt is what
`rules.quorum(Verification, agents=("a", "b", "c"))` refuses: sufficiency waits while a named agent may still answer,
and the reason names every missing agent and why it is missing (it failed, and how; it has not run yet; it ran and
wrote none; it is not an agent of this controller; it does not write the kind).

What happens when the quorum cannot be reached is the controller's ordinary order: while any agent has work the run
goes on; once none has, a named agent that failed for good ends the run "failed" (an agent failure, named as
such, not a judgement on the evidence), and one that simply never answered ends it "insufficient". A failed agent
runs again only when its inputs change, so a new input can still complete the quorum on a later run.

A quorum is a sufficiency rule like any other: all sufficiency rules must be met, so it combines with
`sufficient(kind, min_sources=, min_confidence=)` on the same kind. Its judgement reads only the controller's
state (findings and agent runs), so it replays identically.
"""

from __future__ import annotations

from dataclasses import dataclass

from slateboard.blackboard.records import Finding
from slateboard.controller.failures import how_it_failed
from slateboard.errors import ConfigurationError
from slateboard.state.projection import BoardState
from slateboard.state.records import AgentRun, Reason
from slateboard.state.rules import Assessment, SufficiencyRule

__all__ = ("quorum",)


@dataclass(frozen=True)
class _Quorum:
    kind: type[Finding]
    agents: tuple[str, ...]
    min_answers: int
    subject: str | None
    id: str

    def assess(self, state: BoardState, subject: str) -> Assessment | None:
        if self.subject is not None and subject != self.subject:
            return None
        newest = state.newest_per_author(self.kind, subject)
        answered = [(name, newest[name]) for name in self.agents if name in newest]
        missing = [name for name in self.agents if name not in newest]
        failed = {name: run for name in missing if (run := _last_failure(state, name, subject)) is not None}
        if not answered and not failed and subject not in state.input_subjects:
            return None  # nothing to judge here: not a subject of the run, and no named agent touched it
        met = len(answered) >= self.min_answers
        said = ", ".join(f"{name} (v{v})" for name, v in answered) or "none"
        message = (
            f"{len(answered)} of {len(self.agents)} named agent(s) answered {self.kind.kind_name} on {subject!r} "
            f"(needs {self.min_answers}): {said}"
        )
        if missing:
            why = ", ".join(f"{name} ({self._why_missing(state, name, subject, failed.get(name))})" for name in missing)
            message += f"; missing: {why}"
        if not met:
            message += self._consequence(state, missing, failed)
        agents = tuple(name for name, _ in answered) + tuple(missing)
        versions = tuple(sorted(v for _, v in answered))
        return Assessment(met, Reason(rule=self.id, message=message, findings=versions, agents=agents))

    def _writes_kind(self, state: BoardState, name: str) -> bool | None:
        """Whether the agent declares an output of the kind; None when it is not one of the controller's agents
        (or the state was built without them, when it cannot be told)."""
        for spec in state.agents:
            if spec.name == name:
                return any(issubclass(k, self.kind) for k in spec.outputs)
        return None

    def _why_missing(self, state: BoardState, name: str, subject: str, failure: AgentRun | None) -> str:
        if failure is not None:
            return "reported a conflict" if failure.status == "conflict" else how_it_failed(failure)
        writes = self._writes_kind(state, name)
        if writes is None and state.agents:
            return "not an agent of this controller"
        if writes is False:
            return f"it does not write {self.kind.kind_name}"
        ran = any(key[0] == name and key[1] == subject for key in state.task_status)
        return "ran but wrote none" if ran else "has not run yet"

    def _consequence(self, state: BoardState, missing: list[str], failed: dict[str, AgentRun]) -> str:
        """What the unmet quorum means for the run, in words (the controller's order decides the status)."""
        never = [n for n in missing if n not in failed and self._writes_kind(state, n) is not True and state.agents]
        reachable = len(self.agents) - len(failed) - len(never)
        if reachable >= self.min_answers:
            return "; the run goes on while they may still answer, and does not decide on fewer answers"
        if failed:
            names = ", ".join(sorted(failed))
            return (
                f"; the quorum is out of reach while {names} failed: the run does not decide on fewer answers and "
                f"ends failed once no agent has work left (new inputs let a failed agent run again)"
            )
        return f"; the quorum can never be reached: {', '.join(never)} cannot answer (check the rule's agents=)"


def _last_failure(state: BoardState, name: str, subject: str) -> AgentRun | None:
    unresolved = state.unresolved.get((name, subject))
    return unresolved[1] if unresolved is not None else None


def quorum(
    kind: type[Finding],
    *,
    agents: tuple[str, ...] | list[str],
    min_answers: int | None = None,
    subject: str | None = None,
    id: str | None = None,
) -> SufficiencyRule:
    """Evidence of `kind` on a subject suffices only when at least `min_answers` (default: all) of the agents named
    in `agents` have written a finding of `kind` there. Until then the reason names each missing agent and why."""
    if not (isinstance(kind, type) and issubclass(kind, Finding)):
        raise ConfigurationError(f"rules.quorum: {kind!r} is not a Finding kind")
    if isinstance(agents, str) or not isinstance(agents, tuple | list) or not agents:
        raise ConfigurationError(f"rules.quorum: agents must be a non-empty tuple of agent names, got {agents!r}")
    names = tuple(agents)
    if not all(isinstance(name, str) and name for name in names):
        raise ConfigurationError(f"rules.quorum: agents must be agent names (non-empty strings), got {names!r}")
    if len(set(names)) != len(names):
        raise ConfigurationError(f"rules.quorum: agents names an agent twice: {names!r}")
    needed = len(names) if min_answers is None else min_answers
    if isinstance(needed, bool) or not isinstance(needed, int) or not 1 <= needed <= len(names):
        raise ConfigurationError(
            f"rules.quorum: min_answers must be an int from 1 to the {len(names)} named agent(s), got {min_answers!r}"
        )
    rule_id = id or f"quorum({kind.kind_name}: {needed} of {', '.join(names)})"
    return _Quorum(kind, names, needed, subject, rule_id)
