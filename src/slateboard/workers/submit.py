"""`enqueue`: submit many boards of one scenario to a store's work queue at once, for workers to run.

Boards are named `{prefix}{n}` for n from `start`, zero-padded so they sort in order; a board already in the queue
is left as it is (submitting twice queues nothing twice). The scenario is resolved first, so a misspelt name or
variant fails here, before anything is queued, rather than in every worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anyio.to_thread

from slateboard._internal.sync import sync_function
from slateboard.blackboard.board import Blackboard
from slateboard.errors import ConfigurationError
from slateboard.scenarios.catalog import families, resolve
from slateboard.workers.worker import queue_of

__all__ = ("Enqueued", "enqueue", "enqueue_sync", "board_names", "queue_name")


@dataclass(frozen=True)
class Enqueued:
    """What `enqueue` did: the boards newly queued, and those that were in the queue already."""

    scenario: str
    variant: str | None
    queued: tuple[str, ...]
    already: tuple[str, ...]


def board_names(prefix: str, count: int, start: int = 1) -> list[str]:
    """`count` board names `{prefix}{n}` from n = `start`, zero-padded to one width."""
    if count < 1 or start < 0:
        raise ConfigurationError(f"enqueue needs count >= 1 and start >= 0, got count={count}, start={start}")
    width = max(4, len(str(start + count - 1)))
    return [f"{prefix}{n:0{width}d}" for n in range(start, start + count)]


def queue_name(scenario: str, variant: str | None) -> tuple[str, str | None]:
    """How the queue records a scenario: a built-in's `family/variant` as the family and the variant."""
    family, _, named = scenario.partition("/")
    if named and family in families():
        return family, variant or named
    return scenario, variant


async def enqueue(
    blackboard: Blackboard,
    scenario: str,
    *,
    variant: str | None = None,
    count: int = 1,
    prefix: str | None = None,
    start: int = 1,
    boards: Sequence[str] | None = None,
) -> Enqueued:
    """Queue `count` new boards of `scenario` (built-in, YAML file or `module:attribute`), or the named `boards`,
    on `blackboard`'s work queue; idle workers are woken."""
    queue = queue_of(blackboard)
    resolve(scenario, variant)  # fails on an unknown scenario or variant before anything is queued
    name, chosen = queue_name(scenario, variant)
    if boards is None:
        boards = board_names(prefix if prefix is not None else f"{name.rsplit('/', 1)[-1]}-", count, start)
    for board in boards:
        blackboard.board(board)  # checks the name as every board name is checked
    queued = await anyio.to_thread.run_sync(queue.enqueue, list(boards), name, chosen)
    fresh = set(queued)
    return Enqueued(name, chosen, tuple(queued), tuple(b for b in boards if b not in fresh))


enqueue_sync = sync_function(enqueue)
