from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlmodel import Session, func, select

import crm.models as m
from crm import clock
from crm.services import appointments
from crm.services.actors import Actor
from crm.services.appointments import (
    InitialVisitAlreadyBooked,
    book_appointment,
    cancel_appointment,
    free_slots,
    move_appointment,
    slots_for_area,
)
from crm.services.errors import InvalidInput, NotAllowed, SlotTaken
from crm.testing.fixtures import new_household

LONDON_SLOT_TIMES = [time(9, 30), time(11, 0), time(12, 30), time(14, 0)]


@pytest.fixture
def household(session, org, settings) -> m.Household:
    return new_household(session, settings, email=None, phone="07700 900123", postcode="LE3 9QQ")


def book(session, actor, settings, slot, household) -> m.Appointment:
    return book_appointment(
        session,
        actor,
        settings,
        staff_id=slot.staff_id,
        kind="initial_visit",
        starts_at=slot.starts_at,
        household_id=household.id,
    )


def live_bookings(session) -> int:
    return session.exec(
        select(func.count())
        .select_from(m.Appointment)
        .where(m.Appointment.status == m.AppointmentStatus.BOOKED)
    ).one()


def test_free_slots_follow_the_weekly_pattern_in_london_time(session, org, settings):
    slots = free_slots(
        session, settings, [org.officer_north.id], date(2026, 3, 11), date(2026, 3, 11)
    )
    assert [s.starts_at.astimezone(settings.tz).time() for s in slots] == LONDON_SLOT_TIMES
    assert all(s.ends_at - s.starts_at == timedelta(minutes=90) for s in slots)


def test_summer_time_slots_are_still_at_local_times(session, org, settings):
    clock.set_now(datetime(2026, 3, 27, 9, 0, tzinfo=UTC))
    # Monday 30 March 2026 is the first weekday of British Summer Time.
    slots = free_slots(
        session, settings, [org.officer_north.id], date(2026, 3, 30), date(2026, 3, 30)
    )
    assert slots[0].starts_at == datetime(2026, 3, 30, 8, 30, tzinfo=UTC)


def test_no_slots_on_bank_holidays_weekends_leave_or_in_the_past(session, org, settings):
    staff = [org.officer_north.id]
    # Good Friday 3 April 2026 and the weekend after.
    clock.set_now(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    assert free_slots(session, settings, staff, date(2026, 4, 3), date(2026, 4, 6)) == []
    session.add(m.AvailabilityException(staff_id=org.officer_north.id, on_date=date(2026, 4, 7)))
    session.add(
        m.AvailabilityException(
            staff_id=org.officer_north.id,
            on_date=date(2026, 4, 8),
            start_time=time(9, 0),
            end_time=time(12, 0),
        )
    )
    session.commit()
    assert free_slots(session, settings, staff, date(2026, 4, 7), date(2026, 4, 7)) == []
    # A morning away removes the whole 09:30-15:30 window that overlaps it.
    assert free_slots(session, settings, staff, date(2026, 4, 8), date(2026, 4, 8)) == []
    # Today (Tue 10 Mar at 10:00 UTC) only later slots are left.
    clock.set_now(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    today = free_slots(session, settings, staff, date(2026, 3, 10), date(2026, 3, 10))
    assert [s.starts_at.time() for s in today] == [time(11, 0), time(12, 30), time(14, 0)]


def test_slots_for_area_offers_only_that_areas_visiting_staff(session, org, settings):
    slots = slots_for_area(session, settings, org.north.id)
    assert {s.staff_id for s in slots} == {org.officer_north.id, org.assessor_north.id}
    assert slots == sorted(slots)
    last = max(s.starts_at for s in slots).astimezone(settings.tz).date()
    assert last == date(2026, 3, 24)  # ten working days after Tue 10 March


def test_book_a_free_slot_then_it_is_no_longer_offered(
    session, org, settings, household, system_actor
):
    slot = slots_for_area(session, settings, household.area_id)[0]
    appointment = book(session, system_actor, settings, slot, household)
    assert appointment.ends_at == slot.ends_at
    assert appointment.status == m.AppointmentStatus.BOOKED
    assert slot not in slots_for_area(session, settings, household.area_id)
    other = new_household(session, settings, email=None, phone="07700 900456", postcode="LE3 1AB")
    with pytest.raises(SlotTaken):
        book(session, system_actor, settings, slot, other)
    assert live_bookings(session) == 1


def test_a_time_outside_availability_is_refused(session, org, settings, household, system_actor):
    with pytest.raises(SlotTaken, match="not free"):
        book_appointment(
            session,
            system_actor,
            settings,
            staff_id=org.officer_north.id,
            kind="initial_visit",
            starts_at=datetime(2026, 3, 11, 19, 0, tzinfo=UTC),
            household_id=household.id,
        )
    assert live_bookings(session) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "picnic"}, "kind"),
        ({"starts_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC)}, "starts_at"),
        ({"starts_at": datetime(2026, 3, 11, 9, 30)}, "starts_at"),  # noqa: DTZ001
        ({"household_id": None}, "household_id"),
    ],
)
def test_bad_bookings_change_nothing(
    session, org, settings, household, system_actor, changes, field
):
    values = dict(
        staff_id=org.officer_north.id,
        kind="initial_visit",
        starts_at=datetime(2026, 3, 11, 9, 30, tzinfo=UTC),
        household_id=household.id,
    )
    values.update(changes)
    with pytest.raises(InvalidInput) as caught:
        book_appointment(session, system_actor, settings, **values)
    assert field in caught.value.errors
    assert live_bookings(session) == 0


