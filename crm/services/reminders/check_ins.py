"""Check-ins to active carers: every `checkin_first_year_every_days` in their first year,
every `checkin_every_days` after, and `checkin_after_placement_end_days` after a placement
ends. Then the "two unanswered in a row" rule (crm.services.checkins)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import select

from crm.models import Carer, CarerStatus, CheckIn, Placement
from crm.services import checkins
from crm.services.reminders import people
from crm.services.reminders.engine import (
    Audience,
    Due,
    Notice,
    ReminderSpec,
    Scan,
    at_local,
    local_date,
)

# A check-in after a placement ends only makes sense for a while after the ending.
PLACEMENT_END_WINDOW = timedelta(days=30)


def due_check_ins(scan: Scan) -> list[Due]:
    session, settings, now, today = scan.session, scan.settings, scan.now, scan.today
    reminders = settings.reminders
    carers = {
        c.id: c
        for c in session.exec(
            select(Carer).where(Carer.status == CarerStatus.ACTIVE).order_by(Carer.id)
        ).all()
    }
    if not carers:
        return []
    done = scan.used_keys(CheckIn)
    last_sent: dict[int, datetime] = dict(
        session.exec(
            select(CheckIn.carer_id, sa.func.max(CheckIn.sent_at)).group_by(CheckIn.carer_id)
        ).all()
    )
    ended = session.exec(
        select(Placement).where(
            Placement.ended_on.is_not(None),
            Placement.ended_on >= today - PLACEMENT_END_WINDOW,
            Placement.ended_on
            <= today - timedelta(days=reminders.checkin_after_placement_end_days),
        )
    ).all()
    due: list[tuple[Carer, str, str]] = []
    ending = set()
    for placement in ended:
        carer = carers.get(placement.carer_id)
        key = f"checkin:{placement.carer_id}:placement:{placement.id}"
        if carer is not None and key not in done and carer.id not in ending:
            due.append((carer, key, "placement_ended"))
            ending.add(carer.id)
    for carer in carers.values():
        if carer.id in ending:  # the check-in after the ending comes first
            continue
        first_year = today < carer.approved_on + relativedelta(years=1)
        every = timedelta(
            days=reminders.checkin_first_year_every_days
            if first_year
            else reminders.checkin_every_days
        )
        previous = last_sent.get(carer.id)
        start = previous or at_local(settings, carer.approved_on, time(0, 0))
        if now < start + every:
            continue
        key = f"checkin:{carer.id}:{local_date(settings, start + every):%Y-%m-%d}"
        if key not in done:
            due.append((carer, key, "first_year" if first_year else "regular"))
    households = {
        h.id: h
        for h in people.households_with_applicants(session, [c.household_id for c, _, _ in due])
    }
    return [
        Due(
            key,
            carer_id=carer.id,
            carer=carer,
            household=households[carer.household_id],
            notices={
                "placement_ended" if reason == "placement_ended" else "periodic": {"reason": reason}
            },
        )
        for carer, key, reason in due
    ]


def flag_unanswered(scan: Scan) -> dict[str, int]:
    active = scan.session.exec(select(Carer.id).where(Carer.status == CarerStatus.ACTIVE)).first()
    if active is None:
        return {}
    return {
        "unanswered_tasks": checkins.flag_unanswered_check_ins(
            scan.session, scan.settings, scan.now
        )
    }


RETENTION_CHECK_INS = ReminderSpec(
    id="retention_check_ins",
    title="Check-ins to approved carers",
    # Mid-morning on a weekday: when a carer has a moment, and staff are in to follow up.
    every={"trigger": "cron", "day_of_week": "mon-fri", "hour": 10, "minute": 0},
    keys="checkin:",
    due=due_check_ins,
    notices={
        # The check-in service writes the message with its "check_in" template.
        "periodic": Notice("check_in", Audience.CHECK_IN, "periodic"),
        "placement_ended": Notice("check_in", Audience.CHECK_IN, "placement_ended"),
    },
    counts=("periodic", "placement_ended", "unanswered_tasks"),
    finish=flag_unanswered,
)
SPECS = (RETENTION_CHECK_INS,)
