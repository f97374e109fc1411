"""One way to book, move and cancel a visit, and to find free slots.

Free slots come from each member of staff's weekly availability, minus exceptions (leave,
training), bank holidays and what is already booked. The database has the last word: a partial
unique index refuses a second live booking of the same staff member's slot, so when two people
pick the same slot at the same moment one gets it and the other is told to choose again; and
another refuses a second live initial visit for one household, so a booking link posted many
times at once (each with a different slot) books one visit and the rest are told when it is.

Cancelling a visit closes what follows from it, in the same transaction: its reminders and
confirmation still waiting in the outbox are cancelled, and when it was still to come the person
(if they agreed to hear from us) and the member of staff whose diary it was are told.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.messaging import catalogue
from crm.messaging.channels import CHANNELS
from crm.models import (
    Applicant,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AuditAction,
    AvailabilityException,
    AvailabilityPattern,
    Carer,
    Channel,
    Household,
    OutboxMessage,
    Role,
    StaffArea,
    StaffUser,
)
from crm.services import audit, checkins, outbox
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound, SlotTaken
from crm.services.outbox import enqueue_message
from crm.settings import Settings
from crm.workdays import add_working_days_to_date, is_bank_holiday

DEFAULT_SLOT_MINUTES = 90
# Who can be booked for which kind of appointment.
ROLES_FOR_KIND = {
    AppointmentKind.INITIAL_VISIT: {Role.RECRUITMENT_OFFICER, Role.ASSESSING_SOCIAL_WORKER},
    AppointmentKind.INFORMATION_SESSION: {Role.RECRUITMENT_OFFICER},
    AppointmentKind.ASSESSMENT_SESSION: {Role.ASSESSING_SOCIAL_WORKER},
    AppointmentKind.SUPERVISION_VISIT: {Role.SUPERVISING_SOCIAL_WORKER},
    AppointmentKind.ANNUAL_REVIEW: {Role.SUPERVISING_SOCIAL_WORKER, Role.MANAGER},
}


CANCELLED_TEMPLATE = "visit_cancelled"
CANCELLED_STAFF_TEMPLATE = "visit_cancelled_staff"
CANCELLATION_NOTICES = catalogue.cancellation_notices()
DEFAULT_TZ = ZoneInfo("Europe/London")


def when_text(moment: datetime, tz: ZoneInfo = DEFAULT_TZ) -> str:
    """Like "Tuesday 17 March at 9:30am", in London time (GOV.UK style)."""
    local = moment.astimezone(tz)
    minutes = "" if local.minute == 0 else f":{local.minute:02d}"
    suffix = "am" if local.hour < 12 else "pm"
    return f"{local:%A} {local.day} {local:%B} at {local.hour % 12 or 12}{minutes}{suffix}"


# The public booking link acts under this name (crm.web.public). Its link is signed and given
# only to the person who made the enquiry, and its page shows their visit anyway.
BOOKING_LINK_ACTOR_LABEL = "public web form"


class InitialVisitAlreadyBooked(InvalidInput):
    """The household has an initial visit to come already; a second one is refused (the
    database has the last word, so even many bookings at once make only one).

    The message says when that visit is to staff and to the booking link's holder, but not to
    other channels (the chat assistant), where whoever is typing may not be the household:
    the time someone will be at their home is theirs to know. `existing` has it for callers
    that know who they are talking to."""

    def __init__(
        self, existing: Appointment | None, actor: Actor, tz: ZoneInfo = DEFAULT_TZ
    ) -> None:
        self.existing = existing
        when = ""
        if existing is not None and (
            not actor.is_system or actor.label == BOOKING_LINK_ACTOR_LABEL
        ):
            when = f" for {when_text(existing.starts_at, tz)}"
        if actor.is_system:
            message = (
                f"You already have an initial visit booked{when}. To move it, reply to the "
                "email confirming it, or tell us when we call you."
            )
        else:
            message = f"This household already has an initial visit booked{when}: move that one"
        super().__init__(message, field="starts_at")


@dataclass(frozen=True, order=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    staff_id: int


def _windows_for_day(
    day: date,
    patterns: list[AvailabilityPattern],
    exceptions: list[AvailabilityException],
) -> list[tuple[time, time, int]]:
    """(start, end, slot minutes) windows a person can be booked in on `day`."""
    if is_bank_holiday(day):
        windows: list[tuple[time, time, int]] = []
    else:
        windows = [
            (p.start_time, p.end_time, p.slot_minutes)
            for p in patterns
            if p.weekday == day.weekday()
            and (p.valid_from is None or p.valid_from <= day)
            and (p.valid_until is None or day <= p.valid_until)
        ]
    for exc in exceptions:
        if exc.on_date != day:
            continue
        if exc.available and exc.start_time and exc.end_time:
            windows.append((exc.start_time, exc.end_time, DEFAULT_SLOT_MINUTES))
        elif not exc.available:
            if exc.start_time is None or exc.end_time is None:
                return []
            windows = [w for w in windows if w[1] <= exc.start_time or w[0] >= exc.end_time]
    return windows


def free_slots(
    session: Session,
    settings: Settings,
    staff_ids: list[int],
    first_day: date,
    last_day: date,
) -> list[Slot]:
    """Every bookable slot for these staff between two local dates, earliest first."""
    if not staff_ids:
        return []
    tz = settings.tz
    patterns: dict[int, list[AvailabilityPattern]] = defaultdict(list)
    for pattern in session.exec(
        select(AvailabilityPattern).where(AvailabilityPattern.staff_id.in_(staff_ids))
    ):
        patterns[pattern.staff_id].append(pattern)
    exceptions: dict[int, list[AvailabilityException]] = defaultdict(list)
    for exc in session.exec(
        select(AvailabilityException).where(
            AvailabilityException.staff_id.in_(staff_ids),
            AvailabilityException.on_date.between(first_day, last_day),
        )
    ):
        exceptions[exc.staff_id].append(exc)
    range_start = datetime.combine(first_day, time.min, tz)
    range_end = datetime.combine(last_day + timedelta(days=1), time.min, tz)
    booked: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for staff_id, starts_at, ends_at in session.exec(
        select(Appointment.staff_id, Appointment.starts_at, Appointment.ends_at).where(
            Appointment.staff_id.in_(staff_ids),
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at < range_end,
            Appointment.ends_at > range_start,
        )
    ):
        booked[staff_id].append((starts_at, ends_at))

    now = clock.now()
    slots: list[Slot] = []
    day = first_day
    while day <= last_day:
        for staff_id in staff_ids:
            for start, end, minutes in _windows_for_day(
                day, patterns[staff_id], exceptions[staff_id]
            ):
                cursor = datetime.combine(day, start, tz)
                window_end = datetime.combine(day, end, tz)
                step = timedelta(minutes=minutes)
                while cursor + step <= window_end:
                    slot_start, slot_end = cursor, cursor + step
                    cursor += step
                    if slot_start <= now:
                        continue
                    if any(b0 < slot_end and slot_start < b1 for b0, b1 in booked[staff_id]):
                        continue
                    slots.append(Slot(slot_start, slot_end, staff_id))
        day += timedelta(days=1)
    return sorted(slots)


def bookable_staff(session: Session, area_id: int | None, kind: AppointmentKind) -> list[int]:
    """Active staff who do this kind of appointment in the area (hub-wide when no area)."""
    query = select(StaffUser.id).where(
        StaffUser.active.is_(True), StaffUser.role.in_(ROLES_FOR_KIND[kind])
    )
    if area_id is not None:
        query = query.join(StaffArea, StaffArea.staff_id == StaffUser.id).where(
            StaffArea.area_id == area_id
        )
    return list(session.exec(query.order_by(StaffUser.id)).all())


def slots_for_area(
    session: Session,
    settings: Settings,
    area_id: int | None,
    kind: AppointmentKind = AppointmentKind.INITIAL_VISIT,
    working_days: int = 10,
) -> list[Slot]:
    """Free slots in an area from tomorrow over the next `working_days` working days."""
    today = clock.now().astimezone(settings.tz).date()
    last_day = add_working_days_to_date(today, working_days)
    staff = bookable_staff(session, area_id, kind)
    return free_slots(session, settings, staff, today, last_day)


def free_staff_at(
    session: Session,
    settings: Settings,
    area_id: int | None,
    starts_at: datetime,
    kind: AppointmentKind = AppointmentKind.INITIAL_VISIT,
) -> list[int]:
    """Who in the area is free for this kind of visit at `starts_at`, first free first (the
    order the slots are offered in)."""
    day = starts_at.astimezone(settings.tz).date()
    staff = bookable_staff(session, area_id, kind)
    return [
        s.staff_id
        for s in free_slots(session, settings, staff, day, day)
        if s.starts_at == starts_at
    ]


def _parse_kind(kind: str | AppointmentKind) -> AppointmentKind:
    try:
        return AppointmentKind(kind)
    except ValueError:
        raise InvalidInput(f"Unknown kind of appointment {kind!r}", "kind") from None


def _check_booking(
    session: Session,
    actor: Actor,
    settings: Settings,
    *,
    staff_id: int,
    kind: AppointmentKind,
    starts_at: datetime,
    ends_at: datetime | None,
    household_id: int | None,
    carer_id: int | None,
    check_availability: bool,
    ignore_appointment_id: int | None = None,
) -> datetime:
    """Validate a booking; return its end time."""
    if starts_at.tzinfo is None:
        raise InvalidInput("The start time must be timezone-aware", "starts_at")
    if starts_at <= clock.now():
        raise InvalidInput("Choose a time in the future", "starts_at")
    if (household_id is None) == (carer_id is None):
        raise InvalidInput("An appointment is with one household or one carer", "household_id")
    area_id = None
    if household_id is not None:
        household = session.get(Household, household_id)
        if household is None or household.anonymised_at is not None:
            raise NotFound(f"No household with id {household_id}")
        area_id = household.area_id
    else:
        carer = session.get(Carer, carer_id)
        if carer is None:
            raise NotFound(f"No carer with id {carer_id}")
        area_id = session.get(Household, carer.household_id).area_id
    if not actor.may_work_on(area_id):
        raise NotAllowed("This household is in an area you do not work in")
    staff = session.get(StaffUser, staff_id)
    if staff is None or not staff.active:
        raise InvalidInput("Choose a member of staff who is working", "staff_id")
    if kind == AppointmentKind.INITIAL_VISIT and household_id is not None:
        existing = next_initial_visit(session, household_id, ignore=ignore_appointment_id)
        if existing is not None:
            raise InitialVisitAlreadyBooked(existing, actor, settings.tz)

    if check_availability:
        local_day = starts_at.astimezone(settings.tz).date()
        slot = next(
            (
                s
                for s in free_slots(session, settings, [staff_id], local_day, local_day)
                if s.starts_at == starts_at
            ),
            None,
        )
        if slot is None:
            raise SlotTaken("That time is not free. Please choose one of the free slots.")
        ends_at = ends_at or slot.ends_at
    ends_at = ends_at or starts_at + timedelta(minutes=DEFAULT_SLOT_MINUTES)
    if ends_at <= starts_at:
        raise InvalidInput("The appointment must end after it starts", "ends_at")
    clash = session.exec(
        select(Appointment.id).where(
            Appointment.staff_id == staff_id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at < ends_at,
            Appointment.ends_at > starts_at,
            Appointment.id != (ignore_appointment_id or -1),
        )
    ).first()
    if clash is not None:
        raise SlotTaken()
    return ends_at


def next_initial_visit(
    session: Session, household_id: int, *, ignore: int | None = None
) -> Appointment | None:
    """The household's initial visit still to come, if one is booked."""
    return session.exec(
        select(Appointment).where(
            Appointment.household_id == household_id,
            Appointment.kind == AppointmentKind.INITIAL_VISIT,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at > clock.now(),
            Appointment.id != (ignore or -1),
        )
    ).first()


