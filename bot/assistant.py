"""The chat assistant, free of any channel: a message (or a button press) in, replies out.

`Assistant.reply(session, channel, external_id, incoming)` loads the conversation from the
database, saves what the person sent, works out what to do, calls the same services as the web
CRM (create_enquiry, book/move/cancel_appointment, create_task, enqueue_message) and saves its
replies and the conversation's new state. The Telegram and web chat adapters only turn
`Outcome.replies` into messages and buttons.

Order of checks on every message: safeguarding first (before commands, before any flow), then
commands, then the question being asked of the person (name, contact, postcode...), then what
the message is about. A question asked in the middle of the booking is answered, and the
booking question asked again.
"""

from __future__ import annotations

import copy
import logging
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from rapidfuzz import fuzz, process
from sqlmodel import Session, select

from bot import conversations, safeguarding
from bot.knowledge import (
    FALLBACK,
    KnowledgeBase,
    KnowledgeCache,
    answer_values,
    office_hours_text,
    privacy_url,
    render,
)
from bot.matching import Analysis, Match
from crm import clock
from crm.models import (
    Applicant,
    Appointment,
    AppointmentKind,
    ChatChannel,
    ChatConversation,
    ConsentScope,
    EnquiryChannel,
    Household,
    Source,
    StaffUser,
    TaskKind,
)
from crm.models import Channel as ContactChannel
from crm.services import appointments as visits
from crm.services import outbox
from crm.services.enquiries import (
    ApplicantDetails,
    EnquiryInput,
    area_for_postcode,
    create_enquiry,
    response_due,
)
from crm.services.errors import InvalidInput, NotAllowed, NotFound, ServiceError, SlotTaken
from crm.services.safeguarding import childrens_services_for, raise_concern
from crm.services.tasks import create_task
from crm.services.validation import normalise_email, normalise_phone, normalise_postcode
from crm.settings import Settings
from crm.text import clean_value
from crm.workdays import is_working_day

log = logging.getLogger(__name__)

SLOTS_PER_PAGE = 6
SLOTS_PER_DAY = 2
# A question in the middle of the booking is answered when it matches this well.
MID_FLOW_QUESTION_SCORE = 0.45
# The matcher alone (without the fixed patterns) must be this sure of a safeguarding concern.
SAFEGUARDING_MATCH_SCORE = 0.6
INTERESTS = [
    ("short_breaks", "Short breaks (respite)"),
    ("teenagers", "Teenagers"),
    ("siblings", "Brothers and sisters"),
    ("parent_child", "Parent and child"),
    ("long_term", "Long-term"),
    ("not_sure", "Not sure yet"),
]
YES = {
    "yes",
    "y",
    "yeah",
    "yep",
    "yes please",
    "ok",
    "okay",
    "sure",
    "i agree",
    "agree",
    "agreed",
    "fine",
    "go ahead",
    "yes i agree",
    "ye",
    "yh",
    "yup",
    "of course",
    "please do",
    "correct",
}
NO = {"no", "n", "nope", "no thanks", "no thank you", "nah", "i dont agree", "dont", "not now"}
# Words people type that are not names, whatever the name pattern says.
NOT_A_NAME = {
    "hi",
    "hello",
    "hey",
    "hiya",
    "yes",
    "no",
    "ok",
    "okay",
    "thanks",
    "thank you",
    "why",
    "what",
    "help",
    "skip",
    "sure",
    "fine",
    "maybe",
    "dunno",
    "pardon",
    "sorry",
    "test",
}
LEAVE_FLOW = {
    "stop booking",
    "never mind",
    "nevermind",
    "forget it",
    "start again",
    "start over",
    "quit",
    "exit",
    "menu",
    "back",
    "cancel booking",
    "cancel that",
    "not now",
}
QUESTION_START = re.compile(
    r"^(?:can|could|do|does|did|is|are|will|would|should|what|whats|how|who|where|when|why|"
    r"which|am|have|has|may|might)\b",
    re.IGNORECASE,
)
NAME = re.compile(r"^[^\W\d_][^\W\d_'’\-. ]*(?:['’\-. ]+[^\W\d_]+)*\.?$")
NAME_PREFIX = re.compile(
    r"^(?:hi|hello|hey)?[ ,]*(?:my name is|my names|my name's|name is|name:|i am|i'm|im|"
    r"it's|its|this is|call me)\s+",
    re.IGNORECASE,
)
EMAIL_IN_TEXT = re.compile(r"[^\s<>(),;:]+@[^\s<>(),;:]+")
PHONE_IN_TEXT = re.compile(r"\+?\d[\d\s\-()]{8,}\d")
POSTCODE_IN_TEXT = re.compile(r"\b([A-Za-z]{1,2}\d[A-Za-z\d]?)\s*(\d[A-Za-z]{2})\b")

# Conversation states.
START = "start"
ASK_NAME = "ask_name"
ASK_SURNAME = "ask_surname"
ASK_CONTACT = "ask_contact"
ASK_POSTCODE = "ask_postcode"
ASK_CONSENT = "ask_consent"
ASK_INTERESTS = "ask_interests"
ASK_SOURCE = "ask_source"
CHOOSE_SLOT = "choose_slot"
MANAGE = "manage"
CONFIRM_CANCEL = "confirm_cancel"
CONFIRM_DELETE = "confirm_delete"
DETAIL_STATES = (ASK_NAME, ASK_SURNAME, ASK_CONTACT, ASK_POSTCODE, ASK_CONSENT)


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass
class Reply:
    text: str
    buttons: list[list[Button]] = field(default_factory=list)


@dataclass(frozen=True)
class Incoming:
    """What the person sent: text, a button press (its data), or something else."""

    text: str | None = None
    button: str | None = None
    # "text", "button", or what Telegram sent instead of text: "sticker", "photo"...
    kind: str = "text"

    @classmethod
    def message(cls, text: str) -> Incoming:
        return cls(text=text, kind="text")

    @classmethod
    def press(cls, data: str) -> Incoming:
        return cls(button=data, kind="button")


