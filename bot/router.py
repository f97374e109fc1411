"""The assistant's map: every state with its question and handlers, the entry points of the
flows, the commands, and the order in which a message is looked at.

Order on every message, in every state: safeguarding first (before commands, before any flow),
then commands and "stop", then a paused flow asked to carry on, then the answer to the question
the state is waiting for, then what the message is about. A question asked instead of an answer
is answered, and the question asked again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot import parsing, safeguarding
from bot.flows import booking, details, erase, human, manage
from bot.flows import safeguarding as safeguarding_flow
from bot.flows.base import (
    ASK_CONSENT,
    ASK_CONTACT,
    ASK_INTERESTS,
    ASK_NAME,
    ASK_POSTCODE,
    ASK_SOURCE,
    ASK_SURNAME,
    CHOOSE_SLOT,
    CONFIRM_CANCEL,
    CONFIRM_DELETE,
    DETAIL_STATES,
    MANAGE,
    START,
    Button,
    Incoming,
    Turn,
    menu_buttons,
)
from bot.knowledge import FALLBACK, answer_values, privacy_url, render
from bot.matching import CLARIFY, SAFEGUARDING, Analysis, Match
from crm.models import ChatChannel
from crm.services import outbox


@dataclass(frozen=True)
class State:
    """A question the conversation is waiting on."""

    # Ask it (again).
    ask: Callable[[Turn], None]
    # A typed answer; returns False when the text is not an answer to it.
    take: Callable[[Turn, str], bool]
    # Button actions (their data carries the question's nonce): action -> handler(turn, arg).
    buttons: Mapping[str, Callable[[Turn, str], None]] = field(default_factory=dict)
    # What to say when the text is neither an answer nor a question.
    problem: Callable[[Turn], str] | None = None


def _choose_problem(_turn: Turn) -> str:
    return 'Please choose one of the options above (or type "menu" to leave this).'


STATES: dict[str, State] = {
    ASK_NAME: State(details.ask_again, details.take, problem=details.problem),
    ASK_SURNAME: State(details.ask_again, details.take, problem=details.problem),
    ASK_CONTACT: State(details.ask_again, details.take, problem=details.problem),
    ASK_POSTCODE: State(details.ask_again, details.take, problem=details.problem),
    ASK_CONSENT: State(
        details.ask_consent,
        details.take_consent,
        {"consent": details.consent_button},
        details.problem,
    ),
    CHOOSE_SLOT: State(
        booking.ask_again,
        booking.take,
        {
            "slot": booking.slot_button,
            "more": booking.more_button,
            "nosuit": booking.none_suit_button,
            "arrange": booking.arrange_button,
        },
        _choose_problem,
    ),
    ASK_INTERESTS: State(
        booking.repeat_interests,
        booking.take_interests,
        {"interest": booking.interest_button},
    ),
    ASK_SOURCE: State(booking.ask_source, booking.take_source, {"source": booking.source_button}),
    MANAGE: State(manage.ask_again, manage.take, {"manage": manage.choice_button}, _choose_problem),
    CONFIRM_CANCEL: State(
        manage.ask_cancel, manage.take_cancel, {"cancel": manage.cancel_button}, _choose_problem
    ),
    CONFIRM_DELETE: State(erase.ask, erase.take, {"erase": erase.button}, _choose_problem),
}


# -- entry points the flows reach each other through (turn.go) ----------------------------


def details_saved(turn: Turn, purpose: str, household, due) -> None:  # noqa: ANN001
    if purpose == "human":
        human.details_saved(turn, household, due)
    else:
        booking.details_saved(turn, household, due)


def ask_again(turn: Turn, stale: bool = False) -> None:
    state = STATES.get(turn.state)
    if state is not None:
        state.ask(turn)
    elif stale:
        turn.say("What would you like to do?", menu_buttons())


ENTRIES: dict[str, Callable] = {
    "book": booking.start,
    "human": human.start,
    "manage": manage.start,
    "details_saved": details_saved,
    "details_next": details.ask_next,
    "ask_again": ask_again,
}


# -- commands -------------------------------------------------------------------------


def greet(turn: Turn) -> None:
    if turn.state not in (START, CONFIRM_DELETE):
        # /start in the middle of something: start again, keeping nothing half-done.
        turn.state = START
    turn.say_answer("greeting", menu_buttons())
    turn.outcome.topic = "greeting"


def help_(turn: Turn) -> None:
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


def privacy(turn: Turn) -> None:
    turn.say(
        "What you write here is kept so the conversation can carry on where you left it. "
        "We only add it to your enquiry if you agree to us keeping your details, and we "
        "only contact you in the ways you agree to. You can erase this chat at any time "
        f"with /delete. Our privacy notice explains everything: {privacy_url(turn.settings)}"
    )


def leave_flow(turn: Turn) -> None:
    turn.state = START
    for key in ("nonce", "offered", "purpose", "paused", "moving_appointment"):
        turn.data.pop(key, None)
    turn.say(
        "No problem, we'll leave that there. Is there anything else you'd like to know?",
        menu_buttons(),
    )


def book_or_resume(turn: Turn, text: str | None = None) -> None:
    if not safeguarding_flow.resume(turn):
        booking.start(turn, text)


COMMANDS: dict[str, Callable[[Turn], None]] = {
    "start": greet,
    "help": help_,
    "book": book_or_resume,
    "human": human.start,
    "privacy": privacy,
    "delete": erase.ask,
    "cancel": leave_flow,
    "visit": manage.start,
}
GO_BUTTONS: dict[str, Callable[[Turn], None]] = {
    "book": book_or_resume,
    "human": human.start,
    "manage": manage.start,
    "help": help_,
}


class Router:
    def __init__(self, understand: Callable[[Turn, str], Analysis]) -> None:
        self._analyse = understand

    def entries(self) -> dict[str, Callable]:
        return {**ENTRIES, "is_question": self.is_question}

    # -- a message in ---------------------------------------------------------------------

    def handle(self, turn: Turn, incoming: Incoming) -> None:
        # A visit offered by the previous answer: only the very next message can take it up.
        offered = turn.data.pop("offered_visit", False)
        if incoming.button:
            self.on_button(turn, incoming.button)
            return
        if incoming.contact is not None:
            if turn.state in DETAIL_STATES:
                details.take_contact(turn, incoming)
                return
            incoming = Incoming.message(incoming.contact.phone)
        text = (incoming.text or "").strip()
        if not text:
            if incoming.kind not in ("text", "button"):
                turn.say(
                    "Thank you! I can only read written messages, though. Please type your "
                    "question, or choose an option."
                )
            else:
                turn.say("That message was empty. What would you like to know about fostering?")
            ask_again(turn)
            return
        if not any(ch.isalnum() for ch in text):
            # Emoji only, punctuation only.
            turn.say(
                "I'm not sure what you mean. You can ask me anything about fostering, in your "
                "own words."
            )
            ask_again(turn)
            return
        # Safeguarding first, in every state, before anything else.
        signal = safeguarding.detect(text)
        if signal is not None:
            safeguarding_flow.interrupt(turn, text, signal)
            return
        if self.command(turn, text):
            return
        if safeguarding_flow.paused(turn) and self.resume(turn, text):
            return
        state = STATES.get(turn.state)
        if state is None and offered and parsing.yes_no(text):
            # "Would you like to book a visit?" ... "yes please".
            book_or_resume(turn)
            return
        if state is not None:
            if state.take(turn, text):
                return
            waiting = turn.state
            if self.understand(turn, text, in_flow=True):
                if turn.state == waiting:
                    ask_again(turn)
                return
            if state.problem is not None:
                turn.say(state.problem(turn))
            ask_again(turn)
            return
        self.understand(turn, text)

    def command(self, turn: Turn, text: str) -> bool:
        lowered = text.lower().strip()
        word = lowered.split()[0] if lowered.split() else ""
        if word.startswith("/"):
            handler = COMMANDS.get(word[1:].split("@")[0])
            if handler is None:
                turn.say("I don't know that command.")
                help_(turn)
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
        if parsing.wants_to_leave(text) and turn.state != START:
            leave_flow(turn)
            return True
        return False

    def resume(self, turn: Turn, text: str) -> bool:
        """Carry on a flow paused by a safeguarding reply, when asked (or when the message
        is plainly the detail we were waiting for)."""
        was = safeguarding_flow.paused(turn)
        if parsing.wants_to_resume(text):
            return safeguarding_flow.resume(turn)
        if was["state"] in safeguarding_flow.RESUMES_BY_ITSELF:
            found = parsing.find_details(text)
            if found.email or found.phone or found.postcode:
                turn.data.pop("paused", None)
                turn.state = was["state"]
                if was.get("purpose"):
                    turn.data["purpose"] = was["purpose"]
                turn.outcome.actions.append("resumed")
                return details.take(turn, text)
        return False

    # -- buttons --------------------------------------------------------------------------

    def on_button(self, turn: Turn, data: str) -> None:
        parts = data.split(":")
        if parts[0] == "go":
            if len(parts) == 3 and parts[1] == "topic" and turn.knowledge.get(parts[2]):
                self.answer(turn, [parts[2]], closing=turn.state == START)
                turn.outcome.topic = parts[2]
                if turn.state != START:
                    ask_again(turn)
                return
            handler = GO_BUTTONS.get(parts[1]) if len(parts) == 2 else None
            if handler is not None:
                handler(turn)
                return
        if parts[0] == "checkin":
            turn.say("That check-in button can only be answered on Telegram.")
            return
        state = STATES.get(turn.state)
        action = parts[1] if len(parts) > 1 else ""
        if len(parts) < 2 or parts[0] != turn.data.get("nonce") or state is None:
            turn.say(
                "That button belongs to an earlier message, so I can't use it. Here is where "
                "we are now:"
            )
            ask_again(turn, stale=True)
            return
        handler = state.buttons.get(action)
        if handler is None:
            turn.say("That button belongs to an earlier message. Here is where we are now:")
            ask_again(turn, stale=True)
            return
        handler(turn, parts[2] if len(parts) > 2 else "")

    # -- understanding a free message -------------------------------------------------------

    def is_question(self, turn: Turn, text: str) -> bool:
        """Does this text ask something we answer, or ask to do something?"""
        analysis = self._analyse(turn, text)
        return analysis.decision != FALLBACK and analysis.best.slug not in (
            FALLBACK,
            "greeting",
            "thanks",
        )

    def understand(self, turn: Turn, text: str, *, in_flow: bool = False) -> bool:
        """Answer the message or act on it. In a flow, only a real question or request is
        taken (False: leave it to the flow's own "please answer" message)."""
        if self._visit_words(turn, text):
            return True
        analysis = self._analyse(turn, text)
        best = analysis.best
        if in_flow and (
            analysis.decision == FALLBACK or best.slug in (FALLBACK, "greeting", "thanks")
        ):
            return False
        turn.outcome.topic = best.slug
        turn.outcome.confidence = best.confidence
        turn.outcome.topics = analysis.slugs
        if best.slug == SAFEGUARDING:
            safeguarding_flow.interrupt(turn, text, None)
            return True
        if analysis.decision == CLARIFY:
            self.clarify(turn, analysis.alternatives)
            return True
        topics = [m.slug for m in analysis.matches if self._is_topic(turn, m.slug)]
        intents = [m.slug for m in analysis.matches if not self._is_topic(turn, m.slug)]
        if topics:
            self.answer(turn, topics, closing=not intents and not in_flow)
        action = intents[0] if intents else None
        if action == "book-visit":
            if in_flow and turn.state in DETAIL_STATES:
                return True
            book_or_resume(turn, text)
        elif action == "manage-visit":
            manage.start(turn, text)
        elif action == "human":
            human.start(turn, words=text)
        elif action in ("greeting", "thanks") and not topics:
            turn.say_answer(action, menu_buttons())
        elif not topics:
            turn.say_answer(FALLBACK, menu_buttons())
            turn.outcome.topic = FALLBACK
        return True

    def _visit_words(self, turn: Turn, text: str) -> bool:
        """ "Can we do friday instead", "actually we need to cancel it": about the visit this
        chat booked, whatever the classifier thinks."""
        change = parsing.visit_change(text)
        if change not in ("cancel", "move") or not turn.my_upcoming():
            return False
        turn.outcome.topic = "manage-visit"
        manage.start(turn, text)
        return True

    def clarify(self, turn: Turn, alternatives: tuple[Match, ...]) -> None:
        titles = [(m.slug, turn.knowledge.get(m.slug).title) for m in alternatives[:2]]
        turn.outcome.topics = [slug for slug, _ in titles]
        turn.say(
            f"I want to give you the right answer. Do you mean {titles[0][1].lower()}, or "
            f"{titles[1][1].lower()}?",
            [[Button(title, f"go:topic:{slug}") for slug, title in titles]],
        )

    @staticmethod
    def _is_topic(turn: Turn, slug: str) -> bool:
        topic = turn.knowledge.get(slug)
        return bool(topic and topic.is_topic)

    @staticmethod
    def answer(turn: Turn, slugs: list[str], *, closing: bool = True) -> None:
        values = answer_values(turn.settings)
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
        if closing:
            # Every answer ends by offering a visit: a "yes" next books one.
            turn.data["offered_visit"] = True
