"""Local days, office times and working days (crm.workdays, cached), and the staff's
bookable slots."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm.workdays import (
    add_working_days_to_date,
    is_bank_holiday,
    is_working_day,
    next_working_day,
)

_UNKNOWN = object()
_MIXED = object()  # an hour split between two local days
# Local times kept by Calendar.at (about 100 bytes each) before it starts again.
_AT_CACHE = 300_000


class Calendar:
    """Local days, office times and working days. Working days are crm.workdays' (England's
    bank holidays), with each day's answer cached: the generator asks millions of times."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._working: dict[date, bool] = {}
        self._holiday: dict[date, bool] = {}
        self._added: dict[tuple[date, int], date] = {}
        self._at: dict[tuple[date, int], datetime] = {}
        self._local_day: dict[tuple[date, int], date | object] = {}
        # Each day's UTC offset (None on a day the clocks change), for `at`.
        self._offset: dict[date, timedelta | None] = {}

    def holiday(self, day: date) -> bool:
        known = self._holiday.get(day)
        if known is None:
            known = self._holiday[day] = is_bank_holiday(day)
        return known

    def working(self, day: date) -> bool:
        known = self._working.get(day)
        if known is None:
            known = self._working[day] = is_working_day(day)
        return known

    def next_working(self, day: date) -> date:
        """`day` itself if it is a working day, else the next one."""
        return day if self.working(day) else next_working_day(day)

    def add_working(self, day: date, days: int) -> date:
        key = (day, days)
        known = self._added.get(key)
        if known is None:
            known = self._added[key] = add_working_days_to_date(day, days)
        return known

    def at(self, day: date, minutes: int) -> datetime:
        """A local time on `day` (minutes after midnight), as aware UTC; each one made once
        (office minutes repeat), until the cache is full and starts again."""
        key = (day, minutes)
        known = self._at.get(key)
        if known is None:
            if len(self._at) >= _AT_CACHE:
                self._at.clear()
            known = self._at[key] = self._make_at(day, minutes)
        return known

    def _make_at(self, day: date, minutes: int) -> datetime:
        hours, minute = divmod(minutes, 60)
        offset = self._offset.get(day, _UNKNOWN)
        if offset is _UNKNOWN:
            offset = self._offset[day] = self._day_offset(day)
        if offset is None:  # the clocks change that day: the zone's own rules
            local = datetime(day.year, day.month, day.day, hours, minute, tzinfo=self.tz)
            return local.astimezone(UTC)
        return datetime(day.year, day.month, day.day, hours, minute, tzinfo=UTC) - offset

    def _day_offset(self, day: date) -> timedelta | None:
        """The zone's UTC offset all day on `day`, or None on a day the clocks change (the
        offset at its first and last minute differ)."""
        first = datetime(day.year, day.month, day.day, tzinfo=self.tz).utcoffset()
        last = datetime(day.year, day.month, day.day, 23, 59, tzinfo=self.tz).utcoffset()
        return first if first == last else None

    def local_date(self, moment: datetime) -> date:
        """The local day of an aware `moment`. Looked up by the moment's UTC day and hour
        when the whole of that hour falls on one local day (every hour but where a zone's
        offset is not whole hours); otherwise, and for a moment not in UTC, the zone's own."""
        if moment.tzinfo is not UTC:
            return moment.astimezone(self.tz).date()
        key = (moment.date(), moment.hour)
        known = self._local_day.get(key)
        if known is None:
            known = self._local_day[key] = self._hour_local_date(*key)
        if known is _MIXED:
            return moment.astimezone(self.tz).date()
        return known

    def _hour_local_date(self, day: date, hour: int) -> date | object:
        """The local day of the UTC hour, if it is one day all through (checked on the
        quarter hours, when zones change, and at its last instant), else _MIXED."""
        start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
        tz = self.tz
        days = {(start + timedelta(minutes=m)).astimezone(tz).date() for m in (0, 15, 30, 45)}
        days.add((start + timedelta(hours=1, microseconds=-1)).astimezone(tz).date())
        return days.pop() if len(days) == 1 else _MIXED

    def office_moment(
        self, day: date, rng: random.Random, after: datetime | None = None
    ) -> datetime:
        """A time in office hours on the first working day from `day`, later than `after`."""
        day = self.next_working(day)
        while True:
            moment = self.at(day, rng.randint(9 * 60 + 5, 16 * 60 + 55))
            if after is None or moment > after:
                return moment
            # Later the same day if there is room, otherwise the next working day.
            latest = self.at(day, 17 * 60 + 30)
            if after < latest - timedelta(minutes=10):
                span = int((latest - after).total_seconds() // 60)
                return after + timedelta(minutes=rng.randint(5, max(5, span - 5)))
            day = self.add_working(day, 1)

    def later(self, moment: datetime, days: float, rng: random.Random) -> datetime:
        """Office time about `days` after `moment` (always strictly later)."""
        day = self.local_date(moment) + timedelta(days=int(round(days)))
        return self.office_moment(day, rng, after=moment)


@dataclass(frozen=True)
class Window:
    weekday: int
    start: time
    end: time
    minutes: int


class SlotBook:
    """Staff slots, computed exactly as crm.services.appointments.free_slots does (weekly
    windows, exceptions, bank holidays), and which are taken, so no slot is booked twice."""

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self.windows: dict[int, list[Window]] = defaultdict(list)
        self.exceptions: dict[int, dict[date, list[tuple]]] = defaultdict(dict)
        self.taken: dict[int, set[datetime]] = defaultdict(set)
        self._cache: dict[tuple[int, date], list[tuple[datetime, datetime]]] = {}

    def slots(self, staff_id: int, day: date) -> list[tuple[datetime, datetime]]:
        key = (staff_id, day)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if self.calendar.holiday(day):
            windows: list[tuple[time, time, int]] = []
        else:
            windows = [
                (w.start, w.end, w.minutes)
                for w in self.windows.get(staff_id, ())
                if w.weekday == day.weekday()
            ]
        for available, start, end in self.exceptions.get(staff_id, {}).get(day, ()):
            if available and start and end:
                windows.append((start, end, 90))
            elif not available:
                if start is None or end is None:
                    windows = []
                    break
                windows = [w for w in windows if w[1] <= start or w[0] >= end]
        result = []
        tz = self.calendar.tz
        for start, end, minutes in windows:
            cursor = datetime.combine(day, start, tz)
            window_end = datetime.combine(day, end, tz)
            step = timedelta(minutes=minutes)
            while cursor + step <= window_end:
                result.append((cursor.astimezone(UTC), (cursor + step).astimezone(UTC)))
                cursor += step
        result.sort()
        self._cache[key] = result
        return result

    def take(
        self,
        staff_ids: Sequence[int],
        earliest: datetime,
        rng: random.Random,
        days: int = 45,
        before: datetime | None = None,
    ) -> tuple[int, datetime, datetime] | None:
        """The first day from `earliest` with a free slot for one of `staff_ids` (in order of
        preference); one of that day's free slots, taken. None when nothing is free."""
        day = self.calendar.local_date(earliest)
        for _ in range(days + 1):
            for staff_id in staff_ids:
                taken = self.taken[staff_id]
                free = [
                    slot
                    for slot in self.slots(staff_id, day)
                    if slot[0] >= earliest
                    and slot[0] not in taken
                    and (before is None or slot[0] < before)
                ]
                if free:
                    start, end = free[0] if len(free) == 1 else rng.choice(free)
                    taken.add(start)
                    return staff_id, start, end
            day += timedelta(days=1)
        return None
