"""A target lock's holder names its process by pid and start time: a crashed holder whose pid was reused is dead."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from slateboard.commit.calls import HOST, holder_is_dead, lock_holder, process_started

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process start times come from /proc")

# Renames itself (a name with spaces and parentheses, as /proc/PID/stat shows it), says so, then waits for stdin.
WAITER = "open('/proc/self/comm', 'w').write('a) b (c'); print('ready', flush=True); import sys; sys.stdin.read()"


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen([sys.executable, "-c", WAITER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        yield child
    finally:
        child.kill()
        child.wait()


def test_this_process_holds_locks_alive() -> None:
    holder = lock_holder()
    host, pid, call, started = holder.split("|")
    assert (host, pid) == (HOST, str(os.getpid()))
    assert len(call) == 12
    assert started.isdigit()
    assert not holder_is_dead(holder)
    assert lock_holder() != holder  # each call its own name


def test_a_live_process_is_alive_and_its_pid_under_another_start_is_dead(other_process: subprocess.Popen[str]) -> None:
    pid = other_process.pid
    started = process_started(pid)
    assert started.isdigit()  # read past a name with spaces and parentheses
    assert not holder_is_dead(f"{HOST}|{pid}|call|{started}")
    assert holder_is_dead(f"{HOST}|{pid}|call|{int(started) + 1}")  # the pid now belongs to a later process
    assert not holder_is_dead(f"{HOST}|{pid}|call")  # an older holder's name: its pid alone decides


def test_an_ended_process_is_dead_however_it_is_named(other_process: subprocess.Popen[str]) -> None:
    pid, started = other_process.pid, process_started(other_process.pid)
    other_process.kill()
    other_process.wait()
    assert process_started(pid) == ""
    assert holder_is_dead(f"{HOST}|{pid}|call|{started}")
    assert holder_is_dead(f"{HOST}|{pid}|call")


def test_a_holder_on_another_machine_or_unreadable_is_never_judged_dead() -> None:
    assert not holder_is_dead(f"{HOST}-elsewhere|1|call|1")
    assert not holder_is_dead("probe")
    assert not holder_is_dead(f"{HOST}|not-a-pid|call|1")
