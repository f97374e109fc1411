"""The Telegram bot end to end, over real HTTP: python-telegram-bot 22 polling a local server
that speaks the Bot API (crm.testing.telegram_api), against the real test database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session, func, select
from werkzeug.test import Client

import crm.models as m
from bot.assistant import Assistant
from bot.knowledge import KnowledgeCache
from bot.telegram import GROUP_REFUSAL, BackgroundBot, webhook_app
from crm.testing.telegram_api import FakeTelegramServer


class Server(FakeTelegramServer):
    """The shared server, plus the kinds of message it cannot inject yet."""

    def inject_sticker(self, chat_id: int) -> None:
        user = self._user(chat_id, "Sam", None)
        with self._lock:
            message_id = next(self._message_ids)
        self._add_update(
            "message",
            {
                "message_id": message_id,
                "date": 1773136800,
                "chat": self._chat(chat_id, None, None, user),
                "from": user,
                "sticker": {
                    "file_id": "s1",
                    "file_unique_id": "s1u",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                },
            },
        )

    def inject_photo(self, chat_id: int, caption: str | None = None) -> None:
        user = self._user(chat_id, "Sam", None)
        with self._lock:
            message_id = next(self._message_ids)
        message = {
            "message_id": message_id,
            "date": 1773136800,
            "chat": self._chat(chat_id, None, None, user),
            "from": user,
            "photo": [{"file_id": "p1", "file_unique_id": "p1u", "width": 90, "height": 90}],
        }
        if caption:
            message["caption"] = caption
        self._add_update("message", message)


class Person:
    """Someone on Telegram: writes, presses buttons, and waits for every reply to arrive
    (the assistant writes its replies to the database before sending them, so "every reply"
    is known exactly: no sleeping, no guessing)."""

    def __init__(self, server: Server, engine, chat_id: int) -> None:
        self.server = server
        self.engine = engine
        self.chat_id = chat_id
        self.sent = 0

    def _counts(self) -> tuple[int, int]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(m.ChatMessage.from_person, func.count())
                .join(m.ChatConversation, m.ChatConversation.id == m.ChatMessage.conversation_id)
                .where(
                    m.ChatConversation.channel == m.ChatChannel.TELEGRAM,
                    m.ChatConversation.external_id == str(self.chat_id),
                )
                .group_by(m.ChatMessage.from_person)
            ).all()
        counts = dict(rows)
        return counts.get(True, 0), counts.get(False, 0)

    def _wait(self, before: int) -> list:
        self.sent += 1

        def settled() -> bool:
            # The assistant commits all its replies at once, after the person's message.
            people, bot = self._counts()
            return (
                people == self.sent
                and bot > before
                and len(self.server.messages_to(self.chat_id)) == bot
            )

        assert self.server.wait_for(settled, timeout=30), "the bot did not answer in time"
        return self.server.messages_to(self.chat_id)[before:]

    def say(self, text: str) -> list:
        before = len(self.server.messages_to(self.chat_id))
        self.server.inject_message(self.chat_id, text)
        return self._wait(before)

    def press(self, label: str) -> list:
        data = self.button(label)
        before = len(self.server.messages_to(self.chat_id))
        self.server.inject_callback_query(self.chat_id, data)
        return self._wait(before)

    def button(self, label: str) -> str:
        for message in reversed(self.server.messages_to(self.chat_id)):
            for text, data in message.buttons:
                if text == label or text.startswith(label):
                    return data
        raise AssertionError(f"no button {label!r}")


@pytest.fixture
def server():
    with Server() as server:
        yield server


@pytest.fixture
def bot_settings(settings, server):
    return settings.model_copy(
        update={"telegram_bot_token": server.token, "telegram_api_base_url": server.base_url}
    )


@pytest.fixture
def running_bot(bot_settings, engine, org, knowledge_files):
    base, matcher = knowledge_files
    assistant = Assistant(bot_settings, KnowledgeCache(base, matcher))
    with BackgroundBot(bot_settings, engine, assistant=assistant, poll_timeout=0.2) as bot:
        yield bot


def texts(messages) -> str:
    return "\n".join(message.text for message in messages)


def test_start_question_booking_details_slot_confirmation(
    server, running_bot, engine, org, bot_settings
):
    person = Person(server, engine, chat_id=4242)
    replies = person.say("/start")
    assert "fostering assistant" in texts(replies)
    assert ("Book a visit", "go:book") in replies[-1].buttons
    assert "bedroom" in texts(person.say("do i need a spare room"))
    person.press("Book a visit")
    person.say("Sam Patel")
    person.say("sam.patel@example.com")
    replies = person.say("LE1 6ZG")
    assert "Telegram" in replies[-1].text  # the consent names every way we will contact them
    replies = person.press("Yes, I agree")
    slot_labels = [label for label, _ in replies[-1].buttons]
    assert slot_labels[0].startswith("Wed 11 Mar")
    replies = person.press(slot_labels[0])
    assert "Booked" in texts(replies)
    person.press("Skip")
    person.press("Radio or TV")

    # The typing indicator went before the answers.
    assert {a.get("action") for a in server.chat_actions} == {"typing"}
    with Session(engine) as session:
        household = session.exec(select(m.Household)).one()
        assert household.enquiry_channel == m.EnquiryChannel.TELEGRAM
        assert household.source_key == "radio_tv"
        assert household.preferred_channel == m.Channel.TELEGRAM
        scopes = {c.scope for c in session.exec(select(m.Consent)).all()}
        assert scopes == {
            m.ConsentScope.STORE_DETAILS,
            m.ConsentScope.EMAIL,
            m.ConsentScope.TELEGRAM,
        }
        link = session.exec(select(m.TelegramChatLink)).one()
        assert (link.chat_id, link.household_id) == ("4242", household.id)
        appointment = session.exec(select(m.Appointment)).one()
        assert appointment.starts_at == datetime(2026, 3, 11, 9, 30, tzinfo=UTC)
        confirmation = session.exec(select(m.OutboxMessage)).one()
        assert confirmation.template == "visit_confirmation"
        assert confirmation.recipient == "sam.patel@example.com"

        # The scheduler's reminder scan picks the visit up like any other.
        from crm import clock
        from crm.services import reminders

        reminders.run("visit_reminders", session, bot_settings, clock.now())
        session.commit()
        templates = sorted(o.template for o in session.exec(select(m.OutboxMessage)).all())
        assert templates == ["visit_confirmation", "visit_reminder", "visit_reminder_staff"]
        reminder = session.exec(
            select(m.OutboxMessage).where(m.OutboxMessage.template == "visit_reminder")
        ).one()
        assert (reminder.channel, reminder.recipient) == (m.Channel.TELEGRAM, "4242")


def test_group_chats_are_refused_politely_and_nothing_is_kept(server, running_bot, engine):
    server.inject_message(-1001, "can i foster if i rent", chat_type="group", user_id=7)
    assert server.wait_for(lambda: len(server.messages_to(-1001)) == 1)
    assert server.messages_to(-1001)[0].text == GROUP_REFUSAL
    # A private message afterwards is answered (so the group update was consumed first).
    Person(server, engine, 7).say("hello")
    with Session(engine) as session:
        ids = session.exec(select(m.ChatConversation.external_id)).all()
        assert ids == ["7"]


def test_stickers_photos_and_a_stale_button(server, running_bot, engine):
    person = Person(server, engine, 99)
    server.inject_sticker(99)
    assert "only read written messages" in texts(person._wait(0))
    before = len(server.messages_to(99))
    server.inject_photo(99, caption="is my cat ok")
    assert "temperament" in texts(person._wait(before))
    before = len(server.messages_to(99))
    server.inject_callback_query(99, "abcdef:slot:3")
    assert "earlier message" in texts(person._wait(before))


def test_stop_opts_out_of_messages(server, running_bot, engine):
    person = Person(server, engine, 31)
    replies = person.say("STOP")
    assert "won't send you any more messages" in texts(replies)
    with Session(engine) as session:
        link = session.exec(select(m.TelegramChatLink)).one()
        assert link.chat_id == "31" and link.opted_out_at is not None


def test_check_in_buttons_go_to_the_check_in_service(server, running_bot, engine):
    server.inject_callback_query(55, "checkin:999999:4")
    assert server.wait_for(lambda: len(server.messages_to(55)) == 1)
    assert "couldn't record that" in server.messages_to(55)[0].text
    assert server.callback_answers  # the spinner on the button was stopped
    with Session(engine) as session:
        assert session.exec(select(m.ChatMessage)).all() == []


def test_flood_control_is_waited_out(server, running_bot, engine):
    server.fail("sendMessage", chat_id=61, status=429, retry_after=1)
    replies = Person(server, engine, 61).say("how long does it take")
    assert "8 months" in texts(replies)
    refused = [c for c in server.calls_to("sendMessage") if c.status == 429]
    assert len(refused) == 1


def test_webhook_mode_checks_the_secret(bot_settings, engine, org, server, knowledge_files):
    base, matcher = knowledge_files
    assistant = Assistant(bot_settings, KnowledgeCache(base, matcher))
    with BackgroundBot(bot_settings, engine, assistant=assistant, polling=False) as runner:
        client = Client(webhook_app(runner, "s3cret-token"))
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 1773136800,
                "chat": {"id": 808, "type": "private", "first_name": "Sam"},
                "from": {"id": 808, "is_bot": False, "first_name": "Sam"},
                "text": "do you need to be married",
            },
        }
        wrong = client.post(
            "/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
        )
        assert wrong.status_code == 403
        assert client.get("/telegram").status_code == 405
        right = client.post(
            "/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
        )
        assert right.status_code == 200
        assert server.wait_for(lambda: len(server.messages_to(808)) == 1)
        assert "civil partnership" in server.messages_to(808)[0].text


def test_fostercrm_up_runs_the_bot_only_with_a_token(settings, bot_settings, engine, org, server):
    from bot.telegram import start_for_up

    assert start_for_up(settings.model_copy(update={"telegram_bot_token": None}), engine) is None
    stop = start_for_up(bot_settings, engine)
    try:
        replies = Person(server, engine, 12).say("can i foster if im single")
        assert "single" in texts(replies)
        assert [c.params.get("commands") for c in server.calls_to("setMyCommands")]
    finally:
        stop()
