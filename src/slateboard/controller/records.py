"""What the controller writes on a board: run starts, agent attempts and decisions.

These are records like findings, so they are hash-chained, versioned and replayable with everything else.
"""

from __future__ import annotations

from typing import Literal

from slateboard.blackboard.records import FrozenModel, Record

__all__ = ("AgentRun", "Decision", "DecisionStatus", "Reason", "RunStarted", "Task", "CONTROLLER")

CONTROLLER = "slateboard.controller"
DecisionStatus = Literal["continue", "sufficient", "escalate", "insufficient", "failed"]


class Reason(FrozenModel):
    """Why a decision was taken: the rule, a sentence, and the finding versions and agents behind it."""

    rule: str
    message: str
    findings: tuple[int, ...] = ()
    agents: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


class Task(FrozenModel):
    """An agent to run on a subject, with the versions of the findings it will read (one tuple per parameter)."""

    agent: str
    subject: str
    inputs: tuple[tuple[int, ...], ...]


class RunStarted(Record):
    """A controller started (or resumed) work on the board."""

    kind_name = "slateboard.RunStarted"

    controller: str
    agents: tuple[str, ...]
    rules: tuple[str, ...]


class AgentRun(Record):
    """One attempt of an agent on a task. An "ok" attempt is followed by its `outputs` findings."""

    kind_name = "slateboard.AgentRun"

    agent: str
    subject: str
    inputs: tuple[tuple[int, ...], ...]
    attempt: int
    status: Literal["ok", "timeout", "error", "conflict", "denied", "invalid"]
    error: str = ""
    outputs: int = 0


class Decision(Record):
    """What the controller decided after a change, and why; `agenda` lists the tasks a "continue" runs next."""

    kind_name = "slateboard.Decision"

    cycle: int
    status: DecisionStatus
    reasons: tuple[Reason, ...]
    agenda: tuple[Task, ...] = ()
