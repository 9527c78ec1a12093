"""The rule-driven controller: rules, evidence pooling, the agenda, the control loop (`iter` yields each `Cycle`,
`run` drains it), decisions, batches, replay, what-if and retraction."""

from slateboard.controller import rules
from slateboard.controller.batch import BatchProgress, BatchResult, BoardResult, run_many, run_many_sync
from slateboard.controller.cycle import Cycle
from slateboard.controller.dryrun import DryRun, Planned
from slateboard.controller.loop import CommitTarget, Controller
from slateboard.controller.outcomes import AgentFailure, Difference, Outcome, ReplayReport
from slateboard.controller.pooling import pool
from slateboard.controller.retraction import RetractionReport, retract, retract_sync
from slateboard.controller.whatif_report import DecisionWhatIf, ProposalWhatIf, WhatIfReport
from slateboard.state.projection import BoardState
from slateboard.state.records import AgentRun, Decision, Reason, RunStarted, Task
from slateboard.state.retractions import Retraction

__all__ = (
    "AgentFailure",
    "AgentRun",
    "BatchProgress",
    "BatchResult",
    "BoardResult",
    "BoardState",
    "CommitTarget",
    "Controller",
    "Cycle",
    "Decision",
    "DecisionWhatIf",
    "Difference",
    "DryRun",
    "Outcome",
    "Planned",
    "ProposalWhatIf",
    "Reason",
    "ReplayReport",
    "Retraction",
    "RetractionReport",
    "RunStarted",
    "Task",
    "WhatIfReport",
    "pool",
    "retract",
    "retract_sync",
    "rules",
    "run_many",
    "run_many_sync",
)