def test_the_database_refuses_a_double_booking_even_past_the_service(session, org, household):
    starts = datetime(2026, 3, 11, 9, 30, tzinfo=UTC)
    for _ in range(2):
        session.add(
            m.Appointment(
                kind="initial_visit",
                staff_id=org.officer_north.id,
                household_id=household.id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=90),
                booked_by_label="t",
            )
        )
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        session.commit()
    session.rollback()
    assert live_bookings(session) == 0


def test_two_people_choosing_one_slot_at_once_one_gets_it(
    engine, session, org, settings, household, system_actor
):
    slot = slots_for_area(session, settings, household.area_id)[0]
    other = new_household(session, settings, email=None, phone="07700 900456", postcode="LE3 1AB")
    results = []
    with Session(engine) as first, Session(engine) as second:
        # Both have checked the slot is free before either writes.
        for s in (first, second):
            assert slot in slots_for_area(s, settings, household.area_id)
        for s, family in ((first, household), (second, other)):
            try:
                book(s, system_actor, settings, slot, family)
                results.append("booked")
            except SlotTaken:
                results.append("taken")
    assert sorted(results) == ["booked", "taken"]
    assert live_bookings(session) == 1


def test_move_keeps_the_old_booking_and_frees_its_slot(
    session, org, settings, household, system_actor
):
    first, second = slots_for_area(session, settings, household.area_id)[:2]
    old = book(session, system_actor, settings, first, household)
    new = move_appointment(
        session,
        system_actor,
        settings,
        old.id,
        starts_at=second.starts_at,
        staff_id=second.staff_id,
    )
    session.refresh(old)
    assert old.status == m.AppointmentStatus.MOVED
    assert old.moved_to_id == new.id
    assert new.starts_at == second.starts_at
    assert first in slots_for_area(session, settings, household.area_id)
    with pytest.raises(InvalidInput, match="moved"):
        cancel_appointment(session, system_actor, old.id, reason="x")


def test_cancel_needs_a_reason_and_frees_the_slot(session, org, settings, household, system_actor):
    slot = slots_for_area(session, settings, household.area_id)[0]
    booked = book(session, system_actor, settings, slot, household)
    with pytest.raises(InvalidInput):
        cancel_appointment(session, system_actor, booked.id, reason="  ")
    cancelled = cancel_appointment(session, system_actor, booked.id, reason="Family illness")
    assert cancelled.status == m.AppointmentStatus.CANCELLED
    assert cancelled.cancelled_at == clock.now()
    assert slot in slots_for_area(session, settings, household.area_id)


