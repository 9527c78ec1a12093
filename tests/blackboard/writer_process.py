"""A separate OS process that writes to a board; the process tests start two of these on one SQLite file.

Usage: python -m tests.blackboard.writer_process URL BOARD NAME COUNT MODE [BATCH]
MODE is "optimistic" (expected_version, retry on StaleVersionError), "append" (no expected version)
or "batches" (write_many of BATCH findings, forever, for kill tests). Prints a JSON summary at the end.
"""

import json
import os
import sys
import time

import anyio

from slateboard import Blackboard, Finding
from slateboard.errors import StaleVersionError


class Line(Finding):
    kind_name = "tests.process.Line"
    text: str


async def optimistic(board_name: str, url: str, name: str, count: int) -> int:
    stale = 0
    with Blackboard.open(url) as bb:
        board = bb.board(board_name)
        written = 0
        while written < count:
            head = await board.head()
            try:
                await board.write(
                    Line(subject="s", text=f"{name}-{written}", confidence=1),
                    author=name,
                    expected_version=head.version,
                )
            except StaleVersionError:
                stale += 1
                continue
            written += 1
            await anyio.sleep(0.001)  # an agent works between writes; without it one writer hogs the lock
    return stale


async def append(board_name: str, url: str, name: str, count: int) -> int:
    with Blackboard.open(url) as bb:
        board = bb.board(board_name)
        for i in range(count):
            await board.write(Line(subject="s", text=f"{name}-{i}", confidence=1), author=name)
            await anyio.sleep(0.001)
    return 0


async def batches(board_name: str, url: str, name: str, batch: int) -> int:
    with Blackboard.open(url) as bb:
        board = bb.board(board_name)
        number = 0
        print("ready", flush=True)
        while True:
            await board.write_many(
                [Line(subject=f"batch-{number}", text=f"{name}-{number}-{i}", confidence=1) for i in range(batch)],
                author=name,
            )
            number += 1
            print(f"batch {number}", flush=True)  # the test kills on a line it read, not after a guessed time


def main() -> None:
    url, board_name, name, count, mode = sys.argv[1:6]
    start_at = float(os.environ.get("WRITER_START_AT", "0"))
    time.sleep(max(0.0, start_at - time.time()))  # a common start, so the writers really overlap
    if mode == "batches":
        anyio.run(batches, board_name, url, name, int(sys.argv[6]))
        return
    run = optimistic if mode == "optimistic" else append
    stale = anyio.run(run, board_name, url, name, int(count))
    print(json.dumps({"name": name, "stale": stale}))


if __name__ == "__main__":
    main()
