"""The outbox: every message to a person or a member of staff is written here first, and the
dispatcher (crm.messaging.dispatcher) sends it. Web requests and the bot never send directly.

A message's life: `pending` (waiting for its due time, or for a retry) -> `sending` (claimed
by one dispatcher until `claimed_until`) -> `sent`, or back to `pending` with `next_attempt_at`
after a failure, or `failed` after the last attempt (shown on the household's timeline and in
`failed_messages` for the admin list), or `cancelled` (consent withdrawn, visit cancelled...).

Claiming is one UPDATE that only moves rows still `pending` (or whose claim has expired, when a
dispatcher died mid-send), with FOR UPDATE SKIP LOCKED on PostgreSQL: two dispatchers never
hold the same message. Delivery is at-least-once across a crash in the instant between the
provider accepting a message and our commit of its `sent_at` (`note_sent`, right after each
send): a crash repeats at most the one message in flight, as a message claimed again with
`sent_at` set is recorded as sent, not sent again (`mark_sent_many`, once per batch). Every
email carries a Message-ID fixed per outbox message, so a repeat of that one message is
recognisably the same message to the mailbox.

Messages to the public respect consent per channel (the latest Consent row per scope), Telegram
opt-outs (STOP) and quiet hours (21:00-08:00 London by default: they wait). Staff messages do
not wait for quiet hours and need no consent. Which messages are for staff, and which public
ones go at once even at night, is in the catalogue (crm.messaging.catalogue).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from crm import clock
from crm.db import savepoint
from crm.messaging import catalogue
from crm.messaging.channels import (
    CHANNELS,
    channel_for,
    channel_of,
    consent_scope,
    scope_of,
    sendable,
)
from crm.models import (
    Activity,
    ActivityKind,
    AuditAction,
    Carer,
    Channel,
    Consent,
    ConsentScope,
    Household,
    NotifyReceivedText,
    OutboxMessage,
    OutboxStatus,
    TelegramChatLink,
)
from crm.services import audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotFound
from crm.settings import Settings

# Attempts before a message is marked failed, and the wait after each failed attempt.
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (60, 300, 900, 3600)
UNSUBSCRIBE_SALT = "fostercrm-unsubscribe"
UNSUBSCRIBE_MAX_AGE = 400 * 24 * 3600  # links in old emails keep working for over a year
SCHEDULER_ACTOR = Actor.system("scheduler")


def enqueue_message(
    session: Session,
    *,
    channel: Channel,
    recipient: str,
    template: str,
    payload: dict[str, Any],
    due_at: datetime,
    unique_key: str,
    household_id: int | None = None,
    carer_id: int | None = None,
    staff_id: int | None = None,
) -> OutboxMessage | None:
    """Add a message to the caller's transaction, unless one with `unique_key` exists already.

    Returns the new message, or None when the key was taken (a scan that runs twice writes
    nothing new). Uses a savepoint so a race with another writer does not spoil the caller's
    transaction. InvalidInput for a channel no module of the registry sends by.
    """
    channel = _sendable(channel)
    if session.exec(select(OutboxMessage.id).where(OutboxMessage.unique_key == unique_key)).first():
        return None
    message = OutboxMessage(
        channel=channel,
        recipient=recipient,
        template=template,
        payload=payload,
        due_at=due_at,
        unique_key=unique_key,
        household_id=household_id,
        carer_id=carer_id,
        staff_id=staff_id,
    )
    try:
        with savepoint(session):
            session.add(message)
    except IntegrityError:
        return None
    return message


def _sendable(channel: object) -> Channel:
    try:
        return sendable(channel)
    except ValueError:
        raise InvalidInput(f"No channel sends by {channel!s}", "channel") from None


# -- who may be sent what --------------------------------------------------------------------


def is_for_public(message: OutboxMessage) -> bool:
    return message.staff_id is None and catalogue.template(message.template).for_public


def waits_for_quiet_hours(message: OutboxMessage) -> bool:
    return is_for_public(message) and catalogue.template(message.template).waits_in_quiet_hours


def latest_consents(session: Session, household_id: int) -> dict[ConsentScope, bool]:
    """What the household has agreed to now: the latest row per scope."""
    rows = session.exec(
        select(Consent.scope, Consent.granted)
        .where(Consent.household_id == household_id)
        .order_by(Consent.id)
    ).all()
    return {ConsentScope(scope): granted for scope, granted in rows}


def latest_consents_of(session: Session, household_ids: Iterable[int]) -> dict[int, dict]:
    """`latest_consents` for many households in one query (a dispatcher's batch)."""
    ids = sorted(set(household_ids))
    found: dict[int, dict[ConsentScope, bool]] = {h: {} for h in ids}
    for start in range(0, len(ids), RecipientBook.CHUNK):
        for household_id, scope, granted in session.exec(
            select(Consent.household_id, Consent.scope, Consent.granted)
            .where(Consent.household_id.in_(ids[start : start + RecipientBook.CHUNK]))
            .order_by(Consent.id)
        ):
            found[household_id][ConsentScope(scope)] = granted
    return found


def consent_granted(
    session: Session,
    household_id: int | None,
    channel: Channel,
    consents: dict[ConsentScope, bool] | None = None,
) -> bool:
    """`consents`: the household's latest consents, when the caller has them already."""
    if household_id is None:
        return False
    scope = scope_of(channel)
    if consents is None:
        consents = latest_consents(session, household_id)
    return bool(scope and consents.get(scope, False))


def household_of(session: Session, message: OutboxMessage) -> int | None:
    if message.household_id is not None:
        return message.household_id
    if message.carer_id is not None:
        carer = session.get(Carer, message.carer_id)
        return carer.household_id if carer else None
    return None


def telegram_link_open(session: Session, chat_id: str) -> bool:
    return channel_for(Channel.TELEGRAM).opted_out(session, chat_id) is None


def why_not_deliverable(
    session: Session,
    message: OutboxMessage,
    consents: dict[int, dict[ConsentScope, bool]] | None = None,
) -> str | None:
    """None when a message to the public may go now as far as consent is concerned; otherwise
    the reason it must be cancelled. Checked at send time, so a withdrawal made after the
    message was written still stops it. The channel's module says what opting out means.
    `consents` (from `latest_consents_of`) saves a query per message for a batch."""
    if not is_for_public(message):
        return None
    household_id = household_of(session, message)
    if household_id is None:
        return "no household to check consent against"
    household = session.get(Household, household_id)
    if household is None or household.anonymised_at is not None:
        return "the household's details have been removed"
    known = consents.get(household_id) if consents is not None else None
    if not consent_granted(session, household_id, Channel(message.channel), known):
        return f"no consent to contact by {Channel(message.channel).value}"
    if Channel(message.channel) in CHANNELS:
        return CHANNELS[Channel(message.channel)].opted_out(session, message.recipient)
    return None


@dataclass(frozen=True)
class Recipient:
    channel: Channel
    address: str  # email address, Telegram chat id, mobile number...


class RecipientBook:
    """Where messages to many households may go, looked up in a few queries (not a few per
    household), for scans over thousands of them. See `reachable_recipients` for the rule.
    Each channel of the registry (crm.messaging.channels) that is set up finds its own
    addresses and leaves out those that opted out; this book knows no channel by name."""

    CHUNK = 900  # stays under SQLite's limit on bound parameters

    def __init__(
        self,
        session: Session,
        settings: Settings | None,
        household_ids: Iterable[int],
        carer_ids: Iterable[int] = (),
    ) -> None:
        self.preferred: dict[int, Channel | None] = {}
        ids = sorted(set(household_ids))
        carers = sorted(set(carer_ids))
        for start in range(0, len(ids), self.CHUNK):
            chunk = ids[start : start + self.CHUNK]
            for household_id, preferred in session.exec(
                select(Household.id, Household.preferred_channel).where(
                    Household.id.in_(chunk), Household.anonymised_at.is_(None)
                )
            ):
                self.preferred[household_id] = preferred
        self.consents = latest_consents_of(session, ids)
        self.channels = [c for c in CHANNELS.values() if c.consent and c.available(settings)]
        self.addresses = {c.channel: c.addresses(session, ids, carers) for c in self.channels}

    def recipients(
        self,
        household_id: int,
        carer_id: int | None = None,
        *,
        template: str | None = None,
        only: Channel | None = None,
    ) -> list[Recipient]:
        """By the household's preferred channel when they agreed to it and it reaches them,
        else by the first channel of the registry that does. `template` leaves out the
        channels its catalogue entry does not allow; `only` asks about that one channel (a
        visit's confirmation, which chooses among its own ways of reaching them)."""
        if household_id not in self.preferred:  # unknown or anonymised
            return []
        consents = self.consents.get(household_id, {})
        entry = catalogue.template(template) if template else None
        preferred = self.preferred[household_id]
        ordered = sorted(self.channels, key=lambda c: c.channel != preferred)
        for channel in ordered:
            if entry is not None and not entry.allows(channel.channel):
                continue
            if only is not None and channel.channel != only:
                continue
            if not consents.get(channel.consent):
                continue
            found = self.addresses[channel.channel].of(household_id, carer_id)
            if found:
                return [Recipient(channel.channel, a) for a in found]
        return []


def reachable_recipients(
    session: Session,
    settings: Settings | None,
    household_id: int,
    carer_id: int | None = None,
    *,
    template: str | None = None,
) -> list[Recipient]:
    """Where a message to this household may go: one channel, the one they prefer when they
    agreed to it. Email goes to each applicant with an address; Telegram to each linked chat
    that has not said STOP; a text to each applicant's mobile that has not replied STOP.
    Empty when they agreed to none (then we do not write)."""
    book = RecipientBook(session, settings, [household_id], [carer_id] if carer_id else [])
    return book.recipients(household_id, carer_id, template=template)


def enqueue_many(session: Session, messages: list[dict[str, Any]]) -> list[str]:
    """`enqueue_message` for many messages at once (a scan's worth), in the caller's
    transaction: one INSERT per thousand rows, and a key that exists already is skipped by the
    database (ON CONFLICT DO NOTHING), so a second scan still writes nothing. Each dict has
    enqueue_message's keyword arguments. Returns the unique keys of the new ones."""
    if not messages:
        return []
    table = OutboxMessage.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = clock.now()
    rows = [
        {
            "channel": _sendable(m["channel"]).value,
            "recipient": m["recipient"],
            "template": m["template"],
            "payload": m["payload"],
            "due_at": m["due_at"],
            "unique_key": m["unique_key"],
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "household_id": m.get("household_id"),
            "carer_id": m.get("carer_id"),
            "staff_id": m.get("staff_id"),
            "created_at": now,
        }
        for m in messages
    ]
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["unique_key"])
        .returning(table.c.unique_key)
    )
    written: list[str] = []
    session.flush()
    for start in range(0, len(rows), 1000):
        written.extend(session.execute(statement, rows[start : start + 1000]).scalars())
    return written