def _past_initial_visits_held(session: Session, household_id: int) -> None:
    """An initial visit whose time has passed while still booked is taken as held (the
    scheduler's scans count a past booked visit as a visit), so that a new one can be booked:
    the database allows one live initial visit per household."""
    session.execute(
        sa.update(Appointment)
        .where(
            Appointment.household_id == household_id,
            Appointment.kind == AppointmentKind.INITIAL_VISIT,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at <= clock.now(),
        )
        .values(status=AppointmentStatus.COMPLETED)
        .execution_options(synchronize_session="fetch")
    )


def _insert(session: Session, actor: Actor, settings: Settings, appointment: Appointment) -> None:
    session.add(appointment)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        message = str(exc.orig)
        if "uq_appointment_initial_visit_booked" in message or (
            "appointment.household_id" in message
        ):
            # Another booking for this household landed a moment ago (the same link sent
            # twice at once): say when that one is.
            existing = next_initial_visit(session, appointment.household_id)
            raise InitialVisitAlreadyBooked(existing, actor, settings.tz) from None
        if "uq_appointment_staff_slot_booked" in message or "appointment.staff_id" in message:
            raise SlotTaken() from None
        raise


def new_booking(
    session: Session,
    actor: Actor,
    settings: Settings,
    *,
    staff_id: int,
    kind: str | AppointmentKind,
    starts_at: datetime,
    household_id: int | None = None,
    carer_id: int | None = None,
    ends_at: datetime | None = None,
    location: str | None = None,
    notes: str | None = None,
    check_availability: bool = True,
) -> Appointment:
    """A checked booking, not yet saved (`save_booking` saves it). Raises SlotTaken when the
    time is not free, InitialVisitAlreadyBooked, InvalidInput, NotFound or NotAllowed. Only
    reads, so a refused booking leaves the caller's transaction as it was."""
    kind = _parse_kind(kind)
    ends_at = _check_booking(
        session,
        actor,
        settings,
        staff_id=staff_id,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        household_id=household_id,
        carer_id=carer_id,
        check_availability=check_availability,
    )
    return Appointment(
        kind=kind,
        staff_id=staff_id,
        household_id=household_id,
        carer_id=carer_id,
        starts_at=starts_at,
        ends_at=ends_at,
        location=location,
        notes=notes,
        booked_by_id=actor.user_id,
        booked_by_label=actor.label,
    )


