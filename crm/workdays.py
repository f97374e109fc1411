"""Working days and office hours in England, with England's bank holidays.

Response targets ("call back within 1 working day") count office hours on working days only:
an enquiry on Friday at 15:00 is due on Monday at 15:00, one on Saturday is due at the end of
Monday, and a bank holiday Monday pushes both to Tuesday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


@lru_cache(maxsize=64)
def _england_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def is_bank_holiday(day: date) -> bool:
    return day in _england_holidays(day.year)


# A pure function of the date, asked for the same days over and over (demo data, reminders).
@lru_cache(maxsize=8192)
def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day)


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days_to_date(day: date, days: int) -> date:
    for _ in range(days):
        day = next_working_day(day)
    return day


def subtract_working_days_from_date(day: date, days: int) -> date:
    """The working day `days` working days before `day` (panel papers go out 5 before)."""
    for _ in range(days):
        day -= timedelta(days=1)
        while not is_working_day(day):
            day -= timedelta(days=1)
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


def add_working_hours(
    moment: datetime, hours: float, tz: ZoneInfo, opens: time, closes: time
) -> datetime:
    """`moment` plus `hours` of office time, in UTC. Counts only opens..closes on working days."""
    local = moment.astimezone(tz)
    remaining = timedelta(hours=hours)
    day = local.date()
    cursor = local.replace(tzinfo=None)
    while True:
        day_open = datetime.combine(day, opens)
        day_close = datetime.combine(day, closes)
        if is_working_day(day) and cursor < day_close:
            start = max(cursor, day_open)
            available = day_close - start
            if remaining <= available:
                return (start + remaining).replace(tzinfo=tz).astimezone(UTC)
            remaining -= available
        day += timedelta(days=1)
        cursor = datetime.combine(day, opens)


def add_office_days(
    moment: datetime, days: int, tz: ZoneInfo, opens: time, closes: time
) -> datetime:
    """`days` whole working days of office time after `moment`."""
    hours_per_day = (
        datetime.combine(date.min, closes) - datetime.combine(date.min, opens)
    ).total_seconds() / 3600
    return add_working_hours(moment, days * hours_per_day, tz, opens, closes)
