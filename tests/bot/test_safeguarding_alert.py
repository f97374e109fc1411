"""What staff get when the assistant hears a concern: an urgent task that records the kind of
harm it seems to be about (and whether a child is writing about themselves), and an email that
names it in plain words, without the person's words; nothing of what they wrote in the logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlmodel import select

import crm.models as m
from crm.messaging.render import Renderer
from crm.services.actors import Actor
from crm.services.errors import InvalidInput
from crm.services.safeguarding import CONCERN_CATEGORIES, raise_concern

ACTOR = Actor.system("assistant:webchat")
WORDS = "the kids at number 4 are always hungry and filthy, their mum Jo is never in"


def _alerts(session):
    return session.exec(select(m.OutboxMessage).order_by(m.OutboxMessage.id)).all()


def test_the_task_and_the_alert_record_the_kind_of_concern(session, settings, org, caplog):
    caplog.set_level(logging.DEBUG)
    task = raise_concern(
        session,
        ACTOR,
        settings,
        words=WORDS,
        where="web chat (conversation 7)",
        area_id=org.north.id,
        category="neglect",
    )
    assert task is not None and task.priority == m.TaskPriority.URGENT
    assert "What it seems to be about: neglect (the assistant's reading" in task.detail
    assert "child or young person" not in task.detail
    assert WORDS in task.detail  # staff see the words, in the CRM only
    alerts = _alerts(session)
    assert {a.recipient for a in alerts} == {org.manager.email, org.admin.email}
    for alert in alerts:
        assert alert.payload["category"] == "neglect"
        assert alert.payload["category_label"] == "neglect"
        assert alert.payload["about_self"] is False
        assert "hungry" not in str(alert.payload) and "Jo" not in str(alert.payload)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"task {task.id}" in logged and "category neglect" in logged
    assert "hungry" not in logged and "number 4" not in logged


def test_a_child_writing_about_themselves_is_flagged_to_staff(session, settings, org):
    task = raise_concern(
        session,
        ACTOR,
        settings,
        words="i'm 13 and my step dad comes in my room at night",
        where="web chat (conversation 8)",
        category="sexual_abuse",
        about_self=True,
    )
    assert "What it seems to be about: sexual abuse" in task.detail
    assert "The writer seems to be a child or young person talking about themselves" in task.detail
    assert "Childline (0800 1111)" in task.detail
    assert all(a.payload["about_self"] is True for a in _alerts(session))


def test_without_a_category_it_says_not_known(session, settings, org):
    task = raise_concern(session, ACTOR, settings, words=WORDS, where="Telegram chat 5")
    assert "What it seems to be about: not known yet" in task.detail
    assert {a.payload["category_label"] for a in _alerts(session)} == {"not known yet"}
    assert {a.payload["category"] for a in _alerts(session)} == {None}


def test_an_unknown_category_is_refused_and_changes_nothing(session, settings, org):
    with pytest.raises(InvalidInput) as refused:
        raise_concern(
            session, ACTOR, settings, words=WORDS, where="web chat", category="bad_parenting"
        )
    assert "category" in refused.value.errors
    assert session.exec(select(m.Task)).all() == []
    assert _alerts(session) == []


@pytest.mark.parametrize("category", list(CONCERN_CATEGORIES))
def test_the_staff_email_names_the_concern_in_plain_words(session, settings, org, category):
    raise_concern(
        session,
        ACTOR,
        settings,
        words=WORDS,
        where="web chat (conversation 9)",
        area_id=org.north.id,
        category=category,
        about_self=category == "child_disclosing",
    )
    alert = _alerts(session)[0]
    email = Renderer(settings).render(alert).content
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    label = CONCERN_CATEGORIES[category]
    assert f"What it seems to be about: {label}." in text
    assert f"<strong>{label}</strong>" in html
    assert ("talking about themselves" in text) is (category == "child_disclosing")
    assert "\n\n\n" not in text
    # The person's words stay in the CRM, and the subject line says no more than it must.
    assert "hungry" not in text and "hungry" not in html
    assert label not in email["Subject"]


def test_an_alert_queued_before_categories_still_renders(settings):
    old = m.OutboxMessage(
        id=5,
        channel=m.Channel.EMAIL,
        recipient="manager@test.example",
        template="safeguarding_alert_staff",
        payload={
            "task_id": 3,
            "task_title": "Safeguarding concern raised in the web chat: act today",
            "where": "web chat",
            "area_name": "Northshire",
            "due_at": "2026-03-10T22:15:00+00:00",
            "staff_name": "Mo",
        },
        due_at=datetime(2026, 3, 10, 22, 15, tzinfo=UTC),
        unique_key="test:old-alert",
        staff_id=1,
    )
    text = Renderer(settings).render(old).content.get_body(("plain",)).get_content()
    assert "What it seems to be about" not in text
    assert "urgent task in Fostercrm for the Northshire team" in text
    assert "\n\n\n" not in text
