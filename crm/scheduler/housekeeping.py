"""The scheduler's jobs that are not reminders: queueing the weekly funnel report, ending the
approval of carers whose notice is over, the nightly data retention, and reading back from
GOV.UK Notify what happened to the messages it took (delivery receipts) and the replies people
sent (STOP). Plain `job(session, settings, now) -> summary` functions that crm.scheduler.jobs
points at; like the reminders, each is safe to run twice or late."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from crm.messaging.channels.base import RetryLater
from crm.models import Channel
from crm.services import outbox
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


# -- approvals ending after a carer's notice --------------------------------------------------


def approvals_ending(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Carers whose 28 days' notice is over are deregistered (crm.services.leaving), and
    everything that follows closes with it. Those with children still placed wait, counted."""
    from crm.services.leaving import end_due_approvals

    result = end_due_approvals(session, SCHEDULER, local_date(settings, now))
    summary = {"approvals_ended": len(result.ended)}
    if result.held:
        summary["waiting_children_still_placed"] = len(result.held)
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


# -- GOV.UK Notify: delivery receipts and replies ---------------------------------------------

# Notify keeps trying for up to 72 hours; after that no receipt will come.
RECEIPTS_FOR = timedelta(days=4)
REPLIES_KEPT_FOR = timedelta(days=30)


def notify_delivery_status(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Ask Notify what became of the messages it accepted that we do not know about yet, and
    put each one's outcome on the household's timeline: delivered, or not and why."""
    if not settings.notify_api_key:
        return {"not_set_up": 1}
    from crm.messaging.channels import notify

    waiting = outbox.awaiting_delivery(
        session, provider_prefix=notify.PROVIDER_PREFIX, since=now - RECEIPTS_FOR
    )
    summary = {"checked": 0, "delivered": 0, "not_delivered": 0, "in_progress": 0}
    client = notify.client(settings)
    for message in waiting:
        try:
            found = notify.delivery_status(settings, message.provider_message_id, client)
        except RetryLater:
            summary["waiting_for_notify"] = 1
            break
        summary["checked"] += 1
        if found is None:
            continue
        delivered = found.delivered if found.final else None
        outbox.record_delivery(
            session, message.id, delivered=delivered, reason=found.reason, now=now
        )
        key = {True: "delivered", False: "not_delivered", None: "in_progress"}[delivered]
        summary[key] += 1
    return summary


def notify_replies(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Read the replies to our text messages: a STOP stops every text to that number and
    withdraws the text-message consent of the households it belongs to. Other replies are
    not kept (nobody reads this inbox: the texts say to call or email)."""
    if not settings.notify_api_key:
        return {"not_set_up": 1}
    from crm.messaging.channels import notify, sms

    seen = outbox.replies_read(session, now - REPLIES_KEPT_FOR)
    try:
        new = list(notify.received_texts(settings, seen))
    except RetryLater:
        return {"waiting_for_notify": 1}
    summary = {"read": 0, "stopped": 0}
    # Oldest first, each committed with its mark: a run cut short leaves the newer ones unread.
    for text in reversed(new):
        received_at = datetime.fromisoformat(text["created_at"].replace("Z", "+00:00"))
        if not outbox.mark_reply_read(session, text["id"], received_at):
            continue
        summary["read"] += 1
        if sms.is_stop(text.get("content", "")):
            phone = sms.normalise(text.get("user_number", ""))
            if outbox.record_stop(session, Channel.SMS, phone, text="STOP", via="sms STOP"):
                summary["stopped"] += 1
        session.commit()
    return summary
