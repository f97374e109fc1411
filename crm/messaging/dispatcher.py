"""The outbox dispatcher: claims due messages and sends each by its channel.

One message at a time, each in its own short transactions and never holding the database
while talking to a mail server or Telegram:

1. claim a batch (crm.services.outbox.claim_due_messages: one atomic UPDATE);
2. for each message: renew its claim (so a slow batch never lets another dispatcher take a
   message we are about to send), check consent, opt-outs and that a visit is still booked at
   that time, render it (crm.messaging.render, through its channel's module);
3. send it with its channel's Sender (after an attempt whose answer was lost, first asking a
   provider that can be asked whether it has it already: GOV.UK Notify, by reference); record
   the provider's id (mark_sent), or retry with backoff, or give up after the last attempt
   (mark_failed: on the timeline and in the admin list).

Nothing here names a channel: the channels are crm.messaging.channels.CHANNELS. Failures are
isolated: an exception with one message is recorded on that message and the dispatcher
carries on with the next. A provider's flood control (RetryLater, Telegram's 429 retry_after)
pauses every message of that channel for this dispatcher until the time it gave, without
using up attempts.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage

import sqlalchemy as sa
from sqlmodel import Session

from crm import clock
from crm.messaging import catalogue
from crm.messaging.channels import channel_for
from crm.messaging.channels.base import (
    Outgoing,
    PermanentFailure,
    RetryLater,
    Sender,
    TemplateProblem,
)
from crm.messaging.channels.email import message_id_for
from crm.messaging.render import Renderer
from crm.models import Appointment, AppointmentStatus, Channel, OutboxMessage, OutboxStatus
from crm.services import checkins, outbox
from crm.services.errors import NotAllowed
from crm.settings import Settings

log = logging.getLogger(__name__)

OUTCOMES = ("claimed", "sent", "retried", "failed", "cancelled", "deferred", "lost")


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
        for name in OUTCOMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in OUTCOMES}


# What else changes when a message of one of these templates has gone.
AFTER_SENT: dict[str, Callable[[Session, int, datetime], None]] = {
    "check_in": checkins.mark_check_in_sent,
}


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
        senders: Mapping[Channel, Callable[[Settings], Sender]] | None = None,
        renderer: Renderer | None = None,
    ) -> None:
        """`senders` replaces the sender of a channel (a benchmark's, a test's); the rest
        come from the channel registry."""
        self.settings = settings
        self.engine = engine
        self.worker = worker or default_worker_id()
        self.batch_size = batch_size
        self.claim_seconds = claim_seconds
        self._sender_factories = dict(senders or {})
        self._senders: dict[Channel, Sender] = {}
        self.renderer = renderer or Renderer(settings)
        self.paused_until: dict[Channel, datetime] = {}

    # -- the loop -----------------------------------------------------------------------------

    def dispatch_batch(self) -> DispatchResult:
        """Claim one batch of due messages and deal with each. Returns what happened."""
        now = clock.now()
        result = DispatchResult()
        public_allowed = not outbox.in_quiet_hours(self.settings, now)
        channels = None
        if any(self._paused(channel, now) for channel in self.paused_until):
            channels = [c for c in Channel if not self._paused(c, now)]
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
        # No idle mail connection held between runs (a bot's client may stay open).
        email = self._senders.pop(Channel.EMAIL, None)
        if email is not None:
            email.close()
        return total

    def close(self) -> None:
        senders, self._senders = self._senders, {}
        for sender in senders.values():
            sender.close()

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
            channel = Channel(message.channel)
            if self._paused(channel, now):
                outbox.mark_retry(
                    session,
                    message_id,
                    self.worker,
                    error=f"waiting for {channel.value} flood control",
                    retry_at=self.paused_until[channel],
                    count_attempt=False,
                )
                return "deferred"
            try:
                prepared = self._prepare(session, message, appointment)
            except (TemplateProblem, PermanentFailure) as exc:
                outbox.mark_failed(session, message_id, self.worker, error=str(exc))
                return "failed"
            session.commit()  # end the read transaction before talking to the outside world

        try:
            provider_id = self._already_sent(message)
            if provider_id is None:
                provider_id = self._sender(channel).send(prepared.content)
        except PermanentFailure as exc:
            with Session(self.engine, expire_on_commit=False) as session:
                outbox.mark_failed(session, message_id, self.worker, error=str(exc))
            return "failed"
        except RetryLater as exc:
            until = clock.now() + timedelta(seconds=max(exc.seconds, 1))
            self.paused_until[channel] = until
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
            after_sent = AFTER_SENT.get(message.template)
            if after_sent is not None:
                after_sent(session, message_id, sent_at)
            done = outbox.mark_sent(
                session,
                message_id,
                self.worker,
                provider_message_id=provider_id,
                summary=prepared.summary,
                now=sent_at,
            )
        return "sent" if done else "lost"

    def _already_sent(self, message: OutboxMessage) -> str | None:
        """After an attempt whose answer never came (a crash, a dropped connection), a provider
        that can be asked says whether it has the message already: then it is not sent again."""
        if message.attempts <= 1 or Channel(message.channel) in self._sender_factories:
            return None
        ask = channel_for(message.channel).already_sent
        return ask(self.settings, message) if ask is not None else None

    def _paused(self, channel: Channel, now: datetime) -> bool:
        until = self.paused_until.get(channel)
        return until is not None and now < until

    def _sender(self, channel: Channel) -> Sender:
        sender = self._senders.get(channel)
        if sender is None:
            factory = self._sender_factories.get(channel) or channel_for(channel).sender
            sender = self._senders[channel] = factory(self.settings)
        return sender

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
        if catalogue.template(message.template).cancels_visit:
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
    ) -> Outgoing:
        template = catalogue.template(message.template)
        if message.channel not in template.channels:
            raise PermanentFailure(
                f"{message.template} is not sent by {Channel(message.channel).value}"
            )
        if message.template == catalogue.WEEKLY_REPORT:
            return Outgoing(self._weekly_report(session, message), "Weekly funnel report")
        return self.renderer.render(
            message, appointment=appointment, household_id=outbox.household_of(session, message)
        )

    # -- the weekly funnel report: the one message built in code, not from config/templates --

    def _weekly_report(self, session: Session, message: OutboxMessage) -> EmailMessage:
        from crm.services.reports import weekly_report_email

        week_ending = date.fromisoformat(message.payload["week_ending"])
        try:
            # For the areas the recipient works in (their account may have changed since).
            email = weekly_report_email(
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