def save_booking(
    session: Session, actor: Actor, settings: Settings, appointment: Appointment
) -> None:
    """Save a booking from `new_booking` in the caller's transaction (flushed, not committed).
    The database has the last word: SlotTaken or InitialVisitAlreadyBooked when another
    booking landed a moment ago, and then the session has been rolled back."""
    if appointment.kind == AppointmentKind.INITIAL_VISIT and appointment.household_id is not None:
        _past_initial_visits_held(session, appointment.household_id)
    _insert(session, actor, settings, appointment)
    audit.record(
        session,
        actor,
        AuditAction.CREATE,
        "appointment",
        appointment.id,
        kind=AppointmentKind(appointment.kind).value,
    )


def book_appointment(
    session: Session,
    actor: Actor,
    settings: Settings,
    *,
    staff_id: int,
    kind: str | AppointmentKind,
    starts_at: datetime,
    household_id: int | None = None,
    carer_id: int | None = None,
    ends_at: datetime | None = None,
    location: str | None = None,
    notes: str | None = None,
    check_availability: bool = True,
) -> Appointment:
    """Book a visit and commit. With `check_availability` (the default, and always for the
    public) the time must be one of the staff member's free slots. An initial visit booked by
    or for the household goes through crm.services.booking, which confirms it in the same
    transaction."""
    appointment = new_booking(
        session,
        actor,
        settings,
        staff_id=staff_id,
        kind=kind,
        starts_at=starts_at,
        household_id=household_id,
        carer_id=carer_id,
        ends_at=ends_at,
        location=location,
        notes=notes,
        check_availability=check_availability,
    )
    with transaction(session):
        save_booking(session, actor, settings, appointment)
    session.refresh(appointment)
    return appointment