# -- quiet hours -----------------------------------------------------------------------------


def in_quiet_hours(settings: Settings, moment: datetime) -> bool:
    local = moment.astimezone(settings.tz).time()
    start, end = settings.quiet_hours.start, settings.quiet_hours.end
    if start == end:
        return False
    if start > end:  # the usual case: the window crosses midnight
        return local >= start or local < end
    return start <= local < end


def quiet_hours_end(settings: Settings, moment: datetime) -> datetime:
    """When the quiet window that `moment` falls in ends (in UTC); `moment` if it is not quiet."""
    if not in_quiet_hours(settings, moment):
        return moment
    tz = settings.tz
    local = moment.astimezone(tz)
    day = local.date()
    if local.time() >= settings.quiet_hours.end:
        day += timedelta(days=1)
    return datetime.combine(day, settings.quiet_hours.end, tz).astimezone(moment.tzinfo)


# -- the dispatcher's side -------------------------------------------------------------------


def _claimable(now: datetime, public_allowed: bool) -> sa.ColumnElement[bool]:
    waiting = sa.and_(
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.due_at <= now,
        sa.or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
    )
    # A dispatcher that died mid-send leaves its claim behind; it lapses at claimed_until.
    abandoned = sa.and_(
        OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_until < now
    )
    condition = sa.or_(waiting, abandoned)
    if not public_allowed:
        condition = sa.and_(
            condition,
            sa.or_(
                OutboxMessage.staff_id.is_not(None),
                OutboxMessage.template.in_(sorted(catalogue.sent_in_quiet_hours())),
            ),
        )
    return condition


