"""Repeated measurements: rounds of interleaved runs, and each figure's median and spread."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K")
T = TypeVar("T")


@dataclass(frozen=True)
class Sample:
    """Every run's value of one figure; the median is the figure, the spread says how far to trust it."""

    runs: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("a sample needs at least one run")

    @classmethod
    def of(cls, values: Iterable[float]) -> Sample:
        return cls(tuple(values))

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def spread(self) -> float:
        """(max - min) / median: 0.1 means the runs lay within 10% of the figure; NaN when the median is 0."""
        median = self.median
        return (max(self.runs) - min(self.runs)) / abs(median) if median else math.nan

    def to_json(self) -> dict[str, object]:
        return {"median": self.median, "min": min(self.runs), "max": max(self.runs), "runs": list(self.runs)}


def rounds(repeats: int, measurements: Mapping[K, Callable[[], T]]) -> dict[K, list[T]]:
    """Each measurement `repeats` times, one of each per round, so that a shared machine's drift hits all alike."""
    found: dict[K, list[T]] = {key: [] for key in measurements}
    for _ in range(repeats):
        for key, measure in measurements.items():
            found[key].append(measure())
    return found
