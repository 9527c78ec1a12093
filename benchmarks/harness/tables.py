"""Rows of figures, each beside the reference measured in the same run, and the one way they are printed."""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.samples import Sample


@dataclass(frozen=True)
class Row:
    """One figure (the median of its runs) and, when it has one, its reference and their ratio."""

    label: str
    figure: Sample
    unit: str
    reference: Sample | None = None
    n: int | None = None  # operations behind each run, where that helps to read the figure
    note: str = ""  # e.g. whether a goal was met

    @property
    def ratio(self) -> float | None:
        """figure / reference, medians; None without a reference."""
        if self.reference is None:
            return None
        return self.figure.median / self.reference.median if self.reference.median else math.nan

    def to_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "unit": self.unit,
            "n": self.n,
            "figure": self.figure.to_json(),
            "reference": self.reference.to_json() if self.reference else None,
            "ratio": self.ratio,
            "note": self.note,
        }


@dataclass(frozen=True)
class Table:
    """Rows under one title; `ratio` says what the ratio column divides (e.g. "slateboard / raw sqlite3")."""

    title: str
    rows: tuple[Row, ...]
    ratio: str = "figure / reference"

    def to_json(self) -> dict[str, object]:
        return {"title": self.title, "ratio": self.ratio, "rows": [row.to_json() for row in self.rows]}


HEADER = ("", "n", "figure", "unit", "spread", "reference", "spread", "ratio", "")
RATIO = HEADER.index("ratio")
LEFT = {0, 3, 8}  # label, unit and note read left to right; numbers align right


def number(value: float) -> str:
    """A figure with as many digits as it needs: 16,469 / 323.9 / 1.03 / 0.0042."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:,.1f}"
    return f"{value:.2f}" if size >= 0.1 else f"{value:.2g}"


def spread(sample: Sample | None) -> str:
    if sample is None or len(sample.runs) < 2:
        return ""
    return f"{100 * sample.spread:.0f}%" if math.isfinite(sample.spread) else "nan"


def cells(row: Row) -> tuple[str, ...]:
    ratio = row.ratio
    return (
        row.label,
        f"{row.n:,}" if row.n is not None else "",
        number(row.figure.median),
        row.unit,
        spread(row.figure),
        number(row.reference.median) if row.reference else "",
        spread(row.reference),
        f"{ratio:.2f}" if ratio is not None else "",
        row.note,
    )


def format_table(table: Table) -> list[str]:
    """The table as lines: its title and what its ratio divides, a header, one aligned line per row.

    Columns that no row fills (no reference anywhere, no n) are left out.
    """
    lines = [cells(row) for row in table.rows]
    shown = [i for i in range(len(HEADER)) if i == 0 or any(line[i] for line in lines)]
    widths = {i: max(len(line[i]) for line in [HEADER, *lines]) for i in shown}
    out = [f"{table.title} (ratio: {table.ratio})" if RATIO in shown else table.title]
    for line in [HEADER, *lines]:
        padded = [line[i].ljust(widths[i]) if i in LEFT else line[i].rjust(widths[i]) for i in shown]
        out.append("  " + "  ".join(padded).rstrip())
    return out


def print_table(table: Table) -> None:
    print("\n".join(format_table(table)))
