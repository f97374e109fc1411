"""The weekly manager report as a message: the one way to queue it, and the email it becomes.

Queueing (`queue_weekly_report`) writes one outbox message per recipient: every active manager,
for the areas they work in, and the [report] recipients that are active managers' or admins'
accounts; any other address gets nothing and is only counted, never named (addresses are
personal data and the counts end up in logs and job summaries). The outbox's unique key makes
queueing the same week twice for the same person a no-op, whoever queues it (the Monday job
or `fostercrm report weekly --send`).

At send time the dispatcher asks `weekly_report_email` for the message body: the report is built
then, for the areas the recipient may read at that moment (their account may have changed since
it was queued), from funnel.report, which only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from crm import clock
from crm.db import transaction
from crm.models import Channel
from crm.services import access
from crm.services.actors import Actor
from crm.services.errors import NotAllowed
from crm.services.outbox import enqueue_message
from crm.settings import Settings
from funnel.periods import IsoWeek

EMAIL_TEMPLATE = "weekly_funnel_report"


def weekly_report_recipients(
    session: Session, settings: Settings, *, area_ids: list[int] | None = None
) -> access.ReportAudience:
    """Who gets the weekly report, each for the areas they work in (narrowed to `area_ids`):
    every active manager, then settings.report.recipients, each address once, and only
    addresses of an active manager's or admin's account (the rest are counted, not named)."""
    return access.report_recipients(session, settings.report.recipients, only_area_ids=area_ids)


def outbox_key(week: IsoWeek, recipient: str, area_ids: list[int] | None = None) -> str:
    """The outbox unique key for one recipient's copy of one week's report: the same whether the
    Monday job or the command line queues it, so nobody gets a week twice. A copy for some areas
    only (--area) has a key of its own."""
    key = f"weekly_report:{week.sunday.isoformat()}:{recipient}"
    if area_ids is not None:
        key += ":areas:" + ",".join(str(a) for a in sorted(area_ids))
    return key


def outbox_payload(week: IsoWeek, area_ids: list[int] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"week_ending": week.sunday.isoformat()}
    if area_ids is not None:
        payload["area_ids"] = sorted(area_ids)
    return payload


@dataclass(frozen=True)
class QueuedWeeklyReport:
    """What queueing did, in counts only."""

    week_ending: date
    recipients: int  # managers and admins who may read the report (for these areas)
    queued: int  # new messages written
    without_access: int  # addresses with no active manager's or admin's account: nothing sent
    outside_areas: int  # managers who do not work in the areas asked for: left out

    @property
    def already_queued(self) -> int:
        """Recipients who already had this week's report (the same unique key)."""
        return self.recipients - self.queued


def queue_weekly_report(
    session: Session,
    settings: Settings,
    *,
    week_ending: date,
    actor: Actor,
    area_ids: list[int] | None = None,
    due_at: datetime | None = None,
) -> QueuedWeeklyReport:
    """Queue the weekly report of the ISO week containing `week_ending` (pass its Sunday) for
    each recipient, for the areas they work in; with `area_ids`, only those areas and only to
    those who work in them. Commits once. Only the scheduler, the command line (system actors),
    managers and admins may queue it (its tables name household references)."""
    if not actor.is_system and actor.role not in access.REPORT_ROLES:
        raise NotAllowed("Only managers and admins send the weekly report")
    week = IsoWeek.containing(week_ending)
    due_at = due_at or clock.now()
    with transaction(session):
        audience = weekly_report_recipients(session, settings, area_ids=area_ids)
        queued = 0
        for recipient in audience.recipients:
            message = enqueue_message(
                session,
                channel=Channel.EMAIL,
                recipient=recipient.address,
                template=EMAIL_TEMPLATE,
                payload=outbox_payload(week, area_ids),
                due_at=due_at,
                unique_key=outbox_key(week, recipient.address, area_ids),
                staff_id=recipient.staff_id,
            )
            queued += message is not None
    return QueuedWeeklyReport(
        week_ending=week.sunday,
        recipients=len(audience.recipients),
        queued=queued,
        without_access=audience.without_access,
        outside_areas=audience.outside_areas,
    )


def weekly_report_email(
    session: Session,
    settings: Settings,
    week_ending: date,
    recipients: list[str],
    *,
    area_ids: list[int] | None = None,
) -> EmailMessage:
    """The weekly report email for the ISO week (Monday to Sunday, in the service's time zone)
    that contains `week_ending`: text and HTML, the charts inline, the tables as a CSV.

    The dispatcher calls it at send time for a "weekly_funnel_report" message:
    ``weekly_report_email(session, settings, date.fromisoformat(payload["week_ending"]),
    [message.recipient], area_ids=payload.get("area_ids"))``, then sends the result.

    The report covers only the areas every recipient may read (crm.services.access: the
    areas of their active manager's account, the whole hub for an admin), narrowed to
    `area_ids`. Raises NotAllowed, naming no address, when a recipient has no such account or
    nothing is left to show; ValueError for an empty recipient list.

    Figures are as at the end of that week (or now, for a week not yet over). Reads the
    database only.
    """
    # Imported here: the report draws charts with matplotlib, which takes a moment to load, and
    # queueing (the scheduler's job, the command line) never needs it.
    from funnel.report import email_for_report, load_weekly_report

    if not recipients:
        raise ValueError("the weekly report needs at least one recipient")
    scope = area_ids
    for address in recipients:
        scope = access.report_scope_for_address(session, address, only_area_ids=scope)
    # The lists name only households every recipient may open (the one visibility rule).
    visible = sa.and_(
        *(access.report_visibility_for_address(session, address) for address in recipients)
    )
    report = load_weekly_report(
        session, settings, IsoWeek.containing(week_ending), area_ids=scope, visible=visible
    )
    return email_for_report(report, recipients, settings.smtp.from_address)
