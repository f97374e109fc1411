"""The Telegram adapter (python-telegram-bot 22): updates in, the assistant's replies out.

Everything about the conversation lives in the database (bot.conversations), not in PTB: no
ConversationHandler, no persistence file, so a restart loses nothing and the bot process holds
no state of its own. Updates are handled concurrently, but one chat at a time (a lock per chat),
so two quick messages from one person are answered in order. The assistant's database work runs
in worker threads so the event loop keeps polling.

Sending goes through python-telegram-bot's AIORateLimiter: it keeps under Telegram's flood
limits (about 30 messages a second overall, 20 a minute in a group) and, when Telegram still
answers 429 "retry after", holds every request for that long and tries again.

Group chats are refused politely (and nothing from them is stored); stickers, photos and voice
notes get a friendly "please type"; check-in buttons (``checkin:...``) go to the scheduler's
check-in service; "STOP" goes to the outbox's opt-out.

Run it with `fostercrm bot` (polling, or `--webhook-url` with a secret token), or inside
`fostercrm up` when TELEGRAM_BOT_TOKEN is set (`start_for_up`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import Forbidden, TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.assistant import Assistant, Incoming, Outcome
from crm.models import ChatChannel
from crm.services.errors import ServiceError
from crm.settings import Settings
from crm.text import clean_text

log = logging.getLogger(__name__)

MAX_TELEGRAM_TEXT = 4096
# Tries after the first when Telegram answers 429 "retry after" (the rate limiter waits).
SEND_RETRIES = 3
COMMANDS = [
    ("start", "Start again"),
    ("help", "What I can do"),
    ("book", "Book a free initial visit"),
    ("visit", "Move or cancel your visit"),
    ("human", "Ask someone from our team to contact you"),
    ("privacy", "What we keep and why"),
    ("delete", "Erase this chat"),
]
GROUP_REFUSAL = (
    "Hello! I'm the fostering assistant, and I only chat one to one, so that what you ask "
    "stays private. Please send me a direct message instead."
)


@dataclass
class BotState:
    settings: Settings
    engine: sa.Engine
    assistant: Assistant
    locks: dict[int, asyncio.Lock] = field(default_factory=dict)

    def lock_for(self, chat_id: int) -> asyncio.Lock:
        lock = self.locks.get(chat_id)
        if lock is None:
            lock = self.locks[chat_id] = asyncio.Lock()
        return lock

    def reply(self, chat_id: int, incoming: Incoming) -> Outcome:
        with Session(self.engine, expire_on_commit=False) as session:
            return self.assistant.reply(session, ChatChannel.TELEGRAM, str(chat_id), incoming)

    def check_in(self, chat_id: int, data: str) -> str:
        from crm.services import checkins

        with Session(self.engine, expire_on_commit=False) as session:
            try:
                checkins.handle_callback(session, self.settings, data, chat_id=chat_id)
            except ServiceError as exc:
                return f"Sorry, I couldn't record that: {exc}"
        return "Thank you for letting us know how things are going."


def build_application(
    settings: Settings,
    engine: sa.Engine,
    *,
    assistant: Assistant | None = None,
    with_updater: bool = True,
) -> Application:
    if not settings.telegram_bot_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base_url)
        .concurrent_updates(64)
        .connection_pool_size(64)
        .pool_timeout(30)
        .rate_limiter(AIORateLimiter(max_retries=SEND_RETRIES))
    )
    if not with_updater:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["fostercrm"] = BotState(
        settings=settings, engine=engine, assistant=assistant or Assistant(settings)
    )
    application.add_handler(TypeHandler(Update, on_update))
    application.add_error_handler(on_error)
    return application


def _incoming(update: Update) -> Incoming | None:
    """What the person sent, its text cleaned (crm.text): polled and webhook updates alike
    come through here, before the assistant or the check-in service sees them."""
    if update.callback_query is not None:
        return Incoming.press(clean_text(update.callback_query.data or "", multiline=False))
    message = update.message
    if message is None:
        return None  # edits, channel posts, membership changes: nothing to answer
    if message.text is not None:
        return Incoming.message(clean_text(message.text))
    if message.contact is not None and message.contact.phone_number:
        return _shared_contact(message)
    kind = next(
        (
            name
            for name in (
                "sticker",
                "photo",
                "voice",
                "video",
                "audio",
                "document",
                "animation",
                "location",
                "video_note",
            )
            if getattr(message, name, None)
        ),
        "message",
    )
    caption = clean_text(message.caption) if message.caption is not None else None
    return Incoming(text=caption, kind=kind)


def _shared_contact(message) -> Incoming:  # noqa: ANN001
    """The share contact button sends the person's own contact; a contact card of someone
    else (forwarded, or picked from the address book) is only a number typed."""
    contact = message.contact
    sender = message.from_user.id if message.from_user else None
    if contact.user_id is not None and contact.user_id == sender:
        return Incoming.shared_contact(
            contact.phone_number, contact.first_name or "", contact.last_name or ""
        )
    return Incoming.message(contact.phone_number)


SHARE_CONTACT_LABEL = "Share my phone number"


def keyboard(outcome_reply, remove: bool = False):  # noqa: ANN001, ANN201
    """Inline buttons; or Telegram's share contact keyboard; or (once the contact question is
    answered) the removal of that keyboard."""
    if outcome_reply.buttons:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b.label, callback_data=b.data[:64]) for b in row]
                for row in outcome_reply.buttons
            ]
        )
    if outcome_reply.request_contact:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(SHARE_CONTACT_LABEL, request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
            input_field_placeholder="Or type your email or phone number",
        )
    return ReplyKeyboardRemove() if remove else None


def markups(outcome: Outcome) -> list:
    """One reply markup per reply; the share contact keyboard goes away with the first reply
    that has no buttons of its own, once the contact question is answered."""
    remove = outcome.remove_keyboard
    out = []
    for reply in outcome.replies:
        markup = keyboard(reply, remove=remove)
        if isinstance(markup, ReplyKeyboardRemove):
            remove = False
        out.append(markup)
    return out


async def _send(bot, chat_id: int, text: str, markup=None) -> None:  # noqa: ANN001
    """Send one reply (flood control is the application's rate limiter's business)."""
    await bot.send_message(chat_id, text[:MAX_TELEGRAM_TEXT] or "…", reply_markup=markup)


async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state: BotState = context.bot_data["fostercrm"]
    chat = update.effective_chat
    if chat is None:
        return
    query = update.callback_query
    if query is not None:
        # Answering a press only stops the button's spinner: an old button may refuse.
        with contextlib.suppress(TelegramError):
            await query.answer()
    if chat.type != ChatType.PRIVATE:
        if update.message is not None and (update.message.text or update.message.new_chat_members):
            await _send(context.bot, chat.id, GROUP_REFUSAL)
        return
    incoming = _incoming(update)
    if incoming is None:
        return
    async with state.lock_for(chat.id):
        # The typing dots are nice to have, never worth failing for.
        with contextlib.suppress(TelegramError):
            await context.bot.send_chat_action(chat.id, ChatAction.TYPING)
        if incoming.button and incoming.button.startswith("checkin:"):
            text = await asyncio.to_thread(state.check_in, chat.id, incoming.button)
            await _send(context.bot, chat.id, text)
            return
        outcome = await asyncio.to_thread(state.reply, chat.id, incoming)
        for reply, markup in zip(outcome.replies, markups(outcome), strict=True):
            await _send(context.bot, chat.id, reply.text, markup)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    if isinstance(context.error, Forbidden):
        log.info("Telegram: the person blocked the bot (%s)", context.error)
        return
    log.error("Telegram update failed: %s", context.error, exc_info=context.error)


async def _set_commands(application: Application) -> None:
    try:
        await application.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
    except TelegramError as exc:
        log.warning("Telegram: could not set the command list: %s", exc)


# -- running ------------------------------------------------------------------------------


def run_polling(settings: Settings, engine: sa.Engine) -> None:
    """`fostercrm bot`: poll in the foreground until Ctrl+C."""
    application = build_application(settings, engine)
    application.post_init = _set_commands
    application.run_polling(allowed_updates=Update.ALL_TYPES)


class BackgroundBot:
    """The bot polling (or fed by a webhook) in a thread with its own event loop, so it can
    run beside the web server in `fostercrm up`, and in tests and benchmarks."""

    def __init__(
        self,
        settings: Settings,
        engine: sa.Engine,
        *,
        assistant: Assistant | None = None,
        polling: bool = True,
        poll_timeout: float = 1.0,
    ) -> None:
        self.application = build_application(
            settings, engine, assistant=assistant, with_updater=polling
        )
        self.polling = polling
        self.poll_timeout = poll_timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="telegram-bot", daemon=True)

    def start(self) -> BackgroundBot:
        self._thread.start()
        self._started.wait(30)
        if self._error is not None:
            raise RuntimeError(f"the Telegram bot did not start: {self._error}")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start() or logged
            self._error = exc
            self._started.set()
            log.exception("Telegram bot stopped with an error")

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        application = self.application
        await application.initialize()
        await _set_commands(application)
        if self.polling:
            await application.updater.start_polling(
                poll_interval=0.0,
                timeout=self.poll_timeout,
                allowed_updates=Update.ALL_TYPES,
                error_callback=lambda exc: log.warning("Telegram polling: %s", exc),
            )
        await application.start()
        self._started.set()
        await self._stop.wait()
        if self.polling and application.updater.running:
            await application.updater.stop()
        await application.stop()
        await application.shutdown()

    def feed(self, update_json: dict) -> None:
        """Hand one update (a webhook's JSON body) to the running bot."""
        self.put(Update.de_json(update_json, self.application.bot))

    def put(self, update: Update) -> None:
        asyncio.run_coroutine_threadsafe(self.application.update_queue.put(update), self.loop)

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def __enter__(self) -> BackgroundBot:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_for_up(settings: Settings, engine: sa.Engine) -> Callable[[], None] | None:
    """`fostercrm up`: poll in a background thread when a token is set."""
    if not settings.telegram_bot_token:
        return None
    runner = BackgroundBot(settings, engine).start()
    log.info("Telegram bot polling")
    return runner.stop


# -- webhook ------------------------------------------------------------------------------


def webhook_app(runner: BackgroundBot, secret_token: str, path: str = "/telegram"):
    """A tiny WSGI app receiving Telegram's POSTs: the secret header must match exactly."""

    def app(environ, start_response):  # noqa: ANN001, ANN202
        def answer(status: str, body: bytes = b"") -> list[bytes]:
            start_response(
                status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
            )
            return [body]

        if environ.get("PATH_INFO") != path:
            return answer("404 Not Found")
        if environ.get("REQUEST_METHOD") != "POST":
            return answer("405 Method Not Allowed")
        given = environ.get("HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN", "")
        if not hmac.compare_digest(given.encode(), secret_token.encode()):
            return answer("403 Forbidden")
        try:
            length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
            body = json.loads(environ["wsgi.input"].read(min(length, 1_000_000)) or b"{}")
            if not isinstance(body, dict):
                raise ValueError(f"the body is a JSON {type(body).__name__}, not an object")
            update = Update.de_json(body, runner.application.bot)
        except Exception as exc:  # noqa: BLE001
            # PTB raises whatever the data leads it to (KeyError, TypeError, OverflowError...):
            # a body that is not an update is the sender's mistake, never a server error.
            log.warning("Telegram webhook: bad update (%s)", type(exc).__name__)
            return answer("400 Bad Request")
        runner.put(update)
        return answer("200 OK", b"ok")

    return app


def run_webhook(
    settings: Settings,
    engine: sa.Engine,
    webhook_url: str,
    listen: str,
    port: int,
    secret_token: str,
) -> None:
    """`fostercrm bot --webhook-url ...`: register the webhook and serve it until Ctrl+C."""
    import waitress

    runner = BackgroundBot(settings, engine, polling=False).start()
    path = "/" + webhook_url.split("://", 1)[-1].partition("/")[2].strip("/")
    if path == "/":
        path = "/telegram"
    try:
        future = asyncio.run_coroutine_threadsafe(
            runner.application.bot.set_webhook(
                webhook_url, secret_token=secret_token, allowed_updates=Update.ALL_TYPES
            ),
            runner.loop,
        )
        future.result(30)
        waitress.serve(webhook_app(runner, secret_token, path), host=listen, port=port, _quiet=True)
    finally:
        runner.stop()
