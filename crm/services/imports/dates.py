"""Dates as trackers write them, and which way round a column's dates are."""

from __future__ import annotations

import re
from datetime import date, timedelta

DAY_FIRST = "day-first"
MONTH_FIRST = "month-first"

_ISO = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_NUMERIC = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?: \d{1,2}:\d{2}(?::\d{2})?)?$"
)
_DAY_NAMED = re.compile(
    r"^(\d{1,2})(?:st|nd|rd|th)?[\s\-/.]+([a-z]{3,9})\.?[\s\-/.,]+(\d{4}|\d{2})$", re.I
)
_NAMED_DAY = re.compile(r"^([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}|\d{2})$", re.I)
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}  # fmt: skip
# Excel counts days from 30 December 1899 (its 1900 leap-year bug included).
_EXCEL_EPOCH = date(1899, 12, 30)
DATE_EXAMPLES = "01/02/2023, 1 Feb 23 or 2023-02-01"


def _year(text: str) -> int:
    year = int(text)
    # Two-digit years in a recruitment tracker are this century.
    return 2000 + year if len(text) == 2 else year


def _real(text: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"{text!r} is not a real date") from None


def parse_date(text: str, order: str = DAY_FIRST) -> date:
    """A date as trackers write it: 01/02/2023 or 1/2/23 (day first, the UK way, unless the
    column is month-first), 1 Feb 23, 1st February 2023, Feb 1 2023, 2023-02-01, or the
    number Excel keeps a date as (44958) when the cell lost its date format."""
    text = " ".join(text.split())
    if match := _ISO.match(text):
        year, month, day = (int(g) for g in match.groups())
        return _real(text, year, month, day)
    if match := _NUMERIC.match(text):
        first, second, year = match.groups()
        day, month = (int(first), int(second))
        if order == MONTH_FIRST:
            day, month = month, day
        return _real(text, _year(year), month, day)
    for pattern, day_at, month_at in ((_DAY_NAMED, 0, 1), (_NAMED_DAY, 1, 0)):
        if match := pattern.match(text):
            parts = match.groups()
            month = _MONTHS.get(parts[month_at].casefold())
            if month is None:
                break
            return _real(text, _year(parts[2]), month, int(parts[day_at]))
    if _SERIAL.match(text):
        serial = float(text)
        if 20000 <= serial <= 80000:
            return _EXCEL_EPOCH + timedelta(days=int(serial))
    raise ValueError(f"Enter a date such as {DATE_EXAMPLES}, not {text!r}")


def date_order(values: list[str]) -> tuple[str, str | None]:
    """Which way round a column's dates are (day-first unless only month-first fits), and a
    sentence when that was a guess or the column's dates disagree."""
    day_first = month_first = either = None
    for value in values:
        match = _NUMERIC.match(" ".join(value.split()))
        if not match:
            continue
        a, b = int(match.group(1)), int(match.group(2))
        if a > 12 >= b:
            day_first = day_first or value
        elif b > 12 >= a:
            month_first = month_first or value
        elif a != b:
            either = either or value
    if month_first and not day_first:
        return MONTH_FIRST, (
            f"dates read month first (US), as {month_first} can only be read that way; "
            "say day-first in the mapping's [dates] if that is wrong"
        )
    if month_first and day_first:
        return DAY_FIRST, (
            f"the dates disagree ({day_first} is day first, {month_first} month first): "
            "read day first, the UK way, and the others listed as problems"
        )
    if either and not day_first:
        return DAY_FIRST, (
            f"every date could be day or month first (such as {either}): read day first, "
            "the UK way; say month-first in the mapping's [dates] if the file is American"
        )
    return DAY_FIRST, None
