"""Every change of state closes what follows from it: withdrawing, not progressing, approving,
erasing, deregistering and pausing a household, and cancelling one visit. Each test sets up
what would be left live, makes the change through the one service, and checks what was
closed, who was told, what was left alone, and that the scheduler's scans do not write it
again afterwards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services import leaving, reminders
from crm.services.actors import Actor
from crm.services.appointments import (
    book_appointment,
    cancel_appointment,
    enqueue_visit_confirmation,
    slots_for_area,
)
from crm.services.data_protection import anonymise_household
from crm.services.errors import InvalidInput
from crm.services.households import timeline
from crm.services.outbox import enqueue_message
from crm.services.pipeline import move_stage
from crm.services.tasks import create_task
from tests.crm.scheduler.helpers import make_carer, make_household, outbox, tasks

THURSDAY = date(2026, 3, 12)


def at(*args) -> datetime:
    clock.set_now(datetime(*args, tzinfo=UTC))
    return clock.now()


def slot_on(session, settings, household, staff, day=THURSDAY):
    return next(
        s
        for s in slots_for_area(session, settings, household.area_id)
        if s.staff_id == staff.id and s.starts_at.astimezone(settings.tz).date() == day
    )


def book_initial_visit(session, settings, household, staff) -> m.Appointment:
    """Booked by the person on the web form, with its confirmation waiting to go."""
    slot = slot_on(session, settings, household, staff)
    visit = book_appointment(
        session,
        Actor.system("public web form"),
        settings,
        staff_id=staff.id,
        kind="initial_visit",
        starts_at=slot.starts_at,
        household_id=household.id,
    )
    enqueue_visit_confirmation(session, visit, booked_via="web_form")
    session.commit()
    return visit


def task_for(session, household, kind, title="Something to do") -> m.Task:
    return create_task(
        session,
        Actor.system("test"),
        kind=kind,
        title=title,
        household_id=household.id,
        due_at=clock.now() + timedelta(days=2),
    )


def reload(session, obj):
    session.expire_all()
    return session.get(type(obj), obj.id)


@pytest.mark.parametrize(
    ("stage", "code", "words"),
    [
        ("withdrawn", "timing", "The household withdrew: Not the right time"),
        ("not_progressed", "capacity", "Not progressed: Service capacity"),
    ],
)
def test_leaving_the_funnel_cancels_visits_closes_tasks_and_stops_messages(
    session, org, settings, stage, code, words
):
    household = make_household(session, settings)
    visit = book_initial_visit(session, settings, household, org.officer_north)
    earlier = m.Appointment(
        kind="information_session",
        staff_id=org.officer_north.id,
        household_id=household.id,
        starts_at=clock.now() - timedelta(days=1),
        ends_at=clock.now() - timedelta(days=1) + timedelta(hours=1),
        booked_by_label="test",
    )
    session.add(earlier)
    session.commit()
    [call_back] = tasks(session, household_id=household.id)
    general = task_for(session, household, m.TaskKind.GENERAL)
    concern = task_for(session, household, m.TaskKind.SAFEGUARDING, "Safeguarding concern")
    [confirmation] = outbox(session, template="visit_confirmation")
    clock.advance(timedelta(hours=1))

    move_stage(
        session, Actor.for_staff(session, org.manager), household.id, stage, reason_code=code
    )

    visit = reload(session, visit)
    assert visit.status == m.AppointmentStatus.CANCELLED
    assert visit.cancel_reason == words and visit.cancelled_at == clock.now()
    # A visit in the past is history, not a diary entry: it stays as it was.
    assert reload(session, earlier).status == m.AppointmentStatus.BOOKED
    assert reload(session, confirmation).status == m.OutboxStatus.CANCELLED
    # The person is told (they agreed to email), in words that are not staff's.
    [told] = outbox(session, template="visit_cancelled")
    assert told.recipient == "sam.patel@example.com" and told.household_id == household.id
    assert told.payload["why"] == stage
    assert told.payload["starts_at"] == visit.starts_at.isoformat()
    assert words not in str(told.payload)
    # So is the officer whose diary it was (the manager made the change).
    [staff] = outbox(session, template="visit_cancelled_staff")
    assert (staff.recipient, staff.staff_id) == (org.officer_north.email, org.officer_north.id)
    assert staff.payload["reason"] == words and staff.payload["person_told"] == "email"
    for task in (call_back, general):
        task = reload(session, task)
        assert task.done_at == clock.now() and task.closed_reason == words
        assert task.done_by_id == org.manager.id
    assert reload(session, concern).done_at is None  # a concern about a child stays open
    [closing] = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.detail["closed_after"].as_string() == stage)
    ).all()
    assert closing.detail["visits_cancelled"] == 1 and closing.detail["tasks_closed"] == 2

    # The scheduler does not bring any of it back.
    at(2026, 3, 11, 10, 30)  # when the day-before reminder would go
    assert reminders.run("visit_reminders", session, settings, clock.now()) == {
        "household": 0,
        "staff": 0,
    }
    assert reminders.run("enquiry_chasers", session, settings, clock.now())["overdue"] == 0
    at(2026, 6, 1, 10, 0)
    assert reminders.run("stalled_cases", session, settings, clock.now()) == {
        "tasks": 0,
        "nudges": 0,
    }
    assert [t.id for t in tasks(session, household_id=household.id, done_at=None)] == [concern.id]


def test_a_person_who_agreed_to_no_contact_is_not_messaged_and_staff_are_asked_to_tell_them(
    session, org, settings
):
    household = make_household(session, settings, consents=())
    visit = book_initial_visit(session, settings, household, org.officer_north)
    move_stage(
        session,
        Actor.for_staff(session, org.manager),
        household.id,
        "withdrawn",
        reason_code="changed_mind",
    )
    assert reload(session, visit).status == m.AppointmentStatus.CANCELLED
    assert outbox(session, template="visit_cancelled") == []
    [staff] = outbox(session, template="visit_cancelled_staff")
    assert staff.payload["person_told"] == ""


def test_the_member_of_staff_who_makes_the_change_is_not_emailed_about_their_own_diary(
    session, org, settings
):
    household = make_household(session, settings)
    book_initial_visit(session, settings, household, org.officer_north)
    officer = Actor.for_staff(session, org.officer_north)
    move_stage(session, officer, household.id, "withdrawn", reason_code="timing")
    assert outbox(session, template="visit_cancelled_staff") == []
    assert len(outbox(session, template="visit_cancelled")) == 1


def test_a_refused_move_closes_nothing(session, org, settings):
    household = make_household(session, settings)
    visit = book_initial_visit(session, settings, household, org.officer_north)
    manager = Actor.for_staff(session, org.manager)
    with pytest.raises(InvalidInput):
        move_stage(session, manager, household.id, "withdrawn", reason_code="health")
    assert reload(session, visit).status == m.AppointmentStatus.BOOKED
    assert all(t.done_at is None for t in tasks(session, household_id=household.id))
    assert [msg.status for msg in outbox(session)] == [m.OutboxStatus.PENDING]


def test_approval_cancels_assessment_visits_and_recruitment_tasks_only(session, org, settings):
    household = make_household(session, settings)
    system = Actor.system("test")
    move_stage(session, system, household.id, "panel")
    clock.advance(timedelta(hours=1))
    slot = slot_on(session, settings, household, org.assessor_north)
    session_visit = book_appointment(
        session,
        system,
        settings,
        staff_id=org.assessor_north.id,
        kind="assessment_session",
        starts_at=slot.starts_at,
        household_id=household.id,
    )
    stalled = task_for(session, household, m.TaskKind.STALLED_CASE, "Stalled at panel")
    panel = task_for(session, household, m.TaskKind.PANEL_DEADLINE, "Approaching 8 months")
    letter = task_for(session, household, m.TaskKind.GENERAL, "Send the approval letter")
    nudge = enqueue_message(
        session,
        channel=m.Channel.EMAIL,
        recipient="sam.patel@example.com",
        template="stalled_case_nudge",
        payload={},
        due_at=clock.now() + timedelta(hours=12),
        unique_key="stalled:test",
        household_id=household.id,
    )
    session.commit()

    move_stage(session, Actor.system("test"), household.id, "approved")

    assert reload(session, session_visit).status == m.AppointmentStatus.CANCELLED
    assert reload(session, session_visit).cancel_reason == "The household was approved"
    [told] = outbox(session, template="visit_cancelled")
    assert told.payload["why"] == "approved"
    assert [s.recipient for s in outbox(session, template="visit_cancelled_staff")] == [
        org.assessor_north.email
    ]
    for task in (stalled, panel):
        assert reload(session, task).closed_reason == "The household was approved"
    assert reload(session, letter).done_at is None  # still worth doing
    assert reload(session, nudge).status == m.OutboxStatus.CANCELLED
    at(2026, 6, 1, 10, 0)
    assert reminders.run("stalled_cases", session, settings, clock.now())["tasks"] == 0
    assert reminders.run("panel_timescales", session, settings, clock.now())["warnings"] == 0


def test_deregistration_cancels_supervision_and_reviews_and_stops_carer_reminders(
    session, engine, org, settings
):
    at(2025, 6, 2, 12, 0)
    carer = make_carer(session, settings, supervisor_id=org.supervisor_north.id)
    at(2026, 3, 2, 10, 0)
    reminders.run("retention_check_ins", session, settings, clock.now())
    [check_in_message] = outbox(session, template="check_in")
    supervisor = Actor.for_staff(session, org.supervisor_north)
    visits = [
        book_appointment(
            session,
            supervisor,
            settings,
            staff_id=org.supervisor_north.id,
            kind=kind,
            starts_at=datetime(2026, 3, day, 10, 0, tzinfo=UTC),
            carer_id=carer.id,
            check_availability=False,
        )
        for kind, day in (("supervision_visit", 5), ("annual_review", 20))
    ]
    review = create_task(
        session,
        supervisor,
        kind=m.TaskKind.ANNUAL_REVIEW,
        title="Annual review due",
        carer_id=carer.id,
        due_at=clock.now() + timedelta(days=5),
    )

    # Written notice given 28 days or more ago: the approval ends as it is recorded.
    leaving.give_notice(
        session,
        Actor.for_staff(session, org.manager),
        carer.id,
        notice_given_on=date(2026, 2, 1),
        reason_code="retirement",
    )

    for visit in visits:
        visit = reload(session, visit)
        assert visit.status == m.AppointmentStatus.CANCELLED
        assert visit.cancel_reason == "The carer deregistered: Retirement"
    told = outbox(session, template="visit_cancelled")
    assert len(told) == 2 and {t.payload["why"] for t in told} == {"deregistered"}
    assert all(t.carer_id == carer.id for t in told)
    assert len(outbox(session, template="visit_cancelled_staff")) == 2
    assert reload(session, review).closed_reason == "The carer deregistered: Retirement"
    assert reload(session, check_in_message).status == m.OutboxStatus.CANCELLED

    # No more check-ins, review, TSD or supervision reminders, no visit reminders.
    for moment in ((2026, 3, 4, 10, 30), (2026, 5, 1, 10, 0), (2027, 1, 10, 10, 0)):
        now = at(*moment)
        assert reminders.run("visit_reminders", session, settings, now) == {
            "household": 0,
            "staff": 0,
        }
        assert reminders.run("retention_check_ins", session, settings, now)["periodic"] == 0
        assert set(reminders.run("carer_reminders", session, settings, now).values()) == {0}
    assert tasks(session, carer_id=carer.id, done_at=None) == []


def test_on_hold_pauses_the_stalled_case_chasing_but_keeps_visits(session, org, settings):
    household = make_household(session, settings)
    system = Actor.system("test")
    move_stage(session, system, household.id, "application")
    visit = book_initial_visit(session, settings, household, org.officer_north)
    at(2026, 3, 30, 10, 0)  # more than the application stage's 14 days later
    assert reminders.run("stalled_cases", session, settings, clock.now()) == {
        "tasks": 1,
        "nudges": 1,
    }
    [stalled] = tasks(session, kind=m.TaskKind.STALLED_CASE)
    [nudge] = outbox(session, template="stalled_case_nudge")
    general = task_for(session, household, m.TaskKind.GENERAL)

    move_stage(
        session,
        Actor.for_staff(session, org.officer_north),
        household.id,
        "on_hold",
        reason_code="work",
    )

    assert reload(session, stalled).closed_reason == "Put on hold: Work commitments"
    assert reload(session, nudge).status == m.OutboxStatus.CANCELLED
    assert reload(session, general).done_at is None
    assert reload(session, visit).status == m.AppointmentStatus.BOOKED
    # The pause has its own target (90 days); only after it does the household hear from us.
    at(2026, 5, 30, 10, 0)
    assert reminders.run("stalled_cases", session, settings, clock.now()) == {
        "tasks": 0,
        "nudges": 0,
    }
    at(2026, 7, 1, 10, 0)
    assert reminders.run("stalled_cases", session, settings, clock.now()) == {
        "tasks": 1,
        "nudges": 1,
    }


def test_moving_on_from_enquiry_closes_the_call_back_task(session, org, settings):
    household = make_household(session, settings)
    [call_back] = tasks(session, household_id=household.id)
    assert call_back.kind == m.TaskKind.RESPOND_TO_ENQUIRY
    move_stage(session, Actor.for_staff(session, org.officer_north), household.id, "initial_visit")
    assert reload(session, call_back).closed_reason == "Moved to initial visit"


def test_erasure_cancels_visits_and_tells_staff_without_naming_anyone(session, org, settings):
    household = make_household(session, settings)
    visit = book_initial_visit(session, settings, household, org.officer_north)
    general = task_for(session, household, m.TaskKind.GENERAL)

    anonymise_household(
        session, Actor.for_staff(session, org.manager), household.id, reason="Asked to be erased"
    )

    visit = reload(session, visit)
    assert visit.status == m.AppointmentStatus.CANCELLED
    assert visit.cancel_reason == "The household's details were erased"
    assert reload(session, general).closed_reason == "The household's details were erased"
    # Nobody left to tell, and nothing that names them in the notice to the officer.
    assert outbox(session, template="visit_cancelled") == []
    [staff] = outbox(session, template="visit_cancelled_staff")
    assert staff.status == m.OutboxStatus.PENDING
    assert staff.recipient == org.officer_north.email
    text = str(staff.payload) + staff.unique_key
    for personal in ("Sam", "Patel", "sam.patel@example.com", "07700"):
        assert personal not in text


def test_cancelling_one_visit_stops_its_reminders_and_tells_both_sides(session, org, settings):
    household = make_household(session, settings)
    visit = book_initial_visit(session, settings, household, org.officer_north)
    at(2026, 3, 11, 10, 30)
    assert reminders.run("visit_reminders", session, settings, clock.now()) == {
        "household": 1,
        "staff": 1,
    }
    waiting = outbox(session, status=m.OutboxStatus.PENDING)
    assert {msg.template for msg in waiting} == {
        "visit_confirmation",
        "visit_reminder",
        "visit_reminder_staff",
    }

    cancel_appointment(
        session, Actor.for_staff(session, org.manager), visit.id, reason="Officer off sick"
    )

    assert all(reload(session, msg).status == m.OutboxStatus.CANCELLED for msg in waiting)
    [told] = outbox(session, template="visit_cancelled")
    assert told.payload["why"] == "cancelled" and "sick" not in str(told.payload)
    [staff] = outbox(session, template="visit_cancelled_staff")
    assert staff.payload["reason"] == "Officer off sick"
    # The scan does not write the reminders again.
    assert reminders.run("visit_reminders", session, settings, clock.now()) == {
        "household": 0,
        "staff": 0,
    }


def test_the_timeline_shows_a_closed_task_as_closed_with_its_reason(session, org, settings):
    household = make_household(session, settings)
    task_for(session, household, m.TaskKind.GENERAL, "Send the information pack")
    move_stage(
        session,
        Actor.for_staff(session, org.manager),
        household.id,
        "withdrawn",
        reason_code="space",
    )
    entry = next(
        e for e in timeline(session, household) if e.title == "Task: Send the information pack"
    )
    assert entry.badge == "Task closed"
    assert ("Closed, not done", "The household withdrew: No spare bedroom or space") in entry.lines
