"""How hard the fuzz suite tries: `FUZZ` settings for every property here.

The default keeps the whole suite to about 30 s on 2 cores; `SLATEBOARD_FUZZ_EXAMPLES=5000` raises every property
to that many examples for a long run (nightly, or before a release).
"""

import os
from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, settings

from slateboard.errors import SlateboardError

T = TypeVar("T")

EXAMPLES = int(os.environ.get("SLATEBOARD_FUZZ_EXAMPLES", "0") or 0)


def fuzz(default: int) -> settings:
    """Settings for one property: `default` examples, or SLATEBOARD_FUZZ_EXAMPLES when set; no per-example
    deadline (a loaded machine is not a bug); fixtures shared between examples are the point, not a mistake."""
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def attempt(call: Callable[[], T]) -> T | SlateboardError:
    """What `call` returns, or the slateboard error it raised; any other exception propagates (a fuzz failure)."""
    try:
        return call()
    except SlateboardError as exc:
        return exc