def claim_due_messages(
    session: Session,
    worker: str,
    *,
    now: datetime | None = None,
    limit: int = 50,
    claim_seconds: int = 120,
    public_allowed: bool = True,
    channels: list[Channel] | None = None,
) -> list[int]:
    """Claim up to `limit` due messages for `worker` and commit; returns their ids, oldest
    first. `public_allowed=False` (quiet hours) claims only staff messages."""
    now = now or clock.now()
    condition = _claimable(now, public_allowed)
    if channels is not None:
        condition = sa.and_(condition, OutboxMessage.channel.in_([c.value for c in channels]))
    candidates = (
        select(OutboxMessage.id)
        .where(condition)
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
    )
    values = {
        "status": OutboxStatus.SENDING,
        "claimed_by": worker,
        "claimed_until": now + timedelta(seconds=claim_seconds),
        "attempts": OutboxMessage.attempts + 1,
    }
    if session.get_bind().dialect.name == "postgresql":
        # The batch is chosen once, in a materialised CTE, and joined to (UPDATE ... FROM).
        # Inside `id IN (subquery)` PostgreSQL may run the LIMITed, SKIP LOCKED subquery again
        # for each row it updates, and the claim then took every due message, not the batch.
        batch = (
            candidates.with_for_update(skip_locked=True)
            .cte("claim_batch")
            .prefix_with("MATERIALIZED")
        )
        chosen = OutboxMessage.id == batch.c.id
    else:
        # SQLite has one writer at a time and runs the subquery once.
        chosen = OutboxMessage.id.in_(candidates.scalar_subquery())
    statement = (
        sa.update(OutboxMessage)
        .where(chosen, condition)
        .values(**values)
        .returning(OutboxMessage.id, OutboxMessage.due_at)
        .execution_options(synchronize_session=False)
    )
    try:
        rows = session.execute(statement).all()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return [row[0] for row in sorted(rows, key=lambda r: (r[1], r[0]))]


