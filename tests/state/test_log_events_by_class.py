"""`log_entries` finds a record's event once per class: the same event a chain of `isinstance` checks (decision,
verdict, commit, commit failure, in that order) finds, subclasses included; nothing for any other record."""

import pytest

from slateboard import Finding
from slateboard.state import events
from slateboard.state.records import AgentRun, Commit, CommitFailure, Decision, RunStarted, Settlement, Verdict


class Routed(Finding):
    kind_name = "tests.state.log_events.Routed"


class NamedDecision(Decision):
    kind_name = "tests.state.log_events.NamedDecision"


class NamedCommit(Commit):
    kind_name = "tests.state.log_events.NamedCommit"


def chained(cls: type) -> object:
    for kind, event in (
        (Decision, events._decision),
        (Verdict, events._verdict),
        (Commit, events._commit),
        (CommitFailure, events._failure),
    ):
        if issubclass(cls, kind):
            return event
    return None


CLASSES = [Decision, NamedDecision, Verdict, Commit, NamedCommit, CommitFailure]
CLASSES += [AgentRun, RunStarted, Settlement, Routed]


@pytest.mark.parametrize("cls", CLASSES)
def test_each_class_logs_the_event_a_chain_of_checks_finds(cls: type) -> None:
    events._events.clear()
    assert events._event_of(cls) is chained(cls)
    assert events._events[cls] is chained(cls)  # kept: the next entry of the class looks it up
    assert (chained(cls) is None) == (cls in (AgentRun, RunStarted, Settlement, Routed))


def test_the_cache_of_classes_is_bounded() -> None:
    events._events.clear()
    for i in range(events._CLASSES + 5):
        events._event_of(type(f"Plain{i}", (), {}))
        assert len(events._events) <= events._CLASSES
    events._event_of(Decision)
    assert events._events[Decision] is events._decision
