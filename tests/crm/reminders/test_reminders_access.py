"""The scans that give tasks to officers, supervisors and managers, and tell them by email, go
through the one visibility rule (crm.services.access): the person on record gets the work while
they may have it; once they have moved area it goes to the team, and nobody is told about a
family whose record they cannot open. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services import reminders
from crm.services.actors import Actor
from crm.services.pipeline import move_stage
from tests.crm.scheduler.helpers import make_carer, make_household, outbox, tasks

SYSTEM = Actor.system("test")


def at(*args) -> datetime:
    return clock.set_now(datetime(*args, tzinfo=UTC)) or clock.now()


def move_area(session, staff: m.StaffUser, old: m.Area, new: m.Area) -> None:
    session.delete(session.get(m.StaffArea, {"staff_id": staff.id, "area_id": old.id}))
    session.add(m.StaffArea(staff_id=staff.id, area_id=new.id))
    session.commit()


def test_enquiry_chasers_give_work_to_the_officer_while_they_may_have_it(
    session, org, sched_settings
):
    at(2026, 3, 10, 10, 0)
    kept = make_household(session, sched_settings)
    assert kept.assigned_officer_id == org.officer_north.id
    at(2026, 3, 12, 10, 0)
    reminders.run("enquiry_chasers", session, sched_settings, clock.now())
    alerts = outbox(session, template="enquiry_response_overdue_staff")
    assert [a.recipient for a in alerts] == [org.officer_north.email]
    [call_back] = tasks(session, household_id=kept.id, kind=m.TaskKind.RESPOND_TO_ENQUIRY)
    assert call_back.owner_id == org.officer_north.id

    # The officer moves to the other area: the next enquiry they still hold on record goes to
    # the team, and the alert to the area's manager, never to them.
    at(2026, 3, 13, 10, 0)
    moved = make_household(
        session, sched_settings, first_name="Lee", email_address="lee@example.com", phone=None
    )
    assert moved.assigned_officer_id == org.officer_north.id
    move_area(session, org.officer_north, org.north, org.south)
    at(2026, 3, 24, 10, 0)  # past the response target and the second attempt
    reminders.run("enquiry_chasers", session, sched_settings, clock.now())
    new_alerts = [
        a
        for a in outbox(session, template="enquiry_response_overdue_staff")
        if a.id > alerts[-1].id
    ]
    assert [a.recipient for a in new_alerts if a.household_id == moved.id] == [org.manager.email]
    assert org.officer_north.email not in {a.recipient for a in new_alerts}
    for task in tasks(session, household_id=moved.id):
        assert task.owner_id is None, task.title
    assert {t.kind for t in tasks(session, household_id=moved.id)} == {
        m.TaskKind.RESPOND_TO_ENQUIRY,
        m.TaskKind.SECOND_ATTEMPT,
    }


def test_stalled_case_task_for_the_officer_or_the_team(session, org, sched_settings):
    at(2026, 1, 5, 10, 0)
    first = make_household(session, sched_settings)
    second = make_household(
        session, sched_settings, first_name="Lee", email_address="lee@example.com", phone=None
    )
    for household in (first, second):
        move_stage(session, SYSTEM, household.id, m.Stage.APPLICATION)
    at(2026, 3, 10, 10, 0)
    summary = reminders.run("stalled_cases", session, sched_settings, clock.now())
    assert summary["tasks"] == 2
    owners = {t.household_id: t.owner_id for t in tasks(session, kind=m.TaskKind.STALLED_CASE)}
    assert owners == {first.id: org.officer_north.id, second.id: org.officer_north.id}

    move_area(session, org.officer_north, org.north, org.south)
    for household in (first, second):
        move_stage(session, SYSTEM, household.id, m.Stage.STAGE_ONE)
    at(2026, 5, 20, 10, 0)
    reminders.run("stalled_cases", session, sched_settings, clock.now())
    later = [t for t in tasks(session, kind=m.TaskKind.STALLED_CASE) if "stage one" in t.title]
    assert len(later) == 2 and {t.owner_id for t in later} == {None}


def test_carer_reminders_for_the_supervisor_or_whoever_may_open_the_carer(
    session, org, sched_settings
):
    approved = at(2025, 6, 2, 10, 0)
    carer = make_carer(
        session, sched_settings, supervisor_id=org.supervisor_north.id, approved_at=approved
    )
    at(2026, 4, 3, 8, 0)  # 60 days before the annual review
    assert (
        reminders.run("carer_reminders", session, sched_settings, clock.now())["annual_review"] == 1
    )
    [review] = tasks(session, kind=m.TaskKind.ANNUAL_REVIEW)
    assert review.owner_id == org.supervisor_north.id
    [alert] = outbox(session, template="annual_review_due_staff")
    assert alert.recipient == org.supervisor_north.email

    # The supervisor moves area (the carer is still theirs on record): the 30-day reminder is a
    # team task, and the area's manager hears about it. A supervising social worker of the
    # area who does not supervise this carer cannot open the record, so is not told.
    move_area(session, org.supervisor_north, org.north, org.south)
    colleague = m.StaffUser(
        email="colleague.north@test.example", name="Colleague.North",
        role=m.Role.SUPERVISING_SOCIAL_WORKER, password_hash="x",
    )  # fmt: skip
    session.add(colleague)
    session.flush()
    session.add(m.StaffArea(staff_id=colleague.id, area_id=org.north.id))
    session.commit()
    at(2026, 5, 3, 8, 0)
    assert (
        reminders.run("carer_reminders", session, sched_settings, clock.now())["annual_review"] == 1
    )
    reviews = tasks(session, kind=m.TaskKind.ANNUAL_REVIEW)
    assert [t.owner_id for t in reviews] == [org.supervisor_north.id, None]
    alerts = outbox(session, template="annual_review_due_staff")
    assert [a.recipient for a in alerts] == [org.supervisor_north.email, org.manager.email]
    assert carer.id == reviews[-1].carer_id


def test_panel_alert_in_an_area_without_a_manager_goes_to_the_admins(session, org, sched_settings):
    # The only manager works in Southshire now: a Northshire application past the deadline is
    # for the hub-wide admins, never for a manager who may not open it.
    session.delete(session.get(m.StaffArea, {"staff_id": org.manager.id, "area_id": org.north.id}))
    session.commit()
    at(2025, 6, 2, 10, 0)
    household = make_household(session, sched_settings)
    move_stage(session, SYSTEM, household.id, m.Stage.APPLICATION)
    at(2026, 3, 10, 10, 0)
    summary = reminders.run("panel_timescales", session, sched_settings, clock.now())
    assert summary["overdue"] == 1
    [task] = tasks(session, kind=m.TaskKind.PANEL_DEADLINE)
    assert task.owner_id == org.admin.id
    alerts = outbox(session, template="panel_timescale_alert")
    assert [a.recipient for a in alerts] == [org.admin.email]
    assert (
        session.exec(
            select(m.OutboxMessage).where(m.OutboxMessage.recipient == org.manager.email)
        ).all()
        == []
    )
