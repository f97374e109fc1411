"""The iCalendar invite that travels with visit emails.

Calendars treat it as one entry for the whole life of the visit: the UID is the first
booking's (a move makes a new appointment row, linked from the old one), SEQUENCE counts the
changes (each move, and the cancellation), DTSTAMP is when the message is built, and a
cancellation notice (a catalogue entry with `cancels_visit`, or any visit message for a
cancelled appointment) is a METHOD:CANCEL with STATUS:CANCELLED. A payload may carry
`sequence` (an int) to fix it when the message is written; otherwise it is counted from the
appointment's moves.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import icalendar
import sqlalchemy as sa
from sqlalchemy.orm import object_session

from crm import clock
from crm.messaging.catalogue import template
from crm.models import Appointment, AppointmentKind, AppointmentStatus, OutboxMessage
from crm.settings import Settings


def is_cancellation(message: OutboxMessage, appointment: Appointment) -> bool:
    return (
        template(message.template).cancels_visit
        or appointment.status == AppointmentStatus.CANCELLED
    )


def payload_sequence(message: OutboxMessage) -> int | None:
    value = (message.payload or {}).get("sequence")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def visit_history(appointment: Appointment) -> tuple[int, int]:
    """(the id of the visit's first booking, how many times it has moved since). A moved
    visit is a new appointment that the old one points at (`moved_to_id`)."""
    first, moves = appointment.id, 0
    session = object_session(appointment)
    if session is None or first is None:
        return first, moves
    seen = {first}
    while True:
        earlier = session.scalar(sa.select(Appointment.id).where(Appointment.moved_to_id == first))
        if earlier is None or earlier in seen:
            return first, moves
        seen.add(earlier)
        first, moves = earlier, moves + 1


def calendar_invite(
    appointment: Appointment,
    settings: Settings,
    attendee: str,
    context: dict[str, Any],
    *,
    cancel: bool = False,
    sequence: int | None = None,
) -> bytes:
    """An iCalendar REQUEST for the visit (or, with `cancel`, its CANCEL). The UID is the
    first booking's, so a reminder, a move or a cancellation updates the same calendar entry
    instead of adding another; SEQUENCE goes up with each change (moves, then the cancellation)
    unless `sequence` fixes it."""
    domain = settings.smtp.from_address.split("@")[-1]
    first_id, moves = visit_history(appointment)
    if sequence is None:
        sequence = moves + (1 if cancel else 0)
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Fostercrm//Visit reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancel else "REQUEST")
    event = icalendar.Event()
    event.add("uid", f"appointment-{first_id}@{domain}")
    # When this message was made (RFC 5545), not when the visit was first booked.
    event.add("dtstamp", clock.now())
    event.add("dtstart", appointment.starts_at)
    event.add("dtend", appointment.ends_at)
    kind = AppointmentKind(appointment.kind).label
    event.add("summary", f"{kind} with {settings.service.name}")
    if cancel:
        description = f"{kind} with {context.get('staff_name', 'our team')}: cancelled."
    else:
        description = (
            f"{kind} with {context.get('staff_name', 'our team')}. "
            "To move or cancel, reply to this email and we will find a time that suits you."
        )
    event.add("description", description)
    if appointment.location:
        event.add("location", appointment.location)
    event.add("organizer", f"mailto:{settings.smtp.from_address}")
    event.add("attendee", f"mailto:{attendee}")
    event.add("sequence", sequence)
    event.add("status", "CANCELLED" if cancel else "CONFIRMED")
    if not cancel:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{kind} tomorrow")
        alarm.add("trigger", timedelta(hours=-24))
        event.add_component(alarm)
    calendar.add_component(event)
    return calendar.to_ical()
