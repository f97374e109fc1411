"""The web chat without JavaScript (plain form posts, Flask test client), its JSON endpoint,
and the admin page for the assistant's answers."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

import crm.models as m
from crm.testing.fixtures import TEST_PASSWORD
from crm.web import create_app
from tests.bot.bot_helpers import WebClient

SECRET = "test-secret-key-0123456789abcdef"
BUTTON = re.compile(r'<button type="submit" name="button" value="([^"]+)"[^>]*>([^<]+)</button>')


@pytest.fixture
def app(settings, engine, org):
    app = create_app(settings, engine=engine, secret_key=SECRET)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def web(app) -> WebClient:
    return WebClient(app.test_client())


def buttons(html: str) -> dict[str, str]:
    return {label.strip(): value for value, label in BUTTON.findall(html)}


def test_the_chat_works_without_javascript(web, session):
    page = web.http.get("/chat")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ask us about fostering" in html and "call 999" in html
    assert "webchat.js" in html  # only a file: the page works without it
    response = web.post("/chat", {"message": "do u have to be married"})
    assert response.status_code == 302 and response.location.endswith("/chat#latest")
    html = web.http.get("/chat").get_data(as_text=True)
    assert "do u have to be married" in html
    assert "civil partnership" in html

    # Through the booking, pressing buttons as a browser without JavaScript would.
    for text in ("book a visit", "Sam Patel", "07700 900982", "LE1 6ZG"):
        web.post("/chat", {"message": text})
    html = web.http.get("/chat").get_data(as_text=True)
    choices = buttons(html)
    web.post("/chat", {"button": choices["Yes, I agree"]})
    html = web.http.get("/chat").get_data(as_text=True)
    slot = next(label for label in buttons(html) if label.startswith("Wed"))
    web.post("/chat", {"button": buttons(html)[slot]})
    html = web.http.get("/chat").get_data(as_text=True)
    assert "Booked:" in html
    web.post("/chat", {"button": buttons(web.http.get("/chat").get_data(as_text=True))["Skip"]})
    web.post("/chat", {"button": buttons(web.http.get("/chat").get_data(as_text=True))["Skip"]})
    household = session.exec(select(m.Household)).one()
    assert household.enquiry_channel == m.EnquiryChannel.WEBCHAT
    assert session.exec(select(m.Appointment)).one().household_id == household.id
    # No email: the confirmation is the chat itself (and the team's call).
    assert session.exec(select(m.OutboxMessage)).all() == []
    # What the person pressed reads as what they chose, not as button codes.
    texts = session.exec(select(m.ChatMessage.text)).all()
    assert "[Yes, I agree]" in texts


def test_each_browser_has_its_own_conversation(app, session):
    first, second = WebClient(app.test_client()), WebClient(app.test_client())
    first.post("/chat", {"message": "my secret question about smoking"})
    assert "my secret question" not in second.http.get("/chat").get_data(as_text=True)
    assert len(session.exec(select(m.ChatConversation)).all()) == 1


def test_what_people_type_is_shown_as_text_never_as_html(web):
    web.post("/chat", {"message": "<script>alert('x')</script><b>bold</b>"})
    html = web.http.get("/chat").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_json_endpoint_for_the_javascript_page(web):
    token = web.token()
    response = web.http.post(
        "/chat/messages",
        data={"message": "how much are foster carers paid"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["topic"] == "allowances"
    assert "£" in data["replies"][0]["text"]
    assert data["replies"][0]["buttons"][0][0] == {"label": "Book a visit", "data": "go:book"}
    response = web.http.post(
        "/chat/messages", data={"button": "go:book"}, headers={"X-CSRFToken": token}
    )
    assert "What's your name?" in [r["text"] for r in response.get_json()["replies"]]


def test_posts_without_a_csrf_token_are_refused(web, session):
    assert web.http.post("/chat", data={"message": "hello"}).status_code == 400
    assert web.http.post("/chat/messages", data={"message": "hello"}).status_code == 400
    assert session.exec(select(m.ChatMessage)).all() == []


def sign_in(app, user) -> WebClient:
    client = WebClient(app.test_client())
    response = client.post(
        "/sign-in", {"email": user.email, "password": TEST_PASSWORD}, token_from="/sign-in"
    )
    assert response.status_code == 302
    return client


def test_admin_page_edits_an_answer_and_shows_the_history(app, org, session):
    manager = sign_in(app, org.manager)
    page = manager.http.get("/admin/assistant")
    assert page.status_code == 200
    assert "/admin/assistant/pets" in page.get_data(as_text=True)
    form = manager.http.get("/admin/assistant/pets").get_data(as_text=True)
    assert "Ways people ask this" in form
    response = manager.post(
        "/admin/assistant/pets",
        {"title": "Pets", "answer": "Pets are welcome. Book a visit?", "examples": "pets?\ndog?"},
        token_from="/admin/assistant/pets",
    )
    assert response.status_code == 302
    page = manager.http.get("/admin/assistant/pets").get_data(as_text=True)
    assert "Pets are welcome. Book a visit?" in page
    assert f"staff:{org.manager.id}" in page
    # The public chat uses it straight away.
    visitor = WebClient(app.test_client())
    visitor.post("/chat", {"message": "dog?"})
    assert "Pets are welcome. Book a visit?" in visitor.http.get("/chat").get_data(as_text=True)


def test_admin_page_shows_errors_and_keeps_the_input(app, org, session):
    manager = sign_in(app, org.manager)
    response = manager.post(
        "/admin/assistant/pets",
        {"title": "Pets", "answer": "Only {nonsense}", "examples": "pets?"},
        token_from="/admin/assistant/pets",
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and "Unknown placeholder" in html
    assert "Only {nonsense}" in html
    assert session.exec(select(m.KnowledgeEdit)).all() == []


def test_admin_page_is_for_admins_and_managers_only(app, org, web):
    officer = sign_in(app, org.officer_north)
    assert officer.http.get("/admin/assistant").status_code == 403
    assert officer.http.get("/admin/assistant/pets").status_code == 403
    anonymous = web.http.get("/admin/assistant")
    assert anonymous.status_code == 302 and "/sign-in" in anonymous.location
