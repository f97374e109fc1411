"""The reminder added through the spec mechanism as its proof: an enquiry with no initial visit
offered `offer_initial_visit_within_working_days` (5) working days after it was made gives the
recruitment officer (or the area's team) a task and an email, once. On SQLite and PostgreSQL."""

from datetime import UTC, datetime

import crm.models as m
from crm import clock
from crm.messaging import catalogue
from crm.scheduler.jobs import job
from crm.services import reminders
from crm.services.actors import Actor
from crm.services.appointments import book_appointment, cancel_appointment
from crm.services.booking import book_initial_visit
from crm.services.pipeline import move_stage
from crm.services.tasks import close_task
from tests.crm.scheduler.helpers import make_household, outbox, tasks

SYSTEM = Actor.system("test")
TEMPLATE = "initial_visit_not_offered_staff"


def at(*args) -> datetime:
    return clock.set_now(datetime(*args, tzinfo=UTC)) or clock.now()


def run(session, settings) -> dict:
    return reminders.run("initial_visit_offers", session, settings, clock.now())


def book(session, settings, household, staff, starts_at) -> m.Appointment:
    return book_appointment(
        session,
        SYSTEM,
        settings,
        staff_id=staff.id,
        kind=m.AppointmentKind.INITIAL_VISIT,
        starts_at=starts_at,
        household_id=household.id,
        location="At home",
    )


def offer_tasks(session, household) -> list[m.Task]:
    return tasks(session, household_id=household.id, unique_key=f"visit_offer:{household.id}")


def test_five_working_days_without_a_visit_offered_tell_the_officer_once(
    session, org, sched_settings
):
    assert sched_settings.response.offer_initial_visit_within_working_days == 5
    at(2026, 3, 10, 10, 0)  # Tuesday 10:00 (GMT)
    household = make_household(session, sched_settings)
    assert household.assigned_officer_id == org.officer_north.id

    at(2026, 3, 17, 9, 59)  # the next Tuesday, a minute short of five working days
    assert run(session, sched_settings) == {"tasks": 0, "alerts": 0}
    at(2026, 3, 17, 10, 0)
    assert run(session, sched_settings) == {"tasks": 1, "alerts": 1}
    assert run(session, sched_settings) == {"tasks": 0, "alerts": 0}

    [task] = offer_tasks(session, household)
    assert task.kind == m.TaskKind.OFFER_VISIT
    assert task.owner_id == org.officer_north.id
    assert task.title == "Offer an initial visit"
    assert "5 working days" in task.detail
    [alert] = outbox(session, template=TEMPLATE)
    assert alert.recipient == org.officer_north.email
    assert (alert.staff_id, alert.household_id) == (org.officer_north.id, household.id)
    assert alert.payload["working_days"] == 5
    assert alert.payload["household_reference"] == household.reference
    assert alert.unique_key == f"visit_offer:{household.id}:staff:{org.officer_north.id}"

    # Once: not again later, nor after the task is done with still no visit booked.
    close_task(session, org.actor(session, org.officer_north), task.id, outcome="Left a message")
    at(2026, 3, 24, 10, 0)
    assert run(session, sched_settings) == {"tasks": 0, "alerts": 0}
    assert len(outbox(session, template=TEMPLATE)) == 1


def test_a_booked_visit_counts_as_offered_and_a_cancelled_one_does_not(
    session, org, sched_settings
):
    at(2026, 3, 10, 10, 0)
    booked = make_household(session, sched_settings)
    cancelled = make_household(
        session, sched_settings, first_name="Lee", email_address="lee@example.com", phone=None
    )
    # Booked for after the five days: the visit has still been offered in time.
    book(
        session, sched_settings, booked, org.officer_north, datetime(2026, 3, 19, 9, 30, tzinfo=UTC)
    )
    visit = book(
        session,
        sched_settings,
        cancelled,
        org.officer_north,
        datetime(2026, 3, 20, 9, 30, tzinfo=UTC),
    )
    cancel_appointment(session, SYSTEM, visit.id, reason="They could not make it")

    at(2026, 3, 17, 10, 0)
    assert run(session, sched_settings) == {"tasks": 1, "alerts": 1}
    assert offer_tasks(session, booked) == []
    assert len(offer_tasks(session, cancelled)) == 1
    [alert] = outbox(session, template=TEMPLATE)
    assert alert.household_id == cancelled.id


