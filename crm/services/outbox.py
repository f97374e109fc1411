"""The outbox: every message to a person or a member of staff is written here first, and the
dispatcher (crm.scheduler) sends it. Web requests and the bot never send directly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from crm.models import Channel, OutboxMessage


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
    transaction.
    """
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
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        return None
    return message
