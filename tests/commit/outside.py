"""An outside system for commit tests: it counts every call and every application of each key."""

from __future__ import annotations

import threading
from typing import Any

import anyio

from slateboard import Proposal, sinks

__all__ = ("Outside",)


class Outside:
    """An outside system behind `sinks.Function`: it counts every call and every application per key.

    `script` says what each call does, in order (then "ok"): "ok"; "fail" (refuses, applies nothing);
    "hang-before" (never answers, applies nothing); "hang-after" (applies, then never answers).
    `per_key` gives each key its own script instead. `dedupe=True` is an idempotency-key API: a key it has
    seen is not applied again.
    """

    def __init__(
        self, script: tuple[str, ...] = (), *, dedupe: bool = False, per_key: dict[str, list[str]] | None = None
    ) -> None:
        self.script = list(script)
        self.per_key = per_key
        self.dedupe = dedupe
        self.calls: list[str] = []
        self.applications: list[str] = []
        self.receipts: dict[str, dict[str, Any]] = {}
        self.landed = threading.Event()  # set on the first application
        self.release = threading.Event()  # lets a blocking "hang-before" call go on
        self._lock = threading.Lock()

    def _step(self, key: str) -> str:
        with self._lock:
            self.calls.append(key)
            script = self.script if self.per_key is None else self.per_key.setdefault(key, [])
            return script.pop(0) if script else "ok"

    def _apply(self, proposal: Proposal, key: str) -> dict[str, Any]:
        with self._lock:
            if not (self.dedupe and key in self.receipts):
                self.applications.append(key)
                self.receipts[key] = {"id": len(self.applications), "target": proposal.target}
                self.landed.set()
            return self.receipts[key]

    async def apply(self, proposal: Proposal, key: str) -> dict[str, Any]:
        step = self._step(key)
        if step == "fail":
            raise RuntimeError(f"CRM refused {key}")
        if step == "hang-before":
            await anyio.sleep(30)
        receipt = self._apply(proposal, key)
        if step == "hang-after":
            await anyio.sleep(30)
        return receipt

    def apply_blocking(self, proposal: Proposal, key: str) -> dict[str, Any]:
        """The same in a worker thread; "hang-before" waits for `release`, then applies (a slow, not dead, call)."""
        step = self._step(key)
        if step == "fail":
            raise RuntimeError(f"CRM refused {key}")
        if step == "hang-before":
            self.release.wait(30)
        return self._apply(proposal, key)

    def lookup(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self.receipts.get(key)

    def sink(self, *, idempotent: bool = False, lookup: bool = False, blocking: bool = False) -> sinks.Function:
        return sinks.Function(
            self.apply_blocking if blocking else self.apply,
            name="outside",
            idempotent=idempotent,
            lookup=self.lookup if lookup else None,
        )

    def count(self, key: str) -> int:
        return self.applications.count(key)