@dataclass
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    topic: str | None = None
    topics: list[str] = field(default_factory=list)
    confidence: float = 0.0
    actions: list[str] = field(default_factory=list)
    conversation_id: int | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(r.text for r in self.replies)

    @property
    def buttons(self) -> list[Button]:
        return [b for r in self.replies for row in r.buttons for b in row]


class _Turn:
    """One message being handled: the conversation, its working state, and the replies."""

    def __init__(
        self,
        session: Session,
        conversation: ChatConversation,
        knowledge: KnowledgeBase,
        outcome: Outcome,
    ) -> None:
        self.session = session
        self.conversation = conversation
        self.knowledge = knowledge
        self.outcome = outcome
        self.state: str = conversation.state or START
        # A deep copy: changing the loaded JSON in place would hide the change from SQLAlchemy.
        self.data: dict[str, Any] = copy.deepcopy(conversation.data or {})
        self.erased = False

    @property
    def channel(self) -> ChatChannel:
        return ChatChannel(self.conversation.channel)

    def say(self, text: str, buttons: list[list[Button]] | None = None) -> None:
        self.outcome.replies.append(Reply(text.strip(), buttons or []))

    def new_nonce(self) -> str:
        # Buttons carry the nonce of the question they answer, so a press on an old message
        # is recognised as stale instead of answering a question no longer asked.
        self.data["nonce"] = secrets.token_hex(3)
        return self.data["nonce"]

    def button(self, label: str, action: str, arg: str | int | None = None) -> Button:
        nonce = self.data.get("nonce") or self.new_nonce()
        data = f"{nonce}:{action}" + (f":{arg}" if arg is not None else "")
        return Button(label, data)


def menu_buttons() -> list[list[Button]]:
    return [
        [Button("Book a visit", "go:book"), Button("Talk to a person", "go:human")],
    ]


