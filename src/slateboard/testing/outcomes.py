"""The share of a property test's examples that ended in each outcome, so a vacuous property shows itself.

A property such as "no commit while the sources disagree" proves nothing when no drawn example commits. Record
each example's outcome and say which outcomes the property must reach:

```python
from hypothesis import given
from slateboard.testing import outcomes, strategies as sb

@outcomes.reaches("committed", "escalated", min_share=0.1)   # fails the test when one is under 10%
@given(sb.evidence(Entitlement, "entitled"))
def test_no_commit_while_disagreeing(ev):
    outcome = run(ev)
    outcomes.record(outcome)          # a hypothesis event "outcome: committed", and the tally reaches() checks
    ...
```

`record` also emits a hypothesis `event`, so `pytest --hypothesis-show-statistics` lists the share of each
outcome per test (`outcome: committed: 45.00%`) without `reaches`. `tally()` counts by hand:
`with outcomes.tally() as counted: test_x()` then `counted.shares()`, `str(counted)`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from hypothesis import currently_in_test_context, event

from slateboard.controller.outcomes import Outcome
from slateboard.errors import ConfigurationError
from slateboard.scenarios.model import ScenarioRun

__all__ = ("Tally", "VacuousPropertyError", "reaches", "record", "tally")

P = ParamSpec("P")
R = TypeVar("R")

_ACTIVE: ContextVar[tuple[Tally, ...]] = ContextVar("slateboard_outcome_tallies", default=())


class VacuousPropertyError(AssertionError):
    """A property test passed, but too few of its examples reached an outcome it must see: it proved little."""


@dataclass
class Tally:
    """How many recorded examples ended in each outcome (or any other label given to `record`)."""

    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """Examples recorded."""
        return sum(self.counts.values())

    def add(self, status: str) -> None:
        """Count one example that ended in `status`."""
        self.counts[status] += 1

    def share(self, status: str) -> float:
        """The fraction of recorded examples that ended in `status` (0.0 when none were recorded)."""
        return self.counts[status] / self.total if self.total else 0.0

    def shares(self) -> dict[str, float]:
        """Every recorded status and its share, the most frequent first."""
        return {status: count / self.total for status, count in self.counts.most_common()}

    def missing(self, statuses: tuple[str, ...], min_share: float) -> list[str]:
        """The `statuses` whose share is under `min_share`."""
        return [status for status in statuses if self.share(status) < min_share or not self.counts[status]]

    def __str__(self) -> str:
        if not self.total:
            return "no examples recorded"
        parts = ", ".join(f"{status} {share:.0%} ({self.counts[status]})" for status, share in self.shares().items())
        return f"{parts} of {self.total} examples"


def _status(outcome: Outcome | ScenarioRun | str) -> str:
    if isinstance(outcome, ScenarioRun):
        return outcome.outcome.status
    if isinstance(outcome, Outcome):
        return outcome.status
    if isinstance(outcome, str) and outcome:
        return outcome
    raise ConfigurationError(f"record(): give an Outcome, a ScenarioRun or a status string, got {outcome!r}")


def record(outcome: Outcome | ScenarioRun | str, *, label: str = "outcome") -> str:
    """Record how one example ended: a hypothesis event `"{label}: {status}"` (in the test's statistics) and a
    count in every active tally (`reaches`, `tally`). A string is recorded as it is, so any category can be
    tallied (`record("disagree", label="evidence")`). Returns the status."""
    status = _status(outcome)
    if currently_in_test_context():
        event(f"{label}: {status}")
    for counted in _ACTIVE.get():
        counted.add(status)
    return status


@contextmanager
def tally() -> Iterator[Tally]:
    """Count what `record` records inside the block (nested tallies each count everything)."""
    counted = Tally()
    token = _ACTIVE.set((*_ACTIVE.get(), counted))
    try:
        yield counted
    finally:
        _ACTIVE.reset(token)


def reaches(*statuses: str, min_share: float = 0.05) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a property test (above `@given`): when it passes, each of `statuses` must be at least `min_share`
    of the examples `record` saw, else `VacuousPropertyError` says which fell short and the share of each.

    A property that fails still fails as itself; one that records nothing fails too (record was never called).
    """
    if not statuses:
        raise ConfigurationError("reaches(): name at least one outcome the property must reach")
    if not 0 < min_share <= 1:
        raise ConfigurationError(f"reaches(): min_share is a fraction in (0, 1], got {min_share!r}")

    def decorate(test: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(test)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            with tally() as counted:
                result = test(*args, **kwargs)
            short = counted.missing(statuses, min_share)
            if not counted.total:
                raise VacuousPropertyError(f"{test.__name__}: no example called outcomes.record()")
            if short:
                raise VacuousPropertyError(
                    f"{test.__name__}: under {min_share:.0%} of the examples ended {' or '.join(short)}, so the "
                    f"property says little about them; draw those cases more often. Seen: {counted}"
                )
            return result

        return checked

    return decorate
