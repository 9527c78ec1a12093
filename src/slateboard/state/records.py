"""slateboard's own records: what the controller, the policy and the commit layer write on a board.

They are records like findings: hash-chained, versioned and replayable with the rest of the log. They live below
the policies, the commit layer and the controller because every one of those, and `observe`, reads them: a
proposal is named by its idempotency `key` throughout; `proposal` is the version of the entry that holds it.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import Field, JsonValue

from slateboard.agents.usage import ModelUsage
from slateboard.blackboard.records import Citation, FrozenModel, Record
from slateboard.blackboard.roundtrip import CHECKED, assemble
from slateboard.state.vocabulary import (
    AgentRunStatus,
    ApprovalAnswer,
    DecisionStatus,
    Effect,
    FailureStatus,
    SettlementAction,
)

__all__ = (
    "AgentRun",
    "Decision",
    "Reason",
    "RunStarted",
    "Task",
    "Vote",
    "Verdict",
    "ApprovalRequest",
    "ApprovalDecision",
    "Commit",
    "CommitFailure",
    "DoubtResolved",
    "Compensation",
    "Settlement",
    "CONTROLLER",
    "COMMIT_LAYER",
    "INPUT_AUTHOR",
)

CONTROLLER = "slateboard.controller"
"""The author of run starts, agent attempts and decisions."""
COMMIT_LAYER = "slateboard.commit"
"""The author of verdicts, approval requests, commits and commit failures."""
INPUT_AUTHOR = "input"
"""The author of a run's inputs."""

M = TypeVar("M", bound=FrozenModel)
_mark_checked = FrozenModel.__dict__[CHECKED].__set__


def built(cls: type[M], values: dict[str, Any]) -> M:
    """The record `cls(**values)` gives, for `values` that already have the validated form (every field, of
    exactly its declared type: tuples, not lists), without validating them again.

    For the records the controller makes on every cycle (decisions, their reasons and tasks, agent runs), through
    the typed `trusted` constructors below, so the type checker holds each call to the declared types. Marked
    checked, as a validated record is (`roundtrip`). A property test checks each equals its validated twin.
    """
    record = assemble(cls, values, set(values))
    _mark_checked(record, True)
    return record


class Reason(FrozenModel):
    """Why a decision was taken: the rule, a sentence, and the finding versions and agents behind it."""

    rule: str
    message: str
    findings: tuple[int, ...] = ()
    agents: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"

    @classmethod
    def trusted(cls, rule: str, message: str, findings: tuple[int, ...] = (), agents: tuple[str, ...] = ()) -> Reason:
        """`Reason(...)` of values of the declared types, not validated again (see `built`)."""
        return built(cls, {"rule": rule, "message": message, "findings": findings, "agents": agents})


class Task(FrozenModel):
    """An agent to run on a subject, with the versions of the findings it will read (one tuple per parameter)."""

    agent: str
    subject: str
    inputs: tuple[tuple[int, ...], ...]

    @classmethod
    def trusted(cls, agent: str, subject: str, inputs: tuple[tuple[int, ...], ...]) -> Task:
        """`Task(...)` of values of the declared types, not validated again (see `built`)."""
        return built(cls, {"agent": agent, "subject": subject, "inputs": inputs})


class RunStarted(Record):
    """A controller started (or resumed) work on the board.

    `controller` is the controller's fingerprint (its agents, rules and policy); `scenario` names the scenario that
    built it, when one did: a built-in "family/variant", a YAML file's path, or "module:attribute", so the command
    line and the review page can rebuild the same controller to approve, reject, settle or replay the board.
    """

    kind_name = "slateboard.RunStarted"

    subject: ClassVar[None] = None
    """About no subject. Said on the class so that a reader's `getattr(record, "subject", None)` finds it at once;
    without it, pydantic's `__getattr__` would raise and catch an `AttributeError` (every run writes these)."""

    controller: str
    agents: tuple[str, ...]
    rules: tuple[str, ...]
    scenario: str | None = None


class AgentRun(Record):
    """One attempt of an agent on a task. An "ok" attempt is followed by its `outputs` findings.

    `usage`: a model-backed attempt's model, provider, prompt hash, tokens, cost and latency (absent otherwise,
    and left out of the stored payload then, so boards written before it decode and hash as they did).
    """

    kind_name = "slateboard.AgentRun"

    agent: str
    subject: str
    inputs: tuple[tuple[int, ...], ...]
    attempt: int
    status: AgentRunStatus
    error: str = ""
    outputs: int = 0
    usage: ModelUsage | None = Field(default=None, exclude_if=lambda usage: usage is None)

    @classmethod
    def trusted(  # noqa: PLR0917 - the record's eight fields, in their order
        cls,
        agent: str,
        subject: str,
        inputs: tuple[tuple[int, ...], ...],
        attempt: int,
        status: AgentRunStatus,
        error: str,
        outputs: int,
        usage: ModelUsage | None,
    ) -> AgentRun:
        """`AgentRun(...)` of values of the declared types, not validated again (see `built`)."""
        values = {"agent": agent, "subject": subject, "inputs": inputs, "attempt": attempt, "status": status,
                  "error": error, "outputs": outputs, "usage": usage}  # fmt: skip
        return built(cls, values)


