"""Schema migrations for the SQL stores: a numbered list of plain SQL steps per backend, and the rules that run them.

Each SQL backend keeps one tuple of `Step`s (`sqlite_migrations.STEPS`, `postgres_migrations.STEPS`), versions
1, 2, 3 ... in order. The database records the last step applied as its *layout* (`slateboard_meta`, key
'layout'). When a store opens a database it:

1. reads the layout before writing anything, and refuses a layout newer than its newest step, or a stamp that is
   not a whole number, with `SchemaVersionError` (the database is left exactly as it was);
2. opened for writing, runs the missing steps in order and records the new layout, all in one transaction under a
   lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), re-reading the layout once it holds the lock, so
   two processes opening one fresh database at once apply each step once;
3. opened read-only, runs nothing: an older layout is read as it is when no missing step is `required_for_reading`,
   and refused with `SchemaVersionError` ("open it once for writing to migrate") otherwise.

To change a schema, append a step to each backend's tuple; never edit a step that was released, because
databases that already applied it will not run it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slateboard.errors import ConfigurationError, SchemaVersionError, StoreError

__all__ = ("Step", "check_steps", "newest", "parse_layout", "pending", "check_readable", "run_steps")


@dataclass(frozen=True)
class Step:
    """One migration: the SQL that takes a database from layout `version - 1` to `version`.

    `statements` run in order, inside the migration's transaction (no statement may commit by itself): plain SQL,
    or a function of the schema's name giving it, for SQL that must name its schema (a PostgreSQL trigger function
    that runs under other sessions' search paths). `required_for_reading`: this release's reads need the step (a
    column or table they select), so a read-only open of a database without it is refused instead of failing
    later; a step only writers use sets it False, and read-only users of older databases keep working.
    """

    version: int
    description: str
    statements: tuple[str, ...] | Callable[[str], Sequence[str]]
    required_for_reading: bool = True

    def sql(self, schema: str = "") -> tuple[str, ...]:
        """The step's statements (for a step whose SQL names its schema, in `schema`)."""
        return tuple(self.statements(schema)) if callable(self.statements) else self.statements


def check_steps(steps: Sequence[Step]) -> tuple[Step, ...]:
    """The steps, checked: versions 1..n in order, each with a description. Run once, when a backend is imported."""
    for position, step in enumerate(steps, start=1):
        if step.version != position:
            raise ConfigurationError(f"migration steps must be numbered 1, 2, 3 ... in order; step {position} says "
                                     f"version {step.version} ({step.description!r})")  # fmt: skip
        if not step.description.strip():
            raise ConfigurationError(f"migration step {step.version} has no description")
    return tuple(steps)


def newest(steps: Sequence[Step]) -> int:
    """The layout a database has once every step ran."""
    return steps[-1].version if steps else 0


def parse_layout(found: str | None, *, where: str, url: str, steps: Sequence[Step]) -> int:
    """The layout stamp `found` (None: no stamp, a fresh database) as a number this release can open.

    `SchemaVersionError` for a stamp that is not a whole number, or that is newer than the newest step."""
    latest = newest(steps)
    if found is None:
        return 0
    try:
        layout = int(found.strip())
    except ValueError:
        layout = -1
    if layout < 0:
        raise SchemaVersionError(
            f"{where}: its layout stamp (slateboard_meta 'layout') is {found!r}, not a layout number; it was not "
            "written by slateboard, or was edited (nothing was changed)",
            url=url,
            found=found,
            newest=latest,
        )
    if layout > latest:
        raise SchemaVersionError(
            f"{where} has layout {layout}, written by a newer slateboard; this one knows layouts up to {latest}: "
            "upgrade slateboard to open it (nothing was changed)",
            url=url,
            found=found,
            newest=latest,
        )
    return layout


def pending(steps: Sequence[Step], layout: int) -> tuple[Step, ...]:
    """The steps a database at `layout` has not applied yet, in order."""
    return tuple(step for step in steps if step.version > layout)


def check_readable(steps: Sequence[Step], layout: int, *, where: str, url: str) -> None:
    """Refuse a read-only open of a database at `layout` when a missing step is needed to read it."""
    needed = [step for step in pending(steps, layout) if step.required_for_reading]
    if needed:
        latest = newest(steps)
        missing = "; ".join(f"{step.version}: {step.description}" for step in needed)
        raise SchemaVersionError(
            f"{where} has layout {layout} and needs migrating to layout {latest} before this slateboard can read it "
            f"(missing step(s) {missing}); open it once without read_only to migrate it (nothing was changed)",
            url=url,
            found=str(layout),
            newest=latest,
        )


def run_steps(
    execute: Callable[[str], object], steps: Sequence[Step], layout: int, *, where: str, url: str, schema: str = ""
) -> int:
    """Run the steps after `layout` through `execute` (one SQL statement each); the new layout.

    The caller holds the migration's transaction and lock, and records the returned layout in the same transaction;
    a statement that fails raises `StoreError` naming its step, and the caller's rollback undoes every step.
    """
    start = layout
    for step in pending(steps, layout):
        for statement in step.sql(schema):
            try:
                execute(statement)
            except Exception as exc:
                raise StoreError(
                    f"{where}: migration step {step.version} ({step.description}) failed; every step of this "
                    f"migration was rolled back, so the database stays at layout {start}: {exc}",
                    url=url,
                ) from exc
        layout = step.version
    return layout