class Assistant:
    def __init__(self, settings: Settings, knowledge: KnowledgeCache | None = None) -> None:
        self.settings = settings
        self.knowledge = knowledge or KnowledgeCache()

    # -- classification (also used by `fostercrm chat --once` and the evaluation) -----------

    def analyse(self, text: str, session: Session | None = None) -> Analysis:
        """Safeguarding first, then the matcher."""
        _knowledge, matcher = self.knowledge.current(session)
        if safeguarding.detect(text):
            match = Match("safeguarding", 1.0)
            return Analysis(best=match, matches=(match,))
        analysis = matcher.analyse(text)
        if analysis.best.slug == "safeguarding" and analysis.best.score < SAFEGUARDING_MATCH_SCORE:
            fallback = Match(FALLBACK, round(1 - analysis.best.score, 3))
            rest = tuple(m for m in analysis.matches if m.slug != "safeguarding") or (fallback,)
            return Analysis(best=rest[0], matches=rest)
        return analysis

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
        incoming = replace(
            incoming,
            text=clean_value(incoming.text),
            button=clean_value(incoming.button, multiline=False),
        )
        conversation = conversations.get_conversation(session, channel, external_id)
        knowledge, _ = self.knowledge.current(session)
        outcome = Outcome(conversation_id=conversation.id)
        stored = self._stored_text(incoming, conversation)
        person_message = conversations.record_message(
            session, conversation, stored, from_person=True
        )
        session.commit()
        turn = _Turn(session, conversation, knowledge, outcome)
        try:
            self._handle(turn, incoming)
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
            turn = _Turn(
                session, session.get(ChatConversation, conversation.id), knowledge, outcome
            )
        if turn.erased:
            return outcome
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

    @staticmethod
    def _stored_text(incoming: Incoming, conversation: ChatConversation) -> str:
        if incoming.text is not None and incoming.text.strip():
            return incoming.text
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

    def _handle(self, turn: _Turn, incoming: Incoming) -> None:
        if incoming.button:
            self._on_button(turn, incoming.button)
            return
        text = (incoming.text or "").strip()
        if not text:
            if incoming.kind not in ("text", "button"):
                turn.say(
                    "Thank you! I can only read written messages, though. Please type your "
                    "question, or choose an option."
                )
            else:
                turn.say("That message was empty. What would you like to know about fostering?")
            self._ask_again(turn)
            return
        if not any(ch.isalnum() for ch in text):
            # Emoji only, punctuation only.
            turn.say(
                "I'm not sure what you mean. You can ask me anything about fostering, in your "
                "own words."
            )
            self._ask_again(turn)
            return
        signal = safeguarding.detect(text)
        if signal is not None:
            self._safeguarding(turn, text, signal.excerpt)
            return
        if self._command(turn, text):
            return
        if turn.state != START:
            if self._in_flow(turn, text):
                return
            # A question instead of the answer we asked for: answer it, then ask again.
            waiting = turn.state
            self._understand(turn, text)
            if turn.state == waiting:
                self._ask_again(turn)
            return
        self._understand(turn, text)

    # -- safeguarding -------------------------------------------------------------------------

    def _safeguarding(self, turn: _Turn, text: str, why: str) -> None:
        session = turn.session
        conversation = turn.conversation
        area_id = turn.data.get("area_id")
        if area_id is None and conversation.household_id is not None:
            household = session.get(Household, conversation.household_id)
            area_id = household.area_id if household else None
        contact = childrens_services_for(session, self.settings, area_id)
        topic = turn.knowledge.get("safeguarding")
        values = answer_values(self.settings, area_name=contact.area_name, phone=contact.phone)
        if contact.area_name:
            values["area_label"] = contact.area_name
        turn.say(render(topic.answer, values))
        where = (
            f"Telegram chat {conversation.external_id}"
            if turn.channel == ChatChannel.TELEGRAM
            else f"web chat (conversation {conversation.id})"
        )
        raise_concern(
            session,
            conversations.actor_for(turn.channel),
            self.settings,
            words=text,
            where=where,
            area_id=area_id,
            household_id=conversation.household_id,
        )
        turn.outcome.actions.append("safeguarding")
        turn.outcome.topic = "safeguarding"
        turn.outcome.topics = ["safeguarding"]
        turn.outcome.confidence = 1.0
        # Never carry on into a recruitment flow after this.
        turn.state = START
        turn.data.pop("nonce", None)

    # -- commands -----------------------------------------------------------------------------

    def _command(self, turn: _Turn, text: str) -> bool:
        lowered = text.lower().strip()
        word = lowered.split()[0] if lowered.split() else ""
        if word.startswith("/"):
            command = word[1:].split("@")[0]
            handler = {
                "start": self._greet,
                "help": self._help,
                "book": self._start_booking,
                "human": self._start_human,
                "privacy": self._privacy,
                "delete": self._ask_delete,
                "cancel": self._leave_flow,
                "visit": self._start_manage,
            }.get(command)
            if handler is None:
                turn.say("I don't know that command.")
                self._help(turn)
            else:
                handler(turn)
            return True
        if lowered in ("stop", "stop!", "unsubscribe") and turn.channel == ChatChannel.TELEGRAM:
            outbox.record_telegram_stop(turn.session, turn.conversation.external_id, text=text)
            turn.state = START
            turn.outcome.actions.append("opted_out")
            turn.say(
                "Done: we won't send you any more messages here. You can still ask me "
                "questions whenever you like. To erase this chat, send /delete."
            )
            return True
        if lowered.rstrip(".!") in LEAVE_FLOW and turn.state != START:
            self._leave_flow(turn)
            return True
        return False

    def _greet(self, turn: _Turn) -> None:
        if turn.state not in (START, CONFIRM_DELETE):
            # /start in the middle of something: start again, keeping nothing half-done.
            turn.state = START
        topic = turn.knowledge.get("greeting")
        turn.say(render(topic.answer, answer_values(self.settings)), menu_buttons())
        turn.outcome.topic = "greeting"

    def _help(self, turn: _Turn) -> None:
        turn.say(
            'Ask me anything about fostering in your own words, for example "Can I foster if '
            'I work full time?" or "How much is the allowance?".\n\n'
            "/book - book a free initial visit at home\n"
            "/visit - move or cancel your visit\n"
            "/human - ask someone from our team to contact you\n"
            "/privacy - what we keep and why\n"
            "/delete - erase this chat\n\n"
            "If you are worried a child is in danger, call 999. To stop messages from us, "
            "send STOP.",
            menu_buttons(),
        )

    def _privacy(self, turn: _Turn) -> None:
        turn.say(
            "What you write here is kept so the conversation can carry on where you left it. "
            "We only add it to your enquiry if you agree to us keeping your details, and we "
            "only contact you in the ways you agree to. You can erase this chat at any time "
            f"with /delete. Our privacy notice explains everything: {privacy_url(self.settings)}"
        )

    def _ask_delete(self, turn: _Turn) -> None:
        turn.state = CONFIRM_DELETE
        turn.new_nonce()
        turn.say(
            "Do you want me to erase this chat? Everything you and I have written here will be "
            "deleted. An enquiry or visit you have already made is kept so our team can "
            "contact you: to remove those too, ask our team.",
            [[turn.button("Yes, erase it", "erase", "yes"), turn.button("No", "erase", "no")]],
        )

    def _leave_flow(self, turn: _Turn) -> None:
        turn.state = START
        turn.data.pop("nonce", None)
        turn.data.pop("offered", None)
        turn.say(
            "No problem, we'll leave that there. Is there anything else you'd like to know?",
            menu_buttons(),
        )

    # -- buttons ------------------------------------------------------------------------------

    def _on_button(self, turn: _Turn, data: str) -> None:
        parts = data.split(":")
        if parts[0] == "go" and len(parts) == 2:
            handler = {
                "book": self._start_booking,
                "human": self._start_human,
                "manage": self._start_manage,
                "help": self._help,
            }.get(parts[1])
            if handler is not None:
                handler(turn)
                return
        if parts[0] == "checkin":
            turn.say("That check-in button can only be answered on Telegram.")
            return
        if len(parts) < 2 or parts[0] != turn.data.get("nonce"):
            turn.say(
                "That button belongs to an earlier message, so I can't use it. Here is where "
                "we are now:"
            )
            self._ask_again(turn, stale=True)
            return
        action, arg = parts[1], (parts[2] if len(parts) > 2 else "")
        if action == "consent" and turn.state == ASK_CONSENT:
            self._consent_answer(turn, arg == "yes")
        elif action == "interest" and turn.state == ASK_INTERESTS:
            label = dict(INTERESTS).get(arg)
            if label and arg != "not_sure":
                turn.data.setdefault("details", {})["interests"] = label
            self._ask_source(turn)
        elif action == "source" and turn.state == ASK_SOURCE:
            if arg and arg != "skip":
                turn.data.setdefault("details", {})["source_key"] = arg
            self._finish_details(turn)
        elif action == "slot" and turn.state == CHOOSE_SLOT:
            self._slot_chosen(turn, arg)
        elif action == "more" and turn.state == CHOOSE_SLOT:
            self._offer_slots(turn, page=int(arg or 0))
        elif action == "nosuit" and turn.state == CHOOSE_SLOT:
            self._no_slot_suits(turn)
        elif action == "manage" and turn.state == MANAGE:
            self._manage_choice(turn, arg)
        elif action == "cancel" and turn.state == CONFIRM_CANCEL:
            self._cancel_answer(turn, arg == "yes")
        elif action == "erase" and turn.state == CONFIRM_DELETE:
            self._erase_answer(turn, arg == "yes")
        else:
            turn.say("That button belongs to an earlier message. Here is where we are now:")
            self._ask_again(turn, stale=True)

    # -- understanding a free message ---------------------------------------------------------

    def _understand(self, turn: _Turn, text: str) -> None:
        analysis = self.analyse(text, turn.session)
        best = analysis.best
        turn.outcome.topic = best.slug
        turn.outcome.confidence = best.confidence
        turn.outcome.topics = analysis.slugs
        topics = [m.slug for m in analysis.matches if self._is_topic(turn, m.slug)]
        intents = [m.slug for m in analysis.matches if not self._is_topic(turn, m.slug)]
        if best.slug == "safeguarding":
            self._safeguarding(turn, text, "matched the safeguarding examples")
            return
        if topics:
            self._answer(turn, topics, closing=not intents)
        action = intents[0] if intents else None
        if action == "book-visit":
            self._start_booking(turn)
        elif action == "manage-visit":
            self._start_manage(turn)
        elif action == "human":
            self._start_human(turn, words=text)
        elif action in ("greeting", "thanks") and not topics:
            topic = turn.knowledge.get(action)
            turn.say(render(topic.answer, answer_values(self.settings)), menu_buttons())
        elif not topics:
            topic = turn.knowledge.get(FALLBACK)
            turn.say(render(topic.answer, answer_values(self.settings)), menu_buttons())
            turn.outcome.topic = FALLBACK

    def _is_topic(self, turn: _Turn, slug: str) -> bool:
        topic = turn.knowledge.get(slug)
        return bool(topic and topic.is_topic)

    def _answer(self, turn: _Turn, slugs: list[str], *, closing: bool = True) -> None:
        values = answer_values(self.settings)
        texts = []
        for index, slug in enumerate(slugs):
            text = render(turn.knowledge.get(slug).answer, values)
            if index < len(slugs) - 1 or not closing:
                # Each answer ends with a next step; say only the last one.
                paragraphs = [p for p in text.split("\n\n") if p.strip()]
                if len(paragraphs) > 1:
                    text = "\n\n".join(paragraphs[:-1])
            texts.append(text)
        turn.say("\n\n".join(texts), menu_buttons() if closing else None)

    # -- taking details -----------------------------------------------------------------------

    def _start_booking(self, turn: _Turn) -> None:
        turn.outcome.topic = turn.outcome.topic or "book-visit"
        turn.data.pop("moving_appointment", None)
        household = self._household(turn)
        if household is not None:
            upcoming = self._my_upcoming(turn)
            if upcoming:
                self._start_manage(turn, intro="You already have a visit booked.")
                return
            turn.data["purpose"] = "book"
            self._offer_slots(turn)
            return
        turn.data["purpose"] = "book"
        turn.say(
            "Lovely! An initial visit is a free, informal chat at your home with one of our "
            "social workers, with no obligation. I just need a few details first."
        )
        self._ask_name(turn)

    def _start_human(self, turn: _Turn, words: str | None = None) -> None:
        turn.outcome.topic = turn.outcome.topic or "human"
        household = self._household(turn)
        if household is not None:
            self._human_task(turn, household, words)
            return
        turn.data["purpose"] = "human"
        turn.data["human_words"] = (words or "")[:1000]
        turn.say(
            "I can ask someone from our team to contact you. To do that I need your name and "
            "how to reach you."
        )
        self._ask_name(turn)

    def _ask_name(self, turn: _Turn) -> None:
        turn.state = ASK_NAME
        turn.say("What's your name?")

    def _ask_contact(self, turn: _Turn) -> None:
        turn.state = ASK_CONTACT
        first = turn.data.get("details", {}).get("first_name", "")
        turn.say(
            f"Thanks{', ' + first if first else ''}. What's the best way to contact you? Please "
            "type your email address or phone number."
        )

    def _ask_postcode(self, turn: _Turn) -> None:
        turn.state = ASK_POSTCODE
        turn.say("And your postcode? It tells us which of our teams covers where you live.")

    def _consent_wording(self, turn: _Turn) -> str:
        details = turn.data.get("details", {})
        ways = []
        if details.get("email"):
            ways.append("email")
        if details.get("phone"):
            ways.append("phone")
        if turn.channel == ChatChannel.TELEGRAM:
            ways.append("Telegram")
        how = " and ".join([", ".join(ways[:-1]), ways[-1]] if len(ways) > 1 else ways)
        return (
            f"I agree that {self.settings.service.name} may keep the details I have given in "
            f"this chat, and contact me about fostering by {how}. Privacy notice: "
            f"{privacy_url(self.settings)}"
        )

    def _ask_consent(self, turn: _Turn) -> None:
        turn.state = ASK_CONSENT
        wording = self._consent_wording(turn)
        turn.data["consent_wording"] = wording
        turn.new_nonce()
        turn.say(
            f'Before I save anything, do you agree to this?\n\n"{wording}"\n\nYou can change '
            "your mind at any time.",
            [[turn.button("Yes, I agree", "consent", "yes"), turn.button("No", "consent", "no")]],
        )

    def _ask_interests(self, turn: _Turn) -> None:
        turn.state = ASK_INTERESTS
        turn.new_nonce()
        rows = [
            [turn.button(label, "interest", key) for key, label in INTERESTS[i : i + 2]]
            for i in range(0, len(INTERESTS), 2)
        ]
        turn.say(
            "Is there a kind of fostering you're interested in? Choose one, type your own "
            "answer, or skip.",
            rows + [[turn.button("Skip", "interest", "skip")]],
        )

    def _ask_source(self, turn: _Turn) -> None:
        turn.state = ASK_SOURCE
        turn.new_nonce()
        sources = turn.session.exec(
            select(Source).where(Source.active.is_(True)).order_by(Source.key)
        ).all()
        preferred = [s for s in sources if s.key != "other"][:8]
        buttons = [turn.button(s.label, "source", s.key) for s in preferred]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        turn.say(
            "Last one, and optional: how did you hear about us?",
            rows
            + [
                [
                    turn.button("Something else", "source", "other"),
                    turn.button("Skip", "source", "skip"),
                ]
            ],
        )

    def _in_flow(self, turn: _Turn, text: str) -> bool:
        """Treat the text as the answer to what we asked; False when it is something else."""
        state = turn.state
        if state == ASK_NAME:
            return self._take_name(turn, text)
        if state == ASK_SURNAME:
            return self._take_surname(turn, text)
        if state == ASK_CONTACT:
            return self._take_contact(turn, text)
        if state == ASK_POSTCODE:
            return self._take_postcode(turn, text)
        if state == ASK_CONSENT:
            answer = _yes_no(text)
            if answer is None:
                return self._question_or(turn, text, "Please answer yes or no.")
            self._consent_answer(turn, answer)
            return True
        if state == ASK_INTERESTS:
            if self._looks_like_question(turn, text):
                return False
            if _yes_no(text) is not False and text.lower() not in ("skip", "no"):
                turn.data.setdefault("details", {})["interests"] = text[:500]
            self._ask_source(turn)
            return True
        if state == ASK_SOURCE:
            if self._looks_like_question(turn, text):
                return False
            if text.lower() not in ("skip", "no"):
                turn.data.setdefault("details", {})["source_key"] = self._source_for(turn, text)
            self._finish_details(turn)
            return True
        if state in (CHOOSE_SLOT, MANAGE, CONFIRM_CANCEL, CONFIRM_DELETE):
            answer = _yes_no(text)
            if state == CONFIRM_CANCEL and answer is not None:
                self._cancel_answer(turn, answer)
                return True
            if state == CONFIRM_DELETE and answer is not None:
                self._erase_answer(turn, answer)
                return True
            if state == MANAGE:
                lowered = text.lower()
                for word, choice in (
                    ("move", "move"),
                    ("change", "move"),
                    ("rearrange", "move"),
                    ("cancel", "cancel"),
                    ("keep", "keep"),
                ):
                    if word in lowered:
                        self._manage_choice(turn, choice)
                        return True
            if self._looks_like_question(turn, text):
                return False
            turn.say('Please choose one of the options above (or type "menu" to leave this).')
            self._ask_again(turn)
            return True
        return False

    def _looks_like_question(self, turn: _Turn, text: str) -> bool:
        if not ("?" in text or QUESTION_START.match(text.strip()) or len(text.split()) >= 4):
            return False
        best = self.classify(text, turn.session)
        return best.slug != FALLBACK and best.score >= MID_FLOW_QUESTION_SCORE

    def _question_or(self, turn: _Turn, text: str, problem: str) -> bool:
        """A question asked instead of an answer is answered (False: the caller answers it
        and asks again); anything else gets `problem` and the question again."""
        if self._looks_like_question(turn, text):
            self._understand(turn, text)
            self._ask_again(turn)
            return True
        turn.say(problem)
        return True

    def _take_name(self, turn: _Turn, text: str) -> bool:
        name = NAME_PREFIX.sub("", text.strip()).strip(" .!,")
        words = name.split()
        if (
            not (1 <= len(words) <= 5)
            or len(name) > 100
            or not NAME.match(name)
            or name.lower() in NOT_A_NAME
        ):
            return self._question_or(
                turn, text, 'Please tell me your name, for example "Sam Patel".'
            )
        if self._looks_like_question(turn, text) and len(words) > 3:
            self._understand(turn, text)
            self._ask_again(turn)
            return True
        details = turn.data.setdefault("details", {})
        details["first_name"] = _title(words[0])
        if len(words) == 1:
            turn.state = ASK_SURNAME
            turn.say(f"Thanks, {details['first_name']}. And your surname?")
            return True
        details["last_name"] = " ".join(_title(w) for w in words[1:])
        self._ask_contact(turn)
        return True

    def _take_surname(self, turn: _Turn, text: str) -> bool:
        name = text.strip().strip(" .!,")
        if (
            not (1 <= len(name.split()) <= 3)
            or len(name) > 100
            or not NAME.match(name)
            or name.lower() in NOT_A_NAME
        ):
            return self._question_or(turn, text, "Please tell me your surname (family name).")
        turn.data.setdefault("details", {})["last_name"] = " ".join(_title(w) for w in name.split())
        self._ask_contact(turn)
        return True

    def _take_contact(self, turn: _Turn, text: str) -> bool:
        details = turn.data.setdefault("details", {})
        email_match = EMAIL_IN_TEXT.search(text)
        phone_match = PHONE_IN_TEXT.search(text)
        problems = []
        if email_match:
            try:
                details["email"] = normalise_email(email_match.group(0).strip(".,!"))
            except ValueError as exc:
                problems.append(str(exc))
        if phone_match:
            try:
                details["phone"] = normalise_phone(phone_match.group(0))
            except ValueError as exc:
                problems.append(str(exc))
        if details.get("email") or details.get("phone"):
            if problems:
                turn.say(problems[0] + " I've kept the other one.")
            self._ask_postcode(turn)
            return True
        if problems:
            turn.say(problems[0] + ".")
            return True
        return self._question_or(
            turn,
            text,
            "That doesn't look like an email address or a phone number. Please type one, for "
            "example name@example.com or 07700 900 982.",
        )

    def _take_postcode(self, turn: _Turn, text: str) -> bool:
        found = POSTCODE_IN_TEXT.search(text)
        try:
            postcode = normalise_postcode("".join(found.groups()) if found else text)
        except ValueError:
            return self._question_or(
                turn, text, "That doesn't look like a UK postcode. Please type it like LE1 6ZG."
            )
        details = turn.data.setdefault("details", {})
        details["postcode"] = postcode
        turn.data["area_id"] = area_for_postcode(turn.session, postcode)
        self._ask_consent(turn)
        return True

    def _consent_answer(self, turn: _Turn, agreed: bool) -> None:
        if not agreed:
            turn.data.pop("details", None)
            turn.data.pop("consent_wording", None)
            turn.state = START
            turn.say(
                "That's absolutely fine. Without your agreement I can't keep your details, so "
                "I haven't saved them. You can still ask me anything, and if you change your "
                'mind just say "book a visit".',
                menu_buttons(),
            )
            return
        turn.data["consented"] = True
        if turn.data.get("purpose") == "book":
            self._ask_interests(turn)
        else:
            self._finish_details(turn)

    def _source_for(self, turn: _Turn, text: str) -> str:
        sources = turn.session.exec(select(Source).where(Source.active.is_(True))).all()
        choices = {s.key: s.label for s in sources}
        found = process.extractOne(text, choices, scorer=fuzz.WRatio, score_cutoff=70)
        if found is not None:
            return found[2]
        return "other" if "other" in choices else ""

    def _finish_details(self, turn: _Turn) -> None:
        """Create (or link) the household through the one enquiry service."""
        details = turn.data.get("details", {})
        wording = turn.data.get("consent_wording") or self._consent_wording(turn)
        consents = {ConsentScope.STORE_DETAILS: wording}
        if details.get("email"):
            consents[ConsentScope.EMAIL] = wording
        if details.get("phone"):
            consents[ConsentScope.PHONE] = wording
        telegram = turn.channel == ChatChannel.TELEGRAM
        if telegram:
            consents[ConsentScope.TELEGRAM] = wording
        preferred = (
            ContactChannel.TELEGRAM
            if telegram
            else ContactChannel.EMAIL
            if details.get("email")
            else ContactChannel.PHONE
        )
        interests = details.get("interests")
        if turn.data.get("purpose") == "human":
            asked = turn.data.get("human_words") or "to talk to a person"
            interests = f"Asked in the chat: {asked}"[:2000]
        data = EnquiryInput(
            applicant=ApplicantDetails(
                details.get("first_name", ""),
                details.get("last_name", ""),
                email=details.get("email"),
                phone=details.get("phone"),
            ),
            enquiry_channel=EnquiryChannel.TELEGRAM if telegram else EnquiryChannel.WEBCHAT,
            postcode=details.get("postcode"),
            preferred_channel=preferred,
            source_key=details.get("source_key") or None,
            interests=interests,
            consents=consents,
        )
        actor = conversations.actor_for(turn.channel)
        try:
            result = create_enquiry(turn.session, actor, data, self.settings)
        except InvalidInput as exc:
            field_name, message = next(iter(exc.errors.items()))
            turn.say(f"Sorry, I couldn't save that: {message}.")
            if "email" in field_name or "phone" in field_name:
                self._ask_contact(turn)
            elif "postcode" in field_name:
                self._ask_postcode(turn)
            else:
                self._ask_name(turn)
            return
        household = result.household
        due = result.response_task.due_at if result.response_task else None
        if not result.created:
            # We cannot tell a returning enquirer from someone typing another person's email or
            # phone, so a chat never attaches itself to a household it did not create: the
            # team calls back on the details we already hold.
            turn.state = START
            turn.outcome.actions.append("enquiry_known")
            turn.say(
                "Thank you. It looks like we already have your details, so to keep them safe a "
                f"member of our team will contact you{self._when(due)} using the details we "
                f"hold, and help you from there. {self._office_note()}",
                menu_buttons(),
            )
            return
        conversations.link_household(
            turn.session, turn.conversation, household.id, telegram_consent=telegram
        )
        turn.session.commit()
        turn.data["created_household"] = result.created
        turn.data["household_id"] = household.id
        turn.outcome.actions.append("enquiry_created")
        if turn.data.get("purpose") == "human":
            turn.state = START
            turn.say(
                f"Thank you, {details.get('first_name', '')}. I've asked our team to contact you"
                f"{self._when(due)}. {self._office_note()}",
                menu_buttons(),
            )
            turn.outcome.actions.append("human_task")
            return
        if household.area_id is None:
            turn.state = START
            turn.say(
                "Thank you. Your postcode is outside the areas I can book visits for here, so "
                f"a member of our team will contact you{self._when(due)} to arrange things. "
                + self._office_note(),
                menu_buttons(),
            )
            return
        turn.say("Thank you, that's saved.")
        self._offer_slots(turn)

    # -- booking ------------------------------------------------------------------------------

    def _household(self, turn: _Turn) -> Household | None:
        if turn.conversation.household_id is None:
            return None
        household = turn.session.get(Household, turn.conversation.household_id)
        if household is None or household.anonymised_at is not None:
            return None
        return household

    def _offer_slots(self, turn: _Turn, page: int = 0, intro: str | None = None) -> None:
        household = self._household(turn)
        if household is None:
            self._start_booking(turn)
            return
        slots = visits.slots_for_area(turn.session, self.settings, household.area_id)
        # Never a visit later today: the social worker needs notice, and so does the family.
        today = clock.now().astimezone(self.settings.tz).date()
        slots = [s for s in slots if s.starts_at.astimezone(self.settings.tz).date() > today]
        chosen = _spread(slots)
        start = page * SLOTS_PER_PAGE
        shown = chosen[start : start + SLOTS_PER_PAGE]
        if household.area_id is None or not shown:
            turn.state = START
            task = self._ask_team_to_arrange(turn, household, "No free visit times in the chat")
            turn.say(
                (intro + " " if intro else "")
                + "I'm sorry, I can't see any free visit times in the next two weeks. I've "
                f"asked our team to contact you{self._when(task.due_at if task else None)} to "
                "find a time that suits you.",
                menu_buttons(),
            )
            return
        turn.state = CHOOSE_SLOT
        turn.new_nonce()
        turn.data["offered"] = [
            {"staff": s.staff_id, "start": s.starts_at.isoformat()} for s in shown
        ]
        rows = [
            [
                turn.button(self._slot_label(s.starts_at), "slot", i)
                for i in (j, j + 1)
                if i < len(shown)
                for s in [shown[i]]
            ]
            for j in range(0, len(shown), 2)
        ]
        extra = []
        if len(chosen) > start + SLOTS_PER_PAGE:
            extra.append(turn.button("Later times", "more", page + 1))
        extra.append(turn.button("None of these suit me", "nosuit"))
        turn.say(
            (intro + "\n\n" if intro else "")
            + "Here are the times we can visit you (each visit takes about an hour and a half). "
            "Which suits you best?",
            rows + [extra],
        )

    def _slot_label(self, moment: datetime) -> str:
        local = moment.astimezone(self.settings.tz)
        hour = local.strftime("%-I:%M%p").lower().replace(":00", "")
        return f"{local:%a %-d %b}, {hour}"

    def _when_text(self, moment: datetime) -> str:
        local = moment.astimezone(self.settings.tz)
        hour = local.strftime("%-I:%M%p").lower().replace(":00", "")
        return f"{local:%A %-d %B} at {hour}"

    def _slot_chosen(self, turn: _Turn, arg: str) -> None:
        offered = turn.data.get("offered") or []
        try:
            choice = offered[int(arg)]
        except (ValueError, IndexError):
            turn.say("That time isn't one of the ones I offered. Please choose again.")
            self._offer_slots(turn)
            return
        starts_at = datetime.fromisoformat(choice["start"])
        household = self._household(turn)
        actor = conversations.actor_for(turn.channel)
        moving = turn.data.get("moving_appointment")
        try:
            if moving:
                appointment = visits.move_appointment(
                    turn.session,
                    actor,
                    self.settings,
                    int(moving),
                    starts_at=starts_at,
                    staff_id=int(choice["staff"]),
                )
            else:
                appointment = visits.book_appointment(
                    turn.session,
                    actor,
                    self.settings,
                    staff_id=int(choice["staff"]),
                    kind=AppointmentKind.INITIAL_VISIT,
                    starts_at=starts_at,
                    household_id=household.id,
                    location=f"Home visit, {household.postcode}" if household.postcode else None,
                    notes=f"Booked by the person in the chat assistant ({turn.channel.value})",
                )
        except SlotTaken:
            turn.outcome.actions.append("slot_taken")
            self._offer_slots(
                turn,
                intro="Sorry, someone has just taken that time. Here are the times still free:",
            )
            return
        except InvalidInput as exc:
            message = next(iter(exc.errors.values()))
            self._offer_slots(turn, intro=f"Sorry, I couldn't book that: {message}.")
            return
        except (NotFound, NotAllowed):
            turn.state = START
            turn.say("Sorry, I can't change that visit here. Please ask to talk to a person.")
            return
        booked = turn.data.setdefault("appointment_ids", [])
        booked.append(appointment.id)
        turn.data.pop("offered", None)
        turn.data.pop("moving_appointment", None)
        turn.state = START
        staff = turn.session.get(StaffUser, appointment.staff_id)
        # Email with a calendar invite when we have an address, else Telegram if they are there.
        visits.enqueue_visit_confirmation(
            turn.session,
            appointment,
            booked_via=turn.channel.value,
            moved=bool(moving),
            telegram_chat_id=(
                turn.conversation.external_id if turn.channel == ChatChannel.TELEGRAM else None
            ),
        )
        turn.session.commit()
        turn.outcome.actions.append("visit_moved" if moving else "visit_booked")
        when = self._when_text(appointment.starts_at)
        turn.say(
            f"{'Done, your visit is moved' if moving else 'Booked'}: {staff.name} will visit you "
            f"on {when}. {self._confirmation_note(turn, household)}\n\nIf you need to move or "
            "cancel it, just tell me here.",
            [[Button("Move or cancel", "go:manage")]],
        )

    def _confirmation_note(self, turn: _Turn, household: Household) -> str:
        applicant = _first_applicant(turn.session, household.id)
        if applicant is not None and applicant.email:
            return "I've sent a confirmation with a calendar invite to your email."
        if turn.channel == ChatChannel.TELEGRAM:
            return "You'll get a reminder here the day before."
        return "We'll call you the day before to remind you."

    def _no_slot_suits(self, turn: _Turn) -> None:
        household = self._household(turn)
        turn.state = START
        turn.data.pop("offered", None)
        task = self._ask_team_to_arrange(turn, household, "None of the chat's visit times suit")
        turn.say(
            "No problem. I've asked our team to contact you"
            f"{self._when(task.due_at if task else None)} to find a time that works for you.",
            menu_buttons(),
        )

    def _ask_team_to_arrange(self, turn: _Turn, household: Household | None, why: str):
        if household is None:
            return None
        now = clock.now()
        task = create_task(
            turn.session,
            conversations.actor_for(turn.channel),
            kind=TaskKind.CALL_BACK,
            title="Arrange an initial visit time (asked in the chat)",
            detail=why,
            due_at=response_due(self.settings, now),
            household_id=household.id,
            unique_key=f"chat:{turn.conversation.id}:arrange:{now.date().isoformat()}",
        )
        turn.outcome.actions.append("arrange_task")
        return task

    # -- moving and cancelling ----------------------------------------------------------------

    def _my_upcoming(self, turn: _Turn) -> list[Appointment]:
        """Visits booked in this conversation: a chat never shows visits it did not book,
        whoever the person claims to be."""
        household = self._household(turn)
        if household is None:
            return []
        mine = set(turn.data.get("appointment_ids", []))
        return [
            a
            for a in visits.upcoming_for_household(turn.session, household.id)
            if a.id in mine or turn.data.get("created_household")
        ]

    def _start_manage(self, turn: _Turn, intro: str | None = None) -> None:
        turn.outcome.topic = turn.outcome.topic or "manage-visit"
        upcoming = self._my_upcoming(turn)
        if not upcoming:
            turn.state = START
            turn.say(
                "I can't see a visit booked in this chat. If you booked another way, reply to "
                "your confirmation email or ask to talk to a person, and we'll sort it out.",
                [[Button("Book a visit", "go:book"), Button("Talk to a person", "go:human")]],
            )
            return
        appointment = upcoming[0]
        staff = turn.session.get(StaffUser, appointment.staff_id)
        turn.state = MANAGE
        turn.data["managing"] = appointment.id
        turn.new_nonce()
        turn.say(
            (intro + " " if intro else "")
            + f"Your initial visit is on {self._when_text(appointment.starts_at)} with "
            f"{staff.name}. What would you like to do?",
            [
                [
                    turn.button("Move it", "manage", "move"),
                    turn.button("Cancel it", "manage", "cancel"),
                ],
                [turn.button("Keep it", "manage", "keep")],
            ],
        )

    def _manage_choice(self, turn: _Turn, choice: str) -> None:
        appointment_id = turn.data.get("managing")
        if choice == "move" and appointment_id:
            turn.data["moving_appointment"] = appointment_id
            self._offer_slots(turn)
        elif choice == "cancel" and appointment_id:
            turn.state = CONFIRM_CANCEL
            turn.new_nonce()
            turn.say(
                "Are you sure you want to cancel your visit?",
                [
                    [
                        turn.button("Yes, cancel it", "cancel", "yes"),
                        turn.button("No, keep it", "cancel", "no"),
                    ]
                ],
            )
        else:
            turn.state = START
            turn.say("Great, your visit stays as it is. See you then!", menu_buttons())

    def _cancel_answer(self, turn: _Turn, yes: bool) -> None:
        turn.state = START
        appointment_id = turn.data.pop("managing", None)
        if not yes or not appointment_id:
            turn.say("Okay, your visit stays as it is.", menu_buttons())
            return
        try:
            visits.cancel_appointment(
                turn.session,
                conversations.actor_for(turn.channel),
                int(appointment_id),
                reason="Cancelled by the person in the chat assistant",
            )
        except (InvalidInput, NotFound, NotAllowed):
            turn.say("That visit has already been changed or cancelled.", menu_buttons())
            return
        turn.outcome.actions.append("visit_cancelled")
        turn.say(
            'Your visit is cancelled. If you\'d like another time, just say "book a visit" '
            "whenever you're ready.",
            [[Button("Book another time", "go:book")]],
        )

    # -- a person, please ---------------------------------------------------------------------

    def _human_task(self, turn: _Turn, household: Household, words: str | None) -> None:
        now = clock.now()
        due = response_due(self.settings, now)
        try:
            task = create_task(
                turn.session,
                conversations.actor_for(turn.channel),
                kind=TaskKind.CALL_BACK,
                title="Asked in the chat to talk to a person",
                detail=(words or "Asked to talk to a person")[:2000],
                due_at=due,
                household_id=household.id,
                unique_key=f"chat:{turn.conversation.id}:human:{now.date().isoformat()}",
            )
        except ServiceError:
            task = None
        turn.outcome.actions.append("human_task")
        already = " (I had already asked them today)" if task is None else ""
        turn.say(
            f"I've asked our team to contact you{self._when(due)}{already}. {self._office_note()}",
            menu_buttons(),
        )

    def _when(self, due: datetime | None) -> str:
        if due is None:
            return " soon"
        return f" by {self._when_text(due)}"

    def _office_note(self) -> str:
        now = clock.now().astimezone(self.settings.tz)
        service = self.settings.service
        open_now = (
            is_working_day(now.date())
            and service.office_hours_start <= now.time() < service.office_hours_end
        )
        if open_now:
            return "Our office is open now, so it may well be sooner."
        return (
            f"Our office is closed just now (we're open {office_hours_text(self.settings)}). "
            "If a child is in danger, call 999."
        )

    # -- erasing ------------------------------------------------------------------------------

    def _erase_answer(self, turn: _Turn, yes: bool) -> None:
        if not yes:
            turn.state = START
            turn.say("Okay, nothing has been erased.", menu_buttons())
            return
        conversations.erase(turn.session, turn.conversation)
        turn.erased = True
        turn.outcome.actions.append("erased")
        turn.say(
            "Done: this chat has been erased. If you write again, we'll start afresh. Take care!"
        )

    # -- asking again -------------------------------------------------------------------------

    def _ask_again(self, turn: _Turn, stale: bool = False) -> None:
        """Repeat the question we are waiting on (or offer the menu)."""
        state = turn.state
        if state == ASK_NAME:
            turn.say("What's your name?")
        elif state == ASK_SURNAME:
            turn.say("What's your surname?")
        elif state == ASK_CONTACT:
            turn.say("What's the best email address or phone number to contact you on?")
        elif state == ASK_POSTCODE:
            turn.say("What's your postcode?")
        elif state == ASK_CONSENT:
            self._ask_consent(turn)
        elif state == ASK_INTERESTS:
            self._ask_interests(turn)
        elif state == ASK_SOURCE:
            self._ask_source(turn)
        elif state == CHOOSE_SLOT:
            self._offer_slots(turn)
        elif state == MANAGE:
            self._start_manage(turn)
        elif state == CONFIRM_CANCEL:
            self._manage_choice(turn, "cancel")
        elif state == CONFIRM_DELETE:
            self._ask_delete(turn)
        elif stale:
            turn.say("What would you like to do?", menu_buttons())


