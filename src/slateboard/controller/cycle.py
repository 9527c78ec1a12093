"""`Cycle`: one step of a run as `Controller.iter` yields it, for progress displays, tracing and notebooks.

```python
async for cycle in controller.iter(board, Case(...)):
    print(cycle)                                   # cycle 2 (v7, continue): 2 agent run(s), 2 finding(s) -> v12
    for entry in cycle.findings:
        print(entry.version, entry.author, entry.payload)
outcome = cycle.outcome                            # the last cycle carries the run's outcome
```
"""

from __future__ import annotations

from slateboard.blackboard.entries import Entry
from slateboard.blackboard.records import FrozenModel
from slateboard.controller.outcomes import Outcome
from slateboard.state.records import AgentRun, Decision, built

__all__ = ("Cycle",)


class Cycle(FrozenModel):
    """One cycle of a run: the controller's decision, the agents it ran and what they wrote.

    `decision` is the entry at `version`; `number` is its `Decision.cycle`. On "continue", `runs` are the agents'
    attempts and `findings` the entries they wrote (with version, author and payload), in log order; `board_version`
    is the board's version once the cycle is over. The last cycle of a run is the one with a final decision: it
    carries the run's `outcome` (with a policy, after the verdicts and commits that follow a sufficient decision).

    `discarded`: another writer moved the board on while the agents ran, so their results were not written (they
    run again after the next decision, which sees what the other writer wrote). `resumed`: the board had already
    ended with this decision and nothing new came in; the run only finished what that decision began.
    """

    board: str
    number: int
    decision: Decision
    version: int
    runs: tuple[AgentRun, ...] = ()
    findings: tuple[Entry, ...] = ()
    board_version: int
    discarded: bool = False
    resumed: bool = False
    outcome: Outcome | None = None

    @classmethod
    def trusted(  # noqa: PLR0917 - a cycle that goes on: its fields but the outcome's
        cls,
        board: str,
        decision: Decision,
        version: int,
        runs: tuple[AgentRun, ...],
        findings: tuple[Entry, ...],
        board_version: int,
        *,
        discarded: bool,
    ) -> Cycle:
        """A cycle that goes on (no outcome), of values of the declared types, not validated again (see `built`)."""
        values = {"board": board, "number": decision.cycle, "decision": decision, "version": version, "runs": runs,
                  "findings": findings, "board_version": board_version, "discarded": discarded, "resumed": False,
                  "outcome": None}  # fmt: skip
        return built(cls, values)

    @property
    def final(self) -> bool:
        """Whether this is the run's last cycle (it carries the outcome)."""
        return self.outcome is not None

    def __str__(self) -> str:
        said = f"cycle {self.number} (v{self.version}, {self.decision.status})"
        if self.runs or self.discarded:
            said += f": {len(self.runs)} agent run(s), {len(self.findings)} finding(s)"
        if self.discarded:
            said += ", discarded (another writer moved the board on)"
        if self.resumed:
            said += ", resumed"
        if self.outcome is not None:
            said += f" -> {self.outcome.status}"
        return f"{said} -> v{self.board_version}" if self.outcome is None else f"{said} at v{self.board_version}"