def _live_appointment(session: Session, actor: Actor, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"No appointment with id {appointment_id}")
    if appointment.status != AppointmentStatus.BOOKED:
        raise InvalidInput(
            f"This appointment is {AppointmentStatus(appointment.status).value}, not booked",
            "appointment",
        )
    return appointment


def new_move(
    session: Session,
    actor: Actor,
    settings: Settings,
    appointment_id: int,
    *,
    starts_at: datetime,
    staff_id: int | None = None,
    location: str | None = None,
    check_availability: bool = True,
) -> tuple[Appointment, Appointment]:
    """A checked move, not yet saved (`save_move` saves it): the live booking and its
    replacement. Only reads."""
    old = _live_appointment(session, actor, appointment_id)
    staff_id = staff_id or old.staff_id
    duration = old.ends_at - old.starts_at
    ends_at = _check_booking(
        session,
        actor,
        settings,
        staff_id=staff_id,
        kind=AppointmentKind(old.kind),
        starts_at=starts_at,
        ends_at=None if check_availability else starts_at + duration,
        household_id=old.household_id,
        carer_id=old.carer_id,
        check_availability=check_availability,
        ignore_appointment_id=old.id,
    )
    new = Appointment(
        kind=old.kind,
        staff_id=staff_id,
        household_id=old.household_id,
        carer_id=old.carer_id,
        starts_at=starts_at,
        ends_at=ends_at,
        location=location if location is not None else old.location,
        notes=old.notes,
        booked_by_id=actor.user_id,
        booked_by_label=actor.label,
    )
    return old, new


