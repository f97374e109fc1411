"""The outbox dispatcher: claims due messages in batches and sends each by its channel.

A batch goes in four steps, never holding the database while talking to a provider:

1. claim: one UPDATE takes up to `batch_size` due messages (crm.services.outbox.
   claim_due_messages) and commits;
2. check and render: the batch's messages (and the visits, carers and households they need)
   are loaded in a few queries, not a few per message; each is checked (consent, opt-outs, a
   visit still booked at that time, quiet hours, a channel held by flood control) and rendered
   (crm.messaging.render, through its channel's module). What must not go is recorded as
   cancelled, deferred or failed, all in one commit;
3. send: every rendered message goes through its channel's Sender, which keeps one connection
   open (email: one SMTP connection for the batch and the batches after it in a run). After an
   attempt whose answer was lost, a provider that can be asked (GOV.UK Notify, by reference) is
   asked first whether it has the message already. A batch slower than half its claim renews
   the claims it still holds (one UPDATE) before sending more;
4. record: what each send came to (the provider's id and the timeline line, a retry with
   backoff, a failure after the last attempt) in one commit.

Why the commits are where they are: the claim is committed before anything is sent, so a
dispatcher that dies while sending leaves claims that lapse at `claimed_until` and are taken
again (attempts + 1): nothing is lost. The results are committed once, after the batch's sends:
a crash between a send and that commit sends those messages of that batch again, once (the
next claim is one more attempt, and it runs step 3 only once), with the same Message-ID for an
email and after asking Notify by reference: at most one duplicate per message per crash, as
with one commit per message, for a commit per batch instead of two per message. The unique
keys are the enqueue side's (one row per key) and are not touched here.

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
from crm.messaging.channels import CHANNELS, channel_for
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
    """A checked and rendered message, waiting for its turn to be sent."""

    message: OutboxMessage
    channel: str
    prepared: Outgoing
    lost: bool = False  # its claim went to another dispatcher before we sent it


@dataclass
class _Outcome:
    kind: str  # sent / failed / paused / retry / lost
    item: _Ready
    error: str = ""
    provider_id: str | None = None
    sent_at: datetime | None = None


def _load_batch(session: Session, ids: list[int], worker: str) -> list[OutboxMessage]:
    """The claimed messages still ours, oldest first, and (so that the checks and the timeline
    ask the session, not the database) the visits, carers and households they refer to."""
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
    if carers:
        session.exec(select(Carer).where(Carer.id.in_(carers))).all()
    households = {m.household_id for m in messages if m.household_id is not None}
    households |= {c.household_id for c in session.identity_map.values() if isinstance(c, Carer)}
    if households:
        session.exec(select(Household).where(Household.id.in_(households))).all()
    return messages


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
        outcomes = self._send_all(ready)
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
            messages = _load_batch(session, ids, self.worker)
            result.lost += len(ids) - len(messages)
            for message in messages:
                try:
                    outcome = self._check(session, message, now)
                except Exception as exc:  # noqa: BLE001 - one message must not stop the rest
                    log.exception("outbox message %s: unexpected error", message.id)
                    troubled.append((message.id, repr(exc)))
                    continue
                if isinstance(outcome, _Ready):
                    ready.append(outcome)
                else:
                    self._count(result, outcome)
            session.commit()  # step 2's decisions, and the read ends before anything is sent
        return ready, troubled

    def _check(self, session: Session, message: OutboxMessage, now: datetime) -> _Ready | str:
        message_id = message.id
        reason = outbox.why_not_deliverable(session, message)
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
        channel = message.channel
        if self._paused(channel, now):
            self._defer(session, message_id, channel)
            return "deferred"
        try:
            prepared = self._prepare(session, message, appointment)
        except (TemplateProblem, PermanentFailure) as exc:
            outbox.mark_failed(session, message_id, self.worker, error=str(exc), commit=False)
            return "failed"
        return _Ready(message, channel, prepared)

    # -- step 3: send, with no transaction open -------------------------------------------------

    def _send_all(self, ready: list[_Ready]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        renew_at = clock.now() + timedelta(seconds=self.claim_seconds / 2)
        for index, item in enumerate(ready):
            if clock.now() >= renew_at:
                # A slow batch: keep the claims still to be used, so none lapses (and is sent
                # by another dispatcher) while we are sending; those already gone are lost.
                kept = self._renew([r.message.id for r in ready[index:]])
                for rest in ready[index:]:
                    if rest.message.id not in kept:
                        rest.lost = True
                renew_at = clock.now() + timedelta(seconds=self.claim_seconds / 2)
            if item.lost:
                outcomes.append(_Outcome("lost", item))
                continue
            if self._paused(item.channel, clock.now()):
                outcomes.append(_Outcome("paused", item))
                continue
            outcomes.append(self._send_one(item))
        return outcomes

    def _send_one(self, item: _Ready) -> _Outcome:
        try:
            provider_id = self._already_sent(item.message)
            if provider_id is None:
                provider_id = self._sender(item.channel).send(item.prepared.content)
        except PermanentFailure as exc:
            return _Outcome("failed", item, error=str(exc))
        except RetryLater as exc:
            self.paused_until[item.channel] = clock.now() + timedelta(seconds=max(exc.seconds, 1))
            return _Outcome("paused", item, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - network trouble, a server down: retry
            log.warning("outbox message %s: %s", item.message.id, exc)
            return _Outcome("retry", item, error=f"{type(exc).__name__}: {exc}")
        return _Outcome("sent", item, provider_id=provider_id, sent_at=clock.now())

    def _renew(self, ids: list[int]) -> set[int]:
        with Session(self.engine) as session:
            rows = session.execute(
                sa.update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(ids),
                    OutboxMessage.status == OutboxStatus.SENDING,
                    OutboxMessage.claimed_by == self.worker,
                )
                .values(claimed_until=clock.now() + timedelta(seconds=self.claim_seconds))
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            ).all()
            session.commit()
        return {row[0] for row in rows}

    # -- step 4: record what the sends came to, in one commit --------------------------------------

    def _record(self, outcomes: list[_Outcome], result: DispatchResult) -> None:
        if not outcomes:
            return
        with Session(self.engine, expire_on_commit=False) as session:
            # One query puts the batch in the session, so each mark below is one UPDATE.
            _load_batch(session, [o.item.message.id for o in outcomes], self.worker)
            for outcome in outcomes:
                self._count(result, self._apply(session, outcome))
            session.commit()  # step 4: see the module docstring for why only here

    def _apply(self, session: Session, outcome: _Outcome) -> str:
        message, worker = outcome.item.message, self.worker
        if outcome.kind == "lost":
            return "lost"
        if outcome.kind == "sent":
            after_sent = AFTER_SENT.get(message.template)
            if after_sent is not None:
                after_sent(session, message.id, outcome.sent_at)
            done = outbox.mark_sent(
                session,
                message.id,
                worker,
                provider_message_id=outcome.provider_id,
                summary=outcome.item.prepared.summary,
                now=outcome.sent_at,
                commit=False,
            )
            return "sent" if done else "lost"
        if outcome.kind == "failed":
            outbox.mark_failed(session, message.id, worker, error=outcome.error, commit=False)
            return "failed"
        if outcome.kind == "paused":
            self._defer(session, message.id, outcome.item.channel, outcome.error)
            return "deferred"
        status = outbox.mark_retry(session, message.id, worker, error=outcome.error, commit=False)
        return "failed" if status == OutboxStatus.FAILED.value else "retried"

    # -- the rest -------------------------------------------------------------------------------

    @staticmethod
    def _count(result: DispatchResult, outcome: str) -> None:
        setattr(result, outcome, getattr(result, outcome) + 1)

    def _defer(
        self, session: Session, message_id: int, channel: str, error: str | None = None
    ) -> None:
        """Hold a message while its channel's flood control lasts, using up no attempt."""
        outbox.mark_retry(
            session,
            message_id,
            self.worker,
            error=error or f"waiting for {channel} flood control",
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
