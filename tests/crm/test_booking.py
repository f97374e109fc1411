"""Booking and moving a household's visit as one call (crm.services.booking): whoever is free,
the booking and its confirmation, in one transaction on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

import crm.models as m
from crm.db import transaction
from crm.services import appointments, booking, outbox
from crm.services.actors import Actor
from crm.services.appointments import InitialVisitAlreadyBooked, slots_for_area
from crm.services.errors import SlotTaken
from crm.testing.fixtures import new_household
from tests.crm.scheduler.helpers import make_household

ACTOR = Actor.system("test")


@pytest.fixture
def household(session, org, settings) -> m.Household:
    return new_household(session, settings, email="amal@example.org", postcode="LE3 9QQ")


def first_time_with_two_free(session, settings, household):
    """The earliest time two people are free in the household's area, and who they are."""
    by_time: dict = {}
    for slot in slots_for_area(session, settings, household.area_id):
        by_time.setdefault(slot.starts_at, []).append(slot.staff_id)
    starts_at, staff = next((t, s) for t, s in by_time.items() if len(s) >= 2)
    return starts_at, staff


def counts(engine) -> tuple[int, int]:
    """Appointments and outbox messages as another connection sees them (committed only)."""
    with Session(engine) as other:
        return (
            other.exec(select(func.count()).select_from(m.Appointment)).one(),
            other.exec(select(func.count()).select_from(m.OutboxMessage)).one(),
        )


def test_books_the_first_free_and_confirms_in_one_commit(session, engine, settings, household):
    starts_at, staff = first_time_with_two_free(session, settings, household)
    before = counts(engine)
    visit = booking.book_initial_visit(
        session, ACTOR, settings, household.id, starts_at, booked_via="web_form"
    )
    assert visit.staff_id == staff[0] and visit.starts_at == starts_at
    assert visit.kind == m.AppointmentKind.INITIAL_VISIT
    assert counts(engine) == (before[0] + 1, before[1] + 1)
    [message] = session.exec(
        select(m.OutboxMessage).where(m.OutboxMessage.template == "visit_confirmation")
    ).all()
    assert message.recipient == "amal@example.org"
    assert message.payload["appointment_id"] == visit.id
    assert message.payload["booked_via"] == "web_form"
    assert message.payload["moved"] is False


def test_the_next_free_person_when_the_first_is_taken(session, settings, org, household):
    starts_at, staff = first_time_with_two_free(session, settings, household)
    other = new_household(session, settings, email="other@example.org", postcode="LE3 9QQ")
    appointments.book_appointment(
        session, ACTOR, settings, staff_id=staff[0], kind="initial_visit",
        starts_at=starts_at, household_id=other.id,
    )  # fmt: skip
    # The page offered both; the first has gone meanwhile.
    visit = booking.book_initial_visit(
        session, ACTOR, settings, household.id, starts_at, staff_ids=staff, booked_via="web_form"
    )
    assert visit.staff_id == staff[1]


def test_nobody_free_is_slot_taken_and_writes_nothing(session, engine, settings, household):
    starts_at, staff = first_time_with_two_free(session, settings, household)
    for i, staff_id in enumerate(staff):
        other = new_household(session, settings, email=f"other{i}@example.org", postcode="LE3 9QQ")
        appointments.book_appointment(
            session, ACTOR, settings, staff_id=staff_id, kind="initial_visit",
            starts_at=starts_at, household_id=other.id,
        )  # fmt: skip
    before = counts(engine)
    with pytest.raises(SlotTaken):
        booking.book_initial_visit(
            session, ACTOR, settings, household.id, starts_at, booked_via="web_form"
        )
    assert counts(engine) == before


def test_one_live_initial_visit_per_household(session, settings, household):
    starts_at, _ = first_time_with_two_free(session, settings, household)
    booking.book_initial_visit(
        session, ACTOR, settings, household.id, starts_at, booked_via="web_form"
    )
    later = [
        s for s in slots_for_area(session, settings, household.area_id) if s.starts_at > starts_at
    ]
    with pytest.raises(InitialVisitAlreadyBooked):
        booking.book_initial_visit(
            session, ACTOR, settings, household.id, later[0].starts_at, booked_via="web_form"
        )


class QueueingFailed(Exception):
    pass


