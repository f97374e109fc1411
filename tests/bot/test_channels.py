"""The same conversations through each channel: the terminal (`fostercrm chat`), Telegram
through the local Bot API server (python-telegram-bot polling it), and the web chat (Flask
test client). Each books a visit in at most six messages with a typed time, moves and cancels
it in free text, and carries on a booking after a safeguarding disclosure with the details
kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

import crm.models as m
from bot.assistant import Assistant
from bot.knowledge import KnowledgeCache
from bot.telegram import SHARE_CONTACT_LABEL, BackgroundBot
from crm.web import create_app
from tests.bot.bot_helpers import WebClient
from tests.bot.test_telegram import Person, Server, texts

SECRET = "test-secret-key-0123456789abcdef"


def live_visits(engine) -> list[m.Appointment]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(m.Appointment).where(m.Appointment.status == m.AppointmentStatus.BOOKED)
            ).all()
        )


# -- terminal ---------------------------------------------------------------------------


@pytest.fixture
def terminal(monkeypatch, database_url, org):
    """`fostercrm chat` against the test database (as it would run against the real one)."""
    from crm.cli.chat import chat_command

    monkeypatch.setenv("FOSTERCRM_DATABASE_URL", database_url)

    def run(*lines: str) -> str:
        result = CliRunner().invoke(chat_command, [], input="\n".join(lines) + "\n")
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_terminal_booking_typed_slot_move_and_cancel(terminal, engine):
    output = terminal(
        "I'd like a visit",
        "Sam Patel",
        "sam@example.com",
        "LE1 6ZG",
        "yes",
        "thursday 11am please",
        "can we move it to friday at 2pm",
        "actually we need to cancel it sorry",
        "yes",
    )
    assert "Booked: Officer.North will visit you on Thursday 12 March at 11am" in output
    assert "Done, your visit is moved" in output and "Friday 13 March at 2pm" in output
    assert "Your visit is cancelled" in output
    assert live_visits(engine) == []


def test_terminal_safeguarding_mid_booking_then_carry_on(terminal, engine):
    output = terminal(
        "book a visit",
        "Sam Patel",
        "sam@example.com",
        "I'm worried, the kids next door are left on their own all night",
        "ok, can we carry on booking",
        "LE1 6ZG",
        "yes",
        "wed 11 mar 9:30am",
    )
    assert "999" in output
    assert "I've kept what you told me" in output
    assert "Booked:" in output
    [visit] = live_visits(engine)
    assert visit.starts_at == datetime(2026, 3, 11, 9, 30, tzinfo=UTC)


# -- Telegram -----------------------------------------------------------------------------


class ContactServer(Server):
    def inject_contact(self, chat_id: int, phone: str, *, own: bool = True) -> None:
        user = self._user(chat_id, "Sam", None)
        with self._lock:
            message_id = next(self._message_ids)
        contact = {"phone_number": phone, "first_name": "Sam", "last_name": "Patel"}
        if own:
            contact["user_id"] = chat_id
        self._add_update(
            "message",
            {
                "message_id": message_id,
                "date": 1773136800,
                "chat": self._chat(chat_id, None, None, user),
                "from": user,
                "contact": contact,
            },
        )


class ContactPerson(Person):
    def share_contact(self, phone: str) -> list:
        before = len(self.server.messages_to(self.chat_id))
        self.server.inject_contact(self.chat_id, phone)
        return self._wait(before)


@pytest.fixture
def server():
    with ContactServer() as server:
        yield server


@pytest.fixture
def running_bot(settings, server, engine, org, knowledge_files):
    bot_settings = settings.model_copy(
        update={"telegram_bot_token": server.token, "telegram_api_base_url": server.base_url}
    )
    base, matcher = knowledge_files
    assistant = Assistant(bot_settings, KnowledgeCache(base, matcher))
    with BackgroundBot(bot_settings, engine, assistant=assistant, poll_timeout=0.2) as bot:
        yield bot


def test_telegram_booking_with_the_share_contact_button(server, running_bot, engine):
    person = ContactPerson(server, engine, chat_id=7001)
    person.say("I'd like a visit")
    replies = person.say("Sam Patel")
    keyboard = replies[-1].reply_markup["keyboard"]
    assert keyboard == [[{"text": SHARE_CONTACT_LABEL, "request_contact": True}]]
    replies = person.share_contact("07700 900982")
    # The share button goes away once the question is answered.
    assert replies[-1].reply_markup == {"remove_keyboard": True}
    person.say("LE1 6ZG")
    person.say("yes")
    replies = person.say("thursday 11am please")
    assert "Booked" in texts(replies)
    assert person.sent == 6
    [visit] = live_visits(engine)
    assert visit.starts_at == datetime(2026, 3, 12, 11, 0, tzinfo=UTC)
    with Session(engine) as session:
        applicant = session.exec(select(m.Applicant)).one()
        assert applicant.phone == "+447700900982"
    replies = person.say("can we move it to monday at 11")
    assert "moved" in texts(replies)
    replies = person.say("actually we need to cancel it sorry")
    assert "Are you sure" in texts(replies)
    person.press("Yes, cancel it")
    assert live_visits(engine) == []


def test_telegram_safeguarding_mid_booking_then_carry_on(server, running_bot, engine):
    person = ContactPerson(server, engine, chat_id=7002)
    person.say("book a visit")
    person.say("Sam Patel")
    person.say("sam@example.com")
    replies = person.say("my mum's boyfriend hurts me and my brother")
    assert "999" in texts(replies) and all(not r.buttons for r in replies)
    replies = person.say("ok can we carry on booking")
    assert "kept what you told me" in texts(replies)
    person.say("LE1 6ZG")
    person.press("Yes, I agree")
    replies = person.say("Wed 11 Mar, 11am")
    assert "Booked" in texts(replies)


def test_a_contact_card_of_someone_else_is_only_a_number(server, running_bot, engine):
    person = ContactPerson(server, engine, chat_id=7003)
    person.say("book a visit")
    person.say("Sam Patel")
    before = len(server.messages_to(7003))
    server.inject_contact(7003, "07700 900983", own=False)
    replies = person._wait(before)
    # Taken as the number typed: the next question is the postcode.
    assert "postcode" in texts(replies)


# -- web chat -----------------------------------------------------------------------------


@pytest.fixture
def web(settings, engine, org) -> WebClient:
    app = create_app(settings, engine=engine, secret_key=SECRET)
    app.config["TESTING"] = True
    return WebClient(app.test_client())


def test_web_chat_booking_typed_slot_move_and_cancel(web, engine):
    token = web.token()

    def say(text: str) -> dict:
        response = web.http.post(
            "/chat/messages", data={"message": text}, headers={"X-CSRFToken": token}
        )
        assert response.status_code == 200
        return response.get_json()

    for text in ("I'd like a visit", "Sam Patel", "sam@example.com", "LE1 6ZG", "yes"):
        say(text)
    data = say("thursday 11am please")
    assert "Booked" in data["replies"][0]["text"]
    [visit] = live_visits(engine)
    assert visit.starts_at == datetime(2026, 3, 12, 11, 0, tzinfo=UTC)
    data = say("can we change it to friday 2pm")
    assert "moved" in data["replies"][0]["text"]
    data = say("we need to cancel the visit")
    assert "Are you sure" in data["replies"][0]["text"]
    say("yes")
    assert live_visits(engine) == []


def test_web_chat_safeguarding_mid_booking_then_carry_on(web, engine):
    for text in ("book a visit", "Sam Patel", "sam@example.com"):
        web.post("/chat", {"message": text})
    web.post("/chat", {"message": "a little girl on our street always has bruises"})
    html = web.http.get("/chat").get_data(as_text=True)
    assert "999" in html
    web.post("/chat", {"message": "can we carry on with the booking now"})
    web.post("/chat", {"message": "LE1 6ZG"})
    web.post("/chat", {"message": "yes"})
    web.post("/chat", {"message": "wed 11 mar, 9:30am"})
    html = web.http.get("/chat").get_data(as_text=True)
    assert "Booked:" in html
    [visit] = live_visits(engine)
    with Session(engine) as session:
        applicant = session.exec(
            select(m.Applicant).where(m.Applicant.household_id == visit.household_id)
        ).one()
        assert applicant.email == "sam@example.com"
