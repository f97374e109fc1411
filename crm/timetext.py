"""Times of day as people read them, in GOV.UK style: "9:30am", "10am", "midday", "midnight".

One function for every page, email and message, so a time never reads "09:30" in one place
and "9:30AM" in another. Callers convert to London time first.
"""

from __future__ import annotations

from datetime import datetime, time


def clock_time(value: time | datetime, *, seconds: bool = False) -> str:
    """'9:30am', '10am', '5:45pm'; 'midday' and 'midnight' rather than 12pm and 12am."""
    moment = value.time() if isinstance(value, datetime) else value
    on_the_hour = moment.minute == 0 and (moment.second == 0 or not seconds)
    if on_the_hour and moment.hour in (0, 12):
        return "midnight" if moment.hour == 0 else "midday"
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    if seconds:
        return f"{hour}:{moment.minute:02d}:{moment.second:02d}{suffix}"
    if moment.minute == 0:
        return f"{hour}{suffix}"
    return f"{hour}:{moment.minute:02d}{suffix}"


def time_range(start: time | datetime, end: time | datetime) -> str:
    """'9:30am to 11am' (GOV.UK style uses 'to' in ranges, not a dash)."""
    return f"{clock_time(start)} to {clock_time(end)}"
