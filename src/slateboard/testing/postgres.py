"""A throwaway PostgreSQL server: initdb in a temporary directory, started on a free port of 127.0.0.1 with trust
authentication, stopped and deleted when the `with` block ends. For tests and benchmarks of the PostgreSQL store,
slateboard's own and its users'.

    from slateboard.testing.postgres import throwaway_server

    with throwaway_server() as server:          # postgresql://slateboard@127.0.0.1:PORT/postgres
        with Blackboard.open(f"{server}?schema=case_tests") as bb:
            ...

`durable=False` (tests) runs the server with `fsync=off` and `synchronous_commit=off`: fast, and a crash of the
machine (not of a client process) may lose commits. `durable=True` keeps PostgreSQL's defaults (`fsync=on`,
`synchronous_commit=on`, full page writes), what a real deployment runs: a commit returns once its WAL is on disk.

`SLATEBOARD_TEST_POSTGRES` (a postgresql:// URL of a server where the tests may create schemas) is yielded instead
when set. Otherwise the server binaries are looked for (`SLATEBOARD_POSTGRES_BIN`, Debian's
/usr/lib/postgresql/*/bin, then PATH). As root the server runs as the unprivileged user `nobody` (initdb refuses
root). When there is neither, `Unavailable` says why; `SLATEBOARD_REQUIRE_POSTGRES=1` is the convention (CI) for
turning that into a failure instead of a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ("BINARIES", "REQUIRE", "VARIABLE", "Unavailable", "binaries", "throwaway_server")

VARIABLE = "SLATEBOARD_TEST_POSTGRES"
"""A postgresql:// URL of an existing server to use instead of starting one."""
REQUIRE = "SLATEBOARD_REQUIRE_POSTGRES"
"""Set to 1 where the PostgreSQL tests (and benchmark smoke runs) must run rather than skip."""
BINARIES = "SLATEBOARD_POSTGRES_BIN"
"""The directory of initdb and pg_ctl, when not in Debian's place or on PATH."""

_USER = "nobody"
_COMMON = "-c max_connections=300 -c shared_buffers=32MB -c listen_addresses=127.0.0.1"
# Tests do not survive a machine crash anyway: skip every flush to disk.
_FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class Unavailable(Exception):
    """No server can be had here; the message says why (the tests' skip reason)."""


def binaries() -> Path | None:
    """The directory of initdb and pg_ctl, or None."""
    chosen = os.environ.get(BINARIES)
    candidates = [Path(chosen)] if chosen else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major, reverse=True)
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).parent)
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


def _major(bin_dir: Path) -> int:
    """Debian's /usr/lib/postgresql/<major>/bin: newest first (a stray non-numeric directory sorts last)."""
    name = bin_dir.parent.name
    return int(name) if name.isdigit() else -1


@contextlib.contextmanager
def throwaway_server(durable: bool = False) -> Iterator[str]:
    """The URL of a PostgreSQL server, started here and stopped (its data deleted) when the block ends; the server
    `SLATEBOARD_TEST_POSTGRES` names when set (then neither started nor stopped). Raises `Unavailable`."""
    given = os.environ.get(VARIABLE)
    if given:
        yield given
        return
    bin_dir = binaries()
    if bin_dir is None:
        raise Unavailable(
            f"no PostgreSQL server: {VARIABLE} is not set and no PostgreSQL server binaries were found "
            f"(apt-get install postgresql, or set {BINARIES})"
        )
    as_user = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="slateboard-pg-"))
    data = root / "data"
    try:
        if as_user:
            shutil.chown(root, _USER)
            root.chmod(0o700)
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "slateboard", "--auth=trust", "-E", "UTF8",
              "--no-sync", "--no-instructions"], as_user=as_user)  # fmt: skip
        settings = _COMMON if durable else f"{_COMMON} {_FAST}"
        port = _start(bin_dir, data, root, settings, as_user)
        try:
            yield f"postgresql://slateboard@127.0.0.1:{port}/postgres"
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], as_user=as_user)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str], *, as_user: bool) -> None:
    if as_user:
        command = ["runuser", "-u", _USER, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603 (our own binaries)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def _start(bin_dir: Path, data: Path, root: Path, settings: str, as_user: bool) -> int:
    """Start the server on a free port (another process may take the port first: then try another)."""
    error: RuntimeError | None = None
    for attempt in range(5):
        port = _free_port()
        options = f"-p {port} -k {root} {settings}"
        log = root / f"server-{attempt}.log"
        try:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start"],
                 as_user=as_user)  # fmt: skip
        except RuntimeError as exc:
            error = exc
            continue
        return port
    raise RuntimeError(f"the throwaway PostgreSQL server did not start: {error}")
