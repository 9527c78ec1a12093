"""The review page served for a real browser: uvicorn in a background thread on a free loopback port, and Debian's
chromium driven by Playwright (never `playwright install`: the system's chromium is launched by its path).

Without chromium or Playwright the browser tests skip and say why, unless `SLATEBOARD_REQUIRE_BROWSER` is set (CI
sets it, so there they must run).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from slateboard import Blackboard
from slateboard.web import create_app

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run",
]  # fmt: skip


def chromium_or_skip() -> str:
    """The system chromium's path and Playwright importable, or a skip (a failure when CI requires them)."""
    path = shutil.which("chromium")
    try:
        import playwright.sync_api  # noqa: F401, PLC0415 - only the browser tests need it
    except ImportError:
        missing = "Playwright's Python package is not installed (pip install playwright)"
    else:
        missing = "" if path else "Debian's chromium is not installed (apt-get install -y chromium)"
    if missing:
        if os.environ.get("SLATEBOARD_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests required but {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    return str(path)


class _Server(uvicorn.Server):
    """uvicorn that says when it is listening (an event, not a sleep)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextmanager
def serve(blackboard: Blackboard, token: str) -> Iterator[str]:
    """Serve the review page over `blackboard` on a free loopback port; yields its base address."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the port is ours before the server starts: no race for it
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(create_app(blackboard, token=token), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    if not server.ready.wait(timeout=30):
        raise RuntimeError("the review page did not start within 30 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
