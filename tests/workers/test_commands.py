"""`slateboard enqueue`, `slateboard worker` and `slateboard boards` on a PostgreSQL store, in-process."""

from __future__ import annotations

import json

from tests.cli.conftest import Invoke, slateboard

__all__ = ("slateboard",)  # the command-line fixture, shared with the CLI tests


def test_enqueue_then_a_worker_until_idle_then_boards_shows_where_each_stands(slateboard: Invoke, url: str) -> None:
    queued = slateboard("enqueue", "--db", url, "--scenario", "support-case", "--count", "3", "--prefix", "c-")
    assert queued.stdout.strip() == "queued 3 board(s) of support-case: c-0001 .. c-0003"
    again = slateboard("enqueue", "--db", url, "--scenario", "support-case", "--count", "4", "--prefix", "c-")
    assert "queued 1 board(s)" in again.stdout
    assert "3 already in the queue" in again.stdout
    conflict = slateboard("enqueue", "--db", url, "--scenario", "support-case/conflict", "--prefix", "k-", "--json")
    assert json.loads(conflict.stdout) == {"queued": ["k-0001"], "already": []}

    ran = slateboard("worker", "--db", url, "--until-idle", "--concurrency", "2", "--poll", "0.5")
    assert ran.code == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("worker ")
    assert "c-0001 awaiting_approval -> waiting" in ran.stdout
    assert "k-0001 escalated -> waiting" in ran.stdout
    assert lines[-1].endswith("stopped: 5 waiting")

    listed = {b["board"]: b for b in json.loads(slateboard("boards", "--db", url, "--json").stdout)}
    assert sorted(listed) == ["c-0001", "c-0002", "c-0003", "c-0004", "k-0001"]
    assert listed["k-0001"]["status"] == "escalated"
    assert listed["c-0001"]["queue"]["state"] == "waiting"
    assert listed["c-0001"]["queue"]["claims"] == 1
    long = slateboard("boards", "--db", url, "--long").stdout
    assert "c-0002  awaiting_approval  26 entries  support-case  queue: waiting" in long


def test_a_worker_reports_each_board_as_json(slateboard: Invoke, url: str) -> None:
    slateboard("enqueue", "--db", url, "--scenario", "support-case", "--prefix", "j-")
    ran = slateboard("worker", "--db", url, "--until-idle", "--json")
    [line] = ran.stdout.splitlines()
    done = json.loads(line)
    assert (done["board"], done["status"], done["state"], done["claims"]) == (
        "j-0001",
        "awaiting_approval",
        "waiting",
        1,
    )


def test_workers_and_enqueue_refuse_a_store_without_a_queue(slateboard: Invoke) -> None:
    for command in (["enqueue", "--scenario", "support-case"], ["worker"]):
        failed = slateboard(*command, "--db", "sqlite:///here.db")
        assert failed.code == 2
        assert "no work queue" in failed.stderr
        assert "postgresql://" in failed.stderr


def test_enqueue_names_an_unknown_scenario_or_variant(slateboard: Invoke, url: str) -> None:
    failed = slateboard("enqueue", "--db", url, "--scenario", "support-case", "--variant", "nope")
    assert failed.code == 2
    assert "nope" in failed.stderr
