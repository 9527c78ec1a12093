"""Invariant 5 under interleavings: no schedule of workers, retries, crashes and people applies a key twice.

Hypothesis draws keys on overlapping targets (and two boards), a script of what the outside system does on each
call of each key (succeed, refuse, hang before applying, hang after applying), and a plan per worker: commit a
key, resolve an in-doubt key as a truthful person would, revive a dead key, crash mid-commit (a dead process's
lock and a "pending" ledger row, with or without the call having landed), or yield. Workers are anyio tasks;
on SQLite they also use separate `Blackboard` handles on the same file, so separate connections.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from slateboard import Blackboard, Proposal
from slateboard.blackboard.stores.ledger import LedgerRow
from slateboard.blackboard.stores.registry import backend_for_tests
from slateboard.commit import Commit, CommitFailure, CommitLayer
from slateboard.commit.layer import params_hash
from slateboard.errors import CommitError
from tests.commit.outside import Outside

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
TRUE = shutil.which("true") or "/bin/true"  # a process that exits at once, without Python's start-up

_OUTCOMES = st.sampled_from(["ok", "fail", "fail", "hang-before", "hang-after"])
_COMMIT = st.tuples(st.just("commit"), st.integers(0, 3), st.booleans())
_ACTIONS = st.one_of(
    _COMMIT,
    _COMMIT,
    st.tuples(st.just("resolve"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("revive"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("crash"), st.integers(0, 3), st.booleans()),  # the boolean: the call had landed
    st.tuples(st.just("pause"), st.integers(0, 3), st.booleans()),
)
Action = tuple[str, int, bool]


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped: a crashed worker's lock names it.

    Made afresh for each example: pids are reused (pid_max is 32768 on many machines, and a loaded one with
    several test suites starting processes and threads goes through them in a minute or two). One made for the
    whole module could name a live process by the time an example's crashed lock is found, and the commits on
    its target would then wait out their lock_wait instead of taking the lock over."""
    child = subprocess.Popen([TRUE])
    child.wait()
    return child.pid


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        request.getfixturevalue("postgres_server")  # a throwaway server (tests/conftest.py), or a skip
    return str(request.param)


@pytest.fixture
def scratch() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="slateboard-interleave-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


class World:
    """One example's store handles, proposals and outside system."""

    def __init__(self, handles: list[Blackboard], specs: list[tuple[int, int]], capability: str) -> None:
        self.handles = handles
        self.capability = capability
        self.proposals = [
            (
                f"case-{board}",
                Proposal(
                    subject=f"Case/{target}",
                    confidence=1.0,
                    action="update",
                    target=f"Case/{target}",
                    changes={"n": number},
                ),
            )
            for number, (board, target) in enumerate(specs)
        ]
        self.keys = [p.key(board) for board, p in self.proposals]
        self.versions: list[int] = []
        self.results: list[tuple[str, Commit | CommitFailure]] = []

    def key(self, index: int) -> tuple[str, Proposal, str, int]:
        index %= len(self.keys)
        board, change = self.proposals[index]
        return board, change, self.keys[index], self.versions[index]


