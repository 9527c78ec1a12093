"""The one facade through which sync code reaches slateboard's async API.

`run_sync(fn, *args, **kwargs)` runs a coroutine function to completion on a fresh event loop; `sync_twin(fn)`
makes the blocking twin of a public coroutine method (`Controller.run_sync`, `Board.write_sync`, ...) with the
same parameters, so a type checker sees the twin's real signature; `sync_iter_twin(fn)` does the same for an
async generator method (`Controller.iter_sync`, `Board.watch_sync`), which yields as the async one does.

A test walks every public class of `slateboard` and checks that each public coroutine and async generator method
has its `<name>_sync` twin.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterator
from functools import partial, wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio
from anyio.from_thread import start_blocking_portal

__all__ = ("run_sync", "sync_function", "sync_iter_twin", "sync_twin")

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")


def run_sync(fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn(*args, **kwargs)` to completion on a fresh event loop (not from inside a running one)."""
    return anyio.run(partial(fn, *args, **kwargs))


def sync_function(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """The blocking twin of a module-level coroutine function (what `sync_twin` is for methods)."""

    @wraps(fn)
    def twin(*args: P.args, **kwargs: P.kwargs) -> T:
        return anyio.run(partial(fn, *args, **kwargs))

    twin.__doc__ = f"`{fn.__name__}` for scripts and notebooks without an event loop (blocks until it is done)."
    twin.__name__ = twin.__qualname__ = f"{fn.__name__}_sync"
    return twin


def sync_twin(method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]]) -> Callable[Concatenate[S, P], T]:
    """The blocking twin of a coroutine method, for scripts and notebooks without an event loop."""

    @wraps(method)
    def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return anyio.run(partial(method, self, *args, **kwargs))

    twin.__doc__ = f"`{method.__name__}` for scripts and notebooks without an event loop (blocks until it is done)."
    twin.__name__ = twin.__qualname__ = f"{method.__name__}_sync"
    return twin


def sync_iter_twin(
    method: Callable[Concatenate[S, P], AsyncGenerator[T, None]],
) -> Callable[Concatenate[S, P], Iterator[T]]:
    """The blocking twin of an async generator method: a plain iterator over the same items.

    The async iterator runs on an event loop of its own in a background thread (an anyio blocking portal) that
    lives as long as the iteration; each `next()` waits for its next item. It therefore works inside a thread that
    already runs an event loop, such as a notebook's. Leaving the loop early (or closing the iterator) closes
    the async iterator on its loop first.
    """

    @wraps(method)
    def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        with start_blocking_portal() as portal:
            iterator = method(self, *args, **kwargs)

            async def step() -> tuple[T] | None:  # None: the iterator is done (an item may itself be None)
                try:
                    return (await anext(iterator),)
                except StopAsyncIteration:
                    return None

            try:
                while (got := portal.call(step)) is not None:
                    yield got[0]
            finally:
                portal.call(iterator.aclose)

    twin.__doc__ = f"`{method.__name__}` as a plain iterator, for scripts and notebooks (see sync_iter_twin)."
    twin.__name__ = twin.__qualname__ = f"{method.__name__}_sync"
    return twin
