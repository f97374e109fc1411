"""What every flow shares: the message being handled (`Turn`), the replies it builds, and the
names of the conversation's states.

A flow is a module of small functions taking the `Turn`. They ask their question by setting
`turn.state` and saying it; the router (bot/router.py) sends the next message to the state's
handler. Flows reach each other through `turn.go(...)` (the router's table of entry points),
never by importing each other, so the table in bot/router.py is the one map of the assistant.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from bot import conversations
from bot.knowledge import KnowledgeBase, answer_values, office_hours_text, render
from crm import clock
from crm.models import Applicant, ChatChannel, ChatConversation, Household
from crm.services import appointments as visits
from crm.services.actors import Actor
from crm.settings import Settings
from crm.workdays import is_working_day

if TYPE_CHECKING:
    from bot.matching import Matcher

# The conversation's states (ChatConversation.state).
START = "start"
ASK_NAME = "ask_name"
ASK_SURNAME = "ask_surname"
ASK_CONTACT = "ask_contact"
ASK_POSTCODE = "ask_postcode"
ASK_CONSENT = "ask_consent"
CHOOSE_SLOT = "choose_slot"
ASK_INTERESTS = "ask_interests"
ASK_SOURCE = "ask_source"
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
    # Telegram: offer its "share my phone number" keyboard button with this reply.
    request_contact: bool = False


@dataclass(frozen=True)
class SharedContact:
    """A phone number shared with Telegram's contact button (the person's own)."""

    phone: str
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class Incoming:
    """What the person sent: text, a button press (its data), a shared contact, or something
    else ("sticker", "photo"...)."""

    text: str | None = None
    button: str | None = None
    kind: str = "text"
    contact: SharedContact | None = None

    @classmethod
    def message(cls, text: str) -> Incoming:
        return cls(text=text, kind="text")

    @classmethod
    def press(cls, data: str) -> Incoming:
        return cls(button=data, kind="button")

    @classmethod
    def shared_contact(cls, phone: str, first_name: str = "", last_name: str = "") -> Incoming:
        return cls(kind="contact", contact=SharedContact(phone, first_name, last_name))


@dataclass
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    topic: str | None = None
    topics: list[str] = field(default_factory=list)
    confidence: float = 0.0
    actions: list[str] = field(default_factory=list)
    conversation_id: int | None = None
    # Telegram: take away the "share my phone number" keyboard (the question is answered).
    remove_keyboard: bool = False

    @property
    def text(self) -> str:
        return "\n\n".join(r.text for r in self.replies)

    @property
    def buttons(self) -> list[Button]:
        return [b for r in self.replies for row in r.buttons for b in row]


def menu_buttons() -> list[list[Button]]:
    return [[Button("Book a visit", "go:book"), Button("Talk to a person", "go:human")]]


class Turn:
    """One message being handled: the conversation, its working state, and the replies."""

    def __init__(
        self,
        session: Session,
        conversation: ChatConversation,
        knowledge: KnowledgeBase,
        matcher: Matcher,
        outcome: Outcome,
        settings: Settings,
        entries: dict[str, Callable[..., Any]],
    ) -> None:
        self.session = session
        self.conversation = conversation
        self.knowledge = knowledge
        self.matcher = matcher
        self.outcome = outcome
        self.settings = settings
        self._entries = entries
        self.state: str = conversation.state or START
        # A deep copy: changing the loaded JSON in place would hide the change from SQLAlchemy.
        self.data: dict[str, Any] = copy.deepcopy(conversation.data or {})
        self.erased = False

    # -- where we are -------------------------------------------------------------------

    @property
    def channel(self) -> ChatChannel:
        return ChatChannel(self.conversation.channel)

    @property
    def on_telegram(self) -> bool:
        return self.channel == ChatChannel.TELEGRAM

    @property
    def actor(self) -> Actor:
        return conversations.actor_for(self.channel)

    @property
    def details(self) -> dict[str, Any]:
        return self.data.setdefault("details", {})

    @property
    def household(self) -> Household | None:
        """The household this chat created or was linked to with consent (never another)."""
        if self.conversation.household_id is None:
            return None
        household = self.session.get(Household, self.conversation.household_id)
        if household is None or household.anonymised_at is not None:
            return None
        return household

    def go(self, entry: str, *args: Any, **kwargs: Any) -> Any:
        """Hand over to another flow through the router's table of entry points."""
        return self._entries[entry](self, *args, **kwargs)

    # -- what we say --------------------------------------------------------------------

    def say(
        self,
        text: str,
        buttons: list[list[Button]] | None = None,
        *,
        request_contact: bool = False,
    ) -> None:
        self.outcome.replies.append(Reply(text.strip(), buttons or [], request_contact))

    def say_answer(self, slug: str, buttons: list[list[Button]] | None = None) -> None:
        topic = self.knowledge.get(slug)
        self.say(render(topic.answer, answer_values(self.settings)), buttons)

    def new_nonce(self) -> str:
        # Buttons carry the nonce of the question they answer, so a press on an old message
        # is recognised as stale instead of answering a question no longer asked.
        self.data["nonce"] = secrets.token_hex(3)
        return self.data["nonce"]

    def button(self, label: str, action: str, arg: str | int | None = None) -> Button:
        nonce = self.data.get("nonce") or self.new_nonce()
        data = f"{nonce}:{action}" + (f":{arg}" if arg is not None else "")
        return Button(label, data)

    # -- words for times ------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.settings.tz)

    def slot_label(self, moment: datetime) -> str:
        local = self.local(moment)
        hour = local.strftime("%-I:%M%p").lower().replace(":00", "")
        return f"{local:%a %-d %b}, {hour}"

    def when_text(self, moment: datetime) -> str:
        local = self.local(moment)
        hour = local.strftime("%-I:%M%p").lower().replace(":00", "")
        return f"{local:%A %-d %B} at {hour}"

    def by_when(self, due: datetime | None) -> str:
        return " soon" if due is None else f" by {self.when_text(due)}"

    def office_note(self) -> str:
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

    # -- visits booked in this chat -------------------------------------------------------

    def my_upcoming(self) -> list:
        """Visits booked in this conversation: a chat never shows visits it did not book,
        whoever the person claims to be."""
        household = self.household
        if household is None:
            return []
        mine = set(self.data.get("appointment_ids", []))
        return [
            a
            for a in visits.upcoming_for_household(self.session, household.id)
            if a.id in mine or self.data.get("created_household")
        ]

    def first_applicant(self) -> Applicant | None:
        household = self.household
        if household is None:
            return None
        return self.session.exec(
            select(Applicant)
            .where(Applicant.household_id == household.id)
            .order_by(Applicant.position)
        ).first()
