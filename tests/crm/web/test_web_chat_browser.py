"""The web chat in headless Chromium (with JavaScript): a question, then the whole booking,
against the app served by a real WSGI server on an ephemeral port."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select
from werkzeug.serving import make_server

import crm.models as m
from crm.web import create_app

# Set to a file path to see the page after the booking (for a person checking the layout).
SCREENSHOT = os.environ.get("FOSTERCRM_TEST_WEBCHAT_SCREENSHOT")


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    # One backend is enough for the browser; the same flows run on both in the other tests.
    return sqlite_url


@pytest.fixture
def base_url(settings, engine, org) -> Iterator[str]:
    app = create_app(settings, engine=engine, secret_key="test-secret-key-0123456789abcdef")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_question_then_the_whole_booking_with_javascript(page, base_url, engine):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base_url}/chat")
    log = page.locator("#webchat-log")
    assert "fostering assistant" in log.inner_text()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    def send(text: str, expect: str) -> None:
        page.fill("#message", text)
        page.click("#webchat-send")
        page.wait_for_function(
            "expect => document.getElementById('webchat-log').innerText.includes(expect)",
            arg=expect,
        )

    def choose(label: str, expect: str) -> None:
        page.locator("#webchat-buttons button", has_text=label).first.click()
        page.wait_for_function(
            "expect => document.getElementById('webchat-log').innerText.includes(expect)",
            arg=expect,
        )

    send("can u foster if u smoke", "under 5")
    choose("Book a visit", "What's your name?")
    send("Sam Patel", "best way to contact you")
    send("sam.patel@example.com", "postcode")
    send("LE1 6ZG", "do you agree")
    choose("Yes, I agree", "Which suits you best?")
    first_slot = page.locator("#webchat-buttons button").first.inner_text()
    assert first_slot.startswith("Wed 11 Mar")
    choose(first_slot, "Booked:")
    assert "calendar invite" in log.inner_text()
    choose("Parent and child", "how did you hear about us")
    choose("Event or roadshow", "any other questions")
    # All of that happened in place: JavaScript, no page loads.
    assert navigations == []
    assert errors == []
    # What the person typed is shown as text.
    send("<b>bold?</b>", "bold?")
    assert page.locator("#webchat-log b").count() == 0

    with Session(engine) as session:
        household = session.exec(select(m.Household)).one()
        assert household.interests == "Parent and child"
        assert household.source_key == "event"
        appointment = session.exec(select(m.Appointment)).one()
        assert appointment.household_id == household.id
        outbox = session.exec(select(m.OutboxMessage)).one()
        assert outbox.template == "visit_confirmation"

    # A reload shows the same conversation (it lives in the database, not the page).
    page.reload()
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)
    assert "Booked:" in page.locator("#webchat-log").inner_text()
