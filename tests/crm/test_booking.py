"""Booking and moving a household's visit as one call (crm.services.booking): whoever is free,
the booking and its confirmation, in one transaction on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

import crm.models as m
from crm.services import appointments, booking
from crm.services.actors import Actor
from crm.services.appointments import InitialVisitAlreadyBooked, slots_for_area
from crm.services.errors import SlotTaken
from crm.testing.fixtures import new_household

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
