"""Creating tasks: the rules in crm.services.tasks that every caller (web, bot, scheduler)
goes through."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services import tasks
from crm.services.actors import Actor
from crm.services.errors import InvalidInput
from crm.testing.fixtures import new_household


def test_staff_cannot_set_a_task_due_in_the_past_but_the_scheduler_can(session, settings, org):
    household = new_household(session, settings)
    officer = Actor.for_staff(session, org.officer_north)
    before = session.exec(select(func.count(m.Task.id))).one()
    for due_at in (clock.now() - timedelta(days=2), clock.now().replace(year=2020)):
        with pytest.raises(InvalidInput) as refused:
            tasks.create_task(
                session, officer, kind=m.TaskKind.GENERAL, title="Send the pack",
                due_at=due_at, household_id=household.id,
            )  # fmt: skip
        assert refused.value.errors == {
            "due_at": "The date the task is due must be today or in the future"
        }
    assert session.exec(select(func.count(m.Task.id))).one() == before
    # Earlier today is still today: a task for this morning is fine.
    earlier_today = clock.now() - timedelta(hours=1)
    assert clock.local_date(earlier_today) == clock.local_date(clock.now())
    task = tasks.create_task(
        session, officer, kind=m.TaskKind.GENERAL, title="Call back",
        due_at=earlier_today, household_id=household.id,
    )  # fmt: skip
    assert task.due_at == earlier_today
    # The scheduler files tasks that are already late (a call-back past its target).
    late = tasks.create_task(
        session, Actor.system("scheduler"), kind=m.TaskKind.SECOND_ATTEMPT, title="Try again",
        due_at=clock.now() - timedelta(days=3), household_id=household.id,
    )  # fmt: skip
    assert late is not None
