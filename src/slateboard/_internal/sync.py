"""The one facade through which sync code reaches slateboard's async API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import anyio

__all__ = ("run_sync",)

T = TypeVar("T")


def run_sync(fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` to completion on a fresh event loop (not from inside a running one)."""
    return anyio.run(partial(fn, *args, **kwargs))
