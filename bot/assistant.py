"""The chat assistant, free of any channel: a message (or a button press) in, replies out.

`Assistant.reply(session, channel, external_id, incoming)` loads the conversation from the
database, saves what the person sent, hands the message to the router (bot/router.py: the
states and the order of checks, safeguarding first), whose flows (bot/flows/) call the same
services as the web CRM, then saves the replies and the conversation's new state. The Telegram
and web chat adapters only turn `Outcome.replies` into messages and buttons.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlmodel import Session

from bot import conversations, safeguarding
from bot.flows.base import (
    ASK_CONTACT,
    Button,
    Incoming,
    Outcome,
    Reply,
    SharedContact,
    Turn,
    menu_buttons,
)
from bot.knowledge import KnowledgeCache
from bot.matching import ANSWER, SAFEGUARDING, Analysis, Match, Matcher
from bot.router import Router
from crm.models import ChatChannel, ChatConversation
from crm.settings import Settings
from crm.text import clean_value

log = logging.getLogger(__name__)

__all__ = [
    "Assistant",
    "Button",
    "Incoming",
    "Outcome",
    "Reply",
    "SharedContact",
    "menu_buttons",
]


class Assistant:
    def __init__(self, settings: Settings, knowledge: KnowledgeCache | None = None) -> None:
        self.settings = settings
        self.knowledge = knowledge or KnowledgeCache()
        # In a reply, the matcher the reply started with (one look for edits per message).
        # The router has run the safeguarding detector on the message already.
        self.router = Router(
            lambda turn, text: self.analyse(text, matcher=turn.matcher, detector_ran=True)
        )

    def warm_up(self) -> None:
        """Build the safeguarding detector and the topic classifier now (a few seconds), so the
        first person to write after a start does not wait for them."""
        safeguarding.warm_up()
        self.knowledge.current()

    # -- classification (also used by `fostercrm chat --once` and the evaluation) -----------

    def analyse(
        self,
        text: str,
        session: Session | None = None,
        matcher: Matcher | None = None,
        *,
        detector_ran: bool = False,
    ) -> Analysis:
        """Safeguarding first (the detector, unless the caller has just run it), then the
        classifier."""
        if matcher is None:
            _knowledge, matcher = self.knowledge.current(session)
        if not detector_ran and safeguarding.detect(text):
            match = Match(SAFEGUARDING, 1.0)
            return Analysis(best=match, matches=(match,), decision=ANSWER)
        return matcher.analyse(text)

    def classify(self, text: str, session: Session | None = None) -> Match:
        return self.analyse(text, session).best

    # -- a message in, replies out ------------------------------------------------------------

    def reply(
        self,
        session: Session,
        channel: ChatChannel | str,
        external_id: str,
        incoming: Incoming,
    ) -> Outcome:
        # Every channel (Telegram, the web chat, the terminal) comes in here: clean its text
        # once, before any rule sees it (crm.text).
        incoming = _cleaned(incoming)
        conversation = conversations.get_conversation(session, channel, external_id)
        knowledge, matcher = self.knowledge.current(session)
        outcome = Outcome(conversation_id=conversation.id)
        stored = self._stored_text(incoming, conversation)
        person_message = conversations.record_message(
            session, conversation, stored, from_person=True
        )
        session.commit()
        turn = self._turn(session, conversation, outcome, knowledge, matcher)
        asked_contact = turn.state == ASK_CONTACT
        try:
            self.router.handle(turn, incoming)
        except Exception:
            log.exception("assistant failed on conversation %s", conversation.id)
            session.rollback()
            outcome.replies = [
                Reply(
                    "Sorry, something went wrong on our side. Your message is saved; please "
                    "try again in a moment.",
                    menu_buttons(),
                )
            ]
            outcome.actions.append("error")
            turn = self._turn(
                session,
                session.get(ChatConversation, conversation.id),
                outcome,
                knowledge,
                matcher,
            )
        if turn.erased:
            return outcome
        # The contact question is answered: a channel's share contact button can go.
        outcome.remove_keyboard = asked_contact and turn.state != ASK_CONTACT
        conversation = turn.conversation
        if outcome.topic:
            person_message = session.merge(person_message)
            person_message.topic = outcome.topic
            person_message.confidence = outcome.confidence
            session.add(person_message)
        for reply in outcome.replies:
            conversations.record_message(session, conversation, reply.text, from_person=False)
        # The buttons on offer, so a page that reloads (the web chat) can show them again.
        turn.data["buttons"] = [
            [[b.label, b.data] for b in row] for r in outcome.replies for row in r.buttons
        ]
        conversations.save_state(session, conversation, turn.state, turn.data)
        session.commit()
        return outcome

    def _turn(self, session, conversation, outcome, knowledge, matcher) -> Turn:  # noqa: ANN001
        return Turn(
            session,
            conversation,
            knowledge,
            matcher,
            outcome,
            self.settings,
            self.router.entries(),
        )

    @staticmethod
    def _stored_text(incoming: Incoming, conversation: ChatConversation) -> str:
        if incoming.text is not None and incoming.text.strip():
            return incoming.text
        if incoming.contact is not None:
            return incoming.contact.phone
        if incoming.button:
            # What they "said" is the label of the button they pressed.
            offered = (conversation.data or {}).get("buttons", [])
            labels = {data: label for row in offered for label, data in row}
            labels.update(
                {
                    "go:book": "Book a visit",
                    "go:human": "Talk to a person",
                    "go:manage": "Move or cancel",
                }
            )
            label = labels.get(incoming.button)
            return f"[{label}]" if label else "[pressed a button from an earlier message]"
        if incoming.kind not in ("text", "button"):
            return f"[sent a {incoming.kind}]"
        return "[an empty message]"


def _cleaned(incoming: Incoming) -> Incoming:
    contact = incoming.contact
    if contact is not None:
        contact = replace(
            contact,
            phone=clean_value(contact.phone, multiline=False) or "",
            first_name=clean_value(contact.first_name, multiline=False) or "",
            last_name=clean_value(contact.last_name, multiline=False) or "",
        )
    return replace(
        incoming,
        text=clean_value(incoming.text),
        button=clean_value(incoming.button, multiline=False),
        contact=contact,
    )
