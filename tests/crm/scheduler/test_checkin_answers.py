"""A check-in has one answer: answering again replaces it (the same line on the carer's
timeline, one follow-up task), and the answer page is rate-limited. 2,500 posts of one link
once added 668 notes to a carer's timeline."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.messaging.dispatcher import Dispatcher
from crm.services import checkins, reminders
from crm.services.actors import Actor
from crm.services.data_protection import anonymise_household
from crm.web.checkins import ANSWERS_PER_CHECK_IN_PER_HOUR
from tests.crm.live_server import at_once, live_server
from tests.crm.scheduler.helpers import SECRET, outbox, tasks
from tests.crm.scheduler.test_checkins import at, carer_with_check_in, email_links

EMAIL_CARER = {"email_address": "cara@example.com", "phone": None}


def notes(session, carer: m.Carer) -> list[m.Activity]:
    session.expire_all()
    return list(
        session.exec(
            select(m.Activity).where(
                m.Activity.household_id == carer.household_id,
                m.Activity.kind == m.ActivityKind.NOTE,
            )
        ).all()
    )


@pytest.fixture
def app(sched_settings, engine):
    from crm.web import create_app

    app = create_app(sched_settings, engine=engine, secret_key=SECRET)
    app.config["TESTING"] = True
    return app


def opened_link(smtp, get) -> tuple[str, dict]:
    """Open the email's "1" link with `get` as the carer's browser would; returns where the
    page posts the answer and the fields it posts (with its CSRF token)."""
    link = email_links(smtp, "cara@example.com")["1"]
    html = get(link)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    assert fields["score"] == "1" and "csrf_token" in fields
    return link.rsplit("/", 1)[0], fields


def test_answering_again_replaces_the_answer_on_the_same_timeline_entry(
    session, engine, org, sched_settings
):
    carer, check_in = carer_with_check_in(session, engine, org, sched_settings, **EMAIL_CARER)
    for score in (2, 1, 4):
        clock.advance(timedelta(minutes=5))
        checkins.answer_check_in(session, check_in.id, score=score, settings=sched_settings)
    clock.advance(timedelta(minutes=5))
    checkins.answer_check_in(session, check_in.id, comment="Better now", settings=sched_settings)

    [note] = notes(session, carer)
    assert note.check_in_id == check_in.id
    assert note.summary == "Check-in answered: 4 out of 5 (going well)"
    assert note.body == "Better now" and note.occurred_at == clock.now()
    # The low score made one follow-up task and one alert, however often it was answered.
    assert len(tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP)) == 1
    assert len(outbox(session, template="check_in_alert_staff")) == 1
    assert session.get(m.CheckIn, check_in.id).score == 4


def test_the_answer_page_is_rate_limited_per_check_in(
    session, engine, org, sched_settings, smtp, app
):
    carer, _check_in = carer_with_check_in(session, engine, org, sched_settings, **EMAIL_CARER)
    client = app.test_client()
    path, fields = opened_link(smtp, lambda url: client.get(url).get_data(as_text=True))
    statuses = [client.post(path, data=fields).status_code for _ in range(25)]
    assert statuses == [200] * ANSWERS_PER_CHECK_IN_PER_HOUR + [429] * (
        25 - ANSWERS_PER_CHECK_IN_PER_HOUR
    )
    assert len(notes(session, carer)) == 1


def test_one_link_posted_many_times_at_once_makes_one_note_and_one_task(
    session, engine, org, sched_settings, smtp, app
):
    carer, check_in = carer_with_check_in(session, engine, org, sched_settings, **EMAIL_CARER)
    with live_server(app) as base, requests.Session() as browser:
        path, fields = opened_link(smtp, lambda url: browser.get(base + url, timeout=30).text)
        cookies = browser.cookies.get_dict()
        responses = at_once(
            30,
            lambda _i: (
                requests.post(base + path, data=fields, cookies=cookies, timeout=120).status_code
            ),
        )
    assert set(responses) <= {200, 429}, responses
    assert 1 <= responses.count(200) <= ANSWERS_PER_CHECK_IN_PER_HOUR
    [note] = notes(session, carer)
    assert note.check_in_id == check_in.id
    assert len(tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP)) == 1


def test_no_unanswered_check_in_task_for_a_carer_whose_details_were_erased(
    session, engine, org, sched_settings
):
    carer, _first = carer_with_check_in(session, engine, org, sched_settings, **EMAIL_CARER)
    # A second check-in goes, and neither is answered.
    now = at(2026, 4, 13, 10, 0)
    reminders.run("retention_check_ins", session, sched_settings, now)
    dispatcher = Dispatcher(sched_settings, engine)
    assert dispatcher.run_until_idle().sent == 1
    dispatcher.close()
    anonymise_household(
        session, Actor.for_staff(session, org.manager), carer.household_id, reason="Asked"
    )
    now = at(2026, 4, 21, 10, 0)
    assert (
        reminders.run("retention_check_ins", session, sched_settings, now)["unanswered_tasks"] == 0
    )
    assert tasks(session, kind=m.TaskKind.CHECK_IN_FOLLOW_UP) == []
