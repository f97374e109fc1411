"""The report's tables: which columns each has, and how a number reads in the report (counts
with commas, shares as %) and in the CSV (plain numbers, ISO dates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Column:
    key: str
    heading: str
    # text, int, signed, pct, days, number, money (pence), date
    kind: str = "text"
    # The frame column with the household id this cell names (a case reference), so the web
    # page can link it to the household.
    link: str | None = None


@dataclass
class Table:
    name: str
    title: str
    frame: pd.DataFrame
    columns: list[Column]
    note: str = ""
    empty: str = "Nothing to show."
    limit: int | None = None

    @property
    def total_rows(self) -> int:
        return len(self.frame)

    def rows(self, limit: int | None = None) -> list[list[str]]:
        frame = self.frame if limit is None else self.frame.head(limit)
        return [
            [format_value(row[c.key], c.kind) for c in self.columns]
            for row in frame.to_dict("records")
        ]

    def cells(self, limit: int | None = None) -> list[list[tuple[str, int | None]]]:
        """Like `rows`, each cell with the household id it links to (or None)."""
        frame = self.frame if limit is None else self.frame.head(limit)
        return [
            [
                (
                    format_value(row[c.key], c.kind),
                    None if c.link is None or _missing(row[c.link]) else int(row[c.link]),
                )
                for c in self.columns
            ]
            for row in frame.to_dict("records")
        ]

    def raw_rows(self) -> list[list[Any]]:
        return [
            [raw_value(row[c.key], c.kind) for c in self.columns]
            for row in self.frame.to_dict("records")
        ]


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_value(value: Any, kind: str) -> str:
    """How a number reads in the report: counts with commas, shares as %, days to 1 place."""
    if _missing(value):
        return "–"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "signed":
        return f"{int(round(value)):+,}" if value else "0"
    if kind == "pct":
        return f"{float(value):.0%}"
    if kind == "days":
        return f"{float(value):.0f}"
    if kind == "number":
        return f"{float(value):,.1f}"
    if kind == "money":
        return f"£{float(value) / 100:,.0f}"
    if kind == "date":
        return f"{pd.Timestamp(value):%-d %b %Y}"
    return str(value)


def raw_value(value: Any, kind: str) -> Any:
    """What goes in the CSV: plain numbers (shares as fractions), ISO dates, no symbols."""
    if _missing(value):
        return ""
    if kind in ("int", "signed"):
        return int(round(float(value)))
    if kind in ("pct",):
        return round(float(value), 4)
    if kind in ("days", "number"):
        return round(float(value), 1)
    if kind == "money":
        return round(float(value) / 100, 2)
    if kind == "date":
        return pd.Timestamp(value).date().isoformat()
    return str(value)
