"""Fuzz tests of the public web entry points (no sign-in): the enquiry form, the booking link,
the web chat and the check-in answer. Whatever is sent, the answer is never a server error
(the app runs with TESTING, so an exception in a view fails the example with its traceback),
nothing is logged as an error, and the database is consistent afterwards: rows appear only
for input that was good, every household is whole, and no control character is stored.

Runs on SQLite and on PostgreSQL (which refuses NUL bytes outright); bounded and deterministic
(tests.integration.fuzzing.FUZZ). One app and database per test, shared by its examples."""

from __future__ import annotations

import itertools
import logging
import re
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services.checkins import make_answer_token
from crm.text import clean_text
from crm.web import create_app
from tests.crm.scheduler.helpers import make_carer
from tests.integration.fuzzing import (
    FUZZ,
    assert_households_consistent,
    assert_no_control_characters_stored,
    changed,
    counts,
    field,
    nasty_text,
    sprinkled,
)

SECRET = "fuzz-test-secret-key-0123456789abcdef"
_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
_SLOT = re.compile(r'name="slot" type="radio" value="([^"]+)"')
ENQUIRY_TABLES = (m.Household, m.Applicant, m.StageEvent, m.Consent, m.Task, m.Activity)


@pytest.fixture
def web(settings, engine, org):
    settings = settings.model_copy(update={"secret_key": SECRET})
    app = create_app(settings, engine=engine, secret_key=SECRET)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def errors_logged(caplog):
    """Error records logged while the test runs (a view or the assistant that catches an
    exception and carries on still logs it)."""
    caplog.set_level(logging.ERROR)
    return lambda: [r for r in caplog.records if r.levelno >= logging.ERROR]


def csrf_token(http, url: str) -> str:  # noqa: ANN001
    return _TOKEN.search(http.get(url).get_data(as_text=True)).group(1)


def addresses():  # noqa: ANN201
    """A new visitor address for each example, so per-address limits leave the rules to
    be reached."""
    for n in itertools.count(1):
        yield {"REMOTE_ADDR": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}


multi_choice = st.lists(
    st.one_of(st.sampled_from(["email", "phone", "teenagers", "kinship", " ", ""]), nasty_text()),
    max_size=3,
)
GOOD_ENQUIRY = st.builds(
    lambda n: {
        "first_name": "Priya",
        "last_name": "Shah",
        "email": f"person{n}@example.com",
        "phone": f"07700 900{n % 1000:03d}" if n % 2 else "",
        "postcode": "LE1 6ZG" if n % 3 else "NG1 1AA",
        "interests": ["teenagers", "short_term"],
        "more": "We have a spare room since our son left.",
        "source_key": "social_media",
        "contact_by": ["email"],
        "consent": "y",
        "website": "",
    },
    st.integers(0, 10**6),
)
ENQUIRY_FORM = changed(
    GOOD_ENQUIRY,
    {
        "first_name": field("Priya"),
        "last_name": field("Shah"),
        "email": st.one_of(st.just(""), field("priya@example.com")),
        "phone": st.one_of(st.just(""), field("07700 900123")),
        "postcode": st.one_of(field("LE1 6ZG"), field("ZZ99 9ZZ")),
        "interests": multi_choice,
        "more": field("We have a spare room since our son left."),
        "source_key": st.one_of(field("social_media"), st.just("")),
        "contact_by": multi_choice,
        "consent": st.one_of(st.sampled_from(["y", ""]), nasty_text()),
        "website": nasty_text(),
    },
)


def test_fuzz_enquiry_form(web, session, errors_logged):
    http = web.test_client()
    token = csrf_token(http, "/enquire")
    visitor = addresses()

    @FUZZ
    @given(form=ENQUIRY_FORM)
    def enquire(form):
        before = counts(session, *ENQUIRY_TABLES)
        response = http.post(
            "/enquire", data={**form, "csrf_token": token}, environ_base=next(visitor)
        )
        assert response.status_code in (200, 302), response.status_code
        after = counts(session, *ENQUIRY_TABLES)
        location = response.headers.get("Location", "")
        if "/enquire/thank-you/" in location:  # a new household, whole
            assert after["household"] == before["household"] + 1
            assert after["applicant"] == before["applicant"] + 1
            assert after["stage_event"] == before["stage_event"] + 1
            assert after["consent"] > before["consent"]
        elif response.status_code == 302:  # a repeat enquirer, or the honeypot
            assert after["household"] == before["household"]
            assert after["applicant"] == before["applicant"]
        else:  # refused with the form's errors: nothing kept
            assert after == before
            assert "There is a problem" in response.get_data(as_text=True)

    enquire()
    assert counts(session, m.Household)["household"] > 0, "no example got through"
    assert_households_consistent(session)
    assert_no_control_characters_stored(session)
    assert errors_logged() == []


