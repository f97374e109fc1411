"""Calendar invites with visit emails: one calendar entry for the whole life of a visit. The
UID stays the first booking's across moves, SEQUENCE goes up with each change, DTSTAMP is when
the message is built, and a cancellation is a METHOD:CANCEL of the same entry."""

import shutil
from datetime import timedelta

import icalendar
import pytest

import crm.models as m
from crm import clock
from crm.messaging.render import TEMPLATES_DIR, Renderer
from crm.services.actors import Actor
from crm.services.appointments import (
    book_appointment,
    cancel_appointment,
    move_appointment,
    slots_for_area,
)
from crm.testing.fixtures import new_household
from tests.crm.scheduler.helpers import SECRET


def _invite(email) -> tuple[object, icalendar.Calendar, icalendar.Event]:  # noqa: ANN001
    [attachment] = list(email.iter_attachments())
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    [event] = calendar.walk("VEVENT")
    return attachment, calendar, event


def _visit_message(name: str, visit: m.Appointment, **payload) -> m.OutboxMessage:  # noqa: ANN003
    return m.OutboxMessage(
        id=99,
        channel=m.Channel.EMAIL,
        recipient="kim.lee@example.com",
        template=name,
        payload={
            "appointment_id": visit.id,
            "starts_at": visit.starts_at.isoformat(),
            "ends_at": visit.ends_at.isoformat(),
            "staff_name": "Priya Shah",
            "staff_email": "priya@example.org",
            "greeting_name": "Kim",
            "moved": name == "visit_confirmation",
            "when": "day_before",
            "booked_via": "staff",
            **payload,
        },
        due_at=clock.now(),
        unique_key=f"test:{name}:{visit.id}",
        household_id=visit.household_id,
    )


@pytest.fixture
def booked(session, org, settings):
    """A visit booked, then moved twice (each move is a new appointment row)."""
    household = new_household(session, settings)
    staff_id = org.officer_north.id
    slots = slots_for_area(session, settings, household.area_id)
    free = [s for s in slots if s.staff_id == staff_id]
    first = book_appointment(
        session, Actor.system("test"), settings, staff_id=staff_id,
        kind=m.AppointmentKind.INITIAL_VISIT, starts_at=free[0].starts_at,
        household_id=household.id, location="1 Elm Road",
    )  # fmt: skip
    clock.advance(timedelta(hours=2))
    second = move_appointment(
        session, Actor.system("test"), settings, first.id, starts_at=free[2].starts_at
    )
    clock.advance(timedelta(hours=2))
    third = move_appointment(
        session, Actor.system("test"), settings, second.id, starts_at=free[4].starts_at
    )
    return first, second, third


def test_a_moved_visit_updates_the_same_calendar_entry(session, settings, booked):
    first, _second, third = booked
    renderer = Renderer(settings.model_copy(update={"secret_key": SECRET}))
    original = renderer.render(_visit_message("visit_reminder", first), appointment=first).content
    _attachment, _calendar, before = _invite(original)
    clock.advance(timedelta(minutes=30))
    built_at = clock.now()
    moved = renderer.render(_visit_message("visit_confirmation", third), appointment=third).content
    attachment, calendar, event = _invite(moved)
    domain = settings.smtp.from_address.split("@")[-1]
    # The same entry (the first booking's UID), a newer version of it, stamped now.
    assert str(event["uid"]) == str(before["uid"]) == f"appointment-{first.id}@{domain}"
    assert (before.decoded("sequence"), event.decoded("sequence")) == (0, 2)
    assert event.decoded("dtstamp") == built_at
    assert event.decoded("dtstamp") != third.created_at
    assert event.decoded("dtstart") == third.starts_at
    assert str(calendar["method"]) == "REQUEST" and str(event["status"]) == "CONFIRMED"
    assert attachment.get_param("method") == "REQUEST"


def test_a_cancelled_visit_sends_a_cancel_for_the_same_entry(session, settings, booked, tmp_path):
    first, _second, third = booked
    cancel_appointment(session, Actor.system("test"), third.id, reason="They are unwell")
    session.refresh(third)
    directory = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, directory)
    if not (directory / "visit_cancelled").exists():
        # The real template is another part's; this stand-in only has to render.
        (directory / "visit_cancelled").mkdir()
        for part, text in {
            "subject.txt": "Your {{ visit_kind }} is cancelled",
            "email.txt": "Your {{ visit_kind }} on {{ visit_when }} is cancelled.",
        }.items():
            (directory / "visit_cancelled" / part).write_text(text)
    renderer = Renderer(settings.model_copy(update={"secret_key": SECRET}), directory)
    message = _visit_message("visit_cancelled", third, reason="They are unwell")
    attachment, calendar, event = _invite(renderer.render(message, appointment=third).content)
    domain = settings.smtp.from_address.split("@")[-1]
    assert str(calendar["method"]) == "CANCEL" and attachment.get_param("method") == "CANCEL"
    assert str(event["status"]) == "CANCELLED"
    assert str(event["uid"]) == f"appointment-{first.id}@{domain}"
    assert event.decoded("sequence") == 3  # two moves, then the cancellation
    assert event.decoded("dtstamp") == clock.now()
    assert not event.walk("VALARM")  # no reminder for a visit that is not happening


def test_the_payload_can_fix_the_sequence(session, settings, booked):
    _first, _second, third = booked
    renderer = Renderer(settings.model_copy(update={"secret_key": SECRET}))
    message = _visit_message("visit_reminder", third, sequence=7)
    _attachment, _calendar, event = _invite(renderer.render(message, appointment=third).content)
    assert event.decoded("sequence") == 7
