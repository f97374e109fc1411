"""Approved carers: the annual review due in 60 and 30 days (annual_review_warn_days), the TSD
standards deadline approaching (tsd_warn_days), and supervision visits overdue
(supervision_overdue_days): a task and an email for the supervising social worker (or the
area's team), and a friendly TSD reminder to the carer. A carer with no unannounced
supervision visit in a year (counted from approval, then from the last one) gives the
supervising social worker a task to make one (crm.services.supervision records visits)."""

from __future__ import annotations

from datetime import time, timedelta

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, select

from crm.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Carer,
    CarerStatus,
    Household,
    Role,
    StaffUser,
    SupervisionKind,
    SupervisionVisit,
    TaskKind,
    TaskPriority,
)
from crm.services import access
from crm.services.reminders import people
from crm.services.reminders.engine import (
    Audience,
    Due,
    Notice,
    ReminderSpec,
    Scan,
    TaskDraft,
    at_local,
    date_text,
    local_date,
    office_hours,
)
from crm.workdays import add_office_days


def owner_and_team(
    session: Session, carer: Carer, household: Household
) -> tuple[int | None, list[StaffUser]]:
    """The supervising social worker if they may still have the carer; else those who may
    open the carer's record: the area's supervising social workers, or its managers when none
    of them may (the carer is someone else's)."""
    worker = people.allowed_owner(session, carer.supervising_social_worker_id, carer=carer)
    if worker is not None:
        return worker.id, [worker]
    for staff in (
        people.team(session, household.area_id, (Role.SUPERVISING_SOCIAL_WORKER,)),
        people.managers_for(session, household.area_id),
    ):
        allowed = [s for s in staff if access.owner_problem(session, s, carer=carer) is None]
        if allowed:
            return None, allowed
    return None, []


def _for_staff(
    session: Session, carer: Carer, household: Household, key: str, task: TaskDraft, notices: dict
) -> Due:
    owner_id, staff = owner_and_team(session, carer, household)
    task.owner_id = owner_id
    return Due(key, carer_id=carer.id, household=household, task=task, staff=staff, notices=notices)


