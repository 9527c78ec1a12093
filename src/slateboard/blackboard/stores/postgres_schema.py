"""The PostgreSQL store's schema, in the schema its URL names (`?schema=`, else `public`): names the store shares.

The tables are those of the SQLite store (`sqlite_schema`): the log with its unique (board, version) constraint
and the writing transaction of each entry (`tx`, for the feed), the layout version, the idempotency ledger and the
target locks, plus triggers that refuse UPDATE, DELETE and TRUNCATE on the log. The DDL is the migration steps'
(`postgres_migrations.STEPS`), run at open under the advisory lock `SCHEMA_LOCK`.
"""

from __future__ import annotations

from slateboard.blackboard.stores.postgres_migrations import LAYOUT_VERSION, SCHEMA_LOCK, STEPS

__all__ = ("LAYOUT_VERSION", "ENTRIES", "SCHEMA_LOCK", "schema_statements")

ENTRIES = "slateboard_entries"


def schema_statements(schema: str) -> list[str]:
    """The DDL of a fresh store in `schema` (an identifier, already checked) at the newest layout, to run in one
    transaction on a connection whose search_path is `schema`."""
    return [f'CREATE SCHEMA IF NOT EXISTS "{schema}"', *(statement for step in STEPS for statement in step.statements)]
