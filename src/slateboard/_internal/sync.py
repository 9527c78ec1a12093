"""The one facade through which sync code reaches slateboard's async API.

`run_sync(fn, *args, **kwargs)` runs a coroutine function to completion on a fresh event loop; `sync_twin(fn)`
makes the blocking twin of a public coroutine method (`Controller.run_sync`, `Board.write_sync`, ...) with the
same parameters, so a type checker sees the twin's real signature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from functools import partial, wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio

__all__ = ("run_sync", "sync_twin")

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")


def run_sync(fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn(*args, **kwargs)` to completion on a fresh event loop (not from inside a running one)."""
    return anyio.run(partial(fn, *args, **kwargs))


def sync_twin(method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]]) -> Callable[Concatenate[S, P], T]:
    """The blocking twin of a coroutine method, for scripts and notebooks without an event loop."""

    @wraps(method)
    def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return anyio.run(partial(method, self, *args, **kwargs))

    twin.__doc__ = f"`{method.__name__}` for scripts and notebooks without an event loop (blocks until it is done)."
    twin.__name__ = twin.__qualname__ = f"{method.__name__}_sync"
    return twin
