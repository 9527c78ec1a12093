"""Real OS processes on one SQLite file: concurrent writers lose nothing; a killed writer leaves no partial batch."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

import anyio
import pytest

from slateboard import Blackboard
from tests.blackboard.writer_process import Line

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def start(url: str, name: str, count: int, mode: str, *extra: str, at: float = 0.0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.blackboard.writer_process",
            url,
            "case",
            name,
            str(count),
            mode,
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WRITER_START_AT": str(at)},
    )


def history(url: str) -> list[Line]:
    async def read() -> list[Line]:
        with Blackboard.open(url) as bb:
            board = bb.board("case")
            await board.verify()
            entries = await board.history()
            assert [e.version for e in entries] == list(range(1, len(entries) + 1))
            return [e.payload for e in entries]  # type: ignore[misc]

    return anyio.run(read)


@pytest.mark.parametrize("mode", ["optimistic", "append"])
def test_two_processes_writing_one_board_lose_nothing(tmp_path: Path, mode: str) -> None:
    url, count = f"sqlite:///{tmp_path / 'shared.db'}", 300
    Blackboard.open(url).close()  # create the file first so both processes race on writes, not on schema
    at = time.time() + 2.0
    writers = [start(url, name, count, mode, at=at) for name in ("p1", "p2")]
    summaries = []
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        summaries.append(json.loads(out.strip().splitlines()[-1]))
    texts = [line.text for line in history(url)]
    assert len(texts) == 2 * count
    assert set(texts) == {f"{p}-{i}" for p in ("p1", "p2") for i in range(count)}
    for name in ("p1", "p2"):  # each writer's own order survives
        mine = [t for t in texts if t.startswith(name)]
        assert mine == [f"{name}-{i}" for i in range(count)]
    switches = sum(a[:2] != b[:2] for a, b in pairwise(texts))
    assert switches > 1, "the two writers did not overlap, so the test proved nothing"
    if mode == "append":
        assert all(summary["stale"] == 0 for summary in summaries)


def test_a_writer_killed_mid_run_leaves_only_whole_batches(tmp_path: Path) -> None:
    url, batch = f"sqlite:///{tmp_path / 'killed.db'}", 40
    Blackboard.open(url).close()
    writer = start(url, "victim", 0, "batches", str(batch))
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    for line in writer.stdout:  # kill on a line it read, not after a guessed time
        if line.strip() == "batch 3":  # three whole batches are in; the fourth is under way
            break
    else:
        pytest.fail(f"the writer ended before its third batch: {writer.communicate(timeout=30)[1]}")
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    lines = history(url)
    assert len(lines) >= 3 * batch  # it did write before it died
    sizes = Counter(line.subject for line in lines)
    assert set(sizes.values()) == {batch}
    assert sorted(sizes) == sorted(f"batch-{i}" for i in range(len(sizes)))
    # The file is usable afterwards: a new writer continues the chain.
    survivor = start(url, "after", 3, "append")
    survivor.communicate(timeout=60)
    assert [line.text for line in history(url)[-3:]] == ["after-0", "after-1", "after-2"]
