"""Every public coroutine has a blocking `<name>_sync` twin with the same parameters (DESIGN: "a sync facade")."""

import inspect
from collections.abc import Iterator
from contextlib import closing
from types import ModuleType
from typing import Any

import pytest

import slateboard
from slateboard import Blackboard, Controller, Proposal, policies, rules, sinks
from tests.controller.kinds import case, crm_entitlement, knowledge, proposer


def public_classes() -> Iterator[tuple[str, type]]:
    """Every class `slateboard` exports, at the root and in the public modules it exports (rules, sinks, ...)."""
    seen: set[type] = set()

    def walk(module: ModuleType, prefix: str) -> Iterator[tuple[str, type]]:
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and value not in seen:
                seen.add(value)
                yield prefix + name, value
            elif inspect.ismodule(value) and value.__name__.startswith("slateboard.") and not prefix:
                yield from walk(value, f"{name}.")

    yield from walk(slateboard, "")


def asynchronous(cls: type) -> list[str]:
    """The public coroutine and async generator methods of `cls` (inherited ones included)."""
    return [
        name
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and (inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member))
    ]


def test_the_walk_finds_the_classes_with_coroutines() -> None:
    found = {name for name, cls in public_classes() if asynchronous(cls)}
    assert {"Board", "Controller", "CommitLayer", "scenarios.Scenario"} <= found
    assert "iter" in asynchronous(Controller)
    assert "watch" in asynchronous(slateboard.Board)


@pytest.mark.parametrize(("name", "cls"), [(n, c) for n, c in public_classes() if asynchronous(c)])
def test_every_public_coroutine_has_a_sync_twin_with_the_same_parameters(name: str, cls: type) -> None:
    for method in asynchronous(cls):
        twin = getattr(cls, f"{method}_sync", None)
        assert twin is not None, f"{name}.{method} has no {method}_sync twin"
        assert not inspect.iscoroutinefunction(twin), f"{name}.{method}_sync is itself a coroutine"
        original = inspect.signature(getattr(cls, method))
        assert list(inspect.signature(twin).parameters) == list(original.parameters), f"{name}.{method}_sync"
        assert twin.__doc__, f"{name}.{method}_sync has no docstring"
        if inspect.isasyncgenfunction(getattr(cls, method)):
            assert inspect.isgeneratorfunction(twin), f"{name}.{method}_sync should be a plain iterator"


def committing() -> Controller:
    return Controller(
        [crm_entitlement, knowledge, proposer],
        [rules.sufficient(Proposal)],
        policy=policies.Policy(policies.require_approval(lambda p: True), policies.allow()),
        sink=sinks.Memory(),
    )


def test_the_twins_work_end_to_end_without_an_event_loop() -> None:
    controller = committing()
    with Blackboard.open("memory://") as bb:
        board = bb.board("c")
        outcome = controller.run_sync(board, case("c"))
        assert outcome.status == "awaiting_approval"
        (request,) = outcome.approvals
        assert controller.outcome_sync(board) == outcome
        approved = controller.approve_sync(board, request.key, reviewer="ana")
        assert approved.status == "committed"
        assert controller.replay_sync(board).identical
        assert controller.dead_letters_sync(board) == []
        head = board.head_sync()
        assert board.verify_sync(head=head) == head
        assert board.view_sync().version == head.version == len(board.history_sync())
        entry = board.write_sync(case("other"), author="intake-form")
        assert entry.version == head.version + 1
        with closing(board.watch_sync(after=head.version)) as watched:  # endless: take one, then close it
            assert next(watched) == entry


def test_a_sync_twin_says_what_it_is_a_twin_of() -> None:
    twin: Any = Controller.approve_sync
    assert twin.__name__ == "approve_sync"
    assert "`approve`" in twin.__doc__
    assert inspect.signature(twin).parameters["reviewer"].kind is inspect.Parameter.KEYWORD_ONLY
