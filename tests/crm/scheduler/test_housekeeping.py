"""The scheduler's plain jobs (crm.scheduler.housekeeping) run directly at chosen times."""

from datetime import UTC, date, datetime

from crm import clock
from crm.scheduler import housekeeping
from tests.crm.scheduler.helpers import outbox


def at(*args) -> datetime:
    return clock.set_now(datetime(*args, tzinfo=UTC)) or clock.now()


# -- the weekly report -----------------------------------------------------------------------


def test_weekly_report_week_ending_in_london_time(session, org, sched_settings):
    # 00:30 on Monday 30 March in London is still Sunday 23:30 UTC.
    now = at(2026, 3, 29, 23, 30)
    assert housekeeping.week_ending_for(sched_settings, now) == date(2026, 3, 29)
    now = at(2026, 3, 30, 7, 0)
    # An extra recipient who is an admin gets it; an address with no staff account, or an
    # officer's (the report names households and carers they may not open), gets nothing.
    recipients = ["Board@X.org", org.admin.email.upper(), org.officer_north.email]
    extra = sched_settings.model_copy(
        update={"report": sched_settings.report.model_copy(update={"recipients": recipients})}
    )
    first = housekeeping.weekly_funnel_report(session, extra, now)
    assert first["messages"] == 2 and first["not_sent_no_staff_account"] == 2
    assert "board" not in repr(first).lower()  # the summary names nobody
    assert housekeeping.weekly_funnel_report(session, extra, now)["messages"] == 0
    messages = outbox(session, template="weekly_funnel_report")
    assert sorted(msg.recipient for msg in messages) == [org.admin.email, org.manager.email]
    assert {msg.staff_id for msg in messages} == {org.admin.id, org.manager.id}
    assert {msg.payload["week_ending"] for msg in messages} == {"2026-03-29"}
