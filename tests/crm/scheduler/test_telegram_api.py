"""The local Telegram Bot API server (crm.testing.telegram_api) with python-telegram-bot 22
pointed at it: the shared test infrastructure for the dispatcher and the chat assistant."""

import asyncio
import json
import threading
import time
import urllib.request

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from crm.testing.telegram_api import FakeTelegramServer


@pytest.fixture
def server():
    with FakeTelegramServer() as fake:
        yield fake


def run(coroutine):
    return asyncio.run(coroutine)


def test_send_message_is_recorded_and_answered_like_telegram(server):
    async def go():
        async with Bot(server.token, base_url=server.base_url) as bot:
            assert bot.username == "fostercrm_test_bot"
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton("4", callback_data="checkin:1:4")]]
            )
            first = await bot.send_message(42, "Hello", reply_markup=markup, parse_mode="HTML")
            second = await bot.send_message(-100123, "Hello group")
            return first, second

    first, second = run(go())
    assert (first.chat.id, first.text) == (42, "Hello")
    assert second.message_id == first.message_id + 1 and second.chat.type == "group"
    [sent] = server.messages_to(42)
    assert sent.parse_mode == "HTML" and sent.buttons == [("4", "checkin:1:4")]
    assert [c.method for c in server.calls] == ["getMe", "sendMessage", "sendMessage"]


def test_scripted_failures_per_call_and_per_chat(server):
    server.fail("sendMessage", status=429, retry_after=7)
    server.block_chat(7)
    server.unknown_chat(8)

    async def go():
        outcomes = []
        async with Bot(server.token, base_url=server.base_url) as bot:
            for chat_id in (1, 1, 7, 8, 7):
                try:
                    await bot.send_message(chat_id, "hi")
                    outcomes.append("ok")
                except RetryAfter as exc:
                    outcomes.append(f"retry {exc._retry_after.total_seconds():g}")
                except Forbidden as exc:
                    outcomes.append(f"forbidden: {exc.message}")
                except BadRequest as exc:
                    outcomes.append(f"bad: {exc.message}")
        return outcomes

    assert run(go()) == [
        "retry 7",
        "ok",
        "forbidden: Forbidden: bot was blocked by the user",
        "bad: Chat not found",
        "forbidden: Forbidden: bot was blocked by the user",
    ]
    assert [str(m.chat_id) for m in server.sent] == ["1"]


def test_strict_token_answers_unauthorized():
    with FakeTelegramServer(strict_token=True) as fake:

        async def go():
            async with Bot("999:wrong", base_url=fake.base_url) as bot:
                await bot.send_message(1, "hi")

        with pytest.raises(InvalidToken):
            run(go())


def test_get_updates_long_polls_and_honours_offset(server):
    server.inject_message(42, "/start hello", first_name="Sam")
    server.inject_message(-500, "hi all", user_id=77, chat_type="group", chat_title="Carers")

    async def go():
        async with Bot(server.token, base_url=server.base_url) as bot:
            first = await bot.get_updates(timeout=1)
            again = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
            threading.Timer(0.3, server.inject_message, args=(42, "later")).start()
            started = time.monotonic()
            waited = await bot.get_updates(offset=first[-1].update_id + 1, timeout=5)
            return first, again, waited, time.monotonic() - started

    first, again, waited, seconds = run(go())
    command, group = first
    assert command.message.text == "/start hello"
    assert command.message.entities[0].type == "bot_command"
    assert command.message.chat.type == "private" and command.effective_user.first_name == "Sam"
    assert group.message.chat.type == "group" and group.effective_user.id == 77
    assert again == ()
    assert [u.message.text for u in waited] == ["later"]
    assert 0.2 < seconds < 4  # answered when the update arrived, not at the timeout


def test_stopping_releases_a_waiting_long_poll():
    fake = FakeTelegramServer().start()
    url = f"{fake.base_url.removesuffix('/bot')}/bot{fake.token}/getUpdates?timeout=30"
    result = {}

    def poll():
        with urllib.request.urlopen(url, timeout=40) as response:
            result["body"] = json.loads(response.read())

    thread = threading.Thread(target=poll)
    thread.start()
    assert fake.wait_for(lambda: fake.long_polls_waiting == 1, 10)
    started = time.monotonic()
    fake.stop()
    thread.join(10)
    assert result["body"] == {"ok": True, "result": []}
    assert time.monotonic() - started < 5


def test_json_bodies_work_too(server):
    request = urllib.request.Request(
        f"{server.base_url}{server.token}/sendMessage",
        data=json.dumps({"chat_id": 5, "text": "from JSON"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
    assert body["ok"] is True and body["result"]["text"] == "from JSON"
    assert server.messages_to(5)[0].text == "from JSON"


def test_an_application_polling_handles_commands_and_button_presses(server):
    """What the chat assistant's tests do: a PTB Application polling the local server."""

    async def start(update, context):
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
        await update.message.reply_text("Welcome! Ready?", reply_markup=markup)

    async def pressed(update, context):
        await update.callback_query.answer("Noted")
        await update.callback_query.edit_message_text(f"You said {update.callback_query.data}")

    async def go():
        app = Application.builder().token(server.token).base_url(server.base_url).build()
        app.add_handler(CommandHandler("start", start))
        app.add_handler(CallbackQueryHandler(pressed))
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            server.inject_message(42, "/start")
            await asyncio.to_thread(server.wait_for_messages, 1, chat_id=42)
            server.inject_callback_query(42, "yes")
            ok = await asyncio.to_thread(server.wait_for, lambda: bool(server.edits), 10)
            await app.updater.stop()
            await app.stop()
            return ok

    assert run(go()) is True
    [welcome] = server.messages_to(42)
    assert welcome.buttons == [("Yes", "yes")]
    assert server.callback_answers[0]["text"] == "Noted"
    assert server.edits[0]["text"] == "You said yes"
    assert server.edits[0]["message_id"] == str(welcome.message_id)
