"""Everything that talks to people: the outbox, check-ins, chat conversations, Telegram links."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import Channel, created_at_field, enum_column


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboxMessage(SQLModel, table=True):
    """A message waiting to go, or gone. Every message sent passes through here."""

    __tablename__ = "outbox_message"
    __table_args__ = (sa.Index("ix_outbox_message_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: Channel = enum_column(Channel)
    # An email address or a Telegram chat id.
    recipient: str = Field(max_length=254)
    template: str = Field(max_length=100)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    due_at: datetime
    # Writing the same key twice is refused, so a scan that runs twice sends nothing twice.
    unique_key: str = Field(max_length=200, unique=True)
    status: OutboxStatus = enum_column(OutboxStatus, default=OutboxStatus.PENDING)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = None
    provider_message_id: str | None = Field(default=None, max_length=200)
    error: str | None = Field(default=None, max_length=1000)
    sent_at: datetime | None = None
    # What the provider last said happened after it accepted the message (GOV.UK Notify's
    # delivery receipts: delivered, or a failure), read back by the delivery-status job.
    delivery_status: str | None = Field(default=None, max_length=30)
    delivery_checked_at: datetime | None = None
    household_id: int | None = Field(
        default=None, foreign_key="household.id", index=True, ondelete="CASCADE"
    )
    carer_id: int | None = Field(default=None, foreign_key="carer.id", index=True)
    staff_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = created_at_field()


class CheckIn(SQLModel, table=True):
    """A retention check-in sent to an approved carer, and their answer."""

    __tablename__ = "check_in"
    __table_args__ = (
        sa.CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="score_range"),
        sa.Index("ix_check_in_carer_sent", "carer_id", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    carer_id: int = Field(foreign_key="carer.id")
    channel: Channel = enum_column(Channel)
    sent_at: datetime
    outbox_message_id: int | None = Field(default=None, foreign_key="outbox_message.id")
    answered_at: datetime | None = None
    score: int | None = None
    wants_call: bool = False
    comment: str | None = Field(default=None, max_length=2000)
    follow_up_task_id: int | None = Field(default=None, foreign_key="task.id")
    unique_key: str = Field(max_length=200, unique=True)


class ChatChannel(StrEnum):
    TELEGRAM = "telegram"
    WEBCHAT = "webchat"


class ChatConversation(SQLModel, table=True):
    """A conversation with the assistant. Its state lives here so a restart loses nothing."""

    __tablename__ = "chat_conversation"
    __table_args__ = (sa.UniqueConstraint("channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: ChatChannel = enum_column(ChatChannel)
    # The Telegram chat id, or the web chat's random session token.
    external_id: str = Field(max_length=100)
    household_id: int | None = Field(default=None, foreign_key="household.id", index=True)
    state: str = Field(default="start", max_length=60)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    consent_given_at: datetime | None = None
    started_at: datetime = created_at_field()
    last_message_at: datetime = created_at_field()
    erased_at: datetime | None = None


class ChatMessage(SQLModel, table=True):
    __tablename__ = "chat_message"
    __table_args__ = (sa.Index("ix_chat_message_conversation", "conversation_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="chat_conversation.id", ondelete="CASCADE")
    from_person: bool
    text: str = Field(sa_type=sa.Text)
    topic: str | None = Field(default=None, max_length=60)
    confidence: float | None = None
    created_at: datetime = created_at_field()


class TelegramChatLink(SQLModel, table=True):
    """Which Telegram chat belongs to which household or carer, and whether they said STOP."""

    __tablename__ = "telegram_chat_link"

    id: int | None = Field(default=None, primary_key=True)
    chat_id: str = Field(max_length=40, unique=True)
    household_id: int | None = Field(default=None, foreign_key="household.id", index=True)
    carer_id: int | None = Field(default=None, foreign_key="carer.id", index=True)
    linked_at: datetime = created_at_field()
    opted_out_at: datetime | None = None


class SmsOptOut(SQLModel, table=True):
    """A mobile number that replied STOP: no more text messages to it, whoever it belongs to."""

    __tablename__ = "sms_opt_out"

    # E.164, e.g. +447700900123.
    phone: str = Field(primary_key=True, max_length=20)
    opted_out_at: datetime


class NotifyReceivedText(SQLModel, table=True):
    """A reply to our text messages already read from GOV.UK Notify (only its id and time: the
    words and the number are not kept), so reading the replies again skips it."""

    __tablename__ = "notify_received_text"

    id: str = Field(primary_key=True, max_length=40)
    received_at: datetime
