"""What the operators' metrics read (crm.web.metrics): the outbox's queue and failures and who
holds the scheduler's lease. Read-only, counts and times only: never a recipient or a message.

Read from the database at each scrape rather than counted in a process, because the dispatcher
runs in the scheduler's process and the web has several workers: the database is the one place
that knows all of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from crm import clock
from crm.messaging.channels import CHANNELS
from crm.models import OutboxMessage, OutboxStatus, SchedulerLease

QUEUED = (OutboxStatus.PENDING, OutboxStatus.SENDING)


@dataclass(frozen=True)
class OutboxFigures:
    queued_by_channel: dict[str, int]
    # Seconds since the longest-waiting message fell due (0 when none is due).
    oldest_due_seconds: float
    # Waiting again after a failed try (a provider's error or rate limit).
    retrying: int
    # Given up on: staff see them on the timeline and in the admin's list.
    failed_by_channel: dict[str, int]


@dataclass(frozen=True)
class LeaseHolder:
    name: str
    holder: str
    expires_in_seconds: float


def outbox_figures(session: Session, now: datetime | None = None) -> OutboxFigures:
    now = now or clock.now()
    by_status = session.exec(
        select(OutboxMessage.status, OutboxMessage.channel, sa.func.count())
        .where(col(OutboxMessage.status).in_([*QUEUED, OutboxStatus.FAILED]))
        .group_by(OutboxMessage.status, OutboxMessage.channel)
    ).all()
    queued = {channel.value: 0 for channel in CHANNELS}
    failed = {channel.value: 0 for channel in CHANNELS}
    for status, channel, count in by_status:
        target = failed if status == OutboxStatus.FAILED else queued
        target[str(channel)] = target.get(str(channel), 0) + count
    oldest = session.exec(
        select(sa.func.min(OutboxMessage.due_at)).where(
            col(OutboxMessage.status).in_(QUEUED), OutboxMessage.due_at <= now
        )
    ).one()
    retrying = session.exec(
        select(sa.func.count()).where(
            col(OutboxMessage.status).in_(QUEUED), OutboxMessage.attempts > 0
        )
    ).one()
    age = 0.0
    if oldest is not None:
        # SQLite hands the aggregate back without its time zone; it was stored in UTC.
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=now.tzinfo)
        age = max(0.0, (now - oldest).total_seconds())
    return OutboxFigures(queued, age, retrying, failed)


def lease_holders(session: Session, now: datetime | None = None) -> list[LeaseHolder]:
    """Who holds each live lease (the scheduler's, "scheduler"): an expired one is nobody's."""
    now = now or clock.now()
    holders = []
    for lease in session.exec(select(SchedulerLease).order_by(SchedulerLease.name)).all():
        expires = lease.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=now.tzinfo)
        if expires > now:
            holders.append(LeaseHolder(lease.name, lease.holder, (expires - now).total_seconds()))
    return holders