def _still_mine(worker: str) -> sa.ColumnElement[bool]:
    return sa.and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_by == worker)


def _release(
    session: Session,
    message_id: int,
    worker: str,
    **values: Any,
) -> bool:
    result = session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _still_mine(worker))
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _timeline_entry(
    session: Session,
    message: OutboxMessage,
    summary: str,
    body: str | None,
    now: datetime,
    kind: ActivityKind = ActivityKind.MESSAGE_SENT,
) -> None:
    household_id = household_of(session, message)
    if household_id is None:
        return
    session.add(
        Activity(
            household_id=household_id,
            kind=kind,
            occurred_at=now,
            actor_label=SCHEDULER_ACTOR.label,
            summary=summary[:200],
            body=body,
            outbox_message_id=message.id,
        )
    )


def mark_sent(
    session: Session,
    message_id: int,
    worker: str,
    *,
    provider_message_id: str | None,
    summary: str,
    now: datetime | None = None,
    commit: bool = True,
) -> bool:
    """Record a delivery (and its line on the timeline). False if the claim had been lost,
    which only happens when a send outlived its claim; nothing is changed then.
    `commit=False` leaves the commit to the caller (the dispatcher records a batch at once)."""
    now = now or clock.now()
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return False
    done = _release(
        session,
        message_id,
        worker,
        status=OutboxStatus.SENT,
        sent_at=now,
        provider_message_id=(provider_message_id or "")[:200] or None,
        error=None,
        next_attempt_at=None,
    )
    if done and is_for_public(message):
        _timeline_entry(
            session, message, f"Sent by {Channel(message.channel).value}: {summary}", None, now
        )
    if commit:
        session.commit()
    return done


