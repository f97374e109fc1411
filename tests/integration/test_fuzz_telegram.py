"""The Telegram entry points (the webhook, and polled updates) with hostile input, against the
local Telegram Bot API server (crm.testing.telegram_api) and a real database.

A body that is JSON but not an update object is refused with 400, never a server error; a
message with NUL bytes, control characters or lone surrogates (JSON escapes carry them) is
answered and stored cleaned; and a bounded, deterministic fuzz of webhook bodies finds no
server error, no error logged, and a consistent database."""

from __future__ import annotations

import itertools
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, func, select
from werkzeug.test import Client

import crm.models as m
from bot.telegram import BackgroundBot, webhook_app
from crm.testing.telegram_api import FakeTelegramServer
from crm.text import clean_text
from tests.integration.fuzzing import (
    FUZZ,
    assert_households_consistent,
    assert_no_control_characters_stored,
    field,
    nasty_text,
)

SECRET_TOKEN = "webhook-s3cret"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN, "Content-Type": "application/json"}


@pytest.fixture
def server():
    with FakeTelegramServer() as server:
        yield server


@pytest.fixture
def bot_settings(settings, server):
    return settings.model_copy(
        update={"telegram_bot_token": server.token, "telegram_api_base_url": server.base_url}
    )


@pytest.fixture
def webhook(bot_settings, engine, org):
    with BackgroundBot(bot_settings, engine, polling=False) as runner:
        yield Client(webhook_app(runner, SECRET_TOKEN))


@pytest.fixture
def errors_logged(caplog):
    caplog.set_level(logging.ERROR)
    return lambda: [r for r in caplog.records if r.levelno >= logging.ERROR]


updates = itertools.count(1000)


def text_update(chat_id: int, text: str) -> dict:
    return {
        "update_id": next(updates),
        "message": {
            "message_id": next(updates),
            "date": 1773136800,
            "chat": {"id": chat_id, "type": "private", "first_name": "Sam"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Sam"},
            "text": text,
        },
    }


def person_messages(engine, chat_id: int) -> list[str]:  # noqa: ANN001
    with Session(engine) as session:
        return list(
            session.exec(
                select(m.ChatMessage.text)
                .join(m.ChatConversation)
                .where(
                    m.ChatConversation.channel == m.ChatChannel.TELEGRAM,
                    m.ChatConversation.external_id == str(chat_id),
                    m.ChatMessage.from_person.is_(True),
                )
                .order_by(m.ChatMessage.id)
            ).all()
        )


def post(client: Client, body: bytes | str):
    return client.post("/telegram", data=body, headers=HEADERS)


def test_json_that_is_not_an_update_object_is_a_bad_request(webhook, errors_logged):
    not_updates = [
        "[]", "[1, 2]", '"text"', "42", "null", "true", "{}", '{"update_id": 1, "message": "x"}',
        "{not json", b"\xff\xfe", "[" * 100_000 + "]" * 100_000,
    ]  # fmt: skip
    for body in not_updates:
        response = post(webhook, body)
        assert response.status_code == 400, body[:40]
    assert errors_logged() == []


def test_a_webhook_message_with_nul_and_surrogates_is_answered_cleaned(webhook, engine, server):
    body = json.dumps(text_update(501, "can I foster\x00 if I \x1b[1mrent\ud800?"))
    assert post(webhook, body).status_code == 200
    assert server.wait_for(lambda: len(server.messages_to(501)) >= 1, timeout=30)
    assert person_messages(engine, 501) == ["can I foster if I rent?"]


def test_a_polled_message_with_nul_and_surrogates_is_answered_cleaned(
    bot_settings, engine, org, server
):
    with BackgroundBot(bot_settings, engine, poll_timeout=0.2):
        server.inject_message(502, "can I foster\x00 if I rent\udfff?")
        assert server.wait_for(lambda: len(server.messages_to(502)) >= 1, timeout=30)
    assert person_messages(engine, 502) == ["can I foster if I rent?"]


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        nasty_text(surrogates=True, max_size=10),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(nasty_text(surrogates=True, max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)
junk_update = st.builds(
    lambda key, value: {"update_id": 7, key: value},
    st.sampled_from(["message", "callback_query", "edited_message", "update_id", "x"]),
    json_values,
)
CHATS = [611, 612, 613]


def test_fuzz_telegram_webhook(webhook, engine, server, errors_logged):
    said = {chat: 0 for chat in CHATS}

    def wait_for_answer(chat_id: int) -> None:
        said[chat_id] += 1

        def answered() -> bool:
            with Session(engine) as session:
                replies = session.exec(
                    select(func.count())
                    .select_from(m.ChatMessage)
                    .join(m.ChatConversation)
                    .where(
                        m.ChatConversation.external_id == str(chat_id),
                        m.ChatMessage.from_person.is_(False),
                    )
                ).one()
            people = len(person_messages(engine, chat_id))
            return people == said[chat_id] and len(server.messages_to(chat_id)) == replies > 0

        assert server.wait_for(answered, timeout=30), "the bot did not answer"

    @FUZZ
    @given(
        body=st.one_of(
            st.tuples(st.sampled_from(CHATS), field("can I foster if I rent?", surrogates=True)),
            json_values,
            junk_update,
            st.binary(max_size=40),
        )
    )
    def send(body):
        if isinstance(body, tuple):
            chat_id, text = body
            response = post(webhook, json.dumps(text_update(chat_id, text)))
            assert response.status_code == 200
            wait_for_answer(chat_id)
            stored = person_messages(engine, chat_id)[-1]
            cleaned = clean_text(text)
            assert stored == cleaned or not cleaned.strip()
            return
        response = post(webhook, body if isinstance(body, bytes) else json.dumps(body))
        assert response.status_code in (200, 400), response.status_code
        if not isinstance(body, dict):
            assert response.status_code == 400

    send()
    # Whatever was still being handled has been once this last message is answered.
    assert post(webhook, json.dumps(text_update(CHATS[0], "hello"))).status_code == 200
    wait_for_answer(CHATS[0])
    with Session(engine) as session:
        assert_households_consistent(session)
        assert_no_control_characters_stored(session)
    assert errors_logged() == []
