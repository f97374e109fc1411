"""The one visibility rule (crm.services.access) and everything that goes through it, on SQLite
and PostgreSQL: lists, the home page, the week view, task owners, officers and supervisors.

The story behind most of these: before this rule, a recruitment officer could give a task on
their household to someone in another area, whose home page then named a family whose record
they could not open. Old data like that stays in databases, so lists filter at read time too.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlmodel import func, select

import crm.models as m
from crm import clock
from crm.services import access, availability, households, tasks
from crm.services.actors import Actor
from crm.services.carers import CarerQuery, assign_supervisor, list_carers
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.pipeline import move_stage
from crm.testing.fixtures import new_household

SYSTEM = Actor.system("test")


def staff_actors(session, org) -> dict[str, Actor]:
    return {
        name: Actor.for_staff(session, getattr(org, name))
        for name in (
            "admin",
            "manager",
            "officer_north",
            "officer_south",
            "assessor_north",
            "supervisor_north",
        )
    }


def old_task(session, *, owner: m.StaffUser, household: m.Household, title: str) -> m.Task:
    """A task written straight into the database, as old data given across areas would be."""
    task = m.Task(
        kind=m.TaskKind.GENERAL,
        title=title,
        household_id=household.id,
        owner_id=owner.id,
        area_id=household.area_id,
        due_at=clock.now() - timedelta(hours=1),
    )
    session.add(task)
    session.commit()
    return task


def test_a_cross_area_task_from_old_data_leaves_no_trace_in_any_list(session, settings, org):
    north = new_household(session, settings, first_name="Nora", last_name="Northcott")
    assert north.area_id == org.north.id
    old_task(session, owner=org.officer_south, household=north, title="Ring the family back")
    # And a visit in their diary with that family (old data too).
    monday = date(2026, 3, 9)
    starts = datetime(2026, 3, 11, 10, 0, tzinfo=clock.now().tzinfo)
    session.add(
        m.Appointment(
            kind=m.AppointmentKind.INITIAL_VISIT, staff_id=org.officer_south.id,
            household_id=north.id, starts_at=starts, ends_at=starts + timedelta(minutes=90),
            booked_by_label="test",
        )
    )  # fmt: skip
    session.commit()
    south = Actor.for_staff(session, org.officer_south)

    home = households.home_lists(session, south, settings)
    assert home.tasks_due == []
    assert north.id not in home.households
    assert all(h.id != north.id for h, _ in home.late_enquiries)
    # The visit is in their diary (they are booked for it) but nameless.
    assert [v.household_id for v in home.visits] == [north.id]

    week = availability.week_for(session, south, settings, [org.officer_south], monday)
    booked = [ap for row in week.rows for day in row.days for ap in day.appointments]
    assert [ap.household_id for ap in booked] == [north.id]
    assert week.households == {}

    found = households.search_households(session, south, households.HouseholdQuery(q="Northcott"))
    assert found.total == 0
    everything = households.search_households(session, south, households.HouseholdQuery())
    assert north.id not in {h.id for h in everything.rows}
    board = households.board(session, south, settings)
    assert north.id not in {c.household.id for col in board for c in col.cards}

    # The manager, who may open it, sees the same slot named.
    manager = Actor.for_staff(session, org.manager)
    week = availability.week_for(session, manager, settings, [org.officer_south], monday)
    assert set(week.households) == {north.id}


def test_the_service_refuses_a_task_for_someone_in_another_area(session, settings, org):
    north = new_household(session, settings)
    officer = Actor.for_staff(session, org.officer_north)
    before = session.exec(select(func.count(m.Task.id))).one()
    with pytest.raises(InvalidInput) as refused:
        tasks.create_task(
            session, officer, kind=m.TaskKind.GENERAL, title="Send the pack",
            due_at=clock.now() + timedelta(days=1), household_id=north.id,
            owner_id=org.officer_south.id,
        )  # fmt: skip
    assert refused.value.errors == {
        "owner_id": "Officer.South does not work in this household's area"
    }
    assert session.exec(select(func.count(m.Task.id))).one() == before
    # Someone in the area may have it; so may the team queue.
    for owner_id in (org.officer_north.id, org.manager.id, None):
        task = tasks.create_task(
            session, officer, kind=m.TaskKind.GENERAL, title="Send the pack",
            due_at=clock.now() + timedelta(days=1), household_id=north.id, owner_id=owner_id,
        )  # fmt: skip
        assert task.owner_id == owner_id and task.area_id == org.north.id


def test_a_task_owner_must_be_able_to_open_the_record(session, settings, org):
    household = new_household(session, settings)
    officer = Actor.for_staff(session, org.officer_north)

    def give(owner: m.StaffUser) -> m.Task:
        return tasks.create_task(
            session, officer, kind=m.TaskKind.GENERAL, title="Look at this",
            due_at=clock.now() + timedelta(days=1), household_id=household.id,
            owner_id=owner.id,
        )  # fmt: skip

    # An assessing social worker does not see households at enquiry; a supervising social
    # worker never sees the pipeline.
    for owner in (org.assessor_north, org.supervisor_north):
        with pytest.raises(InvalidInput) as refused:
            give(owner)
        assert refused.value.errors["owner_id"] == (
            f"{owner.name} cannot open this household's record"
        )
    move_stage(session, SYSTEM, household.id, m.Stage.APPLICATION)
    assert give(org.assessor_north).owner_id == org.assessor_north.id
    # Inactive staff never.
    org.officer_north.active = False
    session.add(org.officer_north)
    session.commit()
    with pytest.raises(InvalidInput) as refused:
        give(org.officer_north)
    assert refused.value.errors["owner_id"] == "Choose a member of staff who is working"


def test_code_choosing_an_owner_who_may_not_have_it_leaves_it_to_the_team(session, settings, org):
    household = new_household(session, settings)
    task = tasks.create_task(
        session, SYSTEM, kind=m.TaskKind.GENERAL, title="Follow up",
        due_at=clock.now(), household_id=household.id, owner_id=org.officer_south.id,
    )  # fmt: skip
    assert task.owner_id is None and task.area_id == org.north.id
    entry = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.entity == "task", m.AuditEvent.entity_id == task.id)
    ).one()
    assert entry.detail["owner_refused"] is True


def test_may_own_work_by_role_and_area(session, org):
    cases = {
        "admin": (True, True, True),
        "manager": (True, True, True),
        "officer_north": (True, False, True),
        "officer_south": (False, True, True),
        "assessor_north": (True, False, True),
        "supervisor_north": (True, False, True),
    }
    for name, expected in cases.items():
        staff = getattr(org, name)
        got = tuple(access.may_own_work(session, staff, a) for a in (org.north.id, org.south.id))
        assert got + (access.may_own_work(session, staff, None),) == expected, name
    org.admin.active = False
    assert not access.may_own_work(session, org.admin, org.north.id)
    assert not access.may_own_work(session, None, org.north.id)


def test_the_task_form_list_is_the_service_rule(session, settings, org):
    household = new_household(session, settings)
    offered = {s.id for s in access.possible_owners(session, household=household)}
    assert offered == {org.manager.id, org.officer_north.id}
    for staff in session.exec(select(m.StaffUser)).all():
        allowed = access.owner_problem(session, staff, household=household) is None
        assert allowed == (staff.id in offered or staff.role == m.Role.ADMIN), staff.name


def _world(session, settings, org) -> list[m.Task]:
    """Tasks of every shape: on households in each area and in triage, on carers supervised
    and not, about nothing (owned, and team tasks in each area)."""
    north = new_household(session, settings, email="n@example.com")
    south = new_household(session, settings, email="s@example.com", postcode="NG1 1AA")
    triage = new_household(session, settings, email="t@example.com", postcode="SW1A 1AA")
    assessed = new_household(session, settings, email="a@example.com")
    move_stage(session, SYSTEM, assessed.id, m.Stage.STAGE_ONE)
    carers = []
    for email, postcode, supervisor in (
        ("c1@example.com", "LE1 1AA", org.supervisor_north.id),
        ("c2@example.com", "LE1 1AB", None),
        ("c3@example.com", "NG1 1AB", None),
        ("c4@example.com", "NG1 1AE", org.supervisor_north.id),  # old data: supervised across
    ):
        h = new_household(session, settings, email=email, postcode=postcode)
        move_stage(session, SYSTEM, h.id, m.Stage.APPROVED)
        carer = session.exec(select(m.Carer).where(m.Carer.household_id == h.id)).one()
        carer.supervising_social_worker_id = supervisor
        session.add(carer)
        carers.append(carer)
    rows = [m.Task(household_id=h.id, area_id=h.area_id) for h in (north, south, triage, assessed)]
    rows += [m.Task(carer_id=c.id) for c in carers]
    rows += [
        m.Task(owner_id=org.officer_south.id, area_id=org.north.id),
        m.Task(area_id=org.north.id),
        m.Task(area_id=org.south.id),
        m.Task(area_id=None),
    ]
    for index, task in enumerate(rows):
        task.kind, task.title, task.due_at = m.TaskKind.GENERAL, f"Task {index}", clock.now()
        session.add(task)
    session.commit()
    return rows


def test_the_list_rule_and_the_record_rule_agree(session, settings, org):
    rows = _world(session, settings, org)
    ours = m.Task.title.like("Task %")  # not the call-back tasks every enquiry has
    for name, actor in staff_actors(session, org).items():
        listed = set(
            session.exec(select(m.Task.id).where(ours, access.task_visibility(actor))).all()
        )
        checked = {t.id for t in rows if access.may_view_task(session, actor, t)}
        assert listed == checked, name
        households_listed = set(
            session.exec(select(m.Household.id).where(access.household_visibility(actor))).all()
        )
        households_checked = {
            h.id
            for h in session.exec(select(m.Household)).all()
            if access.may_view_household(actor, h)
        }
        assert households_listed == households_checked, name
    actors = staff_actors(session, org)
    # A few that matter, spelled out.
    south = actors["officer_south"]
    titles = {
        t.title
        for t in session.exec(select(m.Task).where(ours, access.task_visibility(south))).all()
    }
    assert titles == {"Task 1", "Task 2", "Task 8", "Task 10", "Task 11"}
    supervisor = {
        t.title
        for t in session.exec(
            select(m.Task).where(ours, access.task_visibility(actors["supervisor_north"]))
        ).all()
    }
    assert supervisor == {"Task 4", "Task 5", "Task 7", "Task 9", "Task 11"}
    assert len(session.exec(select(m.Task).where(ours, access.task_visibility(SYSTEM))).all()) == 12


def test_appointment_rule_follows_its_household_or_carer(session, settings, org):
    north = new_household(session, settings, email="n@example.com")
    south = new_household(session, settings, email="s@example.com", postcode="NG1 1AA")
    starts = clock.now() + timedelta(days=2)
    for index, household in enumerate((north, south)):
        session.add(
            m.Appointment(
                kind=m.AppointmentKind.INITIAL_VISIT, staff_id=org.officer_north.id,
                household_id=household.id, starts_at=starts + timedelta(hours=index * 2),
                ends_at=starts + timedelta(hours=index * 2 + 1), booked_by_label="test",
            )
        )  # fmt: skip
    session.commit()
    appointments = session.exec(select(m.Appointment)).all()
    for name, actor in staff_actors(session, org).items():
        listed = set(
            session.exec(select(m.Appointment.id).where(access.appointment_visibility(actor)))
        )
        checked = {a.id for a in appointments if access.may_view_appointment(session, actor, a)}
        assert listed == checked, name
    officer_north = staff_actors(session, org)["officer_north"]
    visible = session.exec(
        select(m.Appointment).where(access.appointment_visibility(officer_north))
    ).all()
    assert [a.household_id for a in visible] == [north.id]


def test_completing_a_task_one_may_not_see_is_refused(session, settings, org):
    north = new_household(session, settings)
    task = old_task(session, owner=org.officer_south, household=north, title="Old")
    with pytest.raises(NotAllowed):
        tasks.close_task(
            session, Actor.for_staff(session, org.officer_south), task.id, outcome="Rang them"
        )
    done = tasks.close_task(
        session, Actor.for_staff(session, org.officer_north), task.id, outcome="Rang them"
    )
    assert done.done_at is not None


def test_home_page_at_risk_carers_by_role(session, settings, org):
    north = new_household(session, settings, email="c@example.com")
    move_stage(session, SYSTEM, north.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == north.id)).one()
    carer.at_risk, carer.at_risk_reason = True, "Asked about leaving"
    carer.supervising_social_worker_id = org.supervisor_north.id
    session.add(carer)
    session.commit()
    seen = {
        name: [c.id for c, _ in households.home_lists(session, actor, settings).at_risk_carers]
        for name, actor in staff_actors(session, org).items()
    }
    assert seen == {
        "admin": [carer.id],
        "manager": [carer.id],
        "officer_north": [],
        "officer_south": [],
        "assessor_north": [],
        "supervisor_north": [carer.id],
    }


def test_officers_and_supervisors_work_in_the_record_area(session, settings, org):
    household = new_household(session, settings)
    officer = Actor.for_staff(session, org.officer_north)
    for staff, message in (
        (org.officer_south, "Officer.South does not work in this household's area"),
        (
            org.supervisor_north,
            "Supervisor.North does not work with households in the pipeline",
        ),
    ):
        with pytest.raises(InvalidInput) as refused:
            households.assign_officer(session, officer, household.id, staff.id)
        assert refused.value.errors == {"officer_id": message}
    assigned = households.assign_officer(session, officer, household.id, org.assessor_north.id)
    assert assigned.assigned_officer_id == org.assessor_north.id
    offered = {s.id for s in access.possible_officers(session, household)}
    assert offered == {
        org.manager.id,
        org.officer_north.id,
        org.assessor_north.id,
    }

    move_stage(session, SYSTEM, household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    south_supervisor = m.StaffUser(
        email="supervisor.south@test.example", name="Supervisor.South",
        role=m.Role.SUPERVISING_SOCIAL_WORKER, password_hash="x",
    )  # fmt: skip
    session.add(south_supervisor)
    session.flush()
    session.add(m.StaffArea(staff_id=south_supervisor.id, area_id=org.south.id))
    session.commit()
    manager = Actor.for_staff(session, org.manager)
    with pytest.raises(InvalidInput):
        assign_supervisor(session, manager, carer.id, south_supervisor.id)
    assign_supervisor(session, manager, carer.id, org.supervisor_north.id)
    page = list_carers(session, Actor.for_staff(session, south_supervisor), CarerQuery())
    assert page.total == 0


def test_funnel_report_areas_by_role(session, org):
    actors = staff_actors(session, org)
    assert access.report_area_ids(session, actors["admin"]) is None
    assert access.report_area_ids(session, actors["manager"]) is None  # works in every area
    session.delete(session.get(m.StaffArea, {"staff_id": org.manager.id, "area_id": org.south.id}))
    session.commit()
    one_area = Actor.for_staff(session, org.manager)
    assert access.report_area_ids(session, one_area) == [org.north.id]
    for name in ("officer_north", "officer_south", "assessor_north", "supervisor_north"):
        with pytest.raises(NotAllowed):
            access.report_area_ids(session, actors[name])
    assert access.report_scope_for_address(session, " Manager@Test.Example ") == [org.north.id]
    with pytest.raises(NotAllowed) as refused:
        access.report_scope_for_address(session, org.manager.email, only_area_ids=[org.south.id])
    assert org.manager.email not in str(refused.value)
    with pytest.raises(NotAllowed) as refused:
        access.report_scope_for_address(session, "someone@else.example")
    assert "someone" not in str(refused.value)

    audience = access.report_recipients(
        session, ["someone@else.example", org.officer_north.email, org.admin.email]
    )
    assert [(r.address, r.area_ids) for r in audience.recipients] == [
        (org.manager.email, [org.north.id]),
        (org.admin.email, None),
    ]
    assert audience.without_access == 2
    south_only = access.report_recipients(session, [org.admin.email], only_area_ids=[org.south.id])
    assert [(r.address, r.area_ids) for r in south_only.recipients] == [
        (org.admin.email, [org.south.id])
    ]
    assert south_only.outside_areas == 1
