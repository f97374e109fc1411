"""The outbox dispatcher: claims due messages and sends them by email or Telegram.

One message at a time, each in its own short transactions and never holding the database
while talking to a mail server or Telegram:

1. claim a batch (crm.services.outbox.claim_due_messages: one atomic UPDATE);
2. for each message: renew its claim (so a slow batch never lets another dispatcher take a
   message we are about to send), check consent, opt-outs and that a visit is still booked at
   that time, render it;
3. send; then record the provider's id (mark_sent), or retry with backoff, or give up after
   the last attempt (mark_failed: on the timeline and in the admin list).

Failures are isolated: an exception with one message is recorded on that message and the
dispatcher carries on with the next. Telegram's flood control (429 retry_after) pauses every
Telegram message of this dispatcher until the time Telegram gave, without using up attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import sqlalchemy as sa
from sqlmodel import Session

from crm import clock
from crm.models import Appointment, AppointmentStatus, Channel, OutboxMessage, OutboxStatus
from crm.scheduler.rendering import Renderer, TemplateProblem, message_id_for
from crm.services import checkins, outbox
from crm.services.appointments import CANCELLATION_NOTICES
from crm.services.errors import NotAllowed
from crm.settings import Settings

log = logging.getLogger(__name__)


class PermanentFailure(Exception):
    """Sending this message can never work (bad address, chat not found, bot blocked)."""


class RetryLater(Exception):
    """The provider asked us to wait (Telegram flood control); not the message's fault."""

    def __init__(self, seconds: float, text: str) -> None:
        super().__init__(text)
        self.seconds = seconds


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    deferred: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DispatchResult) -> None:
        for name in ("claimed", "sent", "retried", "failed", "cancelled", "deferred", "lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def as_dict(self) -> dict[str, int]:
        return {
            name: getattr(self, name)
            for name in ("claimed", "sent", "retried", "failed", "cancelled", "deferred", "lost")
        }


class EmailSender:
    """SMTP, as crm.services.mail.send_email does it, but keeping one connection open while a
    batch goes out instead of connecting, greeting and signing in for every message. A
    connection idle for a while is checked (NOOP) before it is trusted again."""

    IDLE_CHECK_SECONDS = 5

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0

    def _connect(self) -> smtplib.SMTP:
        smtp_settings = self.settings.smtp
        smtp_class = smtplib.SMTP_SSL if smtp_settings.use_tls else smtplib.SMTP
        smtp = smtp_class(smtp_settings.host, smtp_settings.port, timeout=30)
        if smtp_settings.username:
            smtp.login(smtp_settings.username, self.settings.smtp_password or "")
        return smtp

    def send(self, email: EmailMessage) -> str:
        if "Message-ID" not in email:
            domain = self.settings.smtp.from_address.split("@")[-1]
            email["Message-ID"] = make_msgid(domain=domain)
        if "From" not in email:
            email["From"] = self.settings.smtp.from_address
        if self._smtp is not None and time.monotonic() - self._last_used > self.IDLE_CHECK_SECONDS:
            try:
                self._smtp.noop()
            except (smtplib.SMTPException, OSError):
                self.close()
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(
                f"the mail server refused the address: {exc.recipients}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(
                    f"mail server said {exc.smtp_code} {exc.smtp_error!r}"
                ) from exc
            self.close()
            raise
        except (smtplib.SMTPException, OSError):
            self.close()
            raise
        self._last_used = time.monotonic()
        return str(email["Message-ID"])

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            with contextlib.suppress(OSError):
                smtp.close()


class TelegramSender:
    """python-telegram-bot's Bot on a private event loop, for a synchronous dispatcher."""

    def __init__(self, settings: Settings) -> None:
        if not settings.telegram_bot_token:
            raise PermanentFailure("Telegram is not set up (TELEGRAM_BOT_TOKEN is not set)")
        from telegram import Bot

        self._loop = asyncio.new_event_loop()
        self._bot = Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base_url)

    def send(self, chat_id: str, text: str, reply_markup: dict | None) -> str:
        from telegram import InlineKeyboardMarkup
        from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter

        markup = InlineKeyboardMarkup.de_json(reply_markup, None) if reply_markup else None
        target: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        try:
            message = self._loop.run_until_complete(
                self._bot.send_message(chat_id=target, text=text, reply_markup=markup)
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


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        engine: sa.Engine,
        *,
        worker: str | None = None,
        batch_size: int = 25,
        claim_seconds: int = 120,
        email_sender: EmailSender | None = None,
        telegram_sender_factory: Callable[[Settings], TelegramSender] = TelegramSender,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.worker = worker or default_worker_id()
        self.batch_size = batch_size
        self.claim_seconds = claim_seconds
        self.email = email_sender or EmailSender(settings)
        self._telegram_factory = telegram_sender_factory
        self._telegram: TelegramSender | None = None
        self.renderer = Renderer(settings)
        self.telegram_paused_until: datetime | None = None

    # -- the loop -----------------------------------------------------------------------------

    def dispatch_batch(self) -> DispatchResult:
        """Claim one batch of due messages and deal with each. Returns what happened."""
        now = clock.now()
        result = DispatchResult()
        public_allowed = not outbox.in_quiet_hours(self.settings, now)
        channels = None
        if self.telegram_paused_until is not None and now < self.telegram_paused_until:
            channels = [c for c in Channel if c != Channel.TELEGRAM]
        with Session(self.engine, expire_on_commit=False) as session:
            ids = outbox.claim_due_messages(
                session,
                self.worker,
                now=now,
                limit=self.batch_size,
                claim_seconds=self.claim_seconds,
                public_allowed=public_allowed,
                channels=channels,
            )
        result.claimed = len(ids)
        for message_id in ids:
            try:
                outcome = self.process(message_id)
            except Exception as exc:  # noqa: BLE001 - one message must not stop the rest
                log.exception("outbox message %s: unexpected error", message_id)
                result.errors.append(f"{message_id}: {exc!r}")
                outcome = self._retry(message_id, f"unexpected error: {exc!r}")
            setattr(result, outcome, getattr(result, outcome) + 1)
        return result

    def run_until_idle(self, max_batches: int | None = None) -> DispatchResult:
        """Dispatch batches until nothing more is due now."""
        total = DispatchResult()
        batches = 0
        while max_batches is None or batches < max_batches:
            result = self.dispatch_batch()
            total.add(result)
            batches += 1
            if result.claimed == 0:
                break
        self.email.close()  # no idle connection held between runs
        return total

    def close(self) -> None:
        if self._telegram is not None:
            self._telegram.close()
            self._telegram = None
        self.email.close()

    # -- one message --------------------------------------------------------------------------

    def process(self, message_id: int) -> str:
        """Send one claimed message; returns sent / retried / failed / cancelled / deferred /
        lost (the claim had gone to another dispatcher)."""
        now = clock.now()
        with Session(self.engine, expire_on_commit=False) as session:
            message = session.get(OutboxMessage, message_id)
            if (
                message is None
                or message.status != OutboxStatus.SENDING
                or message.claimed_by != self.worker
            ):
                return "lost"
            if message.claimed_until - now < timedelta(seconds=self.claim_seconds / 2):
                # A long batch: renew the claim, so it cannot lapse while this one is sent.
                renewed = session.execute(
                    sa.update(OutboxMessage)
                    .where(
                        OutboxMessage.id == message_id,
                        OutboxMessage.status == OutboxStatus.SENDING,
                        OutboxMessage.claimed_by == self.worker,
                    )
                    .values(claimed_until=now + timedelta(seconds=self.claim_seconds))
                    .execution_options(synchronize_session=False)
                )
                session.commit()
                if renewed.rowcount != 1:
                    return "lost"
                session.refresh(message)
            reason = outbox.why_not_deliverable(session, message)
            appointment = None
            if reason is None and "appointment_id" in (message.payload or {}):
                appointment, reason = self._live_appointment(session, message)
            if reason is not None:
                outbox.mark_cancelled(session, message_id, self.worker, reason=reason)
                return "cancelled"
            if outbox.waits_for_quiet_hours(message) and outbox.in_quiet_hours(self.settings, now):
                # Claimed as abandoned from before the quiet window: wait for the morning.
                outbox.mark_retry(
                    session,
                    message_id,
                    self.worker,
                    error="quiet hours",
                    retry_at=outbox.quiet_hours_end(self.settings, now),
                    count_attempt=False,
                )
                return "deferred"
            if message.channel == Channel.TELEGRAM and self._telegram_paused(now):
                outbox.mark_retry(
                    session,
                    message_id,
                    self.worker,
                    error="waiting for Telegram flood control",
                    retry_at=self.telegram_paused_until,
                    count_attempt=False,
                )
                return "deferred"
            try:
                prepared = self._prepare(session, message, appointment)
            except (TemplateProblem, PermanentFailure) as exc:
                outbox.mark_failed(session, message_id, self.worker, error=str(exc))
                return "failed"
            summary = prepared[1]
            session.commit()  # end the read transaction before talking to the outside world

        try:
            provider_id = self._send(message, prepared[0])
        except PermanentFailure as exc:
            with Session(self.engine, expire_on_commit=False) as session:
                outbox.mark_failed(session, message_id, self.worker, error=str(exc))
            return "failed"
        except RetryLater as exc:
            until = clock.now() + timedelta(seconds=max(exc.seconds, 1))
            self.telegram_paused_until = until
            with Session(self.engine, expire_on_commit=False) as session:
                outbox.mark_retry(
                    session,
                    message_id,
                    self.worker,
                    error=str(exc),
                    retry_at=until,
                    count_attempt=False,
                )
            return "deferred"
        except Exception as exc:  # noqa: BLE001 - network trouble, a server down: retry
            log.warning("outbox message %s: %s", message_id, exc)
            return self._retry(message_id, f"{type(exc).__name__}: {exc}")

        sent_at = clock.now()
        with Session(self.engine, expire_on_commit=False) as session:
            if message.template == "check_in":
                checkins.mark_check_in_sent(session, message_id, sent_at)
            done = outbox.mark_sent(
                session,
                message_id,
                self.worker,
                provider_message_id=provider_id,
                summary=summary,
                now=sent_at,
            )
        return "sent" if done else "lost"

    def _telegram_paused(self, now: datetime) -> bool:
        return self.telegram_paused_until is not None and now < self.telegram_paused_until

    def _retry(self, message_id: int, error: str) -> str:
        with Session(self.engine, expire_on_commit=False) as session:
            status = outbox.mark_retry(session, message_id, self.worker, error=error)
        return "failed" if status == OutboxStatus.FAILED.value else "retried"

    def _live_appointment(
        self, session: Session, message: OutboxMessage
    ) -> tuple[Appointment | None, str | None]:
        appointment = session.get(Appointment, int(message.payload["appointment_id"]))
        if appointment is None:
            return None, "the visit no longer exists"
        if message.template in CANCELLATION_NOTICES:
            # A notice that the visit is cancelled goes while that is true and it was to come.
            if appointment.status != AppointmentStatus.CANCELLED:
                return None, f"the visit was {AppointmentStatus(appointment.status).value}"
            if appointment.starts_at <= clock.now():
                return None, "the visit's time has passed"
            return appointment, None
        if appointment.status != AppointmentStatus.BOOKED:
            return None, f"the visit was {AppointmentStatus(appointment.status).value}"
        booked_for = message.payload.get("starts_at")
        if booked_for and datetime.fromisoformat(booked_for) != appointment.starts_at:
            return None, "the visit was moved"
        if appointment.starts_at <= clock.now():
            return None, "the visit has already started"
        return appointment, None

    def _prepare(
        self, session: Session, message: OutboxMessage, appointment: Appointment | None
    ) -> tuple[EmailMessage | object, str]:
        if message.template == "weekly_funnel_report":
            return self._weekly_report(session, message), "Weekly funnel report"
        if message.channel == Channel.EMAIL:
            email = self.renderer.email(
                message,
                appointment=appointment,
                household_id=outbox.household_of(session, message),
            )
            return email, str(email["Subject"])
        if message.channel == Channel.TELEGRAM:
            return self.renderer.telegram(message, appointment=appointment), (
                self.renderer.summary(message)
            )
        raise PermanentFailure(f"cannot send by {message.channel} yet")

    def _weekly_report(self, session: Session, message: OutboxMessage) -> EmailMessage:
        from datetime import date

        try:
            from funnel.report import build_weekly_email
        except ImportError as exc:
            raise PermanentFailure(
                f"the weekly funnel report cannot be built: funnel.report.build_weekly_email "
                f"is not available ({exc})"
            ) from None
        week_ending = date.fromisoformat(message.payload["week_ending"])
        try:
            # For the areas the recipient works in (their account may have changed since).
            email = build_weekly_email(
                session, self.settings, week_ending, [message.recipient],
                area_ids=message.payload.get("area_ids"),
            )  # fmt: skip
        except NotAllowed as exc:
            raise PermanentFailure(f"the weekly report was not sent: {exc}") from None
        if "To" not in email:
            email["To"] = message.recipient
        if "Message-ID" not in email:
            email["Message-ID"] = message_id_for(message, self.settings)
        return email

    def _send(self, message: OutboxMessage, prepared: object) -> str:
        if message.channel == Channel.EMAIL:
            assert isinstance(prepared, EmailMessage)
            return self.email.send(prepared)
        if self._telegram is None:
            self._telegram = self._telegram_factory(self.settings)
        return self._telegram.send(prepared.chat_id, prepared.text, prepared.reply_markup)
