"""Sink typing: capabilities read once, `sinks.Function` (and its first name `sinks.Callable`), and `Table` writing
through any store's `TableTransaction`."""

import typing
from typing import Any

import anyio
import pytest

from slateboard import CommitLayer, Proposal, sinks
from slateboard.blackboard.stores import TableRow
from slateboard.errors import ConfigurationError
from slateboard.sinks import SinkCapabilities, capabilities_of


def change(target: str = "Case/1", **changes: Any) -> Proposal:
    return Proposal(subject=target, confidence=1.0, action="update", target=target, changes=changes or {"A": 1})


def test_function_is_the_sink_from_a_function_and_callable_its_kept_first_name() -> None:
    assert sinks.Callable is sinks.Function
    assert sinks.Function is not typing.Callable
    assert {"Function", "Callable", "Sink", "TransactionalSink", "SinkCapabilities"} <= set(sinks.__all__)
    with pytest.raises(ConfigurationError, match=r"sinks\.Function needs a function"):
        sinks.Function("not a function")  # type: ignore[arg-type]


def test_capabilities_of_the_built_in_sinks() -> None:
    memory = sinks.Memory()
    assert capabilities_of(memory) == SinkCapabilities(
        name="memory", transactional=False, blocking=False, idempotent=False, lookup=None, compensate=memory.compensate
    )

    def crm(proposal: Proposal, key: str) -> str:
        return key

    async def acrm(proposal: Proposal, key: str) -> str:
        return key

    plain = capabilities_of(sinks.Function(crm))
    assert (plain.name, plain.blocking, plain.idempotent, plain.lookup, plain.compensate) == (
        "crm",
        True,
        False,
        None,
        None,
    )
    extras = capabilities_of(sinks.Function(acrm, name="crm", idempotent=True, lookup=str.upper))
    assert (extras.blocking, extras.idempotent, extras.lookup) == (False, True, str.upper)
    table = capabilities_of(sinks.Table("cases"))
    assert (table.name, table.transactional, table.lookup, table.compensate) == ("cases", True, None, None)


class Outside:
    """A sink of a user's own, with optional parts it can change after the layer was built."""

    def __init__(self) -> None:
        self.idempotent = True
        self.calls: list[str] = []

    def apply(self, proposal: Proposal, key: str) -> str:
        self.calls.append(key)
        return key


def test_the_layer_reads_a_sinks_capabilities_once_when_it_is_built() -> None:
    sink = Outside()
    layer = CommitLayer(sink)
    sink.idempotent = False
    sink.lookup = str.upper  # type: ignore[attr-defined]
    assert layer.capabilities == capabilities_of(Outside())
    assert (layer.idempotent, layer.lookup, layer.sink_name, layer.transactional) == (True, None, "Outside", False)


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        ("idempotent", "yes", "idempotent must be True or False, got 'yes'"),
        ("blocking", 1, "blocking must be True or False, got 1"),
        ("lookup", 42, "lookup must be a function, got 42"),
        ("compensate", "undo", "compensate must be a function, got 'undo'"),
    ],
)
def test_a_capability_of_the_wrong_type_is_refused_naming_the_sink(attribute: str, value: object, message: str) -> None:
    sink = Outside()
    setattr(sink, attribute, value)
    with pytest.raises(ConfigurationError, match=message) as caught:
        CommitLayer(sink)
    assert "Outside object" in str(caught.value)


def test_something_without_apply_is_not_a_sink() -> None:
    with pytest.raises(ConfigurationError, match="has no apply"):
        CommitLayer(object())  # type: ignore[arg-type]


class Ledgerless:
    """A `TableTransaction` of the test's own: `Table` needs nothing but `read_row` and `write_row`."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], TableRow] = {}

    def read_row(self, table: str, target: str) -> TableRow | None:
        return self.rows.get((table, target))

    def write_row(self, table: str, target: str, row: TableRow) -> None:
        self.rows[table, target] = row


def test_table_merges_changes_through_any_table_transaction() -> None:
    tx, table = Ledgerless(), sinks.Table("cases")
    assert table.apply_in(tx, change(A=1, B=2), "k1") == {"table": "cases", "target": "Case/1", "revision": 1}
    assert table.apply_in(tx, change(B=3), "k2") == {"table": "cases", "target": "Case/1", "revision": 2}
    assert tx.rows == {("cases", "Case/1"): TableRow({"A": 1, "B": 3}, 2, "k2")}


def test_a_table_reads_back_from_a_blackboard_or_its_store(slateboard_store: Any) -> None:
    table = sinks.Table("cases")
    board = slateboard_store.board("b")
    proposal = change()
    result = anyio.run(CommitLayer(table).commit, board, proposal, proposal.key("b"), 1)
    assert result.receipt == {"table": "cases", "target": "Case/1", "revision": 1}
    expected = {"Case/1": {"data": {"A": 1}, "revision": 1, "last_key": proposal.key("b")}}
    assert table.rows(slateboard_store) == table.rows(slateboard_store.store) == expected
    assert sinks.Table("never_written").rows(slateboard_store) == {}
