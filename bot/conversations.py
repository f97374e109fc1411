"""Conversations with the assistant, kept in the database so a restart loses nothing.

Every message the person sends is written (and committed) before anything else happens, so
whatever goes wrong afterwards, nothing they typed is lost. The transcript joins the household's
timeline only once they have agreed to us keeping their details; `/delete` erases it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from crm import clock
from crm.db import savepoint
from crm.models import (
    Activity,
    ActivityKind,
    AuditAction,
    ChatChannel,
    ChatConversation,
    ChatMessage,
    TelegramChatLink,
)
from crm.services import audit
from crm.services.actors import Actor

# Long messages are kept whole (the column is Text); this only stops abuse of the database.
MAX_STORED_CHARS = 20_000


def actor_for(channel: ChatChannel | str) -> Actor:
    return Actor.system(f"assistant:{ChatChannel(channel).value}")


def get_conversation(
    session: Session, channel: ChatChannel | str, external_id: str
) -> ChatConversation:
    """The conversation for this chat, created on first contact (safe against a race)."""
    channel = ChatChannel(channel)
    external_id = str(external_id)[:100]
    query = select(ChatConversation).where(
        ChatConversation.channel == channel, ChatConversation.external_id == external_id
    )
    conversation = session.exec(query).first()
    if conversation is not None:
        return conversation
    conversation = ChatConversation(channel=channel, external_id=external_id, data={})
    try:
        with savepoint(session):
            session.add(conversation)
        session.commit()
    except IntegrityError:
        session.rollback()
        conversation = session.exec(query).one()
    return conversation


def find_conversation(
    session: Session, channel: ChatChannel | str, external_id: str
) -> ChatConversation | None:
    return session.exec(
        select(ChatConversation).where(
            ChatConversation.channel == ChatChannel(channel),
            ChatConversation.external_id == str(external_id)[:100],
        )
    ).first()


def record_message(
    session: Session,
    conversation: ChatConversation,
    text: str,
    *,
    from_person: bool,
    topic: str | None = None,
    confidence: float | None = None,
) -> ChatMessage:
    message = ChatMessage(
        conversation_id=conversation.id,
        from_person=from_person,
        text=text[:MAX_STORED_CHARS],
        topic=topic,
        confidence=confidence,
    )
    session.add(message)
    return message


def transcript(session: Session, conversation_id: int) -> list[ChatMessage]:
    return list(
        session.exec(
            select(ChatMessage)
            .where(ChatMessage.conversation_id == conversation_id)
            .order_by(ChatMessage.id)
        ).all()
    )


def save_state(
    session: Session, conversation: ChatConversation, state: str, data: dict[str, Any]
) -> None:
    conversation.state = state
    # A new dict, so SQLAlchemy sees the JSON column change.
    conversation.data = dict(data)
    conversation.last_message_at = clock.now()
    session.add(conversation)


def link_household(
    session: Session,
    conversation: ChatConversation,
    household_id: int,
    *,
    telegram_consent: bool,
) -> None:
    """The person agreed to us keeping their details: the transcript joins their timeline, and
    a Telegram chat is linked so reminders can reach it."""
    now = clock.now()
    actor = actor_for(conversation.channel)
    conversation.household_id = household_id
    conversation.consent_given_at = now
    session.add(conversation)
    already = session.exec(
        select(Activity.id).where(
            Activity.conversation_id == conversation.id, Activity.household_id == household_id
        )
    ).first()
    if already is None:
        label = "Telegram" if conversation.channel == ChatChannel.TELEGRAM else "the web chat"
        session.add(
            Activity(
                household_id=household_id,
                kind=ActivityKind.CHAT_TRANSCRIPT,
                occurred_at=conversation.started_at,
                actor_label=actor.label,
                summary=f"Chat with the assistant on {label}",
                conversation_id=conversation.id,
            )
        )
    if conversation.channel == ChatChannel.TELEGRAM and telegram_consent:
        link = session.exec(
            select(TelegramChatLink).where(TelegramChatLink.chat_id == conversation.external_id)
        ).first()
        if link is None:
            link = TelegramChatLink(chat_id=conversation.external_id)
        link.household_id = household_id
        # Agreeing again, in words, to Telegram messages ends an earlier STOP.
        link.opted_out_at = None
        session.add(link)
    audit.record(
        session,
        actor,
        AuditAction.UPDATE,
        "household",
        household_id,
        chat_transcript_linked=conversation.id,
    )


def erase(session: Session, conversation: ChatConversation) -> int:
    """Erase the chat: every message, the transcript entries on the timeline, and what the
    conversation remembered. The enquiry and any visit stay (the person is told so)."""
    actor = actor_for(conversation.channel)
    deleted = session.execute(
        sa.delete(ChatMessage).where(ChatMessage.conversation_id == conversation.id)
    ).rowcount
    session.execute(
        sa.delete(Activity).where(
            Activity.conversation_id == conversation.id,
            Activity.kind == ActivityKind.CHAT_TRANSCRIPT,
        )
    )
    household_id = conversation.household_id
    conversation.state = "start"
    conversation.data = {}
    conversation.household_id = None
    conversation.consent_given_at = None
    conversation.erased_at = clock.now()
    session.add(conversation)
    audit.record(
        session,
        actor,
        AuditAction.ERASE,
        "chat_conversation",
        conversation.id,
        messages=deleted,
        household_linked=household_id is not None,
    )
    session.commit()
    return deleted
