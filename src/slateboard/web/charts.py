"""Charts of the metrics view, drawn on the server as SVG: this module computes the geometry, a template draws it.

Keeping the drawing in a template means every label goes through the same autoescaping as the rest of the page.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from slateboard.blackboard import Blackboard
from slateboard.observe import board_audit, workflow_metrics

__all__ = ("Bar", "BarChart", "bar_chart", "routed_share_by_day", "latency_by_agent")

WIDTH = 560
ROW = 26  # pixels per bar
LABEL = 170  # pixels left of the bars for their labels


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: its label, value shown as `text`, and its geometry in pixels."""

    label: str
    text: str
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart: `bars` laid out in a `width` x `height` box, bars starting at `x0`."""

    title: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    x0: int
    row: int


def bar_chart(title: str, values: list[tuple[str, float]], *, unit: str = "", scale: float | None = None) -> BarChart:
    """Bars for `values` (label, number), scaled to the largest (or to `scale`, e.g. 1.0 for shares)."""
    top = scale if scale is not None else max((v for _, v in values), default=0.0)
    span = WIDTH - LABEL - 70  # room on the right for the value's text
    bars = tuple(
        Bar(
            label=label,
            text=f"{value * 100:.0f}%" if unit == "%" else f"{value:.3g}{unit}",
            y=index * ROW + 8,
            width=0.0 if top <= 0 else max(1.0, span * value / top),
        )
        for index, (label, value) in enumerate(values)
    )
    return BarChart(title=title, bars=bars, width=WIDTH, height=len(bars) * ROW + 16, x0=LABEL, row=ROW)


def routed_share_by_day(blackboard: Blackboard) -> list[tuple[str, float]]:
    """The share of boards routed to a person, by the day each board started (oldest day first)."""
    days: dict[str, list[str]] = defaultdict(list)
    for name in blackboard.boards():
        audit = board_audit(blackboard, name)
        if audit.timeline:
            days[audit.timeline[0].recorded_at[:10]].append(name)
    shares = []
    for day in sorted(days):
        found = workflow_metrics(blackboard, days[day]).boards
        shares.append((f"{day} ({found.total} boards)", found.routed_share or 0.0))
    return shares


def latency_by_agent(blackboard: Blackboard) -> list[tuple[str, float]]:
    """Each agent's mean cycle time in seconds (an upper bound on its latency: slateboard.observe.metrics)."""
    found = workflow_metrics(blackboard) if blackboard.boards() else None
    if found is None:
        return []
    return [(a.agent, a.cycle_time.mean_seconds or 0.0) for a in found.agents if a.cycle_time.measured]