def test_fuzz_booking_link(web, session, errors_logged):
    http = web.test_client()
    token = csrf_token(http, "/enquire")
    links, slots = [], set()
    for n in range(3):
        response = http.post(
            "/enquire",
            data={
                "first_name": "Sam", "last_name": "Patel", "email": f"booker{n}@example.com",
                "postcode": "LE1 6ZG", "source_key": "social_media", "consent": "y",
                "csrf_token": token,
            },
            environ_base={"REMOTE_ADDR": f"10.9.9.{n}"},
        )  # fmt: skip
        links.append(response.headers["Location"])
        slots.update(_SLOT.findall(http.get(links[-1]).get_data(as_text=True)))
    assert slots
    link = st.one_of(
        st.sampled_from(links),
        st.builds(lambda s: "/enquire/thank-you/" + quote(s, safe=""), nasty_text()),
        st.sampled_from(links)
        .flatmap(lambda url: sprinkled(url.rsplit("/", 1)[1]))
        .map(lambda t: "/enquire/thank-you/" + quote(t, safe="")),
    )
    slot = st.one_of(st.sampled_from(sorted(slots)), st.sampled_from(sorted(slots)).flatmap(field))

    @FUZZ
    @given(url=link, chosen=st.lists(slot, max_size=2))
    def book(url, chosen):
        before = counts(session, m.Appointment, m.OutboxMessage)
        response = http.post(url, data={"slot": chosen, "csrf_token": token})
        assert response.status_code in (200, 302, 404), response.status_code
        after = counts(session, m.Appointment, m.OutboxMessage)
        if response.status_code == 302:
            assert after["appointment"] == before["appointment"] + 1
            assert after["outbox_message"] == before["outbox_message"] + 1
        else:
            assert after == before
        live = session.exec(
            select(m.Appointment.household_id).where(
                m.Appointment.kind == m.AppointmentKind.INITIAL_VISIT,
                m.Appointment.status == m.AppointmentStatus.BOOKED,
            )
        ).all()
        assert len(live) == len(set(live)), "a household with two live initial visits"

    book()
    assert counts(session, m.Appointment)["appointment"] > 0, "no example booked a visit"
    assert_households_consistent(session)
    assert_no_control_characters_stored(session)
    assert errors_logged() == []


def test_fuzz_web_chat(web, session, errors_logged):
    http = web.test_client()
    token = csrf_token(http, "/chat")
    visitor = addresses()
    buttons = st.sampled_from(["go:book", "go:human", "go:manage", "topic:age", "x" * 300])
    sent = st.one_of(
        st.fixed_dictionaries({"message": field("can I foster if I rent?")}),
        st.fixed_dictionaries({"message": nasty_text()}),
        st.fixed_dictionaries({"button": st.one_of(buttons, buttons.flatmap(field))}),
        st.just({}),
    )

    @FUZZ
    @given(data=sent, javascript=st.booleans())
    def say(data, javascript):
        before = counts(session, m.ChatMessage)["chat_message"]
        url = "/chat/messages" if javascript else "/chat"
        response = http.post(url, data={**data, "csrf_token": token}, environ_base=next(visitor))
        assert response.status_code in (200, 302, 400), response.status_code
        after = counts(session, m.ChatMessage)["chat_message"]
        # A button that is nothing once cleaned is no button; a message is always answered.
        pressed = bool(clean_text(data.get("button", "")).strip())
        answered = response.status_code == 200 if javascript else "message" in data or pressed
        if response.status_code == 400 or not answered:
            assert after == before
        else:
            assert after >= before + 2  # what they said, and at least one reply
            if javascript:
                assert response.get_json()["replies"]

    say()
    assert counts(session, m.ChatMessage)["chat_message"] > 0
    assert_households_consistent(session)
    assert_no_control_characters_stored(session)
    assert errors_logged() == []


def test_fuzz_check_in_answer(web, session, settings, org, errors_logged):
    settings = settings.model_copy(update={"secret_key": SECRET})
    http = web.test_client()
    token = csrf_token(http, "/enquire")
    carer = make_carer(session, settings, supervisor_id=org.supervisor_north.id)
    serial = itertools.count(1)
    visitor = addresses()

    def new_check_in() -> m.CheckIn:
        check_in = m.CheckIn(
            carer_id=carer.id,
            channel=m.Channel.EMAIL,
            sent_at=clock.now(),
            unique_key=f"fuzz-{next(serial)}",
        )
        session.add(check_in)
        session.commit()
        return check_in

    answer = changed(
        st.fixed_dictionaries(
            {
                "score": st.sampled_from(["1", "2", "4", "5", ""]),
                "wants_call": st.sampled_from(["", "1"]),
                "comment": st.sampled_from(["", "All good, thank you"]),
            }
        ),
        {
            "score": st.one_of(
                st.sampled_from(["", "0", "6", "-1", "٣", "1e3", " 3 ", "9" * 5000]),
                field("4"),
            ),
            "wants_call": st.one_of(st.sampled_from(["", "1", "yes"]), nasty_text()),
            "comment": field("All good, thank you"),
        },
    )

    @FUZZ
    @given(data=answer, forged=st.one_of(st.none(), nasty_text()))
    def respond(data, forged):
        check_in = new_check_in()
        link = make_answer_token(settings, check_in.id)
        if forged is not None:
            link = quote(link[: len(link) // 2] + forged, safe="")
        before = counts(session, m.Activity, m.Task)
        response = http.post(
            f"/check-in/{link}", data={**data, "csrf_token": token}, environ_base=next(visitor)
        )
        # 404: a forged link with a "/" in it is no check-in address at all.
        assert response.status_code in (200, 400, 404, 429), response.status_code
        session.expire_all()
        stored = session.get(m.CheckIn, check_in.id)
        if response.status_code == 200:
            assert stored.answered_at is not None
            assert stored.score is None or 1 <= stored.score <= 5
        else:
            assert stored.answered_at is None and stored.comment is None
            assert counts(session, m.Activity, m.Task) == before

    respond()
    answered = session.exec(select(m.CheckIn).where(m.CheckIn.answered_at.is_not(None))).all()
    assert answered, "no example answered a check-in"
    assert_households_consistent(session)
    assert_no_control_characters_stored(session)
    assert errors_logged() == []