def note_sent(
    connection: sa.Connection,
    message_id: int,
    worker: str,
    *,
    provider_message_id: str | None,
    sent_at: datetime,
) -> bool:
    """The instant after a provider took a message: its `sent_at` and provider id, one UPDATE
    and a commit of their own (cheap: no timeline, no status), so a crash from here on never
    sends it again (a message claimed again with `sent_at` set is recorded, not resent: see
    `mark_sent_many`). False if the claim had been lost (a send that outlived its claim)."""
    result = connection.execute(
        _note_sent_statement(),
        {
            "message_id": message_id,
            "worker": worker,
            "noted_at": sent_at,
            "provider_id": (provider_message_id or "")[:200] or None,
        },
    )
    connection.commit()
    return result.rowcount == 1


@lru_cache(maxsize=1)
def _note_sent_statement() -> sa.Update:
    """Built once: at hundreds of sends a second, building the statement each time shows."""
    return (
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.id == sa.bindparam("message_id"),
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_by == sa.bindparam("worker"),
        )
        .values(sent_at=sa.bindparam("noted_at"), provider_message_id=sa.bindparam("provider_id"))
    )


def renew_claims(
    connection: sa.Connection, message_ids: list[int], worker: str, *, until: datetime
) -> set[int]:
    """Keep the claims of a slow batch (committed); returns the ids still ours."""
    if not message_ids:
        return set()
    rows = connection.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids), _still_mine(worker))
        .values(claimed_until=until)
        .returning(OutboxMessage.id)
    ).all()
    connection.commit()
    return {row[0] for row in rows}


def mark_sent_many(
    session: Session, worker: str, sent: list[tuple[OutboxMessage, str]], *, now: datetime
) -> set[int]:
    """The end of a batch: the messages whose sends were noted (`note_sent`), each with its
    line for the timeline, marked sent in one UPDATE and their timeline lines added, in the
    caller's transaction. Returns the ids marked (those whose claim was still ours)."""
    if not sent:
        return set()
    by_id = {message.id: (message, summary) for message, summary in sent}
    marked: set[int] = set()
    ids = sorted(by_id)
    for start in range(0, len(ids), RecipientBook.CHUNK):
        rows = session.execute(
            sa.update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids[start : start + RecipientBook.CHUNK]),
                _still_mine(worker),
                OutboxMessage.sent_at.is_not(None),
            )
            .values(
                status=OutboxStatus.SENT,
                claimed_by=None,
                claimed_until=None,
                error=None,
                next_attempt_at=None,
            )
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
        marked.update(row[0] for row in rows)
    for message_id in sorted(marked):
        message, summary = by_id[message_id]
        if is_for_public(message):
            when = message.sent_at or now
            what = f"Sent by {Channel(message.channel).value}: {summary}"
            _timeline_entry(session, message, what, None, when)
    return marked


def mark_retry(
    session: Session,
    message_id: int,
    worker: str,
    *,
    error: str,
    retry_at: datetime | None = None,
    count_attempt: bool = True,
    now: datetime | None = None,
    commit: bool = True,
) -> str:
    """A failed attempt: back to pending with a backoff, or `failed` after the last attempt.
    `count_attempt=False` (quiet hours, Telegram flood control) gives the attempt back.
    Returns the new status."""
    now = now or clock.now()
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return "missing"
    session.refresh(message)
    attempts = message.attempts if count_attempt else max(0, message.attempts - 1)
    if count_attempt and attempts >= MAX_ATTEMPTS:
        return mark_failed(session, message_id, worker, error=error, now=now, commit=commit)
    if retry_at is None:
        wait = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1] if attempts else 0
        retry_at = now + timedelta(seconds=wait)
    _release(
        session,
        message_id,
        worker,
        status=OutboxStatus.PENDING,
        attempts=attempts,
        next_attempt_at=retry_at,
        error=error[:1000] if count_attempt else message.error,
    )
    if commit:
        session.commit()
    return OutboxStatus.PENDING.value


