"""Caseloads (crm.services.caseloads) and deactivating a member of staff once their open work
has gone to colleagues (crm.services.staff.deactivate_staff)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services import admin, caseloads, staff, tasks
from crm.services.actors import Actor
from crm.services.appointments import book_appointment
from crm.services.carers import assign_supervisor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.households import assign_officer
from crm.services.pipeline import move_stage
from crm.testing.fixtures import new_household

SYSTEM = Actor.system("test")


def _colleague(session, org, email, role, area):
    person = m.StaffUser(
        email=email, name=email.split("@")[0].title(), role=role, password_hash="x"
    )
    session.add(person)
    session.flush()
    session.add(m.StaffArea(staff_id=person.id, area_id=area.id))
    session.commit()
    return person


def _carer(session, settings, org, email, supervisor):
    household = new_household(session, settings, email=email)
    move_stage(session, SYSTEM, household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    assign_supervisor(session, SYSTEM, carer.id, supervisor.id)
    return carer


@pytest.fixture
def worker_with_work(session, settings, org):
    """The north supervising social worker holding two carers (one overdue for a visit), a
    visit still to come and two open tasks (one overdue); the north officer one household."""
    first = _carer(session, settings, org, "one@example.com", org.supervisor_north)
    second = _carer(session, settings, org, "two@example.com", org.supervisor_north)
    # Approved long ago, never visited: overdue. The other had a visit last week.
    first.approved_on = clock.local_date(clock.now()) - timedelta(days=200)
    second.last_supervision_at = clock.now() - timedelta(days=7)
    session.add_all([first, second])
    session.commit()
    visit = book_appointment(
        session, SYSTEM, settings, staff_id=org.supervisor_north.id,
        kind=m.AppointmentKind.SUPERVISION_VISIT,
        starts_at=datetime(2026, 3, 18, 10, 0, tzinfo=UTC), carer_id=second.id,
        check_availability=False,
    )  # fmt: skip
    call = tasks.create_task(
        session, SYSTEM, kind=m.TaskKind.CHECK_IN_FOLLOW_UP,
        title="Call the carer: they asked for a call", priority=m.TaskPriority.URGENT,
        due_at=clock.now() - timedelta(hours=2), carer_id=first.id,
        owner_id=org.supervisor_north.id,
    )  # fmt: skip
    later = tasks.create_task(
        session, SYSTEM, kind=m.TaskKind.GENERAL, title="Send the training list",
        due_at=clock.now() + timedelta(days=3), carer_id=second.id,
        owner_id=org.supervisor_north.id,
    )  # fmt: skip
    household = new_household(session, settings, email="enq@example.com")
    assign_officer(session, SYSTEM, household.id, org.officer_north.id)
    return {
        "carers": [first, second],
        "visit": visit,
        "tasks": [call, later],
        "household": household,
    }


def test_team_view_counts_each_persons_work(session, settings, org, worker_with_work):
    rows = {r.staff.id: r for r in caseloads.team_caseloads(
        session, Actor.for_staff(session, org.manager), settings
    )}  # fmt: skip
    worker = rows[org.supervisor_north.id]
    assert (worker.carers, worker.overdue_visits, worker.open_tasks, worker.overdue_tasks) == (
        2, 1, 2, 1,
    )  # fmt: skip
    assert rows[org.officer_north.id].households == 1
    assert org.admin.id not in rows  # admins keep no caseload


@pytest.mark.parametrize("who", ["officer_north", "assessor_north", "supervisor_north"])
def test_only_managers_and_admins_see_the_team_view(session, settings, org, who):
    with pytest.raises(NotAllowed):
        caseloads.team_caseloads(session, Actor.for_staff(session, getattr(org, who)), settings)


def test_a_caseload_is_its_owners_and_their_managers(session, settings, org, worker_with_work):
    own = caseloads.caseload(
        session, Actor.for_staff(session, org.supervisor_north), settings, org.supervisor_north.id
    )
    assert {c.id for c, _ in own.carers} == {c.id for c in worker_with_work["carers"]}
    assert own.overdue_carer_ids == {worker_with_work["carers"][0].id}
    assert [v.id for v in own.visits] == [worker_with_work["visit"].id]
    assert own.overdue_tasks == 1
    for who in ("manager", "admin"):
        actor = Actor.for_staff(session, getattr(org, who))
        assert len(caseloads.caseload(session, actor, settings, org.supervisor_north.id).tasks) == 2
    for who in ("officer_north", "officer_south", "assessor_north"):
        with pytest.raises(NotAllowed):
            caseloads.caseload(
                session, Actor.for_staff(session, getattr(org, who)), settings,
                org.supervisor_north.id,
            )  # fmt: skip


def test_deactivation_is_refused_while_work_is_left(session, settings, org, worker_with_work):
    manager = Actor.for_staff(session, org.manager)
    with pytest.raises(InvalidInput) as refused:
        staff.deactivate_staff(session, manager, org.supervisor_north.id, to={})
    assert refused.value.errors == {
        "to_carers": "Choose who takes their 2 carers",
        "to_visits": "Choose who takes their 1 visit still to come",
        "to_tasks": "Choose who takes their 2 open tasks",
    }
    # The admin page's own switch refuses too, and says what is left.
    with pytest.raises(InvalidInput) as also:
        admin.update_staff_user(
            session, Actor.for_staff(session, org.admin), org.supervisor_north.id,
            name="Supervisor.North", role="supervising_social_worker", active=False,
            area_ids=[org.north.id],
        )  # fmt: skip
    assert "2 carers, 1 visit still to come, 2 open tasks" in also.value.errors["active"]
    session.refresh(org.supervisor_north)
    assert org.supervisor_north.active


def test_reassigning_to_someone_outside_the_area_is_refused(
    session, settings, org, worker_with_work
):
    south_worker = _colleague(
        session, org, "ssw.south@test.example", m.Role.SUPERVISING_SOCIAL_WORKER, org.south
    )
    manager = Actor.for_staff(session, org.manager)
    with pytest.raises(InvalidInput) as refused:
        staff.deactivate_staff(
            session, manager, org.supervisor_north.id,
            to=dict.fromkeys(staff.WORK_KINDS, south_worker.id),
        )  # fmt: skip
    assert refused.value.errors["to_carers"] == "Ssw.South does not work in Northshire"
    assert refused.value.errors["to_visits"] == "Ssw.South does not work in Northshire"
    assert refused.value.errors["to_tasks"] == "Ssw.South does not work in this carer's area"
    # A colleague in the area whose role does not supervise carers is refused too.
    with pytest.raises(InvalidInput) as wrong_role:
        staff.deactivate_staff(
            session, manager, org.supervisor_north.id,
            to=dict.fromkeys(staff.WORK_KINDS, org.officer_north.id),
        )  # fmt: skip
    assert wrong_role.value.errors["to_carers"] == "Officer.North does not supervise carers"
    # Nothing moved, and they are still working.
    session.expire_all()
    assert all(
        c.supervising_social_worker_id == org.supervisor_north.id
        for c in session.exec(select(m.Carer)).all()
    )
    assert session.get(m.StaffUser, org.supervisor_north.id).active


def test_reassignment_leaves_nothing_with_an_inactive_person(
    session, settings, org, worker_with_work
):
    colleague = _colleague(
        session, org, "ssw.two@test.example", m.Role.SUPERVISING_SOCIAL_WORKER, org.north
    )
    manager = Actor.for_staff(session, org.manager)
    staff.deactivate_staff(
        session, manager, org.supervisor_north.id,
        to={"carers": colleague.id, "visits": colleague.id, "tasks": org.manager.id},
    )  # fmt: skip
    session.expire_all()
    assert not session.get(m.StaffUser, org.supervisor_north.id).active
    assert staff.open_work(session, org.supervisor_north.id).total == 0
    inactive = [s.id for s in session.exec(select(m.StaffUser).where(~m.StaffUser.active)).all()]
    assert (
        session.exec(
            select(m.Carer).where(m.Carer.supervising_social_worker_id.in_(inactive))
        ).all()
        == []
    )
    assert session.get(m.Appointment, worker_with_work["visit"].id).staff_id == colleague.id
    assert {
        t.owner_id for t in session.exec(select(m.Task).where(m.Task.carer_id.is_not(None)))
    } == {org.manager.id}
    moved = session.exec(
        select(m.AuditEvent).where(
            m.AuditEvent.entity == "staff_user", m.AuditEvent.entity_id == org.supervisor_north.id
        )
    ).all()
    assert sorted(e.detail.get("moved", "") for e in moved) == ["", "carers", "tasks", "visits"]


def test_a_visit_is_not_moved_onto_a_colleagues_booked_time(
    session, settings, org, worker_with_work
):
    colleague = _colleague(
        session, org, "ssw.busy@test.example", m.Role.SUPERVISING_SOCIAL_WORKER, org.north
    )
    book_appointment(
        session, SYSTEM, settings, staff_id=colleague.id,
        kind=m.AppointmentKind.SUPERVISION_VISIT,
        starts_at=datetime(2026, 3, 18, 10, 0, tzinfo=UTC),
        carer_id=worker_with_work["carers"][0].id, check_availability=False,
    )  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        staff.deactivate_staff(
            session, Actor.for_staff(session, org.manager), org.supervisor_north.id,
            to=dict.fromkeys(staff.WORK_KINDS, colleague.id),
        )  # fmt: skip
    assert refused.value.errors == {
        "to_visits": "Ssw.Busy already has a visit booked at that time on 18 March 2026"
    }


@pytest.mark.parametrize("who", ["officer_north", "supervisor_north", "assessor_north"])
def test_only_managers_of_their_areas_and_admins_deactivate(session, settings, org, who):
    with pytest.raises(NotAllowed):
        staff.deactivate_staff(
            session, Actor.for_staff(session, getattr(org, who)), org.officer_south.id, to={}
        )
    # A manager of Northshire only cannot deactivate someone in Southshire.
    north_manager = _colleague(session, org, "boss.north@test.example", m.Role.MANAGER, org.north)
    with pytest.raises(NotAllowed, match="an area you do not manage"):
        staff.deactivate_staff(
            session, Actor.for_staff(session, north_manager), org.officer_south.id, to={}
        )
    # Nothing open: deactivated straight away by the manager of both areas.
    done = staff.deactivate_staff(
        session, Actor.for_staff(session, org.manager), org.officer_south.id, to={}
    )
    assert not done.active


def test_an_assessors_households_go_to_another_assessor(session, settings, org):
    household = new_household(session, settings, email="assessed@example.com")
    household.assessor_id = org.assessor_north.id
    session.add(household)
    session.commit()
    manager = Actor.for_staff(session, org.manager)
    assert staff.open_work(session, org.assessor_north.id).count("assessments") == 1
    # An officer does not assess: refused, and nothing changes.
    with pytest.raises(InvalidInput) as refused:
        staff.deactivate_staff(
            session, manager, org.assessor_north.id, to={"assessments": org.officer_north.id}
        )
    assert "is not an assessing social worker" in refused.value.errors["to_assessments"]
    session.expire_all()
    assert session.get(m.StaffUser, org.assessor_north.id).active
    colleague = _colleague(
        session, org, "asw.two@test.example", m.Role.ASSESSING_SOCIAL_WORKER, org.north
    )
    staff.deactivate_staff(session, manager, org.assessor_north.id,
                           to={"assessments": colleague.id})  # fmt: skip
    session.expire_all()
    assert session.get(m.Household, household.id).assessor_id == colleague.id
    assert not session.get(m.StaffUser, org.assessor_north.id).active


def test_a_new_role_or_fewer_areas_is_refused_while_it_would_strand_work(
    session, settings, org, worker_with_work
):
    admin_actor = Actor.for_staff(session, org.admin)

    def change(role: str, areas: list[int]):
        return admin.update_staff_user(
            session, admin_actor, org.supervisor_north.id, name="Supervisor.North",
            role=role, active=True, area_ids=areas,
        )  # fmt: skip

    # A recruitment officer does not supervise carers nor make supervision visits.
    with pytest.raises(InvalidInput) as new_role:
        change("recruitment_officer", [org.north.id])
    message = new_role.value.errors["role"]
    assert "2 carers: Supervisor.North does not supervise carers" in message
    assert "1 visit still to come" in message
    # Out of Northshire, their Northshire carers' work could not stay with them either.
    with pytest.raises(InvalidInput) as moved_away:
        change("supervising_social_worker", [org.south.id])
    assert "does not work in Northshire" in moved_away.value.errors["role"]
    session.expire_all()
    kept = session.get(m.StaffUser, org.supervisor_north.id)
    assert kept.role == m.Role.SUPERVISING_SOCIAL_WORKER
    assert set(
        session.exec(select(m.StaffArea.area_id).where(m.StaffArea.staff_id == kept.id)).all()
    ) == {org.north.id}
    # Nothing was audited for a change that did not happen, and their sessions were kept.
    assert not session.exec(
        select(m.AuditEvent).where(
            m.AuditEvent.entity == "staff_user",
            m.AuditEvent.entity_id == kept.id,
            m.AuditEvent.detail["role"].as_string() == "recruitment_officer",
        )
    ).all()
    # A change that leaves everything doable goes through: a second area.
    assert change("supervising_social_worker", [org.north.id, org.south.id]).active


def test_work_moves_to_colleagues_without_deactivating_then_the_role_can_change(
    session, settings, org, worker_with_work
):
    colleague = _colleague(
        session, org, "ssw.three@test.example", m.Role.SUPERVISING_SOCIAL_WORKER, org.north
    )
    manager = Actor.for_staff(session, org.manager)
    with pytest.raises(InvalidInput) as nothing_chosen:
        staff.move_work(session, manager, org.supervisor_north.id, to={})
    assert nothing_chosen.value.errors == {
        "to_all": "Choose who takes at least one kind of their work"
    }
    # Only the carers and the visit: the tasks stay with them.
    staff.move_work(
        session, manager, org.supervisor_north.id,
        to={"carers": colleague.id, "visits": colleague.id},
    )  # fmt: skip
    session.expire_all()
    left = staff.open_work(session, org.supervisor_north.id)
    assert (left.count("carers"), left.count("visits"), left.count("tasks")) == (0, 0, 2)
    assert session.get(m.StaffUser, org.supervisor_north.id).active
    # Their carers' tasks go to a colleague who can open those carers; then the new role lands.
    staff.move_work(session, manager, org.supervisor_north.id, to={"tasks": colleague.id})
    changed = admin.update_staff_user(
        session, Actor.for_staff(session, org.admin), org.supervisor_north.id,
        name="Supervisor.North", role="recruitment_officer", active=True,
        area_ids=[org.north.id],
    )  # fmt: skip
    assert changed.role == m.Role.RECRUITMENT_OFFICER


@pytest.mark.parametrize("who", ["officer_north", "supervisor_north", "assessor_north"])
def test_only_managers_of_their_areas_and_admins_move_work(
    session, settings, org, worker_with_work, who
):
    with pytest.raises(NotAllowed):
        staff.move_work(
            session, Actor.for_staff(session, getattr(org, who)), org.supervisor_north.id,
            to={"tasks": org.manager.id},
        )  # fmt: skip
    assert staff.open_work(session, org.supervisor_north.id).count("tasks") == 2
