"""Logarithmic pooling of odds: bounds, symmetry, monotonicity, identity, agreement."""

import math

from hypothesis import given
from hypothesis import strategies as st

from slateboard import pool

confidence = st.floats(min_value=0.0, max_value=1.0)
sources = st.lists(confidence, max_size=8)


@given(sources)
def test_pooled_confidence_is_a_probability(values: list[float]) -> None:
    pooled = pool(values)
    assert 0.0 <= pooled <= 1.0
    assert math.isfinite(pooled)


@given(sources, st.randoms(use_true_random=False))
def test_the_order_of_sources_does_not_matter(values: list[float], rng: object) -> None:
    shuffled = list(values)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert pool(shuffled) == pool(values)  # exactly, not approximately: replay depends on it


@given(sources, confidence, confidence)
def test_raising_a_source_never_lowers_the_result(others: list[float], a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert pool([*others, low]) <= pool([*others, high])


@given(st.floats(min_value=1e-6, max_value=1 - 1e-6))
def test_one_source_pools_to_itself(value: float) -> None:
    assert math.isclose(pool([value]), value, rel_tol=1e-9, abs_tol=1e-12)


@given(st.lists(st.floats(min_value=0.5, max_value=1.0), min_size=1, max_size=8))
def test_agreeing_sources_strengthen_each_other(values: list[float]) -> None:
    assert pool(values) >= max(values) - 1e-9


def test_known_values() -> None:
    assert pool([]) == 0.5
    assert math.isclose(pool([0.8, 0.8]), 16 / 17)  # odds 4 x 4 = 16
    assert math.isclose(pool([0.9, 0.1]), 0.5)  # equal evidence for and against cancels
    assert pool([1.0]) > 0.999999