def mark_failed(
    session: Session,
    message_id: int,
    worker: str,
    *,
    error: str,
    now: datetime | None = None,
    commit: bool = True,
) -> str:
    """Give up on a message: staff see it on the timeline and in `failed_messages`."""
    now = now or clock.now()
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return "missing"
    if _release(session, message_id, worker, status=OutboxStatus.FAILED, error=error[:1000]):
        _timeline_entry(
            session,
            message,
            f"Not sent ({Channel(message.channel).value}, {message.template.replace('_', ' ')})",
            f"Gave up after {message.attempts} attempt(s): {error}"[:2000],
            now,
            kind=ActivityKind.MESSAGE_FAILED,
        )
    if commit:
        session.commit()
    return OutboxStatus.FAILED.value


def mark_cancelled(
    session: Session, message_id: int, worker: str | None, *, reason: str, commit: bool = True
) -> bool:
    """Stop a message that must not go (consent withdrawn, visit cancelled or moved)."""
    condition = OutboxMessage.id == message_id
    if worker is not None:
        condition = sa.and_(condition, _still_mine(worker))
    else:
        condition = sa.and_(condition, OutboxMessage.status == OutboxStatus.PENDING)
    result = session.execute(
        sa.update(OutboxMessage)
        .where(condition)
        .values(
            status=OutboxStatus.CANCELLED,
            error=reason[:1000],
            claimed_by=None,
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if commit:
        session.commit()
    return result.rowcount == 1


def cancel_pending(session: Session, condition: sa.ColumnElement[bool], *, reason: str) -> int:
    """Cancel the pending messages matching `condition` in the caller's transaction (a visit
    cancelled, a household that left): they no longer make sense. A message already being
    sent is left to the dispatcher, which checks again before it sends. Returns how many."""
    result = session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, condition)
        .values(status=OutboxStatus.CANCELLED, error=reason[:1000], next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def next_due_at(session: Session, now: datetime | None = None) -> datetime | None:
    """When the next pending message becomes due (for a dispatcher deciding how long to wait)."""
    now = now or clock.now()
    when = sa.func.coalesce(OutboxMessage.next_attempt_at, OutboxMessage.due_at)
    upcoming = session.exec(
        select(sa.func.min(when)).where(OutboxMessage.status == OutboxStatus.PENDING)
    ).one()
    claims = session.exec(
        select(sa.func.min(OutboxMessage.claimed_until)).where(
            OutboxMessage.status == OutboxStatus.SENDING
        )
    ).one()
    candidates = [t for t in (upcoming, claims) if t is not None]
    return min(candidates) if candidates else None


# -- what the provider said afterwards (delivery receipts) -----------------------------------

DELIVERY_IN_PROGRESS = "in progress"
DELIVERED = "delivered"
NOT_DELIVERED = "not delivered"


def awaiting_delivery(
    session: Session, *, provider_prefix: str, since: datetime, limit: int = 500
) -> list[OutboxMessage]:
    """Sent messages of one provider (by the prefix of their provider ids) whose fate is not
    known yet, oldest check first, sent since `since` (a receipt never comes for older ones)."""
    return list(
        session.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.SENT,
                OutboxMessage.provider_message_id.startswith(provider_prefix),
                OutboxMessage.sent_at >= since,
                sa.or_(
                    OutboxMessage.delivery_status.is_(None),
                    OutboxMessage.delivery_status == DELIVERY_IN_PROGRESS,
                ),
            )
            .order_by(sa.func.coalesce(OutboxMessage.delivery_checked_at, OutboxMessage.sent_at))
            .limit(limit)
            .execution_options(populate_existing=True)
        ).all()
    )