def fail_to_queue(monkeypatch) -> list:
    """Make writing the confirmation to the outbox fail, as a lost database connection would."""
    calls = []

    def enqueue_message(session, **kwargs):
        calls.append(kwargs["template"])
        raise QueueingFailed("the outbox could not be written")

    monkeypatch.setattr(appointments, "enqueue_message", enqueue_message)
    return calls


def test_a_failure_queueing_the_confirmation_leaves_no_booking(
    session, engine, settings, household, monkeypatch
):
    starts_at, staff = first_time_with_two_free(session, settings, household)
    before = counts(engine)
    calls = fail_to_queue(monkeypatch)
    with pytest.raises(QueueingFailed):
        booking.book_initial_visit(
            session, ACTOR, settings, household.id, starts_at, booked_via="web_form"
        )
    assert calls == ["visit_confirmation"]
    assert counts(engine) == before
    assert session.exec(select(m.Appointment)).all() == []
    # The time is still free for the next try.
    monkeypatch.undo()
    assert appointments.free_staff_at(session, settings, household.area_id, starts_at) == staff
    visit = booking.book_initial_visit(
        session, ACTOR, settings, household.id, starts_at, booked_via="web_form"
    )
    assert visit.staff_id == staff[0]


def test_moving_confirms_the_new_time_in_the_same_commit(session, engine, settings, household):
    starts_at, staff = first_time_with_two_free(session, settings, household)
    visit = booking.book_initial_visit(
        session, ACTOR, settings, household.id, starts_at, booked_via="webchat"
    )
    later = next(
        s
        for s in slots_for_area(session, settings, household.area_id)
        if s.starts_at > starts_at and s.staff_id == visit.staff_id
    )
    moved = booking.move_visit(
        session, ACTOR, settings, visit.id, starts_at=later.starts_at, booked_via="staff"
    )
    session.refresh(visit)
    assert visit.status == m.AppointmentStatus.MOVED and visit.moved_to_id == moved.id
    confirmations = session.exec(
        select(m.OutboxMessage).where(m.OutboxMessage.template == "visit_confirmation")
    ).all()
    [message] = [c for c in confirmations if c.payload["appointment_id"] == moved.id]
    assert message.payload["moved"] is True and message.payload["booked_via"] == "staff"


def test_a_failure_queueing_a_move_leaves_the_visit_where_it_was(
    session, engine, settings, household, monkeypatch
):
    starts_at, _ = first_time_with_two_free(session, settings, household)
    visit = booking.book_initial_visit(
        session, ACTOR, settings, household.id, starts_at, booked_via="webchat"
    )
    later = next(
        s
        for s in slots_for_area(session, settings, household.area_id)
        if s.starts_at > starts_at and s.staff_id == visit.staff_id
    )
    before = counts(engine)
    fail_to_queue(monkeypatch)
    with pytest.raises(QueueingFailed):
        booking.move_visit(
            session, ACTOR, settings, visit.id, starts_at=later.starts_at, booked_via="staff"
        )
    assert counts(engine) == before
    session.refresh(visit)
    assert visit.status == m.AppointmentStatus.BOOKED and visit.moved_to_id is None
    assert appointments.next_initial_visit(session, household.id).id == visit.id


# -- confirmations by text (GOV.UK Notify) ---------------------------------------------------
MOBILE = "+447700900982"


def household_by_text(session, settings, **kw) -> m.Household:
    """A household reached by phone: a UK mobile, no email address; consents as given."""
    options = {"email_address": None, "consents": (m.ConsentScope.SMS,), "postcode": "LE3 9QQ"}
    return make_household(session, settings, **{**options, **kw})


def confirmations(session) -> list[m.OutboxMessage]:
    session.expire_all()
    return list(
        session.exec(
            select(m.OutboxMessage)
            .where(m.OutboxMessage.template == "visit_confirmation")
            .order_by(m.OutboxMessage.id)
        ).all()
    )


def book_first_free(session, settings, household, **kw) -> m.Appointment:
    starts_at, _ = first_time_with_two_free(session, settings, household)
    return booking.book_initial_visit(
        session, ACTOR, settings, household.id, starts_at, booked_via="web_form", **kw
    )


