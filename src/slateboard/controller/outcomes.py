"""What a run ends with: its `Outcome` (read from the log), and what `replay` reports."""

from __future__ import annotations

from slateboard.blackboard.records import FrozenModel
from slateboard.controller.failures import AgentFailure, agent_failures
from slateboard.policies.policy import Policy
from slateboard.state.projection import BoardState
from slateboard.state.proposal import Proposal
from slateboard.state.records import ApprovalRequest, Commit, CommitFailure, Decision, Verdict
from slateboard.state.vocabulary import DECISION_OUTCOMES, OutcomeStatus

__all__ = ("AgentFailure", "Outcome", "OutcomeStatus", "Difference", "ReplayReport", "build_outcome")


class Outcome(FrozenModel):
    """How a run ended: `status`, the `reasons` (rule: sentence), the deciding entry, and the proposals.

    `reasons` is `decision_reasons` (why the controller decided as it did: the rules), then `failure_reasons`
    (every agent that failed for good, and what its missing findings mean for the decision: `agent_failures`),
    then `key_reasons` (where each live proposal stands and why: verdicts, approvals, commits). A person's answer
    changes only the last part. Nothing fails silently: whatever the status, a failed agent is named.

    `proposals` are the live proposals; `verdicts` the policy's judgements of them; `commits` what was applied;
    `approvals` the requests still waiting for a person (approve one with `controller.approve(board, key)`);
    `failures` the commits dead-lettered or in doubt.
    """

    board: str
    status: OutcomeStatus
    reasons: tuple[str, ...]
    decision: Decision
    decision_reasons: tuple[str, ...] = ()
    key_reasons: tuple[str, ...] = ()
    failure_reasons: tuple[str, ...] = ()
    agent_failures: tuple[AgentFailure, ...] = ()
    version: int
    proposals: tuple[Proposal, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    commits: tuple[Commit, ...] = ()
    approvals: tuple[ApprovalRequest, ...] = ()
    failures: tuple[CommitFailure, ...] = ()


class Difference(FrozenModel):
    """A decision or verdict whose replay differs from what was recorded."""

    version: int
    recorded: Decision | Verdict
    derived: Decision | Verdict


class ReplayReport(FrozenModel):
    """What `Controller.replay` found: `identical` when every decision and verdict re-derives to what was recorded."""

    board: str
    decisions: int
    identical: bool
    differences: tuple[Difference, ...]
    same_controller: bool
    verdicts: int = 0

    def __str__(self) -> str:
        counted = f"{self.decisions} decision(s)" + (f" and {self.verdicts} verdict(s)" if self.verdicts else "")
        if self.identical:
            return f"replay of {self.board!r}: {counted}, all identical"
        first = self.differences[0]
        return (
            f"replay of {self.board!r}: {len(self.differences)} of {counted} differ; first at "
            f"v{first.version}: recorded {_said(first.recorded)}, derived {_said(first.derived)}"
        )


def _said(record: Decision | Verdict) -> str:
    return record.status if isinstance(record, Decision) else f"verdict {record.outcome} (policy {record.policy})"


def build_outcome(
    board: str,
    state: BoardState,
    decision: Decision,
    *,
    version: int,
    policy: Policy | None,
) -> Outcome:
    """The outcome the log shows after `decision`: with a policy, the most pressing state of the live proposals
    (everything is read from `state` and its `keys`)."""
    status: OutcomeStatus = DECISION_OUTCOMES[decision.status]
    reasons = list(map(str, decision.reasons))
    failures = agent_failures(state, decision)
    failure_reasons = tuple(map(str, failures))
    if decision.status != "sufficient" or policy is None:
        proposals = tuple(p for v in state.proposals if isinstance(p := state.findings[v], Proposal))
        return Outcome(
            board=board,
            status=status,
            reasons=(*reasons, *failure_reasons),
            decision=decision,
            decision_reasons=tuple(reasons),
            failure_reasons=failure_reasons,
            agent_failures=failures,
            version=version,
            proposals=proposals,
        )
    keys = state.keys.live()
    settled = state.keys.run_status()
    key_reasons = [k.describe() for k in keys] if settled is not None else []
    if settled is not None:
        status = settled
    return Outcome(
        board=board,
        status=status,
        reasons=(*reasons, *failure_reasons, *key_reasons),
        decision=decision,
        decision_reasons=tuple(reasons),
        key_reasons=tuple(key_reasons),
        failure_reasons=failure_reasons,
        agent_failures=failures,
        version=version,
        proposals=tuple(k.proposal for k in keys),
        verdicts=tuple(k.verdict for k in keys if k.verdict is not None),
        commits=tuple(c for k in keys for c in k.commits),
        approvals=tuple(k.request for k in keys if k.status == "awaiting_approval" and k.request is not None),
        failures=tuple(k.last for k in keys if isinstance(k.last, CommitFailure)),
    )
