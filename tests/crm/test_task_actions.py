"""Acting on a task (crm.services.tasks): closing it with an outcome and passing it on, for
the owner and for a manager or admin in its area; everyone else is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services import tasks
from crm.services.actors import Actor
from crm.services.carers import assign_supervisor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.pipeline import move_stage
from crm.testing.fixtures import new_household

SYSTEM = Actor.system("test")


def _household_task(session, settings, org, owner):
    household = new_household(session, settings)
    return tasks.create_task(
        session, SYSTEM, kind=m.TaskKind.GENERAL, title="Send the information pack",
        due_at=clock.now() + timedelta(days=1), household_id=household.id, owner_id=owner.id,
    )  # fmt: skip


def _carer_task(session, settings, org):
    household = new_household(session, settings, email="cara@example.com")
    move_stage(session, SYSTEM, household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    assign_supervisor(session, SYSTEM, carer.id, org.supervisor_north.id)
    task = tasks.create_task(
        session, SYSTEM, kind=m.TaskKind.CHECK_IN_FOLLOW_UP,
        title="Call the carer: they asked for a call", priority=m.TaskPriority.URGENT,
        due_at=clock.now() + timedelta(hours=4), carer_id=carer.id,
        owner_id=org.supervisor_north.id,
    )  # fmt: skip
    return carer, task


def _audits(session, task_id):
    return session.exec(
        select(m.AuditEvent).where(m.AuditEvent.entity == "task", m.AuditEvent.entity_id == task_id)
    ).all()


@pytest.mark.parametrize("who", ["officer_north", "manager", "admin"])
def test_the_owner_a_manager_and_an_admin_may_close_with_an_outcome(session, settings, org, who):
    task = _household_task(session, settings, org, org.officer_north)
    actor = Actor.for_staff(session, getattr(org, who))
    done = tasks.close_task(session, actor, task.id, outcome="  Pack sent by email  ")
    assert done.done_at is not None and done.done_by_id == actor.user_id
    assert done.outcome == "Pack sent by email"
    closing = [e for e in _audits(session, task.id) if e.detail.get("done")]
    assert len(closing) == 1 and closing[0].actor_id == actor.user_id
    # Field names in the audit trail, never the words typed.
    assert "Pack sent" not in str(closing[0].detail)


@pytest.mark.parametrize("who", ["assessor_north", "supervisor_north", "officer_south"])
def test_everyone_else_is_refused_and_nothing_changes(session, settings, org, who):
    task = _household_task(session, settings, org, org.officer_north)
    actor = Actor.for_staff(session, getattr(org, who))
    for attempt in (
        lambda: tasks.close_task(session, actor, task.id, outcome="Done"),
        lambda: tasks.reassign_task(session, actor, task.id, org.manager.id),
    ):
        with pytest.raises(NotAllowed):
            attempt()
    session.refresh(task)
    assert task.done_at is None and task.owner_id == org.officer_north.id and task.outcome is None


def test_an_outcome_is_required_and_a_closed_task_stays_closed(session, settings, org):
    task = _household_task(session, settings, org, org.officer_north)
    owner = Actor.for_staff(session, org.officer_north)
    for outcome in (None, "   ", "x" * 2001):
        with pytest.raises(InvalidInput) as refused:
            tasks.close_task(session, owner, task.id, outcome=outcome)
        assert set(refused.value.errors) == {"outcome"}
    session.refresh(task)
    assert task.done_at is None
    tasks.close_task(session, owner, task.id, outcome="Spoke to them")
    with pytest.raises(InvalidInput, match="already closed"):
        tasks.close_task(session, owner, task.id, outcome="Again")


def test_reassigning_within_the_area_and_refusing_outside_it(session, settings, org):
    task = _household_task(session, settings, org, org.officer_north)
    owner = Actor.for_staff(session, org.officer_north)
    with pytest.raises(InvalidInput) as refused:
        tasks.reassign_task(session, owner, task.id, org.officer_south.id)
    assert refused.value.errors == {
        "owner_id": "Officer.South does not work in this household's area"
    }
    session.refresh(task)
    assert task.owner_id == org.officer_north.id
    moved = tasks.reassign_task(session, owner, task.id, org.manager.id)
    assert moved.owner_id == org.manager.id
    # The former owner may no longer act on it; the new one may, and may hand it to the team.
    with pytest.raises(NotAllowed):
        tasks.close_task(session, owner, task.id, outcome="Done")
    team = tasks.reassign_task(session, Actor.for_staff(session, org.manager), task.id, None)
    assert team.owner_id is None
    # In the team queue anyone on the team who may open it picks it up.
    assessor = Actor.for_staff(session, org.assessor_north)
    assert tasks.may_act_on(session, Actor.for_staff(session, org.officer_north), team)
    assert not tasks.may_act_on(session, assessor, team)  # cannot open an enquiry's household
    assert [e.detail.get("owner") for e in _audits(session, task.id) if "owner" in e.detail] == [
        True,
        True,
    ]


def test_a_carer_task_is_closed_by_its_supervising_social_worker(session, settings, org):
    carer, task = _carer_task(session, settings, org)
    other = m.StaffUser(
        email="other.ssw@test.example", name="Other Worker",
        role=m.Role.SUPERVISING_SOCIAL_WORKER, password_hash="x",
    )  # fmt: skip
    session.add(other)
    session.flush()
    session.add(m.StaffArea(staff_id=other.id, area_id=org.north.id))
    session.commit()
    # Another worker in the area cannot open a carer someone else supervises.
    with pytest.raises(NotAllowed):
        tasks.task_view(session, Actor.for_staff(session, other), task.id)
    with pytest.raises(NotAllowed):
        tasks.close_task(session, Actor.for_staff(session, other), task.id, outcome="Called")
    supervisor = Actor.for_staff(session, org.supervisor_north)
    view = tasks.task_view(session, supervisor, task.id)
    assert view.may_act and view.carer.id == carer.id
    # Only people who could open the carer are offered: not the other worker.
    assert org.supervisor_north.id in {s.id for s in view.possible_owners}
    assert other.id not in {s.id for s in view.possible_owners}
    with pytest.raises(InvalidInput):
        tasks.reassign_task(session, supervisor, task.id, other.id)
    listed = tasks.open_tasks_about(session, supervisor, carer_id=carer.id)
    assert [t.id for t in listed] == [task.id]
    tasks.close_task(session, supervisor, task.id, outcome="Called; arranged respite")
    assert tasks.open_tasks_about(session, supervisor, carer_id=carer.id) == []


def test_a_task_whose_owner_has_left_can_be_picked_up_by_the_team(session, settings, org):
    task = _household_task(session, settings, org, org.officer_north)
    org.officer_north.active = False
    session.add(org.officer_north)
    session.commit()
    colleague = m.StaffUser(
        email="new.officer@test.example", name="New Officer",
        role=m.Role.RECRUITMENT_OFFICER, password_hash="x",
    )  # fmt: skip
    session.add(colleague)
    session.flush()
    session.add(m.StaffArea(staff_id=colleague.id, area_id=org.north.id))
    session.commit()
    done = tasks.close_task(
        session, Actor.for_staff(session, colleague), task.id, outcome="Picked up"
    )
    assert done.done_by_id == colleague.id
