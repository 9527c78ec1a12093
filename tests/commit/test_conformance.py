"""The commit conformance suites: every registered store's ledger (and a third party's), every sink slateboard ships."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from slateboard import Blackboard, Proposal, sinks
from slateboard.blackboard.stores import StoreBackend
from slateboard.sinks import Sink, TransactionalSink
from slateboard.testing.commit_conformance import LedgerConformance, OnRegisteredStores, SinkConformance
from tests.blackboard import wrapped


class TestLedgers(OnRegisteredStores, LedgerConformance):
    """Every store slateboard ships, one parametrized copy each, through `slateboard_store_kind`."""


@pytest.fixture(scope="module", autouse=True)
def wrapped_store() -> Iterator[StoreBackend]:
    with wrapped.registered() as backend:
        yield backend


@pytest.mark.parametrize("slateboard_store_kind", [wrapped.SCHEME])
class TestThirdPartyLedger(OnRegisteredStores, LedgerConformance):
    """`wrapped://`, registered at run time: its ledger hands sinks a `TableTransaction` of its own class."""


class TestMemorySink(OnRegisteredStores, SinkConformance):
    def make_sink(self) -> Sink | TransactionalSink:
        return sinks.Memory()

    def applications(self, sink: Any, blackboard: Blackboard, key: str) -> int | None:
        return sink.keys().count(key)  # type: ignore[no-any-return]


class _Recorder:
    """An outside system reached through functions: it records every call and can be asked about a key."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.receipts: dict[str, dict[str, Any]] = {}

    def apply(self, proposal: Proposal, key: str) -> dict[str, Any]:
        self.calls.append(key)
        self.receipts[key] = {"id": len(self.calls), "target": proposal.target}
        return self.receipts[key]

    async def apply_async(self, proposal: Proposal, key: str) -> dict[str, Any]:
        return self.apply(proposal, key)


class TestFunctionSink(OnRegisteredStores, SinkConformance):
    def make_sink(self) -> Sink | TransactionalSink:
        self.recorder = _Recorder()
        return sinks.Function(self.recorder.apply)

    def applications(self, sink: Any, blackboard: Blackboard, key: str) -> int | None:
        return self.recorder.calls.count(key)


class TestAsyncFunctionSinkWithExtras(OnRegisteredStores, SinkConformance):
    def make_sink(self) -> Sink | TransactionalSink:
        self.recorder = _Recorder()
        return sinks.Callable(  # the first name of sinks.Function, kept
            self.recorder.apply_async,
            lookup=self.recorder.receipts.get,
            compensate=lambda proposal, receipt: {"undone": receipt},
        )

    def applications(self, sink: Any, blackboard: Blackboard, key: str) -> int | None:
        return self.recorder.calls.count(key)


class TestTableSink(OnRegisteredStores, SinkConformance):
    def make_sink(self) -> Sink | TransactionalSink:
        return sinks.Table("cases")

    def applications(self, sink: Any, blackboard: Blackboard, key: str) -> int | None:
        return sum(row["revision"] for row in sink.rows(blackboard).values())  # type: ignore[no-any-return]


@pytest.mark.parametrize("slateboard_store_kind", [wrapped.SCHEME])
class TestTableSinkOnAThirdPartyStore(TestTableSink):
    pass


@pytest.mark.parametrize("slateboard_store_kind", [wrapped.SCHEME])
class TestFunctionSinkOnAThirdPartyStore(TestAsyncFunctionSinkWithExtras):
    pass
