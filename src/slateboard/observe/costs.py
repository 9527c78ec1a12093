"""What model-backed agents cost, across the boards of a store: the cost part of the workflow metrics.

Each model-backed attempt carries its usage (`AgentRun.usage`), priced when it ran by the price table its agent
was given; nothing is re-priced here, so the metrics say what the runs were charged at the time.
"""

from __future__ import annotations

from collections.abc import Sequence

from slateboard.blackboard.records import FrozenModel

__all__ = ("CostMetrics", "cost_metrics")


class CostMetrics(FrozenModel):
    """What model-backed attempts cost (`AgentRun.usage`, priced by the run's price table when it ran).

    `total` sums every priced attempt; `unpriced` counts model attempts whose model the table did not list (their
    cost is unknown, not zero). A run is complete when its board's last decision ended it (anything but
    "continue"); `per_completed_run` is what the completed runs cost, on average, attempts that failed included.
    """

    model_attempts: int = 0
    unpriced: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total: float | None = None
    completed_runs: int = 0
    per_completed_run: float | None = None


def cost_metrics(
    agents: Sequence[tuple[int, int, tuple[int, int], float | None]], *, completed: int, completed_cost: float
) -> CostMetrics:
    """The cost metrics from each agent's (model attempts, unpriced attempts, (input, output) tokens, priced cost)
    and the completed runs with what they cost."""
    priced = [cost for _, _, _, cost in agents if cost is not None]
    return CostMetrics(
        model_attempts=sum(a[0] for a in agents),
        unpriced=sum(a[1] for a in agents),
        input_tokens=sum(a[2][0] for a in agents),
        output_tokens=sum(a[2][1] for a in agents),
        total=round(sum(priced), 10) if priced else None,
        completed_runs=completed,
        per_completed_run=round(completed_cost / completed, 10) if completed and priced else None,
    )
