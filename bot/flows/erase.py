"""`/delete`: erasing the chat (the enquiry and any visit stay, and the person is told so)."""

from __future__ import annotations

from bot import conversations, parsing
from bot.flows.base import CONFIRM_DELETE, START, Turn, menu_buttons


def ask(turn: Turn) -> None:
    turn.state = CONFIRM_DELETE
    turn.new_nonce()
    turn.say(
        "Do you want me to erase this chat? Everything you and I have written here will be "
        "deleted. An enquiry or visit you have already made is kept so our team can "
        "contact you: to remove those too, ask our team.",
        [[turn.button("Yes, erase it", "erase", "yes"), turn.button("No", "erase", "no")]],
    )


def take(turn: Turn, text: str) -> bool:
    answer = parsing.yes_no(text)
    if answer is None:
        return False
    answer_(turn, answer)
    return True


def button(turn: Turn, arg: str) -> None:
    answer_(turn, arg == "yes")


def answer_(turn: Turn, yes: bool) -> None:
    if not yes:
        turn.state = START
        turn.say("Okay, nothing has been erased.", menu_buttons())
        return
    conversations.erase(turn.session, turn.conversation)
    turn.erased = True
    turn.outcome.actions.append("erased")
    turn.say("Done: this chat has been erased. If you write again, we'll start afresh. Take care!")
