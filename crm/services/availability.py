"""Staff availability (a weekly pattern plus exceptions) and the week view of visits.

A member of staff edits their own availability; managers edit it for staff in their areas;
admins for anyone. Free slots are always computed by crm.services.appointments.free_slots, so
the week view shows exactly what booking will offer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, select

from crm.db import transaction
from crm.models import (
    Appointment,
    AppointmentStatus,
    AuditAction,
    AvailabilityException,
    AvailabilityPattern,
    Household,
    Role,
    StaffArea,
    StaffUser,
)
from crm.services import access, audit
from crm.services.actors import Actor
from crm.services.appointments import Slot, free_slots
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.settings import Settings

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Window:
    weekday: int
    start: time
    end: time
    slot_minutes: int = 90


def parse_time(value: str | None, field: str) -> time | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        hours, minutes = value.replace(".", ":").split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise InvalidInput("Enter a time like 09:30", field) from None


def may_edit(session: Session, actor: Actor, staff_id: int) -> bool:
    if actor.is_system or actor.role == Role.ADMIN or actor.user_id == staff_id:
        return True
    if actor.role == Role.MANAGER:
        areas = set(
            session.exec(select(StaffArea.area_id).where(StaffArea.staff_id == staff_id)).all()
        )
        return bool(areas & actor.area_ids)
    return False


def _staff(session: Session, actor: Actor, staff_id: int) -> StaffUser:
    staff = session.get(StaffUser, staff_id)
    if staff is None:
        raise NotFound(f"No member of staff with id {staff_id}")
    if not may_edit(session, actor, staff_id):
        raise NotAllowed("You can only change your own availability or your team's")
    return staff


def set_weekly_pattern(
    session: Session, actor: Actor, staff_id: int, windows: list[Window]
) -> list[AvailabilityPattern]:
    """Replace someone's weekly pattern with these windows (validated first)."""
    _staff(session, actor, staff_id)
    errors: dict[str, str] = {}
    for w in windows:
        name = f"day{w.weekday}"
        if not 0 <= w.weekday <= 6:
            errors[name] = "Choose a day of the week"
        elif w.end <= w.start:
            errors[name] = f"{WEEKDAYS[w.weekday]}: the end must be after the start"
        elif not 15 <= w.slot_minutes <= 480:
            errors[name] = "Slots are 15 minutes to 8 hours long"
    by_day: dict[int, list[Window]] = defaultdict(list)
    for w in windows:
        by_day[w.weekday].append(w)
    for day, day_windows in by_day.items():
        ordered = sorted(day_windows, key=lambda w: w.start)
        if any(a.end > b.start for a, b in zip(ordered, ordered[1:], strict=False)):
            errors[f"day{day}"] = f"{WEEKDAYS[day]}: the times overlap"
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        for old in session.exec(
            select(AvailabilityPattern).where(AvailabilityPattern.staff_id == staff_id)
        ):
            session.delete(old)
        session.flush()
        patterns = [
            AvailabilityPattern(
                staff_id=staff_id,
                weekday=w.weekday,
                start_time=w.start,
                end_time=w.end,
                slot_minutes=w.slot_minutes,
            )  # fmt: skip
            for w in windows
        ]
        session.add_all(patterns)
        audit.record(
            session, actor, AuditAction.UPDATE, "staff_user", staff_id, availability=len(windows)
        )
    return patterns


def add_exception(
    session: Session,
    actor: Actor,
    staff_id: int,
    *,
    on_date: date | None,
    available: bool,
    start: time | None = None,
    end: time | None = None,
    note: str | None = None,
) -> AvailabilityException:
    """Away (all day or for some hours), or extra hours, on one date."""
    _staff(session, actor, staff_id)
    if on_date is None:
        raise InvalidInput("Enter the date", "on_date")
    if (start is None) != (end is None):
        raise InvalidInput("Enter both a start and an end time, or neither", "start")
    if start is not None and end is not None and end <= start:
        raise InvalidInput("The end must be after the start", "end")
    if available and start is None:
        raise InvalidInput("Extra hours need a start and an end time", "start")
    note = " ".join((note or "").split())[:200] or None
    exception = AvailabilityException(
        staff_id=staff_id, on_date=on_date, start_time=start, end_time=end,
        available=available, note=note,
    )  # fmt: skip
    with transaction(session):
        session.add(exception)
        audit.record(
            session, actor, AuditAction.UPDATE, "staff_user", staff_id, availability_exception=True
        )
    session.refresh(exception)
    return exception


