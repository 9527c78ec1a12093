"""Agents that failed for good, and what their silence means for the decision a run ended with.

An agent has failed for good on a subject when its last attempt there was not "ok" (a timeout, an error, a kind it
does not declare, an invalid finding) and no later attempt succeeded: the runner has used its retries, and it runs
again only when its inputs change. Its findings are then missing from the evidence the rules judged, which an
outcome must say (nothing fails silently): a claim "verified on two sources" reads differently once it is known
that a third, possibly dissenting, source never answered.

Everything here is read from the controller's state, so it is the same live, on resume and after replay.
"""

from __future__ import annotations

from slateboard.blackboard.records import FrozenModel
from slateboard.state.projection import BoardState
from slateboard.state.records import AgentRun, Decision
from slateboard.state.vocabulary import AgentRunStatus

__all__ = ("AgentFailure", "FAILED_AGENT", "agent_failures")

FAILED_AGENT = "failed-agent"
"""The rule name an outcome's failure reasons carry (`failed-agent: agent x timed out ...`)."""

# How each kind of failure reads in a sentence ("agent x timed out on every attempt (2)").
_VERBS: dict[str, str] = {
    "timeout": "timed out",
    "error": "raised an error",
    "denied": "wrote a kind it does not declare",
    "invalid": "returned an invalid finding",
}


class AgentFailure(FrozenModel):
    """One agent that failed for good on one subject, and what its silence means for the decision.

    `missing` names the kinds it would have written; `rests_on` the other agents whose findings of those kinds the
    decision was taken on; `message` says all of it in a sentence (also in `Outcome.reasons`).
    """

    agent: str
    subject: str
    status: AgentRunStatus
    attempts: int
    error: str
    version: int
    missing: tuple[str, ...] = ()
    rests_on: tuple[str, ...] = ()
    message: str

    def __str__(self) -> str:
        return f"{FAILED_AGENT}: {self.message}"


def failed_for_good(state: BoardState) -> list[tuple[str, str, int, AgentRun]]:
    """(agent, subject, version, last run) for every agent whose last attempt on a subject failed, sorted.

    A conflict an agent reports is not a failure: it is an answer (a person must decide), and decisions say so.
    """
    return [
        (agent, subject, version, run)
        for (agent, subject), (version, run) in sorted(state.unresolved.items())
        if run.status != "conflict"
    ]


def how_it_failed(run: AgentRun) -> str:
    """How a run failed, in words: "timed out on every attempt (2)", "raised an error on its only attempt"."""
    verb = _VERBS.get(run.status, run.status)
    if run.attempt > 1:
        return f"{verb} on every attempt ({run.attempt})"
    return f"{verb} on its only attempt"


def agent_failures(state: BoardState, decision: Decision) -> tuple[AgentFailure, ...]:
    """Every agent that failed for good on the board, each with what it means for `decision`."""
    outputs = {a.name: a.outputs for a in state.agents}
    failures = []
    for agent, subject, version, run in failed_for_good(state):
        kinds = outputs.get(agent, ())
        missing = tuple(k.kind_name for k in kinds)
        others = sorted({a for k in kinds for a in state.newest_per_author(k, subject) if a != agent})
        detail = f": {run.error}" if run.error else ""
        said = f"agent {agent} {how_it_failed(run)} on {subject!r} (v{version}{detail})"
        # An answer it gave on earlier inputs still stands, but it is not an answer to the current ones.
        stale = sorted(v for k in kinds if (v := state.newest_per_author(k, subject).get(agent, 0)))
        if missing:
            its = " and ".join(missing)
            rests = " and ".join(others) if others else "no other source of it"
            gone = f"is from earlier inputs (v{stale[-1]})" if stale else "is missing"
            said += f": its {its} finding {gone}; the {decision.status} decision rests on {rests}"
        else:
            said += f": what it would have written is missing from the {decision.status} decision"
        failures.append(
            AgentFailure(
                agent=agent,
                subject=subject,
                status=run.status,
                attempts=run.attempt,
                error=run.error,
                version=version,
                missing=missing,
                rests_on=tuple(others),
                message=said,
            )
        )
    return tuple(failures)
