"""Telegram through python-telegram-bot: the text from telegram.txt (plain text, no markup),
with answer buttons on a check-in.

python-telegram-bot's AIORateLimiter keeps our sending under Telegram's limits (overall and
per group). It does not retry: when Telegram still answers 429 (flood control), RetryLater
tells the dispatcher to hold every Telegram message until the time Telegram gave, without
using up their attempts, instead of this sender sleeping while it holds their claims.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from crm.messaging.channels.base import (
    Draft,
    MessageChannel,
    Outgoing,
    PermanentFailure,
    RetryLater,
    Templates,
)
from crm.models import Channel, ConsentScope, TelegramChatLink
from crm.settings import Settings

CHUNK = 900  # stays under SQLite's limit on bound parameters


@dataclass
class TelegramText:
    chat_id: str
    text: str
    reply_markup: dict | None = None


def render(templates: Templates, draft: Draft) -> Outgoing:
    text = templates.text(draft, "telegram.txt")
    markup = templates.answer_buttons(draft)
    content = TelegramText(chat_id=draft.message.recipient, text=text, reply_markup=markup)
    return Outgoing(content, templates.summary(draft))


class TelegramSender:
    """python-telegram-bot's bot on a private event loop, for a synchronous dispatcher."""

    def __init__(self, settings: Settings) -> None:
        if not settings.telegram_bot_token:
            raise PermanentFailure("Telegram is not set up (TELEGRAM_BOT_TOKEN is not set)")
        from telegram.ext import AIORateLimiter, ExtBot

        self._loop = asyncio.new_event_loop()
        self._bot = ExtBot(
            settings.telegram_bot_token,
            base_url=settings.telegram_api_base_url,
            rate_limiter=AIORateLimiter(max_retries=0),
        )

    def send(self, content: TelegramText) -> str:
        from telegram import InlineKeyboardMarkup
        from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter

        markup = (
            InlineKeyboardMarkup.de_json(content.reply_markup, None)
            if content.reply_markup
            else None
        )
        chat_id = content.chat_id
        target: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        try:
            message = self._loop.run_until_complete(
                self._bot.send_message(chat_id=target, text=content.text, reply_markup=markup)
            )
        except RetryAfter as exc:
            wait = exc._retry_after  # a timedelta in PTB 22 (reading .retry_after warns)
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise RetryLater(seconds, f"Telegram flood control: retry after {seconds:g}s") from exc
        except (Forbidden, BadRequest, InvalidToken) as exc:
            raise PermanentFailure(f"Telegram said: {exc.message}") from exc
        return f"{message.chat.id}:{message.message_id}"

    def close(self) -> None:
        # Closing a client that never opened may complain; there is nothing to keep.
        with contextlib.suppress(Exception):
            self._loop.run_until_complete(self._bot.shutdown())
        self._loop.close()


def available(settings: Settings | None) -> bool:
    # Without settings (a service called with none) a linked chat counts: a link only exists
    # where the bot is running.
    return settings is None or bool(settings.telegram_bot_token)


class TelegramChats:
    """The chats linked to each household and carer that have not said STOP."""

    def __init__(self, session: Session, households: Sequence[int], carers: Sequence[int]) -> None:
        self.of_household: dict[int, list[str]] = defaultdict(list)
        self.of_carer: dict[int, list[str]] = defaultdict(list)
        ids, carer_ids = sorted(set(households)), sorted(set(carers))
        conditions = [
            TelegramChatLink.household_id.in_(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)
        ] + [
            TelegramChatLink.carer_id.in_(carer_ids[i : i + CHUNK])
            for i in range(0, len(carer_ids), CHUNK)
        ]
        seen: set[int] = set()
        for condition in conditions:
            for link in session.exec(
                select(TelegramChatLink)
                .where(condition, TelegramChatLink.opted_out_at.is_(None))
                .order_by(TelegramChatLink.id)
            ):
                if link.id in seen:
                    continue
                seen.add(link.id)
                if link.household_id is not None:
                    self.of_household[link.household_id].append(link.chat_id)
                if link.carer_id is not None:
                    self.of_carer[link.carer_id].append(link.chat_id)

    def of(self, household_id: int, carer_id: int | None = None) -> list[str]:
        chats = list(self.of_household.get(household_id, []))
        if carer_id is not None:
            chats += self.of_carer.get(carer_id, [])
        return list(dict.fromkeys(chats))


def opted_out(session: Session, chat_id: str) -> str | None:
    link = session.exec(
        select(TelegramChatLink).where(TelegramChatLink.chat_id == str(chat_id))
    ).first()
    if link is None or link.opted_out_at is not None:
        return "the person said STOP on Telegram (or the chat is not linked)"
    return None


TELEGRAM = MessageChannel(
    channel=Channel.TELEGRAM,
    parts=("telegram.txt",),
    label="Telegram",
    by="on Telegram",
    render=render,
    sender=TelegramSender,
    consent=ConsentScope.TELEGRAM,
    available=available,
    addresses=TelegramChats,
    opted_out=opted_out,
)