def delete_exception(session: Session, actor: Actor, exception_id: int) -> None:
    exception = session.get(AvailabilityException, exception_id)
    if exception is None:
        raise NotFound(f"No availability change with id {exception_id}")
    _staff(session, actor, exception.staff_id)
    with transaction(session):
        session.delete(exception)
        audit.record(
            session, actor, AuditAction.UPDATE, "staff_user", exception.staff_id,
            availability_exception_removed=True,
        )  # fmt: skip


def patterns_for(session: Session, staff_id: int) -> list[AvailabilityPattern]:
    return list(
        session.exec(
            select(AvailabilityPattern)
            .where(AvailabilityPattern.staff_id == staff_id)
            .order_by(AvailabilityPattern.weekday, AvailabilityPattern.start_time)
        ).all()
    )


def exceptions_for(session: Session, staff_id: int, from_day: date) -> list[AvailabilityException]:
    return list(
        session.exec(
            select(AvailabilityException)
            .where(
                AvailabilityException.staff_id == staff_id,
                AvailabilityException.on_date >= from_day,
            )
            .order_by(AvailabilityException.on_date)
        ).all()
    )


def team_for(session: Session, actor: Actor) -> list[StaffUser]:
    """The people whose diaries the actor sees: colleagues in their areas (everyone for admins)."""
    query = select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role != Role.ADMIN)
    if actor.role != Role.ADMIN:
        colleagues = select(StaffArea.staff_id).where(StaffArea.area_id.in_(sorted(actor.area_ids)))
        query = query.where(StaffUser.id.in_(colleagues) | (StaffUser.id == actor.user_id))
    return list(session.exec(query.order_by(StaffUser.name)).all())


@dataclass
class DayCell:
    day: date
    appointments: list[Appointment]
    free: list[Slot]


@dataclass
class WeekRow:
    staff: StaffUser
    days: list[DayCell]


@dataclass
class Week:
    rows: list[WeekRow]
    # The households the viewer may open, by id: only these are named (the others show as a
    # booked slot), because colleagues may also work in areas the viewer does not.
    households: dict[int, Household]


def week_for(
    session: Session, actor: Actor, settings: Settings, staff: list[StaffUser], monday: date
) -> Week:
    """The week view as `actor` may see it: their team's diaries (`staff` must come from
    `team_for`), with names only through crm.services.access."""
    team = {s.id for s in team_for(session, actor)}
    if any(s.id not in team for s in staff):
        raise NotAllowed("You can only see your own diary or your team's")
    rows = week_view(session, settings, staff, monday)
    ids = [ap.household_id for row in rows for day in row.days for ap in day.appointments]
    return Week(rows, access.visible_households(session, actor, ids))


def week_view(
    session: Session, settings: Settings, staff: list[StaffUser], monday: date
) -> list[WeekRow]:
    """Each person's booked visits and free slots, Monday to Friday of one week."""
    days = [monday + timedelta(days=i) for i in range(5)]
    ids = [s.id for s in staff]
    start = datetime.combine(monday, time.min, settings.tz)
    end = start + timedelta(days=7)
    booked: dict[tuple[int, date], list[Appointment]] = defaultdict(list)
    for ap in session.exec(
        select(Appointment)
        .where(
            Appointment.staff_id.in_(ids),
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        )
        .order_by(Appointment.starts_at)
    ):
        booked[(ap.staff_id, ap.starts_at.astimezone(settings.tz).date())].append(ap)
    free: dict[tuple[int, date], list[Slot]] = defaultdict(list)
    for slot in free_slots(session, settings, ids, days[0], days[-1]):
        free[(slot.staff_id, slot.starts_at.astimezone(settings.tz).date())].append(slot)
    return [
        WeekRow(s, [DayCell(d, booked[(s.id, d)], free[(s.id, d)]) for d in days]) for s in staff
    ]
