"""The scheduler's jobs that are not reminders: queueing the weekly funnel report and the
nightly data retention. Plain `job(session, settings, now) -> summary` functions that
crm.scheduler.jobs points at; like the reminders, each is safe to run twice or late."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from crm.services.reminders.engine import SCHEDULER, local_date
from crm.services.reports import queue_weekly_report
from crm.settings import Settings

# -- the weekly funnel report ----------------------------------------------------------------


def week_ending_for(settings: Settings, now: datetime) -> date:
    """The Sunday that ended the last full week (Monday to Sunday, London time)."""
    today = local_date(settings, now)
    return today - timedelta(days=today.weekday() + 1)


def weekly_funnel_report(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """One message per manager and per extra recipient in settings.report.recipients, for the
    week that ended last Sunday, queued by crm.services.reports (the one way to queue it); the
    email is built at send time, for the areas its recipient works in. An address with no
    active manager's or admin's account gets nothing; the summary counts them (never names
    them)."""
    week_ending = week_ending_for(settings, now)
    result = queue_weekly_report(
        session, settings, week_ending=week_ending, actor=SCHEDULER, due_at=now
    )
    summary = {"week_ending": int(week_ending.strftime("%Y%m%d")), "messages": result.queued}
    if result.without_access:
        summary["not_sent_no_staff_account"] = result.without_access
    return summary


# -- data retention --------------------------------------------------------------------------


def data_retention(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    """The web CRM's retention rule (anonymise closed households after the configured months).
    Raises when that service is not installed yet, so the job run shows the reason.

    Every night it also truncates the SQLite write-ahead log, erasures or not: an erasure
    whose own checkpoint found the log busy leaves the erased values there until then."""
    try:
        from crm.services.data_protection import apply_retention, checkpoint_after_erasure
    except ImportError as exc:
        raise RuntimeError(
            "crm.services.data_protection.apply_retention is not available yet; "
            f"data retention did not run ({exc})"
        ) from None
    anonymised = apply_retention(session, SCHEDULER, settings, now, checkpoint=False)
    session.commit()
    summary: dict[str, Any] = {"anonymised": anonymised}
    if checkpoint_after_erasure(session) is False:
        # Shown on the job's run; tomorrow's run tries again.
        summary["write_ahead_log_busy"] = True
    return summary
