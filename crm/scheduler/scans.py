"""What the scheduler looks for: each scan reads the database for what is due *now* and writes
outbox messages and tasks with unique keys, so running a scan twice (or late, or after a
restart) writes nothing new and misses nothing.

Every scan is a plain function `scan(session, settings, now) -> summary dict`; the scheduler's
jobs (crm.scheduler.jobs) call them, and tests call them directly at chosen times. They decide
from state, not from "what happened since the last run", which is what makes a late start safe:
a day-before visit reminder that should have gone at 10:00 still goes at 15:00, until the
morning-of reminder takes over.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from crm import stages
from crm.models import (
    Activity,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Carer,
    CarerStatus,
    Channel,
    CheckIn,
    Household,
    OutboxMessage,
    Placement,
    Role,
    StaffArea,
    StaffUser,
    Stage,
    StageEvent,
    Task,
    TaskKind,
    TaskPriority,
)
from crm.services import access, checkins, outbox
from crm.services.actors import Actor
from crm.services.enquiries import response_due
from crm.services.tasks import create_task
from crm.services.validation import format_phone
from crm.settings import Settings
from crm.workdays import add_office_days

SCHEDULER = Actor.system("scheduler")
# Enquiries older than this are history (imports), not new enquiries to chase.
ENQUIRY_CHASE_HORIZON = timedelta(days=30)
# A check-in after a placement ends only makes sense for a while after the ending.
PLACEMENT_END_WINDOW = timedelta(days=30)
# The stage table's groups (crm.stages): where a gentle nudge to the household is welcome,
# where a case can stall, and where the 8-month panel clock runs.
NUDGE_STAGES = frozenset(Stage.in_group("nudge"))
STALL_STAGES = Stage.in_group("stall")
ASSESSMENT_STAGES = Stage.in_group("assessment")
REACHED_APPLICATION = Stage.in_group("applied")


# -- helpers ---------------------------------------------------------------------------------


def local_date(settings: Settings, moment: datetime) -> date:
    return moment.astimezone(settings.tz).date()


def at_local(settings: Settings, day: date, when: time) -> datetime:
    """A London wall-clock time on `day`, as an aware datetime (DST-correct)."""
    return datetime.combine(day, when, settings.tz)


def date_text(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def existing_keys(session: Session, model: Any, prefix: str) -> set[str]:
    """Unique keys already used with this prefix: one query instead of one per candidate."""
    column = model.unique_key
    return set(session.exec(select(column).where(column.like(f"{prefix}%"))).all())


def active_staff(session: Session, staff_id: int | None) -> StaffUser | None:
    if staff_id is None:
        return None
    staff = session.get(StaffUser, staff_id)
    return staff if staff is not None and staff.active else None


def allowed_owner(
    session: Session,
    staff_id: int | None,
    *,
    household: Household | None = None,
    carer: Carer | None = None,
) -> StaffUser | None:
    """The officer or supervisor on record, if they may still be given the work and told about
    it (crm.services.access): someone who has moved area hears nothing and the team does."""
    staff = active_staff(session, staff_id)
    if staff is None:
        return None
    problem = access.owner_problem(session, staff, household=household, carer=carer)
    return staff if problem is None else None


def team(session: Session, area_id: int | None, roles: tuple[Role, ...]) -> list[StaffUser]:
    """Active staff with one of `roles` in the area (hub-wide when there is no area)."""
    query = select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role.in_(roles))
    if area_id is not None:
        query = query.join(StaffArea, StaffArea.staff_id == StaffUser.id).where(
            StaffArea.area_id == area_id
        )
    return list(session.exec(query.order_by(StaffUser.id)).all())


def fresh_scan(session: Session) -> None:
    session.info.pop("managers_for", None)


def managers_for(session: Session, area_id: int | None) -> list[StaffUser]:
    # Cached for one scan (each scan starts with fresh_scan): the same few areas over and over.
    # With no manager in the area, the hub-wide admins: never another area's manager, who may
    # not open the household the message names.
    cache = session.info.setdefault("managers_for", {})
    if area_id not in cache:
        cache[area_id] = team(session, area_id, (Role.MANAGER,)) or team(
            session, None, (Role.ADMIN,)
        )
    return cache[area_id]


def first_contact_details(household: Household) -> tuple[str | None, str | None]:
    phone = next((a.phone for a in household.applicants if a.phone), None)
    email = next((a.email for a in household.applicants if a.email), None)
    return (format_phone(phone) if phone else None), email


def household_address(household: Household) -> str:
    parts = [household.address_line_1, household.address_line_2, household.town, household.postcode]
    return ", ".join(p for p in parts if p)


class Messages:
    """The messages a scan writes: recipients looked up for all its households at once, and
    the rows inserted together at the end (outbox.enqueue_many: a key that exists is skipped,
    so a second scan writes nothing). `write()` returns how many new messages each kind had."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        household_ids: Any = (),
        carer_ids: Any = (),
    ) -> None:
        self.session = session
        self.book = outbox.RecipientBook(session, settings, household_ids, carer_ids)
        self.rows: list[dict[str, Any]] = []
        self.kinds: dict[str, str] = {}

    def public(
        self,
        household: Household,
        *,
        kind: str,
        template: str,
        payload: dict[str, Any],
        key: str,
        now: datetime,
        carer_id: int | None = None,
    ) -> None:
        """To the household (or carer) by the channel they agreed to; nothing if none."""
        for recipient in self.book.recipients(household.id, carer_id):
            unique_key = f"{key}:{recipient.channel.value}:{recipient.address}"
            self.kinds[unique_key] = kind
            self.rows.append(
                {
                    "channel": recipient.channel,
                    "recipient": recipient.address,
                    "template": template,
                    "payload": {"greeting_name": checkins.greeting_name(household), **payload},
                    "due_at": now,
                    "unique_key": unique_key,
                    "household_id": None if carer_id else household.id,
                    "carer_id": carer_id,
                }
            )

    def staff(
        self,
        staff: StaffUser,
        *,
        kind: str,
        template: str,
        payload: dict[str, Any],
        key: str,
        now: datetime,
        household_id: int | None = None,
        carer_id: int | None = None,
    ) -> None:
        unique_key = f"{key}:staff:{staff.id}"
        self.kinds[unique_key] = kind
        self.rows.append(
            {
                "channel": Channel.EMAIL,
                "recipient": staff.email,
                "template": template,
                "payload": {"staff_name": staff.name, **payload},
                "due_at": now,
                "unique_key": unique_key,
                "household_id": household_id,
                "carer_id": carer_id,
                "staff_id": staff.id,
            }
        )

    def write(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for key in outbox.enqueue_many(self.session, self.rows):
            counts[self.kinds[key]] += 1
        self.rows.clear()
        return counts


# -- visit reminders -------------------------------------------------------------------------


def visit_reminders(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """The day before (from visit_day_before_at) and the morning of (from
    visit_morning_of_at) to the household or carer; the day before to the member of staff."""
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
    done = {tuple(k.split(":")[1:3]) for k in existing_keys(session, OutboxMessage, "visit:")}
    today = local_date(settings, now)
    due: list[tuple[Appointment, str]] = []
    for appointment in appointments:
        visit_day = local_date(settings, appointment.starts_at)
        day_before_from = at_local(
            settings, visit_day - timedelta(days=1), reminders.visit_day_before_at
        )
        morning_from = at_local(settings, visit_day, reminders.visit_morning_of_at)
        if visit_day == today and now >= morning_from:
            when = "morning_of"
        elif now >= day_before_from and now < morning_from:
            when = "day_before"
        else:
            continue
        if (str(appointment.id), when) not in done:
            due.append((appointment, when))
    if not due:
        return {"household": 0, "staff": 0}
    carers = {
        c.id: c
        for c in _in_chunks(
            session, Carer, Carer.id, [a.carer_id for a, _ in due if a.carer_id is not None]
        )
    }
    household_ids = [
        a.household_id if a.household_id is not None else carers[a.carer_id].household_id
        for a, _ in due
    ]
    households = {h.id: h for h in _households_with_applicants(session, household_ids)}
    messages = Messages(session, settings, household_ids, list(carers))
    for (appointment, when), household_id in zip(due, household_ids, strict=True):
        household = households.get(household_id)
        if household is None or household.anonymised_at is not None:
            continue
        carer_id = appointment.carer_id
        staff = session.get(StaffUser, appointment.staff_id)
        key = f"visit:{appointment.id}:{when}"
        messages.public(
            household,
            kind="household",
            template="visit_reminder",
            payload={
                "appointment_id": appointment.id,
                "starts_at": appointment.starts_at.isoformat(),
                "when": when,
                "staff_name": staff.name if staff else "our social worker",
                "staff_email": staff.email if staff else "",
            },
            key=key,
            now=now,
            carer_id=carer_id,
        )
        if when == "day_before" and staff is not None and staff.active:
            phone, _email = first_contact_details(household)
            messages.staff(
                staff,
                kind="staff",
                template="visit_reminder_staff",
                payload={
                    "appointment_id": appointment.id,
                    "starts_at": appointment.starts_at.isoformat(),
                    "household_name": household.display_name,
                    "household_reference": household.reference,
                    "address": household_address(household),
                    "phone": phone or "",
                },
                key=key,
                now=now,
                household_id=household.id,
                carer_id=carer_id,
            )
    written = messages.write()
    session.commit()
    return {"household": written["household"], "staff": written["staff"]}


def _in_chunks(session: Session, model: Any, column: Any, ids: list[int]) -> list[Any]:
    ids = sorted(set(ids))
    found: list[Any] = []
    for start in range(0, len(ids), 900):
        found.extend(session.exec(select(model).where(column.in_(ids[start : start + 900]))))
    return found


def _households_with_applicants(session: Session, ids: list[int]) -> list[Household]:
    ids = sorted(set(ids))
    found: list[Household] = []
    for start in range(0, len(ids), 900):
        found.extend(
            session.exec(
                select(Household)
                .where(Household.id.in_(ids[start : start + 900]))
                .options(selectinload(Household.applicants))
            )
        )
    return found


# -- new enquiries ---------------------------------------------------------------------------


def enquiry_chasers(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Enquiries nobody has spoken to: when the response target passes, an urgent task and an
    email to the assigned officer (or the area's team) and a friendly note to the enquirer if
    they agreed to hear from us; after `second_attempt_after_working_days`, a second-attempt
    task."""
    fresh_scan(session)
    summary = {"overdue": 0, "alerts": 0, "messages": 0, "second_attempts": 0}
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
    households = [h for h in households if now >= response_due(settings, h.enquired_at)]
    if not households:
        return summary
    done_tasks = existing_keys(session, Task, "enquiry:")
    done_messages = existing_keys(session, OutboxMessage, "enquiry:")
    sorry_sent = {int(k.split(":")[1]) for k in done_messages if ":sorry:" in k}
    service = settings.service
    messages = Messages(session, settings, [h.id for h in households])
    for household in households:
        due = response_due(settings, household.enquired_at)
        if now < due:
            continue
        key = f"enquiry:{household.id}"
        officer = allowed_owner(session, household.assigned_officer_id, household=household)
        if f"{key}:overdue" not in done_tasks:
            open_task = session.exec(
                select(Task).where(
                    Task.household_id == household.id,
                    Task.kind == TaskKind.RESPOND_TO_ENQUIRY,
                    Task.done_at.is_(None),
                )
            ).first()
            if open_task is not None and open_task.unique_key is None:
                # Raise the call-back task made with the enquiry rather than add a second; if
                # its owner may no longer have it (moved area), it goes to the team.
                if open_task.owner_id is not None and open_task.owner_id != (
                    officer.id if officer else None
                ):
                    kept = allowed_owner(session, open_task.owner_id, household=household)
                    open_task.owner_id = kept.id if kept else None
                open_task.priority = TaskPriority.URGENT
                open_task.unique_key = f"{key}:overdue"
                open_task.title = "Overdue: call back a new enquirer"
                session.add(open_task)
                summary["overdue"] += 1
            elif open_task is None:
                created = create_task(
                    session,
                    SCHEDULER,
                    kind=TaskKind.RESPOND_TO_ENQUIRY,
                    title="Overdue: call back a new enquirer",
                    household_id=household.id,
                    owner_id=officer.id if officer else None,
                    priority=TaskPriority.URGENT,
                    due_at=due,
                    unique_key=f"{key}:overdue",
                    commit=False,
                )
                summary["overdue"] += created is not None
        recipients = (
            [officer]
            if officer
            else team(session, household.area_id, (Role.RECRUITMENT_OFFICER,))
            or managers_for(session, household.area_id)
        )
        phone, email = first_contact_details(household)
        for staff in recipients:
            if f"{key}:overdue_alert:staff:{staff.id}" in done_messages:
                continue
            messages.staff(
                staff,
                kind="alerts",
                template="enquiry_response_overdue_staff",
                payload={
                    "household_name": household.display_name,
                    "household_reference": household.reference,
                    "enquired_at": household.enquired_at.isoformat(),
                    "due_at": due.isoformat(),
                    "target_working_days": settings.response.target_working_days,
                    "phone": phone or "",
                    "email": email or "",
                },
                key=f"{key}:overdue_alert",
                now=now,
                household_id=household.id,
            )
        if household.id not in sorry_sent:
            messages.public(
                household,
                kind="messages",
                template="enquiry_sorry_for_the_wait",
                payload={"officer_name": officer.name if officer else ""},
                key=f"{key}:sorry",
                now=now,
            )
        second_due = add_office_days(
            household.enquired_at,
            settings.response.second_attempt_after_working_days,
            settings.tz,
            service.office_hours_start,
            service.office_hours_end,
        )
        if now >= second_due and f"{key}:second_attempt" not in done_tasks:
            created = create_task(
                session,
                SCHEDULER,
                kind=TaskKind.SECOND_ATTEMPT,
                title="Second attempt: try the enquirer again",
                detail="No conversation yet. Try another time of day, or another way to reach them",
                household_id=household.id,
                owner_id=officer.id if officer else None,
                due_at=add_office_days(
                    now, 1, settings.tz, service.office_hours_start, service.office_hours_end
                ),
                unique_key=f"{key}:second_attempt",
                commit=False,
            )
            summary["second_attempts"] += created is not None
    written = messages.write()
    summary["alerts"], summary["messages"] = written["alerts"], written["messages"]
    session.commit()
    return summary


# -- stalled cases ---------------------------------------------------------------------------


def stalled_cases(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """No move and no activity (by people, not by this scheduler) for longer than the stage's
    target days: a task for the owner, and a gentle nudge to the household at early stages."""
    summary = {"tasks": 0, "nudges": 0}
    last_activity = (
        select(Activity.household_id, sa.func.max(Activity.occurred_at).label("last"))
        .where(Activity.actor_label != SCHEDULER.label)
        .group_by(Activity.household_id)
        .subquery()
    )
    rows = session.exec(
        select(Household, last_activity.c.last)
        .outerjoin(last_activity, last_activity.c.household_id == Household.id)
        .where(Household.stage.in_(STALL_STAGES), Household.anonymised_at.is_(None))
        .order_by(Household.id)
    ).all()
    done_tasks = existing_keys(session, Task, "stalled:")
    stalled = []
    for household, last in rows:
        moved = household.stage_entered_at
        last_moved = max(moved, last) if last is not None else moved
        stage = Stage(household.stage)
        limit = timedelta(days=stages.target_days(settings, stage))
        if now - last_moved <= limit:
            continue
        key = f"stalled:{household.id}:{stage.value}:{last_moved:%Y%m%d%H%M}"
        if key not in done_tasks:
            stalled.append((household, stage, limit, last_moved, key))
    nudged = [h.id for h, stage, *_ in stalled if stage in NUDGE_STAGES]
    _households_with_applicants(session, nudged)
    messages = Messages(session, settings, nudged)
    for household, stage, limit, last_moved, key in stalled:
        officer = allowed_owner(session, household.assigned_officer_id, household=household)
        days = (now - last_moved).days
        created = create_task(
            session,
            SCHEDULER,
            kind=TaskKind.STALLED_CASE,
            title=f"Stalled at {stage.label.lower()}: nothing for {days} days",
            detail=(
                f"The target for {stage.label.lower()} is {limit.days} days. Get in touch, "
                "move the case on, or record why it is waiting."
            ),
            household_id=household.id,
            owner_id=officer.id if officer else None,
            due_at=add_office_days(
                now,
                1,
                settings.tz,
                settings.service.office_hours_start,
                settings.service.office_hours_end,
            ),
            unique_key=key,
            commit=False,
        )
        summary["tasks"] += created is not None
        if stage in NUDGE_STAGES:
            messages.public(
                household,
                kind="nudges",
                template="stalled_case_nudge",
                payload={
                    "stage_label": (
                        Stage(household.held_from_stage).label
                        if stage == Stage.ON_HOLD and household.held_from_stage
                        else stage.label
                    ),
                    "officer_name": officer.name if officer else "",
                    "officer_email": officer.email if officer else "",
                },
                key=key,
                now=now,
            )
    summary["nudges"] = messages.write()["nudges"]
    session.commit()
    return summary


# -- the 8-month panel timescale -------------------------------------------------------------


def panel_timescales(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Applications nearing (panel_warning_months) or past (panel_deadline_months) the
    8-month standard without a panel recommendation: an alert and a task for the manager."""
    fresh_scan(session)
    summary = {"warnings": 0, "overdue": 0, "alerts": 0}
    applied = (
        select(StageEvent.household_id, sa.func.min(StageEvent.occurred_at).label("applied"))
        .where(StageEvent.to_stage.in_(REACHED_APPLICATION))
        .group_by(StageEvent.household_id)
        .subquery()
    )
    in_assessment = sa.or_(
        Household.stage.in_(ASSESSMENT_STAGES),
        sa.and_(Household.stage == Stage.ON_HOLD, Household.held_from_stage.in_(ASSESSMENT_STAGES)),
    )
    rows = session.exec(
        select(Household, applied.c.applied)
        .join(applied, applied.c.household_id == Household.id)
        .where(in_assessment, Household.anonymised_at.is_(None))
        .order_by(Household.id)
    ).all()
    done_tasks = existing_keys(session, Task, "panel:")
    reminders = settings.reminders
    messages = Messages(session, settings)
    for household, applied_at in rows:
        deadline = applied_at + relativedelta(months=reminders.panel_deadline_months)
        warning = applied_at + relativedelta(months=reminders.panel_warning_months)
        if now >= deadline:
            level = "overdue"
        elif now >= warning:
            level = "warning"
        else:
            continue
        key = f"panel:{household.id}:{level}"
        if key in done_tasks:
            continue
        managers = managers_for(session, household.area_id)
        owner = managers[0] if managers else None
        deadline_day = local_date(settings, deadline)
        created = create_task(
            session,
            SCHEDULER,
            kind=TaskKind.PANEL_DEADLINE,
            title=(
                "Past 8 months without a panel recommendation"
                if level == "overdue"
                else "Approaching 8 months without a panel recommendation"
            ),
            detail=f"Applied {date_text(local_date(settings, applied_at))}; "
            f"the recommendation is due by {date_text(deadline_day)}.",
            household_id=household.id,
            owner_id=owner.id if owner else None,
            priority=TaskPriority.URGENT if level == "overdue" else TaskPriority.NORMAL,
            due_at=min(deadline, now + timedelta(days=7)) if level == "warning" else now,
            unique_key=key,
            commit=False,
        )
        if created is None:
            continue
        summary[level if level == "overdue" else "warnings"] += 1
        for manager in managers:
            messages.staff(
                manager,
                kind="alerts",
                template="panel_timescale_alert",
                payload={
                    "household_name": household.display_name,
                    "household_reference": household.reference,
                    "application_date": date_text(local_date(settings, applied_at)),
                    "deadline_date": date_text(deadline_day),
                    "days_left": max(0, (deadline_day - local_date(settings, now)).days),
                    "stage_label": Stage(household.stage).label,
                    "level": level,
                },
                key=key,
                now=now,
                household_id=household.id,
            )
    summary["alerts"] = messages.write()["alerts"]
    session.commit()
    return summary


# -- retention: check-ins --------------------------------------------------------------------


def retention_check_ins(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Check-ins to active carers: every `checkin_first_year_every_days` in their first year,
    every `checkin_every_days` after, and `checkin_after_placement_end_days` after a placement
    ends. Then the "two unanswered in a row" rule."""
    summary = {"periodic": 0, "placement_ended": 0, "unanswered_tasks": 0}
    reminders = settings.reminders
    today = local_date(settings, now)
    carers = {
        c.id: c
        for c in session.exec(
            select(Carer).where(Carer.status == CarerStatus.ACTIVE).order_by(Carer.id)
        ).all()
    }
    if not carers:
        return summary
    done = existing_keys(session, CheckIn, "checkin:")
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
    # First decide who is due (cheap), then look up recipients for those carers only.
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
    household_ids = [carer.household_id for carer, _, _ in due]
    _households_with_applicants(session, household_ids)
    book = outbox.RecipientBook(session, settings, household_ids, [c.id for c, _, _ in due])
    for carer, key, reason in due:
        check_in = checkins.start_check_in(
            session, settings, carer, unique_key=key, reason=reason, now=now, book=book
        )
        if check_in is not None:
            summary["placement_ended" if reason == "placement_ended" else "periodic"] += 1
    summary["unanswered_tasks"] = checkins.flag_unanswered_check_ins(session, settings, now)
    session.commit()
    return summary


# -- retention: reviews, TSD, supervision ----------------------------------------------------


def _carer_households(session: Session, carers: list[Carer]) -> dict[int, Household]:
    ids = [c.household_id for c in carers]
    households: dict[int, Household] = {}
    for start in range(0, len(ids), 500):
        for household in session.exec(
            select(Household)
            .where(Household.id.in_(ids[start : start + 500]))
            .options(selectinload(Household.applicants))
        ).all():
            households[household.id] = household
    return households


def carer_reminders(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Annual review due in 60 and 30 days (annual_review_warn_days), the TSD standards
    deadline approaching (tsd_warn_days), and supervision visits overdue
    (supervision_overdue_days): a task and an email for the supervising social worker (or the
    area's team), and a friendly TSD reminder to the carer."""
    fresh_scan(session)
    summary = {"annual_review": 0, "tsd": 0, "tsd_reminders": 0, "supervision": 0}
    reminders = settings.reminders
    today = local_date(settings, now)
    carers = session.exec(
        select(Carer)
        .where(Carer.status.in_([CarerStatus.ACTIVE, CarerStatus.ON_BREAK]))
        .order_by(Carer.id)
    ).all()
    if not carers:
        return summary
    done = existing_keys(session, Task, "carer:")
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
    warn_days = sorted(reminders.annual_review_warn_days)
    office = (settings.tz, settings.service.office_hours_start, settings.service.office_hours_end)
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
        if carer.status == CarerStatus.ACTIVE and carer.id not in booked_ahead:
            visits = [t for t in (carer.last_supervision_at, last_visit.get(carer.id)) if t]
            since = max(visits) if visits else at_local(settings, carer.approved_on, time(0, 0))
            return now - since > supervision_limit
        return False

    carers = [carer for carer in carers if may_need_attention(carer)]
    households = _carer_households(session, carers)
    messages = Messages(session, settings, list(households), [c.id for c in carers])

    def owner_and_team(carer: Carer, household: Household) -> tuple[int | None, list[StaffUser]]:
        worker = allowed_owner(session, carer.supervising_social_worker_id, carer=carer)
        if worker is not None:
            return worker.id, [worker]
        # Only those who may open the carer's record hear about it: the area's supervising
        # social workers, or its managers when none of them may (the carer is someone else's).
        for staff in (
            team(session, household.area_id, (Role.SUPERVISING_SOCIAL_WORKER,)),
            managers_for(session, household.area_id),
        ):
            allowed = [s for s in staff if access.owner_problem(session, s, carer=carer) is None]
            if allowed:
                return None, allowed
        return None, []

    for carer in carers:
        household = households.get(carer.household_id)
        if household is None or household.anonymised_at is not None:
            continue
        base = {
            "carer_name": household.display_name,
            "household_reference": household.reference,
        }
        # Annual review: only the nearest threshold, so a late start sends one, not two.
        if carer.annual_review_due is not None and carer.annual_review_due >= today:
            days_left = (carer.annual_review_due - today).days
            threshold = next((d for d in warn_days if days_left <= d), None)
            key = f"carer:{carer.id}:annual_review:{carer.annual_review_due}:{threshold}"
            if threshold is not None and key not in done:
                owner_id, staff = owner_and_team(carer, household)
                created = create_task(
                    session,
                    SCHEDULER,
                    kind=TaskKind.ANNUAL_REVIEW,
                    title=f"Annual review due {date_text(carer.annual_review_due)}",
                    detail=f"{days_left} days to go: book the review and gather feedback.",
                    carer_id=carer.id,
                    owner_id=owner_id,
                    due_at=add_office_days(now, 5, *office),
                    unique_key=key,
                    commit=False,
                )
                if created is not None:
                    summary["annual_review"] += 1
                    first_review = carer.annual_review_due <= carer.approved_on + relativedelta(
                        years=1
                    )
                    for member in staff:
                        messages.staff(
                            member,
                            kind="staff",
                            template="annual_review_due_staff",
                            payload={
                                **base,
                                "due_date": date_text(carer.annual_review_due),
                                "days_left": days_left,
                                "first_review": first_review,
                            },
                            key=key,
                            now=now,
                            carer_id=carer.id,
                        )
        # TSD standards.
        if (
            carer.tsd_due is not None
            and carer.tsd_completed_on is None
            and carer.status == CarerStatus.ACTIVE
            and today <= carer.tsd_due <= today + timedelta(days=reminders.tsd_warn_days)
        ):
            key = f"carer:{carer.id}:tsd:{carer.tsd_due}"
            if key not in done:
                owner_id, staff = owner_and_team(carer, household)
                days_left = (carer.tsd_due - today).days
                created = create_task(
                    session,
                    SCHEDULER,
                    kind=TaskKind.GENERAL,
                    title=f"TSD standards due {date_text(carer.tsd_due)}",
                    detail=f"{days_left} days to go and not yet recorded as complete.",
                    carer_id=carer.id,
                    owner_id=owner_id,
                    due_at=add_office_days(now, 5, *office),
                    unique_key=key,
                    commit=False,
                )
                if created is not None:
                    summary["tsd"] += 1
                    for member in staff:
                        messages.staff(
                            member,
                            kind="staff",
                            template="tsd_due_staff",
                            payload={
                                **base,
                                "due_date": date_text(carer.tsd_due),
                                "days_left": days_left,
                            },
                            key=key,
                            now=now,
                            carer_id=carer.id,
                        )
                    worker = active_staff(session, carer.supervising_social_worker_id)
                    messages.public(
                        household,
                        kind="tsd_reminders",
                        template="tsd_reminder",
                        payload={
                            "due_date": date_text(carer.tsd_due),
                            "staff_name": worker.name if worker else "",
                        },
                        key=key,
                        now=now,
                        carer_id=carer.id,
                    )
        # Supervision visits.
        if carer.status != CarerStatus.ACTIVE or carer.id in booked_ahead:
            continue
        visits = [t for t in (carer.last_supervision_at, last_visit.get(carer.id)) if t]
        last = max(visits) if visits else None
        since = last or at_local(settings, carer.approved_on, time(0, 0))
        if now - since <= timedelta(days=reminders.supervision_overdue_days):
            continue
        key = f"carer:{carer.id}:supervision:{since:%Y%m%d}"
        if key in done:
            continue
        owner_id, staff = owner_and_team(carer, household)
        days_since = (now - since).days
        created = create_task(
            session,
            SCHEDULER,
            kind=TaskKind.GENERAL,
            title="Supervision visit overdue: book one",
            detail=f"Last visit {days_since} days ago; the standard is every "
            f"{reminders.supervision_overdue_days} days.",
            carer_id=carer.id,
            owner_id=owner_id,
            priority=TaskPriority.URGENT,
            due_at=add_office_days(now, 2, *office),
            unique_key=key,
            commit=False,
        )
        if created is not None:
            summary["supervision"] += 1
            for member in staff:
                messages.staff(
                    member,
                    kind="staff",
                    template="supervision_overdue_staff",
                    payload={
                        **base,
                        "last_visit_date": date_text(local_date(settings, last)) if last else "",
                        "days_since": days_since,
                        "every_days": reminders.supervision_overdue_days,
                    },
                    key=key,
                    now=now,
                    carer_id=carer.id,
                )
    summary["tsd_reminders"] = messages.write()["tsd_reminders"]
    session.commit()
    return summary


# -- the weekly funnel report ----------------------------------------------------------------


def week_ending_for(settings: Settings, now: datetime) -> date:
    """The Sunday that ended the last full week (Monday to Sunday, London time)."""
    today = local_date(settings, now)
    return today - timedelta(days=today.weekday() + 1)


def weekly_funnel_report(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """One message per manager and per extra recipient in settings.report.recipients, for the
    week that ended last Sunday. The email itself is built by funnel.report at send time, for
    the areas its recipient works in. An address with no active manager's or admin's account
    gets nothing; the summary counts them (never names them)."""
    week_ending = week_ending_for(settings, now)
    audience = access.report_recipients(session, settings.report.recipients)
    written = 0
    for recipient in audience.recipients:
        message = outbox.enqueue_message(
            session,
            channel=Channel.EMAIL,
            recipient=recipient.address,
            template="weekly_funnel_report",
            payload={"week_ending": week_ending.isoformat()},
            due_at=now,
            unique_key=f"weekly_report:{week_ending.isoformat()}:{recipient.address}",
            staff_id=recipient.staff_id,
        )
        written += message is not None
    session.commit()
    summary = {"week_ending": int(week_ending.strftime("%Y%m%d")), "messages": written}
    if audience.without_access:
        summary["not_sent_no_staff_account"] = audience.without_access
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
