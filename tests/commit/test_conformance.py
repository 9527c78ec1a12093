"""The commit conformance suites, run against every store's ledger and every sink slateboard ships."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from slateboard import Blackboard, Proposal, sinks
from slateboard.testing.commit_conformance import LedgerConformance, SinkConformance


class _Files:
    """Fresh SQLite files in a temporary directory, removed after each test."""

    def setup_method(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="slateboard-commit-conf-"))
        self.count = 0

    def teardown_method(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def open_blackboard(self) -> Blackboard:
        self.count += 1
        return Blackboard.open(f"sqlite:///{self.root / f'c{self.count}.db'}")


class TestMemoryLedger(LedgerConformance):
    def open_blackboard(self) -> Blackboard:
        return Blackboard.open("memory://")


class TestSQLiteLedger(_Files, LedgerConformance):
    def reopen(self, blackboard: Blackboard) -> Blackboard | None:
        return Blackboard.open(blackboard.url)


class TestMemorySink(SinkConformance):
    def make_sink(self) -> object:
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


class TestCallableSink(SinkConformance):
    def make_sink(self) -> object:
        self.recorder = _Recorder()
        return sinks.Callable(self.recorder.apply)

    def applications(self, sink: Any, blackboard: Blackboard, key: str) -> int | None:
        return self.recorder.calls.count(key)


class TestAsyncCallableSinkWithExtras(SinkConformance):
    def make_sink(self) -> object:
        self.recorder = _Recorder()
        return sinks.Callable(
            self.recorder.apply_async,
            lookup=self.recorder.receipts.get,
            compensate=lambda proposal, receipt: {"undone": receipt},
        )

    def applications(self, sink: Any, blackboard: Blackboard, key: str) -> int | None:
        return self.recorder.calls.count(key)


class TestTableSinkOnMemory(SinkConformance):
    def make_sink(self) -> object:
        return sinks.Table("cases")

    def applications(self, sink: Any, blackboard: Blackboard, key: str) -> int | None:
        return sum(row["revision"] for row in sink.rows(blackboard).values())  # type: ignore[no-any-return]


class TestTableSinkOnSQLite(_Files, TestTableSinkOnMemory):
    pass
