"""What the benchmarks record about the machine they ran on."""

import os
import platform
import sqlite3
import time


def machine() -> dict[str, object]:
    """Python and SQLite versions, CPU count, platform and date, for a benchmark's report."""
    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }
