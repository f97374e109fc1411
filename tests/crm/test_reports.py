"""Queueing the weekly report (crm.services.reports): one message per recipient who may read it,
for their areas, once per week, committed in one go."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

import crm.models as m
from crm.services import reports
from crm.services.actors import Actor
from crm.services.errors import NotAllowed
from crm.services.staff import create_staff_user
from crm.testing.fixtures import TEST_PASSWORD

SUNDAY = date(2026, 3, 8)


def with_recipients(settings, recipients: list[str]):
    return settings.model_copy(
        update={"report": settings.report.model_copy(update={"recipients": recipients})}
    )


def queued_messages(session) -> list[m.OutboxMessage]:
    return list(
        session.exec(
            select(m.OutboxMessage)
            .where(m.OutboxMessage.template == reports.EMAIL_TEMPLATE)
            .order_by(m.OutboxMessage.recipient)
        ).all()
    )


def test_one_message_per_recipient_and_once_a_week(session, settings, org):
    extra = with_recipients(settings, ["Board@X.org", org.admin.email.upper()])
    actor = Actor.system("test")
    result = reports.queue_weekly_report(session, extra, week_ending=SUNDAY, actor=actor)
    assert (result.recipients, result.queued, result.without_access) == (2, 2, 1)
    assert result.week_ending == SUNDAY and result.already_queued == 0
    messages = queued_messages(session)
    assert [msg.recipient for msg in messages] == [org.admin.email, org.manager.email]
    assert {msg.staff_id for msg in messages} == {org.admin.id, org.manager.id}
    assert all(msg.payload == {"week_ending": "2026-03-08"} for msg in messages)
    # The key the Monday job has always written, so the job and the command line never
    # send the same week twice to one person.
    assert messages[1].unique_key == f"weekly_report:2026-03-08:{org.manager.email}"

    # A day of the same week queues the same week again: nothing new.
    again = reports.queue_weekly_report(session, extra, week_ending=date(2026, 3, 4), actor=actor)
    assert (again.queued, again.already_queued) == (0, 2)
    assert len(queued_messages(session)) == 2


def test_for_some_areas_only_those_who_work_there(session, settings, org):
    south_only = create_south_manager(session)
    result = reports.queue_weekly_report(
        session, settings, week_ending=SUNDAY, actor=Actor.system("test"), area_ids=[org.north.id]
    )
    assert (result.queued, result.outside_areas) == (1, 1)
    [message] = queued_messages(session)
    assert message.recipient == org.manager.email != south_only.email
    assert message.payload == {"week_ending": "2026-03-08", "area_ids": [org.north.id]}
    assert message.unique_key.endswith(f":areas:{org.north.id}")


def create_south_manager(session) -> m.StaffUser:
    return create_staff_user(
        session, Actor.system("test"), email="south.manager@test.example", name="South Manager",
        role="manager", password=TEST_PASSWORD, area_names=["Southshire"],
    )  # fmt: skip


def test_only_managers_admins_and_the_system_queue_it(session, settings, org):
    with pytest.raises(NotAllowed):
        reports.queue_weekly_report(
            session, settings, week_ending=SUNDAY, actor=org.actor(session, org.officer_north)
        )
    assert queued_messages(session) == []
    result = reports.queue_weekly_report(
        session, settings, week_ending=SUNDAY, actor=org.actor(session, org.manager)
    )
    assert result.queued == 1


def test_a_failure_part_way_queues_nobody(session, settings, org, monkeypatch, backend):
    # On SQLite too: a savepoint as a transaction's first statement once committed on release
    # (crm.db.savepoint opens the transaction first).
    extra = with_recipients(settings, [org.admin.email])
    real = reports.enqueue_message
    calls = []

    def fail_on_the_second(*args, **kwargs):
        calls.append(kwargs["recipient"])
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(reports, "enqueue_message", fail_on_the_second)
    with pytest.raises(RuntimeError):
        reports.queue_weekly_report(session, extra, week_ending=SUNDAY, actor=Actor.system("t"))
    assert len(calls) == 2
    assert queued_messages(session) == []