async def _act(world: World, outside: Outside, handle: Blackboard, action: Action, dead_holder: str) -> None:
    what, index, flag = action
    board_name, change, key, version = world.key(index)
    board = handle.board(board_name)
    layer = CommitLayer(
        outside.sink(idempotent=world.capability == "idempotent", lookup=world.capability == "lookup"),
        attempts=2,
        backoff=0.001,
        timeout=0.02,
        lock_wait=20,
    )
    ledger = handle.store.ledger
    if what == "commit":
        world.results.append((key, await layer.commit(board, change, key, version)))
    elif what == "resolve":  # a person checks the outside system and answers truthfully
        applied = outside.count(key) > 0
        try:
            await layer.resolve(board, key, applied=applied, receipt=outside.lookup(key) if applied else None)
        except CommitError as exc:
            if "not in doubt" not in str(exc):
                raise
    elif what == "revive":
        try:
            await layer.revive(board, key)
        except CommitError as exc:
            if "not dead-lettered" not in str(exc):
                raise
    elif what == "crash":  # a worker that took the lock, claimed the key, maybe called the sink, and died
        token, _ = ledger.acquire(change.target, dead_holder, 60.0, "", wait=True)
        if token:
            row = LedgerRow(key, params_hash(change), board_name, change.target, "pending", fence=token)
            _, created = ledger.claim(row, wait=True)
            if created and flag:
                outside._apply(change, key)
    else:
        for _ in range(index):
            await anyio.lowlevel.checkpoint()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=4),
    scripts=st.lists(st.lists(_OUTCOMES, max_size=4), min_size=4, max_size=4),
    capability=st.sampled_from(["plain", "lookup", "idempotent"]),
    plans=st.lists(st.lists(_ACTIONS, min_size=1, max_size=6), min_size=2, max_size=4),
)
async def test_no_interleaving_applies_a_key_twice(
    store_kind: str,
    scratch: Path,
    *,
    specs: list[tuple[int, int]],
    scripts: list[list[str]],
    capability: str,
    plans: list[list[Action]],
) -> None:
    if store_kind == "memory":
        handles = [Blackboard.open("memory://")]
    elif store_kind == "postgresql":
        url = backend_for_tests("postgresql").fresh_url(scratch)
        handles = [Blackboard.open(url) for _ in range(3)]
    else:
        url = f"sqlite:///{tempfile.mkstemp(suffix='.db', dir=scratch)[1]}?synchronous=normal"
        handles = [Blackboard.open(url) for _ in range(3)]
    try:
        world = World(handles, specs, capability)
        outside = Outside(
            per_key={key: list(scripts[i]) for i, key in enumerate(world.keys)}, dedupe=capability == "idempotent"
        )
        for board, change in world.proposals:
            world.versions.append((await handles[0].board(board).write(change, author="agent")).version)
        dead_holder = f"{socket.gethostname()}|{dead_pid()}|crashed"

        async def worker(number: int, plan: list[Action]) -> None:
            for action in plan:
                await _act(world, outside, handles[number % len(handles)], action, dead_holder)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for number, plan in enumerate(plans):
                    tg.start_soon(worker, number, plan)
            # Then recovery: two workers on different handles commit every key at once, so every crash and
            # every revived or resolved key is taken up again.
            async with anyio.create_task_group() as tg:
                for index in range(len(world.keys)):
                    for number in range(2):
                        tg.start_soon(
                            _act, world, outside, handles[number % len(handles)], ("commit", index, False), ""
                        )
        _check(world, outside, handles[-1])
    finally:
        for handle in handles:
            handle.close()


def _check(world: World, outside: Outside, handle: Blackboard) -> None:
    ledger = handle.store.ledger
    commits: dict[str, set[str]] = {}
    for key, result in world.results:
        if isinstance(result, Commit):
            commits.setdefault(key, set()).add(json.dumps([result.receipt, result.fence]))
    for key in dict.fromkeys(world.keys):
        applied = outside.count(key)
        row = ledger.get(key, wait=True)
        state = row.status if row else None
        event(f"{world.capability} key ends {state}")
        context = f"key {key}: ledger {row}, outside calls {Counter(outside.calls)[key]}, applications {applied}"
        assert applied <= 1, context  # invariant 5
        assert len(commits.get(key, ())) <= 1, f"{context}: commits returned different receipts {commits[key]}"
        if state == "applied":
            assert row is not None
            assert applied == 1, context
            assert json.loads(row.receipt) == outside.receipts[key], context
            assert commits.get(key, {json.dumps([outside.receipts[key], row.fence])}) == {
                json.dumps([json.loads(row.receipt), row.fence])
            }, context
        elif state == "dead":
            # An idempotent sink's lost answer is retried; if the retries then fail the key is dead-lettered,
            # though the outside system may hold it (reviving it lets the outside system return its receipt).
            assert applied == 0 or world.capability == "idempotent", context
        else:
            # After recovery nothing is left pending, failed or unclaimed; only a plain sink leaves doubt.
            assert state == "in_doubt", context
            # A lookup or an idempotent retry settles every doubt, except a call that timed out while its thread was
            # still running (possible under load with this short timeout): a lookup that misses it proves nothing,
            # so only a person may settle it (test_layer's test_a_timed_out_call_still_running_...).
            assert row is not None
            assert world.capability == "plain" or (world.capability == "lookup" and "still running" in row.error), (
                context
            )
        if commits.get(key):
            assert state == "applied", f"{context}: a key some worker saw committed must stay applied"
    for key, result in world.results:
        if isinstance(result, CommitFailure):
            assert result.status in ("dead", "in_doubt")
            assert result.error, f"key {key}: a failure names its cause"
