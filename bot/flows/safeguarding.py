"""A child may be at risk: the emergency advice at once, an urgent task for staff, and no
recruitment flow after it.

What the person had already typed is kept: the flow they were in is paused (its state and the
details collected stay in the conversation), so after the safeguarding reply they can say
"ok, can we carry on booking" (or just type the postcode we were waiting for) and carry on
without retyping anything. Nothing resumes by itself: the next message is understood afresh.
"""

from __future__ import annotations

from bot import safeguarding
from bot.flows.base import ASK_CONSENT, ASK_CONTACT, ASK_POSTCODE, START, Turn
from bot.knowledge import answer_values
from crm.models import ChatChannel, Household
from crm.services.safeguarding import childrens_services_for, raise_concern

# States a paused flow comes back to when the next message plainly answers them.
RESUMES_BY_ITSELF = (ASK_CONTACT, ASK_POSTCODE)


def interrupt(turn: Turn, text: str, signal: safeguarding.Signal | None) -> None:
    """`signal` is the detector's; None when only the topic classifier heard a concern."""
    if signal is None:
        signal = safeguarding.Signal("matcher", "", "unclear")
    session = turn.session
    conversation = turn.conversation
    area_id = turn.data.get("area_id")
    if area_id is None and conversation.household_id is not None:
        household = session.get(Household, conversation.household_id)
        area_id = household.area_id if household else None
    contact = childrens_services_for(session, turn.settings, area_id)
    values = answer_values(turn.settings, area_name=contact.area_name, phone=contact.phone)
    if contact.area_name:
        values["area_label"] = contact.area_name
    # Fixed words from bot/data (never the editable knowledge base, so no edit can switch them
    # off); a child writing about themselves gets the reply written for a child.
    turn.say(safeguarding.reply_for(signal, values))
    # Which chat is a link on the task, never words in it (a Telegram chat id identifies them).
    where = "Telegram chat" if turn.channel == ChatChannel.TELEGRAM else "web chat"
    raise_concern(
        session,
        turn.actor,
        turn.settings,
        words=text,
        where=where,
        area_id=area_id,
        household_id=conversation.household_id,
        conversation_id=conversation.id,
        category=signal.category,
        about_self=signal.about_self,
    )
    turn.outcome.actions.append("safeguarding")
    turn.outcome.topic = "safeguarding"
    turn.outcome.topics = ["safeguarding"]
    turn.outcome.confidence = 1.0
    if turn.state != START:
        turn.data["paused"] = {"state": turn.state, "purpose": turn.data.get("purpose")}
    # Never carry on into a recruitment flow straight after this.
    turn.state = START
    turn.data.pop("nonce", None)
    turn.data.pop("offered", None)


def paused(turn: Turn) -> dict | None:
    return turn.data.get("paused")


def resume(turn: Turn) -> bool:
    """Back to the paused flow, with everything typed before; False when nothing is paused."""
    was = turn.data.pop("paused", None)
    if not was:
        return False
    turn.state = was["state"]
    if was.get("purpose"):
        turn.data["purpose"] = was["purpose"]
    turn.outcome.actions.append("resumed")
    turn.say("Of course. Let's carry on where we left off: I've kept what you told me.")
    if turn.state == ASK_CONSENT:
        turn.state = START
        turn.go("details_next")
    else:
        turn.go("ask_again")
    return True