def save_move(
    session: Session, actor: Actor, settings: Settings, old: Appointment, new: Appointment
) -> None:
    """Save a move from `new_move` in the caller's transaction (flushed, not committed)."""
    # Free the old slot first: the unique index only counts live bookings.
    old.status = AppointmentStatus.MOVED
    session.add(old)
    session.flush()
    _insert(session, actor, settings, new)
    old.moved_to_id = new.id
    session.add(old)
    audit.record(session, actor, AuditAction.UPDATE, "appointment", old.id, moved_to=new.id)


def move_appointment(
    session: Session,
    actor: Actor,
    settings: Settings,
    appointment_id: int,
    *,
    starts_at: datetime,
    staff_id: int | None = None,
    location: str | None = None,
    check_availability: bool = True,
) -> Appointment:
    """Move a visit to a new time (and perhaps person, or address: `location`, else the old
    one) and commit. The old booking is kept as `moved` and points at the new one, so the
    timeline shows what happened. Moving a household's visit and telling them is
    crm.services.booking.move_visit."""
    old, new = new_move(
        session,
        actor,
        settings,
        appointment_id,
        starts_at=starts_at,
        staff_id=staff_id,
        location=location,
        check_availability=check_availability,
    )
    with transaction(session):
        save_move(session, actor, settings, old, new)
    session.refresh(new)
    return new


def _area_of(session: Session, appointment: Appointment) -> int | None:
    if appointment.household_id is not None:
        return session.get(Household, appointment.household_id).area_id
    carer = session.get(Carer, appointment.carer_id)
    return session.get(Household, carer.household_id).area_id