def test_closed_paused_and_moved_on_households_are_left_alone(session, org, sched_settings):
    at(2026, 3, 10, 10, 0)
    withdrawn = make_household(session, sched_settings)
    paused = make_household(
        session, sched_settings, first_name="Ali", email_address="ali@example.com", phone=None
    )
    visited = make_household(
        session, sched_settings, first_name="Jo", email_address="jo@example.com", phone=None
    )
    move_stage(session, SYSTEM, withdrawn.id, m.Stage.WITHDRAWN, reason_code="timing")
    move_stage(session, SYSTEM, paused.id, m.Stage.ON_HOLD)
    move_stage(session, SYSTEM, visited.id, m.Stage.INITIAL_VISIT)
    assert len({withdrawn.id, paused.id, visited.id}) == 3

    at(2026, 3, 18, 10, 0)
    assert run(session, sched_settings) == {"tasks": 0, "alerts": 0}
    assert outbox(session, template=TEMPLATE) == []


def test_booking_the_initial_visit_closes_the_task_to_offer_one(session, org, sched_settings):
    at(2026, 3, 10, 10, 0)
    household = make_household(session, sched_settings)
    at(2026, 3, 17, 10, 0)
    assert run(session, sched_settings)["tasks"] == 1
    [task] = offer_tasks(session, household)
    assert task.done_at is None

    visit = book_initial_visit(
        session,
        SYSTEM,
        sched_settings,
        household.id,
        datetime(2026, 3, 19, 9, 30, tzinfo=UTC),
        booked_via="staff",
        staff_ids=[org.officer_north.id],
        location="At home",
    )
    assert visit.status == m.AppointmentStatus.BOOKED
    session.refresh(task)
    assert task.done_at is not None
    assert task.closed_reason == "Initial visit booked"


def test_leaving_the_enquiry_stage_closes_the_task_to_offer_a_visit(session, org, sched_settings):
    at(2026, 3, 10, 10, 0)
    household = make_household(session, sched_settings)
    at(2026, 3, 17, 10, 0)
    assert run(session, sched_settings)["tasks"] == 1
    move_stage(session, SYSTEM, household.id, m.Stage.INITIAL_VISIT)
    [task] = offer_tasks(session, household)
    assert task.done_at is not None


def test_with_no_officer_the_task_goes_to_the_team_and_the_area_s_officers_are_told(
    session, org, sched_settings
):
    at(2026, 3, 10, 10, 0)
    household = make_household(session, sched_settings)
    household.assigned_officer_id = None
    session.add(household)
    session.commit()
    at(2026, 3, 17, 10, 0)
    assert run(session, sched_settings) == {"tasks": 1, "alerts": 1}
    [task] = offer_tasks(session, household)
    assert task.owner_id is None and task.area_id == org.north.id
    assert [a.recipient for a in outbox(session, template=TEMPLATE)] == [org.officer_north.email]


def test_working_days_skip_the_easter_bank_holidays(session, org, sched_settings):
    at(2026, 4, 1, 9, 0)  # Wednesday 1 April, 10:00 BST; Good Friday and Easter Monday follow
    make_household(session, sched_settings, consents=())
    at(2026, 4, 9, 16, 0)  # Thursday 17:00 BST: four working days
    assert run(session, sched_settings)["tasks"] == 0
    at(2026, 4, 10, 8, 59)
    assert run(session, sched_settings)["tasks"] == 0
    at(2026, 4, 10, 9, 0)  # Friday 10 April, 10:00 BST
    assert run(session, sched_settings)["tasks"] == 1


def test_it_is_a_scheduled_job_with_a_staff_template():
    declared = job("initial_visit_offers")
    assert declared.trigger["day_of_week"] == "mon-fri"
    # A staff message: no consent check and no quiet hours (crm.messaging.catalogue).
    assert TEMPLATE in catalogue.staff_templates()
    assert TEMPLATE in catalogue.sent_in_quiet_hours()
