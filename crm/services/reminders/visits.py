"""Visit reminders: the day before (from visit_day_before_at) and the morning of (from
visit_morning_of_at) to the household or carer; the day before to the member of staff."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from crm.models import Appointment, AppointmentStatus, Carer, StaffUser
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


def due_visit_reminders(scan: Scan) -> list[Due]:
    session, settings, now = scan.session, scan.settings, scan.now
    reminders = settings.reminders
    appointments = session.exec(
        select(Appointment)
        .where(
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at > now,
            Appointment.starts_at <= now + timedelta(days=2),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    due: list[tuple[Appointment, str]] = []
    for appointment in appointments:
        visit_day = local_date(settings, appointment.starts_at)
        day_before_from = at_local(
            settings, visit_day - timedelta(days=1), reminders.visit_day_before_at
        )
        morning_from = at_local(settings, visit_day, reminders.visit_morning_of_at)
        if visit_day == scan.today and now >= morning_from:
            when = "morning_of"
        elif now >= day_before_from and now < morning_from:
            when = "day_before"
        else:
            continue
        # Once per visit and time, whoever it went to.
        if not scan.messaged(f"visit:{appointment.id}:{when}"):
            due.append((appointment, when))
    if not due:
        return []
    carer_ids = [a.carer_id for a, _ in due if a.carer_id is not None]
    carers = {c.id: c for c in people.in_chunks(session, Carer, Carer.id, carer_ids)}
    household_ids = [
        a.household_id if a.household_id is not None else carers[a.carer_id].household_id
        for a, _ in due
    ]
    households = {h.id: h for h in people.households_with_applicants(session, household_ids)}
    items = []
    for (appointment, when), household_id in zip(due, household_ids, strict=True):
        household = households.get(household_id)
        if household is None or household.anonymised_at is not None:
            continue
        staff = session.get(StaffUser, appointment.staff_id)
        item = Due(
            key=f"visit:{appointment.id}:{when}",
            household_id=household.id,
            carer_id=appointment.carer_id,
            household=household,
            notices={
                "household": {
                    "appointment_id": appointment.id,
                    "starts_at": appointment.starts_at.isoformat(),
                    "when": when,
                    "staff_name": staff.name if staff else "our social worker",
                    "staff_email": staff.email if staff else "",
                }
            },
        )
        if when == "day_before" and staff is not None and staff.active:
            phone, _email = people.first_contact_details(household)
            item.staff = [staff]
            item.notices["staff"] = {
                "appointment_id": appointment.id,
                "starts_at": appointment.starts_at.isoformat(),
                "household_name": household.display_name,
                "household_reference": household.reference,
                "address": people.household_address(household),
                "phone": phone or "",
            }
        items.append(item)
    return items


VISIT_REMINDERS = ReminderSpec(
    id="visit_reminders",
    title="Visit reminders: the day before and the morning of",
    every={"trigger": "cron", "minute": "*/15"},
    run_at_start=True,
    keys="visit:",
    due=due_visit_reminders,
    notices={
        "household": Notice("visit_reminder", Audience.HOUSEHOLD, "household"),
        "staff": Notice("visit_reminder_staff", Audience.STAFF, "staff"),
    },
    counts=("household", "staff"),
)
SPECS = (VISIT_REMINDERS,)