def cancel_appointment(
    session: Session,
    actor: Actor,
    appointment_id: int,
    *,
    reason: str,
    settings: Settings | None = None,
) -> Appointment:
    """Cancel a booked visit with the reason, and what follows from it (see `cancel_booked`)."""
    appointment = _live_appointment(session, actor, appointment_id)
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why the appointment is cancelled", "reason")
    if not actor.may_work_on(_area_of(session, appointment)):
        raise NotAllowed("This household is in an area you do not work in")
    with transaction(session):
        cancel_booked(session, actor, appointment, reason=reason, settings=settings)
    session.refresh(appointment)
    return appointment


def cancel_booked(
    session: Session,
    actor: Actor,
    appointment: Appointment,
    *,
    reason: str,
    why: str = "cancelled",
    tell_person: bool = True,
    settings: Settings | None = None,
) -> None:
    """Cancel one booked appointment in the caller's transaction, and close what follows:
    its reminders and confirmation still waiting in the outbox are cancelled; when it was
    still to come, the person is told (`tell_person`, and only by a way they agreed to) and so
    is the member of staff whose diary it was, unless they made the change themselves.

    `reason` is for staff (kept on the appointment); the person's message says only `why`
    (cancelled, withdrawn, not_progressed, approved, deregistered), never staff's words."""
    now = clock.now()
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancelled_at = now
    appointment.cancel_reason = reason[:500]
    session.add(appointment)
    session.flush()
    # Its reminders and confirmation (their payload names the appointment).
    linked = []
    if appointment.household_id is not None:
        linked.append(OutboxMessage.household_id == appointment.household_id)
    if appointment.carer_id is not None:
        linked.append(OutboxMessage.carer_id == appointment.carer_id)
    outbox.cancel_pending(
        session,
        sa.and_(
            sa.or_(*linked),
            OutboxMessage.payload["appointment_id"].as_integer() == appointment.id,
            OutboxMessage.template.not_in(sorted(CANCELLATION_NOTICES)),
        ),
        reason="the visit was cancelled",
    )
    audit.record(session, actor, AuditAction.UPDATE, "appointment", appointment.id, cancelled=True)
    if appointment.starts_at <= now:
        return
    household_id = appointment.household_id
    if household_id is None:
        household_id = session.get(Carer, appointment.carer_id).household_id
    household = session.get(Household, household_id)
    staff = session.get(StaffUser, appointment.staff_id)
    details = {
        # The dispatcher sends a notice of cancellation only while the visit is cancelled and
        # still to come, with a calendar CANCEL for it.
        "appointment_id": appointment.id,
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "visit_kind": AppointmentKind(appointment.kind).label.lower(),
        "staff_name": staff.name if staff else "",
        "why": why,
    }
    told = []
    if tell_person and household.anonymised_at is None:
        for recipient in outbox.reachable_recipients(
            session, settings, household.id, appointment.carer_id, template=CANCELLED_TEMPLATE
        ):
            message = enqueue_message(
                session,
                channel=recipient.channel,
                recipient=recipient.address,
                template=CANCELLED_TEMPLATE,
                payload={**details, "greeting_name": checkins.greeting_name(household)},
                due_at=now,
                unique_key=f"{CANCELLED_TEMPLATE}:{appointment.id}:"
                f"{recipient.channel.value}:{recipient.address}",
                household_id=None if appointment.carer_id else household.id,
                carer_id=appointment.carer_id,
            )
            if message is not None and recipient.channel.value not in told:
                told.append(recipient.channel.value)
    if staff is not None and staff.active and staff.id != actor.user_id:
        enqueue_message(
            session,
            channel=Channel.EMAIL,
            recipient=staff.email,
            template=CANCELLED_STAFF_TEMPLATE,
            payload={
                **details,
                "household_name": household.display_name,
                "household_reference": household.reference,
                "reason": reason[:500],
                # How the person was told ("email", "telegram"), or "" when we could not.
                "person_told": " and ".join(told),
            },
            due_at=now,
            unique_key=f"{CANCELLED_TEMPLATE}:{appointment.id}:staff:{staff.id}",
            household_id=household.id,
            carer_id=appointment.carer_id,
            staff_id=staff.id,
        )


