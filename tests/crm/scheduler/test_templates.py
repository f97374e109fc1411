"""Every message template renders, by email (subject, text, HTML) and by Telegram where it has a
Telegram version, from the payload its sender writes. A missing value fails here, not in a
family's inbox."""

import shutil
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

import crm.models as m
from crm import clock
from crm.scheduler.rendering import TEMPLATES_DIR, Renderer
from crm.services.actors import Actor
from crm.services.appointments import (
    book_appointment,
    cancel_appointment,
    move_appointment,
    slots_for_area,
)
from crm.services.outbox import STAFF_TEMPLATES
from crm.testing.fixtures import make_test_settings, new_household
from tests.crm.scheduler.helpers import SECRET

VISIT = {
    "appointment_id": 7,
    "starts_at": "2026-03-30T08:30:00+00:00",
    "staff_name": "Priya Shah",
    "staff_email": "priya@example.org",
}
PAYLOADS = {
    "visit_reminder": {**VISIT, "when": "day_before", "greeting_name": "Sam"},
    "visit_confirmation": {**VISIT, "moved": False, "greeting_name": "Sam"},
    "visit_reminder_staff": {
        **VISIT,
        "household_name": "Sam Patel",
        "household_reference": "FC-ABCD-EFGH",
        "address": "1 Elm Road, Leicester, LE1 6ZG",
        "phone": "07700 900982",
    },
    "enquiry_response_overdue_staff": {
        "staff_name": "Olu",
        "household_name": "Sam Patel",
        "household_reference": "FC-ABCD-EFGH",
        "enquired_at": "2026-03-10T10:00:00+00:00",
        "due_at": "2026-03-11T10:00:00+00:00",
        "target_working_days": 1,
        "phone": "07700 900982",
        "email": "sam@example.com",
    },
    "enquiry_sorry_for_the_wait": {"greeting_name": "Sam", "officer_name": "Olu"},
    "stalled_case_nudge": {
        "greeting_name": "Sam",
        "stage_label": "Application",
        "officer_name": "Olu",
        "officer_email": "olu@example.org",
    },
    "panel_timescale_alert": {
        "staff_name": "Mo",
        "household_name": "Sam Patel",
        "household_reference": "FC-ABCD-EFGH",
        "application_date": "1 July 2025",
        "deadline_date": "1 March 2026",
        "days_left": 28,
        "stage_label": "Stage two",
        "level": "warning",
    },
    "check_in": {"greeting_name": "Cara", "check_in_id": 12, "reason": "placement_ended"},
    "annual_review_due_staff": {
        "staff_name": "Sup",
        "carer_name": "Cara Lee",
        "household_reference": "FC-ABCD-EFGH",
        "due_date": "2 June 2026",
        "days_left": 60,
        "first_review": True,
    },
    "tsd_due_staff": {
        "staff_name": "Sup",
        "carer_name": "Cara Lee",
        "household_reference": "FC-ABCD-EFGH",
        "due_date": "2 June 2026",
        "days_left": 60,
    },
    "tsd_reminder": {"greeting_name": "Cara", "due_date": "2 June 2026", "staff_name": "Sup"},
    "supervision_overdue_staff": {
        "staff_name": "Sup",
        "carer_name": "Cara Lee",
        "household_reference": "FC-ABCD-EFGH",
        "last_visit_date": "",
        "days_since": 50,
        "every_days": 42,
    },
    "check_in_alert_staff": {
        "staff_name": "Sup",
        "carer_name": "Cara Lee",
        "household_reference": "FC-ABCD-EFGH",
        "reason": "Check-in on 10 Mar 2026: 2 out of 5 (finding it hard)",
        "comment": "It's been a tough month.",
    },
    "safeguarding_alert_staff": {
        "staff_name": "Mo",
        "task_id": 3,
        "task_title": "Safeguarding concern raised in the chat",
        "where": "the web chat",
        "area_name": "Northshire",
        "due_at": "2026-03-10T22:15:00+00:00",
    },
}
FOLDERS = sorted(p.name for p in TEMPLATES_DIR.iterdir() if p.is_dir())
SAMPLED = [name for name in FOLDERS if name in PAYLOADS]