class Decision(Record):
    """What the controller decided after a change, and why; `agenda` lists the tasks a "continue" runs next."""

    kind_name = "slateboard.Decision"

    subject: ClassVar[None] = None
    """About no subject. Said on the class so that a reader's `getattr(record, "subject", None)` finds it at once;
    without it, pydantic's `__getattr__` would raise and catch an `AttributeError` (every run writes these)."""

    cycle: int
    status: DecisionStatus
    reasons: tuple[Reason, ...]
    agenda: tuple[Task, ...] = ()

    @classmethod
    def trusted(
        cls, cycle: int, status: DecisionStatus, reasons: tuple[Reason, ...], agenda: tuple[Task, ...] = ()
    ) -> Decision:
        """`Decision(...)` of values of the declared types, not validated again (see `built`): for reasons and
        tasks the controller made itself (a rule's own reasons go through validation)."""
        return built(cls, {"cycle": cycle, "status": status, "reasons": reasons, "agenda": agenda})


class Vote(FrozenModel):
    """One policy rule's say on a proposal: its `effect`, why, and the finding versions behind it."""

    rule: str
    effect: Effect
    message: str
    findings: tuple[int, ...] = ()
    overridden_by: int | None = None

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


class Verdict(Record):
    """The policy's judgement of one proposal on the snapshot at version `at`, under policy version `policy`.

    `reasons` are the deciding votes (those whose effect is the outcome, or the default rule's), `votes` every vote.
    """

    kind_name = "slateboard.Verdict"

    key: str
    proposal: int
    action: str
    target: str
    outcome: Effect
    reasons: tuple[Vote, ...]
    votes: tuple[Vote, ...] = ()
    policy: str
    at: int
    overridden_by: int | None = None


class ApprovalRequest(Record):
    """A proposal waiting for a person: what is recommended, how sure, on what evidence, and why it waits."""

    kind_name = "slateboard.ApprovalRequest"

    key: str
    proposal: int
    recommended: str
    action: str
    target: str
    changes: dict[str, JsonValue]
    confidence: float
    citations: tuple[Citation, ...] = ()
    reason: str


class ApprovalDecision(Record):
    """A person's answer to an `ApprovalRequest`: approved (with any `edits`, and the resulting `changes`) or not."""

    kind_name = "slateboard.ApprovalDecision"

    key: str
    decision: ApprovalAnswer
    reviewer: str
    edits: dict[str, JsonValue] = Field(default_factory=dict)
    changes: dict[str, JsonValue] = Field(default_factory=dict)
    reason: str = ""


class Commit(Record):
    """A proposal applied to its sink, once: the `receipt` is the sink's answer, `fence` the target lock's token."""

    kind_name = "slateboard.Commit"

    key: str
    proposal: int
    action: str
    target: str
    changes: dict[str, JsonValue]
    sink: str
    receipt: JsonValue = None
    attempts: int = 1
    fence: int = 0


class CommitFailure(Record):
    """A commit that did not happen for sure: `dead` (the sink kept failing) or `in_doubt` (a person must check)."""

    kind_name = "slateboard.CommitFailure"

    key: str
    proposal: int
    target: str
    status: FailureStatus
    error: str
    attempts: int = 0


class DoubtResolved(Record):
    """A person's finding on an in-doubt commit: whether the sink had applied it."""

    kind_name = "slateboard.DoubtResolved"

    key: str
    applied: bool
    reviewer: str
    receipt: JsonValue = None
    note: str = ""


class Compensation(Record):
    """A committed proposal undone by the sink's `compensate`: a forward entry, never a delete."""

    kind_name = "slateboard.Compensation"

    key: str
    target: str
    reviewer: str
    reason: str
    receipt: JsonValue = None


class Settlement(Record):
    """A person's answer to an escalated decision (the entry at `escalation`), authored by the `reviewer`.

    "choose" picks `chosen`, one of the conflict's `findings`: every other finding of the conflict's `kinds` on
    `subject` known then is `set_aside`. "correct" picks a finding the reviewer wrote just before this entry
    (`chosen`), which sets aside the findings of its own kind there. What is set aside leaves the rules' and the
    agents' sight (no longer evidence, for or against), though the log keeps it. `rules` are the
    conflicts settled, which do not escalate again on `subject` until a newer finding of those kinds arrives.
    "close" ends the case with `reason`. `note` says why, for the audit trail.
    """

    kind_name = "slateboard.Settlement"

    reviewer: str
    action: SettlementAction
    escalation: int
    subject: str = ""
    rules: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    findings: tuple[int, ...] = ()
    chosen: int | None = None
    set_aside: tuple[int, ...] = ()
    reason: str = ""
    note: str = ""

    def describe(self, version: int) -> str:
        """One sentence: who answered, at which version, and what."""
        said = f"settled by {self.reviewer} (v{version})"
        if self.action == "close":
            said = f"closed by {self.reviewer} (v{version}): {self.reason}"
        elif self.action == "correct":
            said += f": corrected finding v{self.chosen} on {self.subject!r}"
        else:
            said += f": chose v{self.chosen} on {self.subject!r}"
        if self.set_aside:
            said += f", set aside {', '.join(f'v{v}' for v in self.set_aside)}"
        return f"{said} ({self.note})" if self.note and self.action != "close" else said
