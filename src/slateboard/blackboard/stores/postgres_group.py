"""The PostgreSQL store's group commit (`PostgresStore.append_group`): the statements that write several boards'
appends in one transaction, each a fixed number of round trips whatever the size of the group."""

from __future__ import annotations

from typing import Any

import psycopg

from slateboard.blackboard.entries import GENESIS_HASH
from slateboard.blackboard.stores.postgres_migrations import ENTRIES

__all__ = ("Collision", "lock_and_read_heads", "insert_rows")

# A group's boards locked in one statement, in the order of their lock keys (the materialized CTE yields them
# sorted, and each is locked as the scan reaches it): two groups sharing boards lock them in the same order and
# never deadlock; a single append holds one board's lock only. synchronous_commit: "off" for durability="relaxed",
# else (NULL) the session's own setting, as a single append keeps it.
LOCK_BOARDS = (
    "WITH timeout AS MATERIALIZED (SELECT set_config('lock_timeout', %s, true), "
    "set_config('synchronous_commit', coalesce(%s, current_setting('synchronous_commit')), true)), "
    "keys AS MATERIALIZED (SELECT DISTINCT hashtextextended(b, 0) AS key FROM unnest(%s::text[]) AS b ORDER BY key) "
    "SELECT pg_advisory_xact_lock(key) FROM timeout, keys"
)
# Every board's head in one statement, read once all the locks are held (a later statement: under READ COMMITTED
# it sees every earlier holder's commit).
HEADS = (
    "SELECT b.board, h.version, h.hash FROM unnest(%s::text[]) AS b(board) LEFT JOIN LATERAL "  # noqa: S608
    f"(SELECT version, hash FROM {ENTRIES} e WHERE e.board = b.board ORDER BY version DESC LIMIT 1) h ON true"
)
# A group's rows in one statement, column-wise; each row's seq comes back with its (board, version).
INSERT_COLUMNS = (
    f"INSERT INTO {ENTRIES} (board, version, kind, schema_version, author, recorded_at, payload, hash) "  # noqa: S608
    "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::integer[], %s::text[], %s::text[], "
    "%s::text[], %s::text[]) RETURNING board, version, seq"
)


class Collision(Exception):
    """A group's insert hit the unique (board, version) constraint: write the group again with savepoints."""


def lock_and_read_heads(
    cursor: psycopg.Cursor[tuple[Any, ...]], boards: list[str], lock_timeout_ms: int, *, relaxed: bool
) -> dict[str, tuple[int, str]]:
    """Lock every one of `boards` (waiting at most `lock_timeout_ms` a lock), then read their heads; `relaxed`: the
    transaction's commit does not wait for its WAL flush."""
    cursor.execute(LOCK_BOARDS, (f"{lock_timeout_ms}ms", "off" if relaxed else None, boards))
    return {
        board: (0, GENESIS_HASH) if version is None else (int(version), str(digest))
        for board, version, digest in cursor.execute(HEADS, (boards,))
    }


def insert_rows(cursor: psycopg.Cursor[tuple[Any, ...]], rows: list[tuple[Any, ...]]) -> dict[tuple[str, int], int]:
    """Insert `rows` (entries' columns in `INSERT_COLUMNS`' order) in one statement; each row's seq by (board,
    version)."""
    columns = tuple(list(column) for column in zip(*rows, strict=True))
    found = cursor.execute(INSERT_COLUMNS, columns).fetchall()
    return {(board, version): seq for board, version, seq in found}