def test_every_template_folder_has_a_sample_payload():
    assert set(PAYLOADS) <= set(FOLDERS), "a sample payload for a template that is gone"
    missing = sorted(set(FOLDERS) - set(PAYLOADS))
    if missing:
        pytest.skip(f"no sample payload here yet for {missing}: add one to test them")


@pytest.fixture(scope="module")
def renderer():
    settings = make_test_settings().model_copy(update={"secret_key": SECRET})
    return Renderer(settings)


def message(name: str, channel: m.Channel) -> m.OutboxMessage:
    staff = name in STAFF_TEMPLATES
    return m.OutboxMessage(
        id=99,
        channel=channel,
        recipient="someone@example.com" if channel == m.Channel.EMAIL else "42",
        template=name,
        payload=PAYLOADS[name],
        due_at=datetime(2026, 3, 10, 10, tzinfo=UTC),
        unique_key=f"test:{name}",
        household_id=None if staff else 5,
        staff_id=1 if staff else None,
    )


def appointment() -> m.Appointment:
    return m.Appointment(
        id=7,
        kind=m.AppointmentKind.INITIAL_VISIT,
        staff_id=1,
        household_id=5,
        starts_at=datetime(2026, 3, 30, 8, 30, tzinfo=UTC),
        ends_at=datetime(2026, 3, 30, 10, 0, tzinfo=UTC),
        location="1 Elm Road",
        booked_by_label="test",
        created_at=datetime(2026, 3, 20, 9, tzinfo=UTC),
    )


@pytest.mark.parametrize("name", SAMPLED)
def test_email_renders(renderer, name):
    visit = appointment() if "appointment_id" in PAYLOADS[name] else None
    email = renderer.email(message(name, m.Channel.EMAIL), appointment=visit, household_id=5)
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert email["Subject"] and "{" not in email["Subject"]
    assert "{{" not in text and "{%" not in text and "{{" not in html
    assert "\n\n\n" not in text
    if name in STAFF_TEMPLATES:
        assert "unsubscribe" not in text.lower()
    else:
        # Warm and honest: who it is from, and how to stop.
        assert "Fostering Together" in text
        assert "/unsubscribe/" in text and "/unsubscribe/" in html
    if visit is not None:
        assert "Monday 30 March 2026 at 9:30am" in text  # BST
        assert [a.get_filename() for a in email.iter_attachments()] == ["invite.ics"]


@pytest.mark.parametrize(
    "name", [n for n in SAMPLED if (TEMPLATES_DIR / n / "telegram.txt").exists()]
)
def test_telegram_renders(renderer, name):
    visit = appointment() if "appointment_id" in PAYLOADS[name] else None
    text = renderer.telegram(message(name, m.Channel.TELEGRAM), appointment=visit).text
    assert "{{" not in text and len(text) < 4096
    assert "STOP" in text


def test_messages_to_the_public_all_have_a_telegram_version():
    public = [n for n in SAMPLED if n not in STAFF_TEMPLATES]
    assert all((TEMPLATES_DIR / n / "telegram.txt").exists() for n in public)


def test_check_in_email_has_one_link_per_answer(renderer):
    email = renderer.email(message("check_in", m.Channel.EMAIL), household_id=5)
    text = email.get_body(("plain",)).get_content()
    for answer in ["1", "2", "3", "4", "5", "call"]:
        assert f"/{answer}\n" in text or f"/{answer} " in text
    assert "Endings can be hard" in text


def test_without_a_secret_key_emails_still_go_without_links():
    renderer = Renderer(make_test_settings())
    email = renderer.email(message("check_in", m.Channel.EMAIL), household_id=5)
    text = email.get_body(("plain",)).get_content()
    assert "reply to this email with a number" in text
    assert "/check-in/" not in text and email["List-Unsubscribe"] is None


# -- calendar invites: one entry for the life of a visit ----------------------------------


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
    original = renderer.email(_visit_message("visit_reminder", first), appointment=first)
    _attachment, _calendar, before = _invite(original)
    clock.advance(timedelta(minutes=30))
    built_at = clock.now()
    moved = renderer.email(_visit_message("visit_confirmation", third), appointment=third)
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
    attachment, calendar, event = _invite(renderer.email(message, appointment=third))
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
    _attachment, _calendar, event = _invite(renderer.email(message, appointment=third))
    assert event.decoded("sequence") == 7
