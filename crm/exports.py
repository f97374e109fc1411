"""Files people open in a spreadsheet (CSV and Excel downloads, the report's CSV attachment).

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return runs as a formula in
Excel, LibreOffice or Google Sheets (OWASP "CSV injection"): a name typed into the enquiry form
could then fetch a web address or run a command on the manager's computer. Every export writes
its text cells through `neutralise_formula`, which puts an apostrophe in front so the
spreadsheet shows the text as typed. Numbers stay numbers (a negative count is not a formula).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """The value, with an apostrophe in front when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [neutralise_formula(value) for value in row]


class SafeCsvWriter:
    """csv.writer that neutralises formula cells in every row it writes."""

    def __init__(self, buffer: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(buffer, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
