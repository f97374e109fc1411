"""The outbox dispatcher: claims due messages in batches and sends each by its channel.

A batch goes in four steps, never holding a transaction open while talking to a provider:

1. claim: one UPDATE takes up to `batch_size` due messages (crm.services.outbox.
   claim_due_messages) and commits;
2. check and render: the batch's messages, and the visits, carers, households and consents
   they need, are loaded in a few queries (not a few per message); each is checked (consent,
   opt-outs, a visit still booked at that time, quiet hours, a channel held by flood control)
   and rendered (crm.messaging.render, through its channel's module). What must not go is
   recorded (cancelled, deferred, failed), all in one commit;
3. send: every rendered message goes through its channel's Sender, which keeps one connection
   open (email: one SMTP connection for the batch and the batches after it in a run). After an
   attempt whose answer was lost, a provider that can be asked (GOV.UK Notify, by reference) is
   asked first whether it has the message already. Right after each send its `sent_at` and
   provider id are committed by one cheap UPDATE (outbox.note_sent); a batch slower than half
   its claim renews the claims it still holds (one UPDATE) before sending more;
4. record: the sent messages marked sent in one UPDATE with their timeline lines, and what the
   other sends came to (a retry with backoff, a failure after the last attempt), one commit.

Why the commits sit there: the claim is committed before anything is sent, so a dispatcher that
dies leaves claims that lapse at `claimed_until` and are taken again (attempts + 1): nothing is
lost. A message taken again with `sent_at` set had gone before the crash: it is recorded as
sent, not sent again. So a crash repeats at most the one message whose send had been accepted
but whose `sent_at` was not yet committed (with the same Message-ID for an email, and after
asking Notify by reference). The unique keys are the enqueue side's (one row per key); nothing
here writes a message.

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
from sqlmodel import Session, select

from crm import clock
from crm.messaging import catalogue
from crm.messaging.channels import CHANNELS, channel_for, check_settings
from crm.messaging.channels.base import (
    Outgoing,
    PermanentFailure,
    RetryLater,
    Sender,
    TemplateProblem,
)
from crm.messaging.channels.email import message_id_for
from crm.messaging.render import Renderer
from crm.models import (
    Appointment,
    AppointmentStatus,
    Carer,
    Channel,
    Household,
    OutboxMessage,
    OutboxStatus,
)
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


@dataclass
class _Ready:
    """A checked message of the batch: rendered and waiting for its turn, or (content None)
    sent before a crash and only to be recorded."""

    message: OutboxMessage
    channel: Channel
    summary: str  # its line on the timeline
    content: object | None
    lost: bool = False  # its claim went to another dispatcher before we sent it


@dataclass
class _Outcome:
    kind: str  # sent / failed / paused / retry / lost
    item: _Ready
    error: str = ""


def _load_batch(
    session: Session, ids: list[int], worker: str
) -> tuple[list[OutboxMessage], dict[int, dict]]:
    """The claimed messages still ours, oldest first; the visits, carers and households they
    refer to (so that the checks and the timeline ask the session, not the database); and the
    latest consents of those households."""
    messages = list(
        session.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.claimed_by == worker,
            )
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
        )
    )
    visits = {
        int(m.payload["appointment_id"]) for m in messages if "appointment_id" in (m.payload or {})
    }
    if visits:
        session.exec(select(Appointment).where(Appointment.id.in_(visits))).all()
    carers = {m.carer_id for m in messages if m.carer_id is not None}
    households = {m.household_id for m in messages if m.household_id is not None}
    if carers:
        households |= {
            c.household_id for c in session.exec(select(Carer).where(Carer.id.in_(carers)))
        }
    consents: dict[int, dict] = {}
    if households:
        session.exec(select(Household).where(Household.id.in_(households))).all()
        public = {outbox.household_of(session, m) for m in messages if outbox.is_for_public(m)}
        consents = outbox.latest_consents_of(session, public - {None})
    return messages, consents


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
        come from the channel registry. A channel's settings that are wrong stop it here, with
        one line (SettingsError), rather than fail every message of that channel later."""
        check_settings(settings)
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
            channels = [c for c in CHANNELS if not self._paused(c, now)]
        with Session(self.engine, expire_on_commit=False) as session:
            ids = outbox.claim_due_messages(  # step 1, committed: see the module docstring
                session,
                self.worker,
                now=now,
                limit=self.batch_size,
                claim_seconds=self.claim_seconds,
                public_allowed=public_allowed,
                channels=channels,
            )
        result.claimed = len(ids)
        if not ids:
            return result
        ready, troubled = self._check_and_render(ids, result)
        outcomes = self._send_all(ready, result)
        self._record(outcomes, result)
        for message_id, error in troubled:
            result.errors.append(f"{message_id}: {error}")
            self._count(result, self._retry(message_id, f"unexpected error: {error}"))
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

    # -- step 2: check and render the batch -----------------------------------------------------

    def _check_and_render(
        self, ids: list[int], result: DispatchResult
    ) -> tuple[list[_Ready], list[tuple[int, str]]]:
        """The batch's messages that may go, rendered; the rest recorded (one commit). Also
        returns the messages that met an unexpected error, to be retried."""
        now = clock.now()
        ready: list[_Ready] = []
        troubled: list[tuple[int, str]] = []
        with Session(self.engine, expire_on_commit=False) as session:
            messages, consents = _load_batch(session, ids, self.worker)
            result.lost += len(ids) - len(messages)
            for message in messages:
                try:
                    outcome = self._check(session, message, consents, now)
                except Exception as exc:  # noqa: BLE001 - one message must not stop the rest
                    log.exception("outbox message %s: unexpected error", message.id)
                    troubled.append((message.id, repr(exc)))
                    continue
                if isinstance(outcome, _Ready):
                    ready.append(outcome)
                else:
                    self._count(result, outcome)
            session.commit()  # step 2's decisions; the read ends before anything is sent
        return ready, troubled

    def _check(
        self,
        session: Session,
        message: OutboxMessage,
        consents: dict[int, dict],
        now: datetime,
    ) -> _Ready | str:
        message_id = message.id
        channel = Channel(message.channel)
        if message.sent_at is not None:
            # It went before a crash (its sent_at was committed): record it, do not resend.
            return _Ready(message, channel, self._summary(session, message), None)
        reason = outbox.why_not_deliverable(session, message, consents)
        appointment = None
        if reason is None and "appointment_id" in (message.payload or {}):
            appointment, reason = self._live_appointment(session, message)
        if reason is not None:
            outbox.mark_cancelled(session, message_id, self.worker, reason=reason, commit=False)
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
                commit=False,
            )
            return "deferred"
        if self._paused(channel, now):
            self._defer(session, message_id, channel)
            return "deferred"
        try:
            prepared = self._prepare(session, message, appointment)
        except (TemplateProblem, PermanentFailure) as exc:
            outbox.mark_failed(session, message_id, self.worker, error=str(exc), commit=False)
            return "failed"
        return _Ready(message, channel, prepared.summary, prepared.content)

    def _summary(self, session: Session, message: OutboxMessage) -> str:
        """The timeline line of a message sent before a crash (rendered again, not sent)."""
        try:
            appointment = None
            if "appointment_id" in (message.payload or {}):
                appointment = session.get(Appointment, int(message.payload["appointment_id"]))
            return self._prepare(session, message, appointment).summary
        except Exception:  # noqa: BLE001 - the line only; it went, whatever the templates say now
            return message.template.replace("_", " ")

    # -- step 3: send, with no transaction open -------------------------------------------------

    def _send_all(self, ready: list[_Ready], result: DispatchResult) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        if not ready:
            return outcomes
        renew_at = clock.now() + timedelta(seconds=self.claim_seconds / 2)
        with self.engine.connect() as connection:
            for index, item in enumerate(ready):
                if clock.now() >= renew_at:
                    # A slow batch: keep the claims still to be used, so none lapses (and is
                    # sent by another dispatcher) while we are sending; those gone are lost.
                    rest = [r.message.id for r in ready[index:] if not r.lost]
                    until = clock.now() + timedelta(seconds=self.claim_seconds)
                    kept = outbox.renew_claims(connection, rest, self.worker, until=until)
                    for later in ready[index:]:
                        later.lost = later.lost or later.message.id not in kept
                    renew_at = clock.now() + timedelta(seconds=self.claim_seconds / 2)
                if item.lost:
                    result.lost += 1
                elif item.content is None:
                    outcomes.append(_Outcome("sent", item))  # sent before a crash
                elif self._paused(item.channel, clock.now()):
                    outcomes.append(_Outcome("paused", item))
                else:
                    outcomes.append(self._send_one(connection, item, result))
        return outcomes

    def _send_one(
        self, connection: sa.Connection, item: _Ready, result: DispatchResult
    ) -> _Outcome:
        message = item.message
        try:
            provider_id = self._already_sent(message)
            if provider_id is None:
                provider_id = self._sender(item.channel).send(item.content)
        except PermanentFailure as exc:
            return _Outcome("failed", item, error=str(exc))
        except RetryLater as exc:
            self.paused_until[item.channel] = clock.now() + timedelta(seconds=max(exc.seconds, 1))
            return _Outcome("paused", item, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - network trouble, a server down: retry
            log.warning("outbox message %s: %s", message.id, exc)
            return _Outcome("retry", item, error=f"{type(exc).__name__}: {exc}")
        sent_at = clock.now()
        # Committed at once: from here a crash does not send this message again.
        if not outbox.note_sent(
            connection, message.id, self.worker, provider_message_id=provider_id, sent_at=sent_at
        ):
            result.lost += 1
            return _Outcome("lost", item)
        message.sent_at, message.provider_message_id = sent_at, provider_id
        return _Outcome("sent", item)

    # -- step 4: record what the sends came to, in one commit --------------------------------------

    def _record(self, outcomes: list[_Outcome], result: DispatchResult) -> None:
        outcomes = [o for o in outcomes if o.kind != "lost"]
        if not outcomes:
            return
        now = clock.now()
        with Session(self.engine, expire_on_commit=False) as session:
            sent = [o.item for o in outcomes if o.kind == "sent"]
            marked = outbox.mark_sent_many(
                session, self.worker, [(i.message, i.summary) for i in sent], now=now
            )
            for item in sent:
                if item.message.id not in marked:
                    result.lost += 1
                    continue
                after_sent = AFTER_SENT.get(item.message.template)
                if after_sent is not None:
                    after_sent(session, item.message.id, item.message.sent_at or now)
                result.sent += 1
            others = [o for o in outcomes if o.kind != "sent"]
            if others:
                # The session knows them already (merged), so each mark below is one UPDATE.
                for outcome in others:
                    session.merge(outcome.item.message, load=False)
                for outcome in others:
                    self._count(result, self._apply(session, outcome))
            session.commit()  # step 4: see the module docstring

    def _apply(self, session: Session, outcome: _Outcome) -> str:
        message_id, worker = outcome.item.message.id, self.worker
        if outcome.kind == "failed":
            outbox.mark_failed(session, message_id, worker, error=outcome.error, commit=False)
            return "failed"
        if outcome.kind == "paused":
            self._defer(session, message_id, outcome.item.channel, outcome.error)
            return "deferred"
        status = outbox.mark_retry(session, message_id, worker, error=outcome.error, commit=False)
        return "failed" if status == OutboxStatus.FAILED.value else "retried"

    @staticmethod
    def _count(result: DispatchResult, outcome: str) -> None:
        setattr(result, outcome, getattr(result, outcome) + 1)

    def _defer(
        self, session: Session, message_id: int, channel: Channel, error: str | None = None
    ) -> None:
        """Hold a message while its channel's flood control lasts, using up no attempt."""
        outbox.mark_retry(
            session,
            message_id,
            self.worker,
            error=error or f"waiting for {channel.value} flood control",
            retry_at=self.paused_until[channel],
            count_attempt=False,
            commit=False,
        )

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
        if not template.allows(message.channel):
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