def test_no_email_but_a_mobile_and_consent_to_texts_is_confirmed_by_text(
    session, org, notify_settings
):
    household = household_by_text(session, notify_settings)
    visit = book_first_free(session, notify_settings, household)
    [message] = confirmations(session)
    assert (message.channel, message.recipient) == (m.Channel.SMS, MOBILE)
    assert message.unique_key == f"visit_confirmation:{visit.id}:sms"
    assert message.household_id == household.id
    assert message.payload["staff_name"] == "Officer.North"
    # Moving it is confirmed by text too, the new time in its own message.
    later = next(
        s
        for s in slots_for_area(session, notify_settings, household.area_id)
        if s.starts_at > visit.starts_at and s.staff_id == visit.staff_id
    )
    moved = booking.move_visit(
        session, ACTOR, notify_settings, visit.id, starts_at=later.starts_at, booked_via="staff"
    )
    [_, again] = confirmations(session)
    assert (again.channel, again.recipient) == (m.Channel.SMS, MOBILE)
    assert again.payload["appointment_id"] == moved.id and again.payload["moved"] is True


def test_no_text_without_consent_to_texts_or_without_notify(
    session, org, settings, notify_settings
):
    without_consent = household_by_text(session, notify_settings, consents=())
    book_first_free(session, notify_settings, without_consent)
    assert confirmations(session) == []
    # Consent, but Notify is not set up: there is no text channel to send by.
    agreed = household_by_text(
        session, settings, first_name="Ade", phone="07700 900111", consents=(m.ConsentScope.SMS,)
    )
    book_first_free(session, settings, agreed)
    assert confirmations(session) == []


def test_without_consent_to_texts_a_booking_in_the_chat_is_confirmed_there(
    session, org, notify_settings
):
    household = household_by_text(session, notify_settings, consents=(m.ConsentScope.TELEGRAM,))
    book_first_free(session, notify_settings, household, telegram_chat_id="4242")
    [message] = confirmations(session)
    assert (message.channel, message.recipient) == (m.Channel.TELEGRAM, "4242")


def test_email_wins_over_a_text_and_the_chat_even_when_they_prefer_those(
    session, org, notify_settings
):
    for i, preferred in enumerate((None, m.Channel.SMS, m.Channel.TELEGRAM)):
        address = f"applicant{i}@example.com"
        household = household_by_text(
            session, notify_settings, email_address=address, preferred=preferred,
            first_name=f"Sam{i}", phone=f"07700 90012{i}",
            consents=(m.ConsentScope.EMAIL, m.ConsentScope.SMS, m.ConsentScope.TELEGRAM),
        )  # fmt: skip
        book_first_free(session, notify_settings, household, telegram_chat_id=f"424{i}")
        message = confirmations(session)[-1]
        assert (message.channel, message.recipient) == (m.Channel.EMAIL, address)
    assert len(confirmations(session)) == 3


def test_without_email_the_chat_before_a_text_as_for_reminders_unless_they_prefer_texts(
    session, org, notify_settings
):
    both = (m.ConsentScope.SMS, m.ConsentScope.TELEGRAM)
    household = household_by_text(session, notify_settings, consents=both)
    book_first_free(session, notify_settings, household, telegram_chat_id="4242")
    [message] = confirmations(session)
    assert message.channel == m.Channel.TELEGRAM
    prefers = household_by_text(
        session, notify_settings, first_name="Ade", phone="07700 900111", consents=both,
        preferred=m.Channel.SMS,
    )  # fmt: skip
    book_first_free(session, notify_settings, prefers, telegram_chat_id="4343")
    [_, preferred] = confirmations(session)
    assert (preferred.channel, preferred.recipient) == (m.Channel.SMS, "+447700900111")


def test_a_number_that_said_stop_gets_no_confirmation(session, org, notify_settings):
    household = household_by_text(session, notify_settings)
    with transaction(session):
        outbox.record_stop(session, m.Channel.SMS, MOBILE, text="STOP", via="sms STOP")
    book_first_free(session, notify_settings, household)
    assert confirmations(session) == []


def test_cancelling_a_visit_confirmed_by_text_tells_them_by_text(session, org, notify_settings):
    household = household_by_text(session, notify_settings)
    visit = book_first_free(session, notify_settings, household)
    appointments.cancel_appointment(
        session, ACTOR, visit.id, reason="Officer unwell", settings=notify_settings
    )
    session.expire_all()
    [confirmation] = confirmations(session)
    assert confirmation.status == m.OutboxStatus.CANCELLED
    [notice] = session.exec(
        select(m.OutboxMessage).where(m.OutboxMessage.template == "visit_cancelled")
    ).all()
    assert (notice.channel, notice.recipient) == (m.Channel.SMS, MOBILE)