def record_delivery(
    session: Session,
    message_id: int,
    *,
    delivered: bool | None,
    reason: str | None = None,
    now: datetime | None = None,
) -> bool:
    """What the provider says happened to a sent message: `delivered` True or False once it
    knows (a line on the household's timeline, once), None while it is still trying. Returns
    True when this changed what we knew."""
    now = now or clock.now()
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return False
    status = {None: DELIVERY_IN_PROGRESS, True: DELIVERED, False: NOT_DELIVERED}[delivered]
    values: dict[str, Any] = {"delivery_status": status, "delivery_checked_at": now}
    if delivered is False and reason:
        values["error"] = f"not delivered: {reason}"[:1000]
    result = session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            sa.or_(
                OutboxMessage.delivery_status.is_(None),
                OutboxMessage.delivery_status == DELIVERY_IN_PROGRESS,
            ),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    changed = result.rowcount == 1 and delivered is not None
    if changed and is_for_public(message):
        what = f"{Channel(message.channel).value}, {message.template.replace('_', ' ')}"
        if delivered:
            _timeline_entry(session, message, f"Delivered ({what})", None, now)
        else:
            _timeline_entry(
                session, message, f"Not delivered ({what})",
                f"The provider could not deliver it: {reason or 'no reason given'}"[:2000],
                now, kind=ActivityKind.MESSAGE_FAILED,
            )  # fmt: skip
    session.commit()
    return changed


def replies_read(session: Session, since: datetime) -> set[str]:
    """The ids of the replies (received texts) already read, received since `since`."""
    return set(
        session.exec(
            select(NotifyReceivedText.id).where(NotifyReceivedText.received_at >= since)
        ).all()
    )


def mark_reply_read(session: Session, reply_id: str, received_at: datetime) -> bool:
    """In the caller's transaction; False when it had been read already."""
    if session.get(NotifyReceivedText, reply_id) is not None:
        return False
    session.add(NotifyReceivedText(id=reply_id[:40], received_at=received_at))
    return True


# -- for staff -------------------------------------------------------------------------------


def failed_messages(
    session: Session,
    *,
    area_ids: frozenset[int] | None = None,
    limit: int = 200,
) -> list[OutboxMessage]:
    """Messages we gave up on, newest first, for the admin list. `area_ids` limits them to
    households in those areas (plus staff messages and households awaiting triage)."""
    query = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    if area_ids is not None:
        query = (
            query.outerjoin(Carer, Carer.id == OutboxMessage.carer_id)
            .outerjoin(
                Household,
                Household.id == sa.func.coalesce(OutboxMessage.household_id, Carer.household_id),
            )
            .where(sa.or_(Household.area_id.is_(None), Household.area_id.in_(sorted(area_ids))))
        )
    query = query.order_by(OutboxMessage.id.desc()).limit(limit)
    return list(session.exec(query).all())