def test_staff_from_another_area_cannot_book_for_this_household(session, org, settings, household):
    south = Actor.for_staff(session, org.officer_south)
    with pytest.raises(NotAllowed):
        book_appointment(
            session,
            south,
            settings,
            staff_id=org.officer_north.id,
            kind="initial_visit",
            starts_at=datetime(2026, 3, 11, 9, 30, tzinfo=UTC),
            household_id=household.id,
        )


# -- one live initial visit per household ------------------------------------------------------


def test_a_second_initial_visit_is_refused_with_when_the_first_is(
    session, org, settings, household, system_actor
):
    first, second = slots_for_area(session, settings, household.area_id)[:2]
    booked = book(session, system_actor, settings, first, household)
    # The booking link's holder is told when (their page shows it anyway).
    link = Actor.system(appointments.BOOKING_LINK_ACTOR_LABEL)
    with pytest.raises(InitialVisitAlreadyBooked) as caught:
        book(session, link, settings, second, household)
    assert caught.value.existing.id == booked.id
    assert str(caught.value) == (
        "You already have an initial visit booked for Tuesday 10 March at 11am. To move it, "
        "reply to the email confirming it, or tell us when we call you."
    )
    # In the chat, whoever is typing may not be the household: no time of a home visit.
    with pytest.raises(InitialVisitAlreadyBooked) as caught:
        book(session, Actor.system("assistant:telegram"), settings, second, household)
    assert str(caught.value).startswith("You already have an initial visit booked. To move it")
    # Staff are told in their words; other kinds of visit are not limited.
    officer = Actor.for_staff(session, org.officer_north)
    with pytest.raises(InitialVisitAlreadyBooked, match="This household already has"):
        book(session, officer, settings, second, household)
    book_appointment(
        session,
        system_actor,
        settings,
        staff_id=second.staff_id,
        kind="information_session",
        starts_at=second.starts_at,
        household_id=household.id,
        check_availability=False,
    )
    assert live_bookings(session) == 2
    # Moving the visit is still possible, and so is booking again once it is cancelled.
    moved = move_appointment(
        session, system_actor, settings, booked.id, starts_at=first.starts_at + timedelta(days=1)
    )
    cancel_appointment(session, system_actor, moved.id, reason="Family illness")
    book(session, system_actor, settings, first, household)


def test_the_database_refuses_two_live_initial_visits_for_one_household(session, org, household):
    for hours in (24, 48):
        starts = clock.now() + timedelta(hours=hours)
        session.add(
            m.Appointment(
                kind="initial_visit",
                staff_id=org.officer_north.id,
                household_id=household.id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=90),
                booked_by_label="t",
            )
        )
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        session.commit()
    session.rollback()
    assert live_bookings(session) == 0


def test_a_past_initial_visit_still_booked_counts_as_held_and_does_not_block_another(
    session, org, settings, household, system_actor
):
    slot = slots_for_area(session, settings, household.area_id)[0]
    earlier = book(session, system_actor, settings, slot, household)
    clock.advance(timedelta(days=2))
    later = book(
        session, system_actor, settings, slots_for_area(session, settings, None)[0], household
    )
    session.refresh(earlier)
    assert earlier.status == m.AppointmentStatus.COMPLETED
    assert later.status == m.AppointmentStatus.BOOKED


def test_one_household_booking_two_slots_at_once_gets_one(
    engine, session, org, settings, household, system_actor
):
    first, second = slots_for_area(session, settings, household.area_id)[:2]
    assert first.staff_id != second.staff_id or first.starts_at != second.starts_at
    results = []
    with Session(engine) as one, Session(engine) as other:
        # Both have checked there is no visit yet before either writes.
        for s in (one, other):
            assert appointments.next_initial_visit(s, household.id) is None
        for s, slot in ((one, first), (other, second)):
            try:
                book(s, system_actor, settings, slot, household)
                results.append("booked")
            except InitialVisitAlreadyBooked as exc:
                results.append(exc.existing.starts_at)
    assert results == ["booked", first.starts_at]
    assert live_bookings(session) == 1
