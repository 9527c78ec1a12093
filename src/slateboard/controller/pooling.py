"""Combining the confidence of independent sources that agree: logarithmic pooling of odds.

Each source's confidence p is read as odds p / (1 - p). Independent evidence multiplies odds, so the pooled
log-odds is the sum of the sources' log-odds (with a neutral prior of 0.5):

    logit(pooled) = sum(logit(p_i))        where logit(p) = ln(p / (1 - p))

Properties (property-tested): the result is in [0, 1]; it does not depend on the order of the sources
(the sum is `math.fsum`, exactly rounded); raising any source's confidence never lowers it; one source pools
to itself; sources above 0.5 strengthen each other (the pooled value is at least their maximum), and a
source below 0.5 counts as evidence against. Confidences of exactly 0 or 1 are certain: 1 pools to 1 unless
a 0 is also present, where the two cancel to 0.5 (clamped, so the arithmetic stays finite).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ("pool", "logit")

_EPSILON = 1e-12


def logit(p: float) -> float:
    """ln(p / (1 - p)), with p clamped into [1e-12, 1 - 1e-12]."""
    p = min(max(p, _EPSILON), 1.0 - _EPSILON)
    return math.log(p / (1.0 - p))


def pool(confidences: Iterable[float]) -> float:
    """The pooled confidence of independent sources (0.5, no evidence either way, for none)."""
    total = math.fsum(logit(p) for p in confidences)
    if total >= 0:
        return 1.0 / (1.0 + math.exp(-total))
    odds = math.exp(total)
    return odds / (1.0 + odds)
