"""The PostgreSQL store's schema: the DDL it runs at open, in the schema its URL names (`?schema=`, else `public`).

The same tables as the SQLite store (`sqlite_schema`): the log with its unique (board, version) constraint, the
layout version, the idempotency ledger and the target locks, plus triggers that refuse UPDATE, DELETE and TRUNCATE
on the log. Every statement is idempotent; `create_schema` runs them under a transaction-level advisory lock, so
processes opening a fresh database at once do not race on CREATE TABLE.
"""

from __future__ import annotations

__all__ = ("LAYOUT_VERSION", "ENTRIES", "SCHEMA_LOCK", "schema_statements")

LAYOUT_VERSION = 1
ENTRIES = "slateboard_entries"
# The key of the advisory lock that serializes schema creation (any constant; this one spells "slate").
SCHEMA_LOCK = 0x736C617465
_APPEND_ONLY = "slateboard: the entry log is append-only"


def schema_statements(schema: str) -> list[str]:
    """The DDL for a fresh store in `schema` (an identifier, already checked), run in one transaction."""
    return [
        f'CREATE SCHEMA IF NOT EXISTS "{schema}"',
        f"""CREATE TABLE IF NOT EXISTS {ENTRIES} (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            board TEXT NOT NULL,
            version BIGINT NOT NULL,
            kind TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            author TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            payload TEXT NOT NULL,
            hash TEXT NOT NULL,
            CONSTRAINT slateboard_entries_board_version UNIQUE (board, version)
        )""",
        "CREATE TABLE IF NOT EXISTS slateboard_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS slateboard_ledger (
            key TEXT PRIMARY KEY,
            params_hash TEXT NOT NULL,
            board TEXT NOT NULL,
            target TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            receipt TEXT NOT NULL,
            error TEXT NOT NULL,
            fence BIGINT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS slateboard_target_locks (
            target TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            token BIGINT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        )""",
        f"""CREATE OR REPLACE FUNCTION "{schema}".slateboard_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$""",
        f"""CREATE OR REPLACE TRIGGER {ENTRIES}_no_change BEFORE UPDATE OR DELETE ON {ENTRIES}
            FOR EACH ROW EXECUTE FUNCTION "{schema}".slateboard_append_only()""",
        f"""CREATE OR REPLACE TRIGGER {ENTRIES}_no_truncate BEFORE TRUNCATE ON {ENTRIES}
            FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".slateboard_append_only()""",
    ]
