"""Asking for a person: a call-back task for the team, with an honest time.

Someone we already know (this chat made their enquiry) gets the task at once. Anyone else is
asked for their name and a way to reach them in one question, then consent: three messages
from a fresh chat ("can I talk to someone", "Sam Patel 07700 900982", "yes").
"""

from __future__ import annotations

from datetime import datetime

from bot.flows import details
from bot.flows.base import START, Turn, menu_buttons
from crm import clock
from crm.models import Household, TaskKind
from crm.services.enquiries import response_due
from crm.services.errors import ServiceError
from crm.services.tasks import create_task


def start(turn: Turn, words: str | None = None) -> None:
    turn.outcome.topic = turn.outcome.topic or "human"
    household = turn.household
    if household is not None:
        task(turn, household, words)
        return
    turn.data["human_words"] = (words or "")[:1000]
    if turn.data.get("purpose") == "book" and details.missing(turn) != "name":
        # In the middle of giving details for a visit: use what they have typed.
        turn.data["purpose"] = "human"
        turn.say("Of course. I'll ask someone from our team to contact you.")
        details.ask_next(turn)
        return
    details.collect(
        turn,
        "human",
        "I can ask someone from our team to contact you. To do that I need your name and "
        "how to reach you.",
    )


def details_saved(turn: Turn, household: Household, due: datetime | None) -> None:
    turn.state = START
    turn.data.pop("purpose", None)
    first = turn.details.get("first_name", "")
    turn.say(
        f"Thank you, {first}. I've asked our team to contact you{turn.by_when(due)}. "
        f"{turn.office_note()}",
        menu_buttons(),
    )
    turn.outcome.actions.append("human_task")


def task(turn: Turn, household: Household, words: str | None) -> None:
    now = clock.now()
    due = response_due(turn.settings, now)
    try:
        created = create_task(
            turn.session,
            turn.actor,
            kind=TaskKind.CALL_BACK,
            title="Asked in the chat to talk to a person",
            detail=(words or "Asked to talk to a person")[:2000],
            due_at=due,
            household_id=household.id,
            unique_key=f"chat:{turn.conversation.id}:human:{now.date().isoformat()}",
        )
    except ServiceError:
        created = None
    turn.outcome.actions.append("human_task")
    already = " (I had already asked them today)" if created is None else ""
    turn.say(
        f"I've asked our team to contact you{turn.by_when(due)}{already}. {turn.office_note()}",
        menu_buttons(),
    )