def due_carer_reminders(scan: Scan) -> list[Due]:
    session, settings, now, today = scan.session, scan.settings, scan.now, scan.today
    reminders = settings.reminders
    carers = session.exec(
        select(Carer)
        .where(Carer.status.in_([CarerStatus.ACTIVE, CarerStatus.ON_BREAK]))
        .order_by(Carer.id)
    ).all()
    if not carers:
        return []
    done = scan.used_keys()
    last_visit = dict(
        session.exec(
            select(Appointment.carer_id, sa.func.max(Appointment.starts_at))
            .where(
                Appointment.kind == AppointmentKind.SUPERVISION_VISIT,
                Appointment.carer_id.is_not(None),
                Appointment.status.in_([AppointmentStatus.BOOKED, AppointmentStatus.COMPLETED]),
                Appointment.starts_at <= now,
            )
            .group_by(Appointment.carer_id)
        ).all()
    )
    booked_ahead = set(
        session.exec(
            select(Appointment.carer_id).where(
                Appointment.kind == AppointmentKind.SUPERVISION_VISIT,
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.starts_at > now,
            )
        ).all()
    )
    last_unannounced = dict(
        session.exec(
            select(SupervisionVisit.carer_id, sa.func.max(SupervisionVisit.visited_on))
            .where(SupervisionVisit.kind == SupervisionKind.UNANNOUNCED)
            .group_by(SupervisionVisit.carer_id)
        ).all()
    )

    def unannounced_due(carer: Carer):  # noqa: ANN202
        return last_unannounced.get(carer.id, carer.approved_on) + relativedelta(years=1)

    warn_days = sorted(reminders.annual_review_warn_days)
    review_window = today + timedelta(days=max(warn_days, default=0))
    tsd_window = today + timedelta(days=reminders.tsd_warn_days)
    supervision_limit = timedelta(days=reminders.supervision_overdue_days)

    def may_need_attention(carer: Carer) -> bool:
        # A cheap first look, so households are loaded only for carers with something near.
        if (
            carer.annual_review_due is not None
            and today <= carer.annual_review_due <= review_window
        ):
            return True
        tsd_due = carer.tsd_due if carer.tsd_completed_on is None else None
        if tsd_due is not None and today <= tsd_due <= tsd_window:
            return True
        if carer.status == CarerStatus.ACTIVE and unannounced_due(carer) < today:
            return True
        if carer.status == CarerStatus.ACTIVE and carer.id not in booked_ahead:
            visits = [t for t in (carer.last_supervision_at, last_visit.get(carer.id)) if t]
            since = max(visits) if visits else at_local(settings, carer.approved_on, time(0, 0))
            return now - since > supervision_limit
        return False

    carers = [carer for carer in carers if may_need_attention(carer)]
    households = {
        h.id: h
        for h in people.households_with_applicants(session, [c.household_id for c in carers])
    }
    items: list[Due] = []
    for carer in carers:
        household = households.get(carer.household_id)
        if household is None or household.anonymised_at is not None:
            continue
        base = {"carer_name": household.display_name, "household_reference": household.reference}

        def due(key: str, task: TaskDraft, **notices: dict) -> Due:
            return _for_staff(session, carer, household, key, task, notices)  # noqa: B023

        # Annual review: only the nearest threshold, so a late start sends one, not two.
        if carer.annual_review_due is not None and carer.annual_review_due >= today:
            days_left = (carer.annual_review_due - today).days
            threshold = next((d for d in warn_days if days_left <= d), None)
            key = f"carer:{carer.id}:annual_review:{carer.annual_review_due}:{threshold}"
            if threshold is not None and key not in done:
                first_review = carer.annual_review_due <= carer.approved_on + relativedelta(years=1)
                items.append(
                    due(
                        key,
                        TaskDraft(
                            kind=TaskKind.ANNUAL_REVIEW,
                            title=f"Annual review due {date_text(carer.annual_review_due)}",
                            detail=f"{days_left} days to go: book the review and gather feedback.",
                            due_at=add_office_days(now, 5, *office_hours(settings)),
                            counts_as="annual_review",
                        ),
                        annual_review={
                            **base,
                            "due_date": date_text(carer.annual_review_due),
                            "days_left": days_left,
                            "first_review": first_review,
                        },
                    )
                )
        # TSD standards.
        if (
            carer.tsd_due is not None
            and carer.tsd_completed_on is None
            and carer.status == CarerStatus.ACTIVE
            and today <= carer.tsd_due <= tsd_window
        ):
            key = f"carer:{carer.id}:tsd:{carer.tsd_due}"
            if key not in done:
                days_left = (carer.tsd_due - today).days
                worker = people.active_staff(session, carer.supervising_social_worker_id)
                items.append(
                    due(
                        key,
                        TaskDraft(
                            kind=TaskKind.GENERAL,
                            title=f"TSD standards due {date_text(carer.tsd_due)}",
                            detail=f"{days_left} days to go and not yet recorded as complete.",
                            due_at=add_office_days(now, 5, *office_hours(settings)),
                            counts_as="tsd",
                        ),
                        tsd={
                            **base,
                            "due_date": date_text(carer.tsd_due),
                            "days_left": days_left,
                        },
                        tsd_reminder={
                            "due_date": date_text(carer.tsd_due),
                            "staff_name": worker.name if worker else "",
                        },
                    )
                )
        # At least one unannounced visit a year.
        if carer.status == CarerStatus.ACTIVE and unannounced_due(carer) < today:
            expected = unannounced_due(carer)
            key = f"carer:{carer.id}:unannounced:{expected}"
            if key not in done:
                items.append(
                    due(
                        key,
                        TaskDraft(
                            kind=TaskKind.GENERAL,
                            title="Unannounced supervision visit due: make one",
                            detail=(
                                f"Last unannounced visit {date_text(last_unannounced[carer.id])}"
                                if carer.id in last_unannounced
                                else "No unannounced visit since approval"
                            )
                            + "; at least one a year is expected.",
                            due_at=add_office_days(now, 10, *office_hours(settings)),
                            counts_as="unannounced",
                        ),
                    )
                )
        # Supervision visits.
        if carer.status != CarerStatus.ACTIVE or carer.id in booked_ahead:
            continue
        visits = [t for t in (carer.last_supervision_at, last_visit.get(carer.id)) if t]
        last = max(visits) if visits else None
        since = last or at_local(settings, carer.approved_on, time(0, 0))
        if now - since <= supervision_limit:
            continue
        key = f"carer:{carer.id}:supervision:{since:%Y%m%d}"
        if key in done:
            continue
        days_since = (now - since).days
        items.append(
            due(
                key,
                TaskDraft(
                    kind=TaskKind.GENERAL,
                    title="Supervision visit overdue: book one",
                    detail=f"Last visit {days_since} days ago; the standard is every "
                    f"{reminders.supervision_overdue_days} days.",
                    priority=TaskPriority.URGENT,
                    due_at=add_office_days(now, 2, *office_hours(settings)),
                    counts_as="supervision",
                ),
                supervision={
                    **base,
                    "last_visit_date": date_text(local_date(settings, last)) if last else "",
                    "days_since": days_since,
                    "every_days": reminders.supervision_overdue_days,
                },
            )
        )
    return items


CARER_REMINDERS = ReminderSpec(
    id="carer_reminders",
    title="Annual reviews, TSD deadlines and overdue supervision visits",
    every={"trigger": "cron", "hour": 7, "minute": 20},
    keys="carer:",
    due=due_carer_reminders,
    notices={
        "annual_review": Notice("annual_review_due_staff", Audience.STAFF),
        "tsd": Notice("tsd_due_staff", Audience.STAFF),
        "tsd_reminder": Notice("tsd_reminder", Audience.HOUSEHOLD, "tsd_reminders"),
        "supervision": Notice("supervision_overdue_staff", Audience.STAFF),
    },
    counts=("annual_review", "tsd", "tsd_reminders", "supervision", "unannounced"),
)
SPECS = (CARER_REMINDERS,)
