"""Supervision visits: the one way to record one, actions as tasks, the next visit due, the
unannounced visit a year, and the list of overdue ones for managers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

import crm.models as m
from crm.services import supervision
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from tests.crm.keeping.helpers import approved_carer


def visit(session, settings, actor, carer, **kw):  # noqa: ANN001, ANN003, ANN201
    data = dict(visited_on=date(2026, 3, 9), kind="announced", notes="All well at home.")
    data.update(kw)
    return supervision.record_visit(session, actor, settings, carer.id, **data)


def test_a_visit_with_notes_and_actions_gives_the_supervisor_tasks(session, settings, org):
    carer = approved_carer(session, settings, org)
    ssw = Actor.for_staff(session, org.supervisor_north)
    recorded = visit(
        session, settings, ssw, carer, carer_raised="Wants respite in the summer",
        actions=["Ask about respite for August", "  ", "Send the training dates"],
    )  # fmt: skip
    assert recorded.carer_raised == "Wants respite in the summer"
    tasks = session.exec(select(m.Task).where(m.Task.carer_id == carer.id)).all()
    assert sorted(t.title for t in tasks) == [
        "Ask about respite for August",
        "Send the training dates",
    ]
    assert {t.owner_id for t in tasks} == {org.supervisor_north.id}
    session.refresh(carer)
    assert carer.last_supervision_at.astimezone(settings.tz).date() == date(2026, 3, 9)
    status = supervision.supervision_status(session, settings, carer)
    assert status.next_due == date(2026, 3, 9) + timedelta(days=42)
    assert [v.id for v in supervision.visits_of(session, ssw, carer.id)] == [recorded.id]


def test_a_visit_in_the_future_or_before_approval_is_refused(session, settings, org):
    carer = approved_carer(session, settings, org, approved_on=date(2025, 6, 1))
    ssw = Actor.for_staff(session, org.supervisor_north)
    for on, message in (
        (date(2026, 3, 11), "cannot be in the future"),
        (date(2025, 5, 31), "before the carer was approved"),
        (None, "Enter the date"),
    ):
        with pytest.raises(InvalidInput) as refused:
            visit(session, settings, ssw, carer, visited_on=on, actions=["An action"])
        assert message in refused.value.errors["visited_on"]
    with pytest.raises(InvalidInput) as refused:
        visit(session, settings, ssw, carer, kind="surprise", notes=" ")
    assert set(refused.value.errors) == {"kind", "notes"}
    assert session.exec(select(func.count(m.SupervisionVisit.id))).one() == 0
    assert session.exec(select(func.count(m.Task.id)).where(m.Task.carer_id == carer.id)).one() == 0


def test_unannounced_visit_expected_once_a_year(session, settings, org):
    carer = approved_carer(session, settings, org, approved_on=date(2024, 9, 1))
    ssw = Actor.for_staff(session, org.supervisor_north)
    today = date(2026, 3, 10)
    visit(session, settings, ssw, carer, visited_on=date(2026, 3, 1))
    status = supervision.supervision_status(session, settings, carer)
    # Approved 18 months ago, never an unannounced visit: missing.
    assert status.unannounced_missing(today) and not status.overdue(today)
    visit(session, settings, ssw, carer, visited_on=date(2025, 4, 1), kind="unannounced")
    status = supervision.supervision_status(session, settings, carer)
    assert status.last_unannounced == date(2025, 4, 1)
    assert status.unannounced_due == date(2026, 4, 1) and not status.unannounced_missing(today)
    assert status.last_visit == date(2026, 3, 1)


def test_managers_list_overdue_and_missing_unannounced(session, settings, org):
    overdue = approved_carer(session, settings, org, name="Overdue", approved_on=date(2025, 1, 6))
    fine = approved_carer(session, settings, org, name="Fine", approved_on=date(2026, 1, 6))
    ssw = Actor.for_staff(session, org.supervisor_north)
    visit(session, settings, ssw, overdue, visited_on=date(2025, 12, 1), kind="unannounced")
    visit(session, settings, ssw, fine, visited_on=date(2026, 3, 1))
    rows = supervision.overdue_for_managers(
        session, Actor.for_staff(session, org.manager), settings
    )
    assert [r.carer.id for r in rows] == [overdue.id]
    assert rows[0].overdue and not rows[0].unannounced_missing
    assert rows[0].supervisor == org.supervisor_north.name
    with pytest.raises(NotAllowed):
        supervision.overdue_for_managers(
            session, Actor.for_staff(session, org.officer_north), settings
        )


@pytest.mark.parametrize("role", ["officer_north", "assessor_north"])
def test_other_roles_cannot_record_a_visit(session, settings, org, role):
    carer = approved_carer(session, settings, org)
    with pytest.raises(NotAllowed):
        visit(session, settings, Actor.for_staff(session, getattr(org, role)), carer)
    assert session.exec(select(func.count(m.SupervisionVisit.id))).one() == 0


def test_reminders_chase_a_missing_unannounced_visit_until_one_is_recorded(session, settings, org):
    from datetime import UTC, datetime

    from crm.services import reminders

    carer = approved_carer(session, settings, org, approved_on=date(2025, 2, 1))
    ssw = Actor.for_staff(session, org.supervisor_north)
    visit(session, settings, ssw, carer, visited_on=date(2026, 3, 2))  # announced
    now = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    summary = reminders.run("carer_reminders", session, settings, now)
    assert summary["unannounced"] == 1 and summary["supervision"] == 0
    assert reminders.run("carer_reminders", session, settings, now)["unannounced"] == 0
    [task] = session.exec(
        select(m.Task).where(m.Task.unique_key.like(f"carer:{carer.id}:unannounced:%"))
    ).all()
    assert task.owner_id == org.supervisor_north.id and task.done_at is None
    assert "No unannounced visit since approval" in task.detail
    visit(session, settings, ssw, carer, visited_on=date(2026, 3, 9), kind="unannounced")
    session.refresh(task)
    assert task.done_at is not None
    assert reminders.run("carer_reminders", session, settings, now)["unannounced"] == 0


def test_a_visit_closes_the_overdue_chase(session, settings, org):
    from datetime import UTC, datetime

    from crm.services import reminders

    carer = approved_carer(session, settings, org, approved_on=date(2025, 11, 1))
    now = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    assert reminders.run("carer_reminders", session, settings, now)["supervision"] == 1
    chase = session.exec(
        select(m.Task).where(m.Task.unique_key.like(f"carer:{carer.id}:supervision:%"))
    ).one()
    visit(session, settings, Actor.for_staff(session, org.supervisor_north), carer)
    session.refresh(chase)
    assert chase.done_at is not None
    assert reminders.run("carer_reminders", session, settings, now)["supervision"] == 0
