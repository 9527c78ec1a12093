"""The store conformance suite, run against every store slateboard ships."""

import shutil
import tempfile
from pathlib import Path

from slateboard import Blackboard
from slateboard.testing.conformance import BlackboardConformance


class TestMemoryStore(BlackboardConformance):
    def open_blackboard(self) -> Blackboard:
        return Blackboard.open("memory://")


class TestSQLiteStore(BlackboardConformance):
    def setup_method(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="slateboard-conf-"))
        self.count = 0

    def teardown_method(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def open_blackboard(self) -> Blackboard:
        self.count += 1
        return Blackboard.open(f"sqlite:///{self.root / f'b{self.count}.db'}")

    def reopen(self, blackboard: Blackboard) -> Blackboard | None:
        return Blackboard.open(blackboard.url)