def retry_failed_message(session: Session, actor: Actor, message_id: int) -> OutboxMessage:
    """Staff ask for a failed message to be tried again (after fixing an address, say)."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"No message with id {message_id}")
    if message.status != OutboxStatus.FAILED:
        raise InvalidInput("Only a message that failed can be tried again", "message")
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = None
    message.error = None
    session.add(message)
    audit.record(session, actor, AuditAction.UPDATE, "outbox_message", message.id, retry=True)
    session.commit()
    session.refresh(message)
    return message


# -- opting out ------------------------------------------------------------------------------


def withdraw_consent(
    session: Session,
    actor: Actor,
    household_id: int,
    scope: ConsentScope,
    *,
    wording: str,
    via: str,
) -> Consent | None:
    """Record that the household no longer agrees to `scope`, and cancel what is waiting to
    go by that channel. Returns None (and writes nothing) if they had already withdrawn."""
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound(f"No household with id {household_id}")
    if latest_consents(session, household_id).get(scope) is False:
        return None
    consent = Consent(
        household_id=household_id,
        scope=scope,
        granted=False,
        wording=wording[:2000],
        via=via[:40],
        recorded_by_id=actor.user_id,
    )
    session.add(consent)
    channel = channel_of(scope)
    if channel is not None:
        carer_ids = select(Carer.id).where(Carer.household_id == household_id)
        session.execute(
            sa.update(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.channel == channel,
                sa.or_(
                    OutboxMessage.household_id == household_id,
                    OutboxMessage.carer_id.in_(carer_ids.scalar_subquery()),
                ),
                OutboxMessage.staff_id.is_(None),
            )
            .values(status=OutboxStatus.CANCELLED, error=f"consent withdrawn ({via})")
            .execution_options(synchronize_session=False)
        )
    audit.record(
        session, actor, AuditAction.UPDATE, "household", household_id, consent_withdrawn=scope
    )
    session.commit()
    session.refresh(consent)
    return consent


def record_telegram_stop(session: Session, chat_id: str | int, *, text: str = "STOP") -> bool:
    """Someone wrote STOP to the bot: no more messages to that chat, and (when the chat belongs
    to a household or carer) their Telegram consent is withdrawn. The chat assistant calls
    this. Returns False when the chat was unknown or had already opted out."""
    link = session.exec(
        select(TelegramChatLink).where(TelegramChatLink.chat_id == str(chat_id))
    ).first()
    now = clock.now()
    if link is None:
        link = TelegramChatLink(chat_id=str(chat_id), opted_out_at=now)
        session.add(link)
        session.commit()
        return False
    if link.opted_out_at is not None:
        return False
    link.opted_out_at = now
    session.add(link)
    session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.channel == Channel.TELEGRAM,
            OutboxMessage.recipient == str(chat_id),
        )
        .values(status=OutboxStatus.CANCELLED, error="the person said STOP on Telegram")
        .execution_options(synchronize_session=False)
    )
    household_id = link.household_id
    if household_id is None and link.carer_id is not None:
        carer = session.get(Carer, link.carer_id)
        household_id = carer.household_id if carer else None
    session.commit()
    if household_id is not None:
        withdraw_consent(
            session,
            Actor.system("telegram"),
            household_id,
            ConsentScope.TELEGRAM,
            wording=f"Wrote {text!r} to the Telegram bot",
            via="telegram STOP",
        )
    return True


def record_stop(
    session: Session, channel: Channel, address: str, *, text: str = "STOP", via: str
) -> bool:
    """Someone answered STOP to a channel that can hear it (a text message): nothing more goes
    to that address, what waits for it is cancelled, and the households it belongs to have
    that channel's consent withdrawn. The channel's module says how an address opts out and
    whose it is. Returns False when the address had already opted out."""
    registered = channel_for(channel)
    if registered.record_opt_out is None or registered.households_at is None:
        raise InvalidInput(f"{Channel(channel).value} cannot hear STOP", "channel")
    now = clock.now()
    new = registered.record_opt_out(session, address, now)
    if not new:
        session.commit()
        return False
    households = registered.households_at(session, address)
    session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.channel == Channel(channel),
            OutboxMessage.recipient == address,
        )
        .values(status=OutboxStatus.CANCELLED, error=f"the person replied STOP ({via})")
        .execution_options(synchronize_session=False)
    )
    session.commit()
    for household_id in households:
        withdraw_consent(
            session,
            Actor.system(via),
            household_id,
            registered.consent,
            wording=f"Replied {text[:40]!r} to our {Channel(channel).value} messages",
            via=via,
        )
    return True


class ClockSigner(TimestampSigner):
    """Signs with crm.clock's time, so a link's age follows the one clock (and tests)."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _unsubscribe_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        settings.require_secret_key(), salt=UNSUBSCRIBE_SALT, signer=ClockSigner
    )


def make_unsubscribe_token(settings: Settings, household_id: int, scope: ConsentScope) -> str:
    return _unsubscribe_serializer(settings).dumps({"h": household_id, "s": scope.value})


def read_unsubscribe_token(settings: Settings, token: str) -> tuple[int, ConsentScope]:
    """(household id, scope) from a link in an email; InvalidInput if forged or too old."""
    try:
        data = _unsubscribe_serializer(settings).loads(token, max_age=UNSUBSCRIBE_MAX_AGE)
        return int(data["h"]), consent_scope(data["s"])
    except SignatureExpired:
        raise InvalidInput("This link has expired. Please reply to any email from us.") from None
    except (BadSignature, KeyError, TypeError, ValueError):
        raise InvalidInput("This link is not valid. Please check you copied all of it.") from None
