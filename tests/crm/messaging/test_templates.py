"""Every message template renders, by email (subject, text, HTML) and by Telegram where it has a
Telegram version, from the payload its sender writes. A missing value fails here, not in a
family's inbox."""

from datetime import UTC, datetime

import pytest

import crm.models as m
from crm.messaging import catalogue
from crm.messaging.render import TEMPLATES_DIR, Renderer
from crm.testing.fixtures import make_test_settings
from tests.crm.scheduler.helpers import SECRET

STAFF_TEMPLATES = catalogue.staff_templates()

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
    # Their real payload also names the appointment (the dispatcher then adds the calendar
    # cancellation); left out here, as the words come from the payload alone.
    "visit_cancelled": {
        "starts_at": "2026-03-30T08:30:00+00:00",
        "ends_at": "2026-03-30T10:00:00+00:00",
        "visit_kind": "initial visit",
        "staff_name": "Priya Shah",
        "why": "withdrawn",
        "greeting_name": "Sam",
    },
    "visit_cancelled_staff": {
        "starts_at": "2026-03-30T08:30:00+00:00",
        "ends_at": "2026-03-30T10:00:00+00:00",
        "visit_kind": "initial visit",
        "staff_name": "Priya Shah",
        "why": "withdrawn",
        "household_name": "Sam Patel",
        "household_reference": "FC-ABCD-EFGH",
        "reason": "The household withdrew: Timing is not right",
        "person_told": "email",
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
    "initial_visit_not_offered_staff": {
        "staff_name": "Olu",
        "household_name": "Sam Patel",
        "household_reference": "FC-ABCD-EFGH",
        "enquired_at": "2026-03-10T10:00:00+00:00",
        "working_days": 5,
        "phone": "07700 900982",
        "email": "sam@example.com",
    },
    "stalled_case_nudge": {
        "greeting_name": "Sam",
        "stage_label": "Application",
        "officer_name": "Olu",
        "officer_email": "olu@example.org",
    },
    "check_overdue_staff": {
        "staff_name": "Asha",
        "household_name": "Sam Patel",
        "household_reference": "FC-ABCD-EFGH",
        "check_label": "Personal reference (Jo Bloggs)",
        "person_name": "the household",
        "requested_date": "2 March 2026",
        "chased_date": None,
        "working_days": 15,
    },
    "member_turning_18_staff": {
        "staff_name": "Asha",
        "household_name": "Sam Patel",
        "household_reference": "FC-ABCD-EFGH",
        "person_name": "Ray Patel",
        "birthday_date": "1 May 2026",
        "days_left": 30,
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
    "panel_date_set": {
        "greeting_name": "Sam",
        "panel_date": "24 March 2026",
        "contact_name": "Olu",
    },
    "panel_decision_approved": {
        "greeting_name": "Sam",
        "supervisor_name": "Sue",
        "places": 2,
        "age_min": 5,
        "age_max": 11,
    },
    "panel_decision_not_approved": {
        "greeting_name": "Sam",
        "reason_words": "There is not yet a bedroom for a child.",
        "contact_name": "",
    },
    "panel_papers_due_staff": {
        "staff_name": "Mo",
        "household_name": "Sam Patel",
        "household_reference": "FC-ABCD-EFGH",
        "panel_date": "24 March 2026",
        "papers_due_date": "17 March 2026",
        "working_days": 5,
    },
    "panel_decision_due_staff": {
        "staff_name": "Dee",
        "household_name": "Sam Patel",
        "household_reference": "FC-ABCD-EFGH",
        "panel_date": "24 March 2026",
        "recommendation": "approve",
        "decision_due_date": "2 April 2026",
        "level": "overdue",
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
    email = renderer.render(
        message(name, m.Channel.EMAIL), appointment=visit, household_id=5
    ).content
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
    text = renderer.render(message(name, m.Channel.TELEGRAM), appointment=visit).content.text
    assert "{{" not in text and len(text) < 4096
    assert "STOP" in text


def test_messages_to_the_public_all_have_a_telegram_version():
    public = [n for n in SAMPLED if n not in STAFF_TEMPLATES]
    assert all((TEMPLATES_DIR / n / "telegram.txt").exists() for n in public)


def test_check_in_email_has_one_link_per_answer(renderer):
    email = renderer.render(message("check_in", m.Channel.EMAIL), household_id=5).content
    text = email.get_body(("plain",)).get_content()
    for answer in ["1", "2", "3", "4", "5", "call"]:
        assert f"/{answer}\n" in text or f"/{answer} " in text
    assert "Endings can be hard" in text


def test_without_a_secret_key_emails_still_go_without_links():
    renderer = Renderer(make_test_settings())
    email = renderer.render(message("check_in", m.Channel.EMAIL), household_id=5).content
    text = email.get_body(("plain",)).get_content()
    assert "reply to this email with a number" in text
    assert "/check-in/" not in text and email["List-Unsubscribe"] is None


@pytest.mark.parametrize(
    "why", ["cancelled", "withdrawn", "not_progressed", "approved", "deregistered"]
)
def test_a_cancelled_visit_says_when_and_why_in_the_persons_words(renderer, why):
    """The time comes from the payload (the visit is no longer live, so it is not looked up)
    and the reason is a sentence per change, never staff's own words."""
    payload = {**PAYLOADS["visit_cancelled"], "why": why}
    email = renderer.render(
        message("visit_cancelled", m.Channel.EMAIL).model_copy(update={"payload": payload}),
        household_id=5,
    ).content
    text = email.get_body(("plain",)).get_content()
    assert "Monday 30 March 2026 at 9:30am is cancelled" in text
    assert email["Subject"] == "Your initial visit on Monday 30 March 2026 at 9:30am is cancelled"
    sentence = {
        "cancelled": "we'll find a time that suits you",
        "withdrawn": "If you change your mind",
        "not_progressed": "what happens next",
        "approved": "Congratulations",
        "deregistered": "Thank you for everything",
    }[why]
    assert sentence in text
    telegram = renderer.render(
        message("visit_cancelled", m.Channel.TELEGRAM).model_copy(update={"payload": payload})
    ).content.text
    assert "9:30am is cancelled" in telegram and "STOP" in telegram


@pytest.mark.parametrize(
    ("told", "why", "expected"),
    [
        ("email", "withdrawn", "We've let them know by email."),
        ("sms", "cancelled", "We've let them know by text message."),
        ("", "withdrawn", "by email, Telegram or text message. Please let them know."),
        ("", "erased", "they have not been told by us"),
    ],
)
def test_the_staff_notice_says_whether_the_person_was_told(renderer, told, why, expected):
    payload = {**PAYLOADS["visit_cancelled_staff"], "person_told": told, "why": why}
    email = renderer.render(
        message("visit_cancelled_staff", m.Channel.EMAIL).model_copy(update={"payload": payload})
    ).content
    text = email.get_body(("plain",)).get_content()
    assert expected in text
    assert "Why: The household withdrew: Timing is not right" in text
    assert "(until 11am)" in text  # BST and "unsubscribe" not in text.lower()


def test_a_cancellation_notice_without_a_reason_reads_as_a_plain_cancellation(renderer):
    payload = {k: v for k, v in PAYLOADS["visit_cancelled"].items() if k != "why"}
    email = renderer.render(
        message("visit_cancelled", m.Channel.EMAIL).model_copy(update={"payload": payload}),
        household_id=5,
    ).content
    assert "we'll find a time that suits you" in email.get_body(("plain",)).get_content()
