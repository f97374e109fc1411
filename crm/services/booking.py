"""Booking a household's visit as one call: choose who is free, book, and queue the confirmation,
committed together or not at all.

The public booking page, the chat assistant and the staff pages all book and move through
here, so a household is never left with a visit it was not told about (or told about a visit
that was never booked) when something fails half-way. The rules themselves stay where they
are: free slots, double-booking protection and one live initial visit per household are
crm.services.appointments; the confirmation (email with a calendar invite, Telegram or a text) is
its `enqueue_visit_confirmation`, through the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from crm.db import transaction
from crm.models import Appointment, AppointmentKind, Household
from crm.services import appointments, lifecycle
from crm.services.actors import Actor
from crm.services.errors import NotFound, SlotTaken
from crm.settings import Settings


def book_initial_visit(
    session: Session,
    actor: Actor,
    settings: Settings,
    household_id: int,
    starts_at: datetime,
    *,
    booked_via: str,
    staff_ids: Sequence[int] | None = None,
    location: str | None = None,
    notes: str | None = None,
    telegram_chat_id: str | None = None,
) -> Appointment:
    """Book the household's initial visit at `starts_at` with the first member of staff still
    free then, and queue its confirmation, in one transaction.

    `staff_ids` are the people to try, in order (those offered for that time); by default,
    whoever does initial visits in the household's area and is free then. `booked_via` goes
    into the confirmation ("web_form", "telegram", "webchat"...); `telegram_chat_id` is where to
    confirm when there is no email address. Raises SlotTaken when nobody is free at that time
    any more, InitialVisitAlreadyBooked when the household has one to come, and InvalidInput,
    NotFound or NotAllowed as appointments.book_appointment does. A refusal or a failure writes
    nothing. The booking also closes the chaser to offer them a visit."""
    household = session.get(Household, household_id)
    if household is None or household.anonymised_at is not None:
        raise NotFound(f"No household with id {household_id}")
    if staff_ids is None:
        staff_ids = appointments.free_staff_at(session, settings, household.area_id, starts_at)
    taken: SlotTaken = SlotTaken()
    for staff_id in staff_ids:
        try:
            appointment = appointments.new_booking(
                session,
                actor,
                settings,
                staff_id=staff_id,
                kind=AppointmentKind.INITIAL_VISIT,
                starts_at=starts_at,
                household_id=household_id,
                location=location,
                notes=notes,
            )
            with transaction(session):
                appointments.save_booking(session, actor, settings, appointment)
                appointments.enqueue_visit_confirmation(
                    session,
                    appointment,
                    booked_via=booked_via,
                    telegram_chat_id=telegram_chat_id,
                    settings=settings,
                )
                lifecycle.close_what_follows(
                    session,
                    actor,
                    household,
                    why=lifecycle.Change.INITIAL_VISIT_BOOKED,
                    reason="Initial visit booked",
                    settings=settings,
                )
        except SlotTaken as exc:
            # Someone else has this person at that time (perhaps a moment ago): the next one.
            taken = exc
            continue
        session.refresh(appointment)
        return appointment
    raise taken


def move_visit(
    session: Session,
    actor: Actor,
    settings: Settings,
    appointment_id: int,
    *,
    starts_at: datetime,
    booked_via: str,
    staff_id: int | None = None,
    location: str | None = None,
    telegram_chat_id: str | None = None,
) -> Appointment:
    """Move a household's visit to a new time (and perhaps person or address) and tell them
    the new time (the calendar invite is updated, same entry), in one transaction. Raises as
    appointments.move_appointment does; a refusal or a failure changes nothing."""
    old, new = appointments.new_move(
        session,
        actor,
        settings,
        appointment_id,
        starts_at=starts_at,
        staff_id=staff_id,
        location=location,
    )
    with transaction(session):
        appointments.save_move(session, actor, settings, old, new)
        appointments.enqueue_visit_confirmation(
            session,
            new,
            booked_via=booked_via,
            moved=True,
            telegram_chat_id=telegram_chat_id,
            settings=settings,
        )
    session.refresh(new)
    return new
