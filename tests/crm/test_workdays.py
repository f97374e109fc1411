from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from crm import clock
from crm.workdays import (
    add_office_days,
    add_working_days_to_date,
    is_working_day,
    working_days_between,
)

LONDON = ZoneInfo("Europe/London")
OPEN, CLOSE = time(9, 0), time(17, 0)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 12, 25), False),  # Christmas Day
        (date(2026, 12, 28), False),  # Boxing Day substitute (26th is a Saturday)
        (date(2026, 8, 31), False),  # Summer bank holiday (England)
        (date(2026, 8, 3), True),  # Scotland's summer holiday is not England's
        (date(2026, 3, 14), False),  # Saturday
        (date(2026, 3, 16), True),
    ],
)
def test_england_working_days(day, working):
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        # Tuesday 10:00 GMT -> Wednesday 10:00.
        (datetime(2026, 3, 10, 10, 0, tzinfo=UTC), datetime(2026, 3, 11, 10, 0, tzinfo=UTC)),
        # Friday 15:00 -> Monday 15:00.
        (datetime(2026, 3, 13, 15, 0, tzinfo=UTC), datetime(2026, 3, 16, 15, 0, tzinfo=UTC)),
        # Saturday -> end of Monday.
        (datetime(2026, 3, 14, 11, 0, tzinfo=UTC), datetime(2026, 3, 16, 17, 0, tzinfo=UTC)),
        # Thursday evening before Easter -> Tuesday 17:00 BST (Good Friday, Easter Monday).
        (datetime(2026, 4, 2, 19, 0, tzinfo=UTC), datetime(2026, 4, 7, 16, 0, tzinfo=UTC)),
        # Friday 27 March 16:00 GMT; clocks go forward on Sunday -> Monday 16:00 BST.
        (datetime(2026, 3, 27, 16, 0, tzinfo=UTC), datetime(2026, 3, 30, 15, 0, tzinfo=UTC)),
        # Friday 23 October 16:00 BST; clocks go back -> Monday 16:00 GMT.
        (datetime(2026, 10, 23, 15, 0, tzinfo=UTC), datetime(2026, 10, 26, 16, 0, tzinfo=UTC)),
        # Christmas Eve afternoon -> 29 December.
        (datetime(2026, 12, 24, 14, 0, tzinfo=UTC), datetime(2026, 12, 29, 14, 0, tzinfo=UTC)),
    ],
)
def test_one_office_day_later(moment, due):
    assert add_office_days(moment, 1, LONDON, OPEN, CLOSE) == due


def test_date_arithmetic():
    assert add_working_days_to_date(date(2026, 12, 24), 1) == date(2026, 12, 29)
    assert working_days_between(date(2026, 12, 24), date(2026, 12, 31)) == 3
    assert working_days_between(date(2026, 3, 10), date(2026, 3, 10)) == 0


def test_the_clock_can_be_frozen_and_moved():
    clock.set_now(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
    with clock.frozen_at(datetime(2030, 6, 1, 12, 0, tzinfo=UTC)):
        assert clock.now().year == 2030
    assert clock.now().year == 2026
    with pytest.raises(ValueError):
        clock.set_now(datetime(2026, 1, 1))  # noqa: DTZ001
    clock.set_now(None)
    with pytest.raises(RuntimeError):
        clock.advance(datetime.now(UTC) - datetime.now(UTC))
    assert clock.now().tzinfo is UTC
