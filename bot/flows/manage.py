"""Moving or cancelling a visit booked in this chat, by button or in words ("actually we need
to cancel it sorry", "can we move it to friday at 2")."""

from __future__ import annotations

from bot import parsing
from bot.flows import booking
from bot.flows.base import CONFIRM_CANCEL, MANAGE, START, Button, Turn, menu_buttons
from crm.models import Appointment, StaffUser
from crm.services import appointments as visits
from crm.services.errors import InvalidInput, NotAllowed, NotFound


def start(turn: Turn, text: str | None = None, intro: str | None = None) -> None:
    turn.outcome.topic = turn.outcome.topic or "manage-visit"
    upcoming = turn.my_upcoming()
    if not upcoming:
        turn.state = START
        turn.say(
            "I can't see a visit booked in this chat. If you booked another way, reply to "
            "your confirmation email or ask to talk to a person, and we'll sort it out.",
            [[Button("Book a visit", "go:book"), Button("Talk to a person", "go:human")]],
        )
        return
    appointment = upcoming[0]
    turn.data["managing"] = appointment.id
    change = parsing.visit_change(text) if text else None
    if change == "cancel":
        ask_cancel(turn)
        return
    staff = turn.session.get(StaffUser, appointment.staff_id)
    if change == "move":
        move(
            turn,
            text,
            intro=f"Your initial visit is on {turn.when_text(appointment.starts_at)} with "
            f"{staff.name}. Let's find a new time.",
        )
        return
    turn.state = MANAGE
    turn.new_nonce()
    turn.say(
        (intro + " " if intro else "")
        + f"Your initial visit is on {turn.when_text(appointment.starts_at)} with "
        f"{staff.name}. What would you like to do?",
        [
            [
                turn.button("Move it", "manage", "move"),
                turn.button("Cancel it", "manage", "cancel"),
            ],
            [turn.button("Keep it", "manage", "keep")],
        ],
    )


def ask_again(turn: Turn) -> None:
    start(turn)


def choice_button(turn: Turn, choice: str) -> None:
    if choice == "move":
        move(turn)
    elif choice == "cancel":
        ask_cancel(turn)
    else:
        keep(turn)


def take(turn: Turn, text: str) -> bool:
    change = parsing.visit_change(text)
    if change is None and parsing.parse_when(text, booking.today(turn)) is not None:
        change = "move"
    if change is None:
        return False
    if change == "move":
        move(turn, text)
    elif change == "cancel":
        ask_cancel(turn)
    else:
        keep(turn)
    return True


def move(turn: Turn, text: str | None = None, intro: str | None = None) -> None:
    if not turn.data.get("managing"):
        start(turn)
        return
    turn.data["moving_appointment"] = turn.data["managing"]
    wanted = parsing.parse_when(text, booking.today(turn)) if text else None
    if wanted is not None:
        booking.find(turn, wanted)
    else:
        booking.offer(turn, intro=intro)


def keep(turn: Turn) -> None:
    turn.state = START
    turn.say("Great, your visit stays as it is. See you then!", menu_buttons())


def ask_cancel(turn: Turn) -> None:
    appointment_id = turn.data.get("managing")
    appointment = turn.session.get(Appointment, appointment_id) if appointment_id else None
    turn.state = CONFIRM_CANCEL
    turn.new_nonce()
    when = f" on {turn.when_text(appointment.starts_at)}" if appointment else ""
    turn.say(
        f"Are you sure you want to cancel your visit{when}?",
        [
            [
                turn.button("Yes, cancel it", "cancel", "yes"),
                turn.button("No, keep it", "cancel", "no"),
            ]
        ],
    )


def take_cancel(turn: Turn, text: str) -> bool:
    answer = parsing.yes_no(text)
    if answer is None:
        change = parsing.visit_change(text)
        if change == "move":
            move(turn, text)
            return True
        answer = True if change == "cancel" else False if change == "keep" else None
    if answer is None:
        return False
    cancel_answer(turn, answer)
    return True


def cancel_button(turn: Turn, arg: str) -> None:
    cancel_answer(turn, arg == "yes")


def cancel_answer(turn: Turn, yes: bool) -> None:
    turn.state = START
    appointment_id = turn.data.pop("managing", None)
    if not yes or not appointment_id:
        turn.say("Okay, your visit stays as it is.", menu_buttons())
        return
    try:
        visits.cancel_appointment(
            turn.session,
            turn.actor,
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