CONFIRMATION_TEMPLATE = "visit_confirmation"


def confirmation_recipient(
    session: Session,
    settings: Settings | None,
    appointment: Appointment,
    applicant: Applicant | None,
    *,
    telegram_chat_id: str | None = None,
) -> tuple[Channel, str] | None:
    """Where a visit's confirmation goes. By email first whenever the first applicant has an
    address, whatever channel they prefer: it carries the calendar invite (the dispatcher
    checks consent when it sends). Otherwise by the reminders' order (outbox.RecipientBook):
    the household's preferred channel when it reaches them, else the registry's order,
    Telegram when they booked there, then a text by the very rule the reminders use (consent
    to texts, a UK mobile that has not replied STOP, Notify set up), to the first applicant's
    mobile, else their partner's."""

    def reaches(channel: Channel) -> str | None:
        if channel == Channel.EMAIL:
            return applicant.email if applicant is not None and applicant.email else None
        if channel == Channel.TELEGRAM:
            return telegram_chat_id or None
        if channel == Channel.SMS:
            book = outbox.RecipientBook(session, settings, [appointment.household_id])
            found = book.recipients(
                appointment.household_id, template=CONFIRMATION_TEMPLATE, only=Channel.SMS
            )
            return found[0].address if found else None
        return None

    household = session.get(Household, appointment.household_id)
    preferred = household.preferred_channel if household is not None else None
    for channel in sorted(CHANNELS, key=lambda c: (c != Channel.EMAIL, c != preferred)):
        address = reaches(channel)
        if address:
            return channel, address
    return None


def enqueue_visit_confirmation(
    session: Session,
    appointment: Appointment,
    *,
    booked_via: str,
    moved: bool = False,
    telegram_chat_id: str | None = None,
    settings: Settings | None = None,
) -> OutboxMessage | None:
    """Confirm a household's visit through the outbox, in the caller's transaction, by the
    way `confirmation_recipient` chooses: email (the dispatcher attaches the calendar invite),
    Telegram when they booked there, or a text (with `settings`: Notify must be set up).
    Returns None when there is no way to reach them."""
    applicant = session.exec(
        select(Applicant)
        .where(Applicant.household_id == appointment.household_id)
        .order_by(Applicant.position)
    ).first()
    chosen = confirmation_recipient(
        session, settings, appointment, applicant, telegram_chat_id=telegram_chat_id
    )
    if chosen is None:
        return None
    channel, recipient = chosen
    staff = session.get(StaffUser, appointment.staff_id)
    return enqueue_message(
        session,
        channel=channel,
        recipient=recipient,
        template=CONFIRMATION_TEMPLATE,
        payload={
            "appointment_id": appointment.id,
            "starts_at": appointment.starts_at.isoformat(),
            "ends_at": appointment.ends_at.isoformat(),
            "staff_name": staff.name,
            "greeting_name": applicant.first_name if applicant else "",
            "moved": moved,
            "booked_via": booked_via,
        },
        due_at=clock.now(),
        unique_key=f"{CONFIRMATION_TEMPLATE}:{appointment.id}:{channel.value}",
        household_id=appointment.household_id,
    )


def upcoming_for_household(session: Session, household_id: int) -> list[Appointment]:
    return list(
        session.exec(
            select(Appointment)
            .where(
                Appointment.household_id == household_id,
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.starts_at > clock.now(),
            )
            .order_by(Appointment.starts_at)
        ).all()
    )


__all__ = [
    "Slot",
    "book_appointment",
    "bookable_staff",
    "InitialVisitAlreadyBooked",
    "cancel_appointment",
    "cancel_booked",
    "confirmation_recipient",
    "enqueue_visit_confirmation",
    "free_slots",
    "free_staff_at",
    "move_appointment",
    "new_booking",
    "new_move",
    "next_initial_visit",
    "save_booking",
    "save_move",
    "slots_for_area",
    "upcoming_for_household",
    "when_text",
]
