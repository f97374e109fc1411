"""Periods the reports talk about: a range of days, and an ISO week (Monday to Sunday).

Days are local (Europe/London): an enquiry at 23:30 on a summer Sunday belongs to Sunday even
though it is Monday in UTC. Bounds are turned into UTC instants once, so filtering a column of
a million timestamps is two vectorised comparisons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

_ISO_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


def local_midnight_utc(day: date, tz: str) -> pd.Timestamp:
    """The instant a local day starts, in UTC."""
    return pd.Timestamp(datetime.combine(day, time.min, tzinfo=ZoneInfo(tz))).tz_convert("UTC")


@dataclass(frozen=True)
class Period:
    """The days from `start` to `end`, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the end of a period cannot be before its start")

    def bounds(self, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        """[start, end) as UTC instants."""
        return local_midnight_utc(self.start, tz), local_midnight_utc(
            self.end + timedelta(days=1), tz
        )

    def contains(self, moments: pd.Series, tz: str) -> pd.Series:
        """Which of these UTC timestamps fall in the period (NaT never does)."""
        start, end = self.bounds(tz)
        return (moments >= start) & (moments < end)

    def contains_dates(self, days: pd.Series) -> pd.Series:
        """Which of these naive calendar dates fall in the period."""
        return (days >= pd.Timestamp(self.start)) & (days <= pd.Timestamp(self.end))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        if self.start == self.end:
            return f"{self.start:%-d %B %Y}"
        return f"{self.start:%-d %B %Y} to {self.end:%-d %B %Y}"


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    def __post_init__(self) -> None:
        try:
            date.fromisocalendar(self.year, self.week, 1)
        except ValueError:
            raise ValueError(f"{self.year} has no ISO week {self.week}") from None

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """'2026-W10' (or '2026W10')."""
        match = _ISO_WEEK.match(text.strip())
        if not match:
            raise ValueError(f"expected a week like 2026-W10, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def last_complete(cls, now: datetime, tz: str) -> IsoWeek:
        """The last Monday-to-Sunday week that has ended, in local time."""
        today = now.astimezone(ZoneInfo(tz)).date()
        return cls.containing(today - timedelta(days=7))

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def period(self) -> Period:
        return Period(self.monday, self.sunday)

    def shift(self, weeks: int) -> IsoWeek:
        return IsoWeek.containing(self.monday + timedelta(weeks=weeks))

    def end_utc(self, tz: str) -> pd.Timestamp:
        """The instant the week ends (the next Monday's local midnight), in UTC."""
        return local_midnight_utc(self.sunday + timedelta(days=1), tz)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def label(self) -> str:
        return f"week {self.week} of {self.year} ({self.monday:%-d %b} to {self.sunday:%-d %b %Y})"

    @property
    def title(self) -> str:
        return self.label[0].upper() + self.label[1:]


def week_starts(last: IsoWeek, count: int) -> list[IsoWeek]:
    """`count` consecutive weeks ending with `last`, oldest first."""
    return [last.shift(-offset) for offset in range(count - 1, -1, -1)]
