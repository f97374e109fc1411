"""Connected persons' temporary approval (regulation 24): 16 weeks, extended once by up to 8,
ended by full approval or leaving, warned about before it runs out. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services import kinship, reminders
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.pipeline import move_stage
from crm.testing.fixtures import new_household

DAY = date(2026, 3, 10)  # the frozen clock's day


def kinship_household(session, settings, **kw) -> m.Household:
    household = new_household(session, settings, **kw)
    household.is_kinship = True
    session.add(household)
    session.commit()
    return household


def manager(session, org) -> Actor:
    return org.actor(session, org.manager)


def test_sixteen_weeks_then_one_extension_of_up_to_eight(session, settings, org):
    household = kinship_household(session, settings)
    approval = kinship.grant(session, manager(session, org), household.id,
                             child_reference=" C-1234 ", approved_on=DAY, today=DAY)  # fmt: skip
    assert approval.child_reference == "C-1234"
    assert approval.expires_on == DAY + timedelta(weeks=16) == date(2026, 6, 30)
    with pytest.raises(InvalidInput, match="already has a temporary approval"):
        kinship.grant(session, manager(session, org), household.id, child_reference="C-2",
                      approved_on=DAY, today=DAY)  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        kinship.extend(session, manager(session, org), household.id,
                       until=date(2026, 8, 26), reason="", today=DAY)  # fmt: skip
    assert refused.value.errors == {
        "until": "An extension is at most 8 weeks: the latest date is 25 August 2026",
        "reason": "Say why the full assessment needs more time",
    }
    kinship.extend(session, manager(session, org), household.id, until=date(2026, 8, 25),
                   reason="Medical report awaited", today=DAY)  # fmt: skip
    assert kinship.current(session, household.id).ends_on == date(2026, 8, 25)
    with pytest.raises(InvalidInput, match="extended already: it can be once"):
        kinship.extend(session, manager(session, org), household.id, until=date(2026, 8, 20),
                       reason="Again", today=DAY)  # fmt: skip


def test_bad_input_changes_nothing(session, settings, org):
    mainstream = new_household(session, settings, email="main@example.com")
    with pytest.raises(InvalidInput, match="Temporary approval is for connected persons"):
        kinship.grant(session, manager(session, org), mainstream.id, child_reference="C-1",
                      approved_on=DAY, today=DAY)  # fmt: skip
    household = kinship_household(session, settings)
    with pytest.raises(InvalidInput) as refused:
        kinship.grant(session, manager(session, org), household.id, child_reference="  ",
                      approved_on=DAY + timedelta(days=1), today=DAY)  # fmt: skip
    assert refused.value.errors == {
        "child_reference": "Enter the child's reference from the case system",
        "approved_on": "The date of the temporary approval cannot be in the future",
    }
    with pytest.raises(InvalidInput, match="has already run out"):
        kinship.grant(session, manager(session, org), household.id, child_reference="C-1",
                      approved_on=DAY - timedelta(weeks=17), today=DAY)  # fmt: skip
    assert session.exec(select(m.TemporaryApproval)).all() == []
    kinship.grant(session, manager(session, org), household.id, child_reference="C-1",
                  approved_on=DAY, today=DAY)  # fmt: skip
    with pytest.raises(InvalidInput, match="cannot end before it was given"):
        kinship.end(session, manager(session, org), household.id, on=DAY - timedelta(days=1),
                    reason="Child went home", today=DAY)  # fmt: skip
    assert kinship.current(session, household.id) is not None


def test_only_managers_and_admins_decide(session, settings, org):
    household = kinship_household(session, settings)
    for user in (org.officer_north, org.assessor_north, org.supervisor_north):
        with pytest.raises(NotAllowed):
            kinship.grant(session, org.actor(session, user), household.id,
                          child_reference="C-1", approved_on=DAY, today=DAY)  # fmt: skip
    south_only = Actor(label="x", user_id=org.manager.id, role=m.Role.MANAGER,
                       area_ids=frozenset({org.south.id}))  # fmt: skip
    with pytest.raises(NotAllowed):
        kinship.grant(session, south_only, household.id, child_reference="C-1",
                      approved_on=DAY, today=DAY)  # fmt: skip
    kinship.grant(session, org.actor(session, org.admin), household.id, child_reference="C-1",
                  approved_on=DAY, today=DAY)  # fmt: skip


@pytest.mark.parametrize("to_stage", [m.Stage.APPROVED, m.Stage.WITHDRAWN])
def test_full_approval_or_leaving_ends_it(session, settings, org, to_stage):
    household = kinship_household(session, settings)
    kinship.grant(session, manager(session, org), household.id, child_reference="C-1",
                  approved_on=DAY, today=DAY)  # fmt: skip
    reason = {"reason_code": "other"} if to_stage == m.Stage.WITHDRAWN else {}
    move_stage(session, Actor.system("test"), household.id, to_stage, **reason)
    [approval] = session.exec(select(m.TemporaryApproval)).all()
    assert approval.ended_on == DAY
    assert kinship.current(session, household.id) is None


def test_warned_four_weeks_and_one_week_before_and_when_it_runs_out(session, settings, org):
    household = kinship_household(session, settings)
    household.assigned_officer_id = org.officer_north.id
    session.add(household)
    session.commit()
    kinship.grant(session, manager(session, org), household.id, child_reference="C-1",
                  approved_on=DAY, today=DAY)  # fmt: skip
    ends = date(2026, 6, 30)

    def run_on(day: date) -> dict:
        clock.set_now(datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC))
        return reminders.run("temporary_approvals", session, settings, clock.now())

    assert run_on(ends - timedelta(days=29))["four_weeks"] == 0
    assert run_on(ends - timedelta(days=28))["four_weeks"] == 1
    assert run_on(ends - timedelta(days=20))["four_weeks"] == 0  # said once
    assert run_on(ends - timedelta(days=7))["one_week"] == 1
    assert run_on(ends)["expired"] == 1
    tasks = session.exec(
        select(m.Task).where(m.Task.kind == m.TaskKind.TEMPORARY_APPROVAL).order_by(m.Task.id)
    ).all()
    assert [t.title for t in tasks] == [
        "Temporary approval ends 30 June 2026",
        "Temporary approval ends 30 June 2026",
        "Temporary approval has run out",
    ]
    assert {t.owner_id for t in tasks} == {org.officer_north.id}
    assert [t.priority for t in tasks] == ["normal", "urgent", "urgent"]


def test_erasure_keeps_the_dates_and_takes_the_childs_reference_and_words(session, settings, org):
    from crm.services.data_protection import anonymise_household

    household = kinship_household(session, settings)
    kinship.grant(session, manager(session, org), household.id, child_reference="C-1234",
                  approved_on=DAY, today=DAY)  # fmt: skip
    kinship.extend(session, manager(session, org), household.id, until=date(2026, 8, 1),
                   reason="Waiting for Dr Patel's report", today=DAY)  # fmt: skip
    anonymise_household(session, manager(session, org), household.id, reason="Asked in writing")
    session.expire_all()
    [approval] = session.exec(select(m.TemporaryApproval)).all()
    assert approval.child_reference == "[erased]"
    # Staff's words go; the erasure's own standard sentence says why it ended.
    assert approval.extension_reason is None
    assert approval.ended_reason == "The household's details were erased"
    assert (approval.approved_on, approval.extended_until) == (DAY, date(2026, 8, 1))
    assert approval.ended_on == DAY  # erasure ends it, so no reminder runs on
