"""One booking link posted 50 times at once, each with a different slot, through a real HTTP
server on PostgreSQL: one initial visit is booked, everyone else is told when it is, and
nobody sees a server error. (It once booked seven.)"""

from __future__ import annotations

import re
from datetime import time

import pytest
import requests
from sqlmodel import func, select

import crm.models as m
from crm.services.appointments import BOOKING_LINK_ACTOR_LABEL
from crm.web.public import PUBLIC_ACTOR_LABEL, booking_token
from tests.crm.live_server import at_once, csrf_token, live_server

POSTS = 50


@pytest.fixture
def backend() -> str:
    # Real concurrency needs a database that runs writers side by side.
    return "postgresql"


def live_initial_visits(session, household_id: int) -> int:
    session.expire_all()
    return session.exec(
        select(func.count())
        .select_from(m.Appointment)
        .where(
            m.Appointment.household_id == household_id,
            m.Appointment.kind == m.AppointmentKind.INITIAL_VISIT,
            m.Appointment.status == m.AppointmentStatus.BOOKED,
        )
    ).one()


def test_fifty_posts_of_one_booking_link_book_one_visit(app, session, org, make_household):
    # The link's holder is told when their visit is: the page books under that name.
    assert PUBLIC_ACTOR_LABEL == BOOKING_LINK_ACTOR_LABEL
    # Evening hours for one officer, so the page offers more than 50 different times.
    for weekday in range(5):
        session.add(
            m.AvailabilityPattern(
                staff_id=org.officer_north.id,
                weekday=weekday,
                start_time=time(16, 0),
                end_time=time(19, 0),
                slot_minutes=60,
            )
        )
    session.commit()
    household = make_household("LE1 6ZG")
    with app.test_request_context():
        url = f"/enquire/thank-you/{booking_token(household.id)}"

    with live_server(app) as base:
        page = requests.get(base + url, timeout=30)
        assert page.status_code == 200
        slots = re.findall(r'name="slot" type="radio" value="([^"]+)"', page.text)
        assert len(slots) >= POSTS, len(slots)
        form = {"csrf_token": csrf_token(page.text)}

        def post(i: int) -> requests.Response:
            return requests.post(
                base + url,
                data={**form, "slot": slots[i]},
                cookies=page.cookies,
                allow_redirects=False,
                timeout=120,
            )

        responses = at_once(POSTS, post)

    errors = [r for r in responses if isinstance(r, Exception)]
    assert errors == []
    statuses = sorted(r.status_code for r in responses)
    assert all(status < 500 for status in statuses), statuses
    # The one that booked goes to the confirmation; each other one is told about that visit.
    assert statuses.count(302) == 1, statuses
    for response in responses:
        if response.status_code == 200:
            assert (
                "You already have an initial visit booked for" in response.text
                or "Your initial visit is booked" in response.text
            ), response.text[:2000]
    assert live_initial_visits(session, household.id) == 1
    confirmations = session.exec(
        select(func.count())
        .select_from(m.OutboxMessage)
        .where(m.OutboxMessage.template == "visit_confirmation")
    ).one()
    assert confirmations == 1
