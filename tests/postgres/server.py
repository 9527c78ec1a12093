"""A throwaway PostgreSQL server for the test session: initdb in a temporary directory, started on a free port of
127.0.0.1 with trust authentication, stopped and deleted at the end.

`SLATEBOARD_TEST_POSTGRES` (a postgresql:// URL of a server where the tests may create schemas) is used instead
when set. Otherwise the server binaries are looked for (`SLATEBOARD_POSTGRES_BIN`, Debian's
/usr/lib/postgresql/*/bin, then PATH). As root the server runs as the unprivileged user `nobody` (initdb refuses
root). When there is neither, the PostgreSQL tests skip, or fail with `SLATEBOARD_REQUIRE_POSTGRES=1` (CI).
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

VARIABLE = "SLATEBOARD_TEST_POSTGRES"
REQUIRE = "SLATEBOARD_REQUIRE_POSTGRES"
_USER = "nobody"
_SETTINGS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
    "-c shared_buffers=32MB -c listen_addresses=127.0.0.1"
)


class Unavailable(Exception):
    """No server can be had here; the message says why (the tests' skip reason)."""


def binaries() -> Path | None:
    """The directory of initdb and pg_ctl, or None."""
    chosen = os.environ.get("SLATEBOARD_POSTGRES_BIN")
    candidates = [Path(chosen)] if chosen else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).parent)
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str], *, as_user: bool) -> None:
    if as_user:
        command = ["runuser", "-u", _USER, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


@contextlib.contextmanager
def throwaway_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for this test session (started here and stopped at exit, unless given)."""
    given = os.environ.get(VARIABLE)
    if given:
        yield given
        return
    bin_dir = binaries()
    if bin_dir is None:
        raise Unavailable(
            f"PostgreSQL tests skipped: {VARIABLE} is not set and no PostgreSQL server binaries were found "
            "(apt-get install postgresql, or set SLATEBOARD_POSTGRES_BIN)"
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
        port = _start(bin_dir, data, root, as_user)
        try:
            yield f"postgresql://slateboard@127.0.0.1:{port}/postgres"
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], as_user=as_user)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _start(bin_dir: Path, data: Path, root: Path, as_user: bool) -> int:
    """Start the server on a free port (another worker may take the port first: then try another)."""
    for attempt in range(5):
        port = _free_port()
        options = f"-p {port} -k {root} {_SETTINGS}"
        log = root / f"server-{attempt}.log"
        try:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start"],
                 as_user=as_user)  # fmt: skip
        except RuntimeError as exc:
            error = exc
            continue
        return port
    raise RuntimeError(f"the throwaway PostgreSQL server did not start: {error}")