def _yes_no(text: str) -> bool | None:
    lowered = " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())
    if lowered in YES:
        return True
    if lowered in NO:
        return False
    return None


def _title(word: str) -> str:
    # "o'brien" -> "O'Brien", "smith-jones" -> "Smith-Jones", but leave "McDonald" alone.
    if word != word.lower() and word != word.upper():
        return word
    return re.sub(r"(^|['’\-])(\w)", lambda m: m.group(1) + m.group(2).upper(), word.lower())


def _spread(slots: list[visits.Slot]) -> list[visits.Slot]:
    """One slot per start time (whoever is free), at most a few a day, earliest first, so the
    buttons cover several days rather than one busy morning."""
    seen: set[datetime] = set()
    per_day: dict[str, int] = {}
    chosen: list[visits.Slot] = []
    for slot in slots:
        if slot.starts_at in seen:
            continue
        day = slot.starts_at.date().isoformat()
        if per_day.get(day, 0) >= SLOTS_PER_DAY:
            continue
        seen.add(slot.starts_at)
        per_day[day] = per_day.get(day, 0) + 1
        chosen.append(slot)
    return chosen


def _first_applicant(session: Session, household_id: int) -> Applicant | None:
    return session.exec(
        select(Applicant).where(Applicant.household_id == household_id).order_by(Applicant.position)
    ).first()
