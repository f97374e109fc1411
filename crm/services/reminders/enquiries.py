"""New enquiries. Nobody has spoken to them: when the response target passes, an urgent task
and an email to the assigned officer (or the area's team) and a friendly note to the enquirer
if they agreed to hear from us; after `second_attempt_after_working_days`, a second-attempt
task. No initial visit offered `offer_initial_visit_within_working_days` after the enquiry: a
task and an email for the officer (or the team), once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import selectinload
from sqlmodel import select

from crm.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    EnquiryChannel,
    Household,
    OutboxMessage,
    Role,
    StaffUser,
    Stage,
    Task,
    TaskKind,
    TaskPriority,
)
from crm.services.enquiries import response_due
from crm.services.reminders import people
from crm.services.reminders.engine import (
    Audience,
    Due,
    Notice,
    ReminderSpec,
    Scan,
    TaskDraft,
    office_hours,
)
from crm.workdays import add_office_days

# Enquiries older than this are history (imports), not new enquiries to chase.
ENQUIRY_CHASE_HORIZON = timedelta(days=30)
OVERDUE_TITLE = "Overdue: call back a new enquirer"


def _due_before_import(household: Household, due: datetime) -> bool:
    """History is history: an enquiry brought in from a tracker whose response was due before
    the import is not chased (by then it is the tracker's past, not a late reply of ours)."""
    return household.enquiry_channel == EnquiryChannel.IMPORT and due <= household.created_at


def due_enquiry_chasers(scan: Scan) -> list[Due]:
    session, settings, now = scan.session, scan.settings, scan.now
    households = session.exec(
        select(Household)
        .where(
            Household.stage == Stage.ENQUIRY,
            Household.first_contact_at.is_(None),
            Household.anonymised_at.is_(None),
            Household.enquired_at >= now - ENQUIRY_CHASE_HORIZON,
            Household.enquired_at <= now,
        )
        .order_by(Household.enquired_at, Household.id)
        .options(selectinload(Household.applicants))
    ).all()
    items: list[Due] = []
    for household in households:
        due = response_due(settings, household.enquired_at)
        if now < due or _due_before_import(household, due):
            continue
        key = f"enquiry:{household.id}"
        officer = people.allowed_owner(session, household.assigned_officer_id, household=household)
        overdue = _overdue_task(scan, household, officer, due)
        if overdue is not None:
            items.append(Due(f"{key}:overdue", household_id=household.id, task=overdue))
        recipients = (
            [officer]
            if officer
            else people.team(session, household.area_id, (Role.RECRUITMENT_OFFICER,))
            or people.managers_for(session, household.area_id)
        )
        phone, email = people.first_contact_details(household)
        items.append(
            Due(
                f"{key}:overdue_alert",
                household_id=household.id,
                staff=[
                    s
                    for s in recipients
                    if f"{key}:overdue_alert:staff:{s.id}" not in scan.used_keys(OutboxMessage)
                ],
                notices={
                    "alert": {
                        "household_name": household.display_name,
                        "household_reference": household.reference,
                        "enquired_at": household.enquired_at.isoformat(),
                        "due_at": due.isoformat(),
                        "target_working_days": settings.response.target_working_days,
                        "phone": phone or "",
                        "email": email or "",
                    }
                },
            )
        )
        # Sorry for the wait once per household, whichever way it reached them.
        if not scan.messaged(f"{key}:sorry"):
            items.append(
                Due(
                    f"{key}:sorry",
                    household_id=household.id,
                    household=household,
                    notices={"sorry": {"officer_name": officer.name if officer else ""}},
                )
            )
        second_due = add_office_days(
            household.enquired_at,
            settings.response.second_attempt_after_working_days,
            *office_hours(settings),
        )
        if now >= second_due and f"{key}:second_attempt" not in scan.used_keys(Task):
            items.append(
                Due(
                    f"{key}:second_attempt",
                    household_id=household.id,
                    task=TaskDraft(
                        kind=TaskKind.SECOND_ATTEMPT,
                        title="Second attempt: try the enquirer again",
                        detail="No conversation yet. Try another time of day, or another way "
                        "to reach them",
                        owner_id=officer.id if officer else None,
                        due_at=add_office_days(now, 1, *office_hours(scan.settings)),
                        counts_as="second_attempts",
                    ),
                )
            )
    return items


def _overdue_task(
    scan: Scan, household: Household, officer: StaffUser | None, due: datetime
) -> TaskDraft | None:
    """The urgent call-back task: the one made with the enquiry, raised, or a new one."""
    if f"enquiry:{household.id}:overdue" in scan.used_keys(Task):
        return None
    session = scan.session
    open_task = session.exec(
        select(Task).where(
            Task.household_id == household.id,
            Task.kind == TaskKind.RESPOND_TO_ENQUIRY,
            Task.done_at.is_(None),
        )
    ).first()
    if open_task is None:
        return TaskDraft(
            kind=TaskKind.RESPOND_TO_ENQUIRY,
            title=OVERDUE_TITLE,
            owner_id=officer.id if officer else None,
            priority=TaskPriority.URGENT,
            due_at=due,
            counts_as="overdue",
        )
    if open_task.unique_key is not None:
        return None
    # Raise the call-back task made with the enquiry rather than add a second; if its owner
    # may no longer have it (moved area), it goes to the team.
    owner_id = open_task.owner_id
    if owner_id is not None and owner_id != (officer.id if officer else None):
        kept = people.allowed_owner(session, owner_id, household=household)
        owner_id = kept.id if kept else None
    return TaskDraft(
        kind=TaskKind.RESPOND_TO_ENQUIRY,
        title=OVERDUE_TITLE,
        owner_id=owner_id,
        priority=TaskPriority.URGENT,
        due_at=open_task.due_at,
        counts_as="overdue",
        raises=open_task,
    )


ENQUIRY_CHASERS = ReminderSpec(
    id="enquiry_chasers",
    title="New enquiries past the response target",
    every={"trigger": "cron", "minute": "7,22,37,52"},
    run_at_start=True,
    keys="enquiry:",
    due=due_enquiry_chasers,
    notices={
        "alert": Notice("enquiry_response_overdue_staff", Audience.STAFF, "alerts"),
        "sorry": Notice("enquiry_sorry_for_the_wait", Audience.HOUSEHOLD, "messages"),
    },
    counts=("overdue", "alerts", "messages", "second_attempts"),
)


# An initial visit counts as offered once one is booked, whether or not it has happened since
# (a household that did not come has been offered one: the stalled-case rule follows it up).
VISIT_OFFERED = (AppointmentStatus.BOOKED, AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW)


def due_initial_visit_offers(scan: Scan) -> list[Due]:
    session, settings, now = scan.session, scan.settings, scan.now
    within = settings.response.offer_initial_visit_within_working_days
    offered = select(Appointment.household_id).where(
        Appointment.household_id.is_not(None),
        Appointment.kind == AppointmentKind.INITIAL_VISIT,
        Appointment.status.in_(VISIT_OFFERED),
    )
    households = session.exec(
        select(Household)
        .where(
            Household.stage == Stage.ENQUIRY,
            Household.anonymised_at.is_(None),
            Household.enquired_at >= now - ENQUIRY_CHASE_HORIZON,
            Household.enquired_at <= now,
            Household.id.not_in(offered),
        )
        .order_by(Household.enquired_at, Household.id)
        .options(selectinload(Household.applicants))
    ).all()
    items = []
    for household in households:
        offer_by = add_office_days(household.enquired_at, within, *office_hours(settings))
        if now < offer_by or _due_before_import(household, offer_by):
            continue
        key = f"visit_offer:{household.id}"
        if key in scan.used_keys():
            continue
        officer = people.allowed_owner(session, household.assigned_officer_id, household=household)
        phone, email = people.first_contact_details(household)
        items.append(
            Due(
                key,
                household_id=household.id,
                task=TaskDraft(
                    kind=TaskKind.OFFER_VISIT,
                    title="Offer an initial visit",
                    detail=f"Enquired {within} working days ago and no initial visit is booked "
                    "yet: offer one, or record why it is waiting.",
                    owner_id=officer.id if officer else None,
                    due_at=add_office_days(now, 1, *office_hours(settings)),
                    counts_as="tasks",
                ),
                staff=(
                    [officer]
                    if officer
                    else people.team(session, household.area_id, (Role.RECRUITMENT_OFFICER,))
                    or people.managers_for(session, household.area_id)
                ),
                notices={
                    "alert": {
                        "household_name": household.display_name,
                        "household_reference": household.reference,
                        "enquired_at": household.enquired_at.isoformat(),
                        "working_days": within,
                        "phone": phone or "",
                        "email": email or "",
                    }
                },
            )
        )
    return items


INITIAL_VISIT_OFFERS = ReminderSpec(
    id="initial_visit_offers",
    title="Enquiries with no initial visit offered within the target",
    # On the hour's 40th minute in office hours: the target is counted in office time.
    every={"trigger": "cron", "day_of_week": "mon-fri", "hour": "8-18", "minute": 40},
    keys="visit_offer:",
    due=due_initial_visit_offers,
    notices={"alert": Notice("initial_visit_not_offered_staff", Audience.STAFF, "alerts")},
    counts=("tasks", "alerts"),
)
SPECS = (ENQUIRY_CHASERS, INITIAL_VISIT_OFFERS)
