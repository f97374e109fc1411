"""The one source of "now". Everything that needs the time calls `clock.now()`.

Tests move time with `frozen_at(...)` / `advance(...)` instead of sleeping or patching
datetime, so timing rules (response targets, reminders, quiet hours) can be checked exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_frozen: datetime | None = None
# Dates people talk about (approved on, deregistered on) are England's calendar dates.
ENGLAND = ZoneInfo("Europe/London")


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def set_now(moment: datetime | None) -> None:
    """Fix the clock at `moment` (aware), or give it back to the system with None."""
    global _frozen
    if moment is not None and moment.tzinfo is None:
        raise ValueError("the clock needs a timezone-aware datetime")
    _frozen = None if moment is None else moment.astimezone(UTC)


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward."""
    if _frozen is None:
        raise RuntimeError("advance() needs a frozen clock; use frozen_at() first")
    set_now(_frozen + delta)
    return now()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    previous = _frozen
    set_now(moment)
    try:
        yield
    finally:
        set_now(previous)


def local_date(moment: datetime) -> date:
    """The calendar date in England at `moment` (00:30 BST is already tomorrow, not today)."""
    return moment.astimezone(ENGLAND).date()
