"""Booking an initial visit (and choosing the new time when moving one).

Free times come from the appointments service (staff availability, bank holidays, what is
booked), never later today, at most two a day so the choice covers several days, with an
evening or Saturday time among them when staff offer one. People may press a time or type
one: "thursday 11am please" books Thursday at 11 when it is free; "next week", "any evening",
"saturday morning" show those times; a time nobody works ("7pm") or a date gone by is said so
plainly with the nearest alternatives and a call back offered, never the same list again in
silence. "None of these" offers other days or a call from the team.

After the booking, two optional questions (what kind of fostering interests them, how they
heard about us), last, so the booking itself takes as few messages as possible.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time, timedelta

from rapidfuzz import fuzz, process
from sqlmodel import select

from bot import parsing
from bot.flows import details
from bot.flows.base import (
    ASK_INTERESTS,
    ASK_SOURCE,
    CHOOSE_SLOT,
    START,
    Button,
    Turn,
    menu_buttons,
)
from crm import clock
from crm.models import AppointmentKind, Household, Source, StaffUser, TaskKind
from crm.services import appointments as visits
from crm.services import booking
from crm.services.enquiries import add_enquiry_details, response_due
from crm.services.errors import InvalidInput, NotAllowed, NotFound, ServiceError, SlotTaken
from crm.services.tasks import create_task

SLOTS_PER_PAGE = 6
SLOTS_PER_DAY = 2
# How far ahead someone may ask for ("the week after next", "the 2nd of April").
FURTHEST_DAYS = 42
EVENING = time(17, 0)
INTERESTS = [
    ("short_breaks", "Short breaks (respite)"),
    ("teenagers", "Teenagers"),
    ("siblings", "Brothers and sisters"),
    ("parent_child", "Parent and child"),
    ("long_term", "Long-term"),
    ("not_sure", "Not sure yet"),
]


def start(turn: Turn, text: str | None = None) -> None:
    turn.outcome.topic = turn.outcome.topic or "book-visit"
    turn.data.pop("moving_appointment", None)
    wanted = parsing.parse_when(text or "", today(turn)) if text else None
    if wanted is not None and not wanted.past:
        turn.data["wanted"] = wanted.as_data()
    household = turn.household
    if household is not None:
        if turn.my_upcoming():
            turn.go("manage", intro="You already have a visit booked.")
            return
        turn.data["purpose"] = "book"
        offer(turn)
        return
    details.collect(
        turn,
        "book",
        "Lovely! An initial visit is a free, informal chat at your home with one of our "
        "social workers, with no obligation. I just need a few details first.",
    )


def details_saved(turn: Turn, household: Household, due: datetime | None) -> None:
    if household.area_id is None:
        turn.state = START
        turn.say(
            "Thank you. Your postcode is outside the areas I can book visits for here, so "
            f"a member of our team will contact you{turn.by_when(due)} to arrange things. "
            + turn.office_note(),
            menu_buttons(),
        )
        ask_interests(turn)
        return
    turn.say("Thank you, that's saved.")
    offer(turn)


# -- offering times -------------------------------------------------------------------


def today(turn: Turn) -> date:
    return clock.now().astimezone(turn.settings.tz).date()


def free_times(turn: Turn, household: Household, last_day: date | None = None) -> list:
    """Free slots from tomorrow: the next ten working days, or further when asked for."""
    if last_day is None:
        slots = visits.slots_for_area(turn.session, turn.settings, household.area_id)
    else:
        staff = visits.bookable_staff(
            turn.session, household.area_id, AppointmentKind.INITIAL_VISIT
        )
        slots = visits.free_slots(turn.session, turn.settings, staff, today(turn), last_day)
    # Never a visit later today: the social worker needs notice, and so does the family.
    first = today(turn)
    return [s for s in slots if turn.local(s.starts_at).date() > first]


def spread(turn: Turn, slots: list, per_day: int = SLOTS_PER_DAY) -> list:
    """One slot per start time (whoever is free), at most a few a day, earliest first, so the
    buttons cover several days rather than one busy morning."""
    seen: set[datetime] = set()
    counts: dict[date, int] = {}
    chosen = []
    for slot in slots:
        if slot.starts_at in seen:
            continue
        day = turn.local(slot.starts_at).date()
        if counts.get(day, 0) >= per_day:
            continue
        seen.add(slot.starts_at)
        counts[day] = counts.get(day, 0) + 1
        chosen.append(slot)
    return chosen


def _out_of_hours(turn: Turn, slot) -> bool:
    local = turn.local(slot.starts_at)
    return local.weekday() >= 5 or local.time() >= EVENING


def _with_an_evening(turn: Turn, shown: list, chosen: list) -> list:
    """People who work need evenings and Saturdays: show one when staff offer it."""
    if any(_out_of_hours(turn, s) for s in shown):
        return shown
    extra = next((s for s in chosen if _out_of_hours(turn, s)), None)
    if extra is None or len(shown) < SLOTS_PER_PAGE:
        return shown if extra is None else sorted([*shown, extra])
    return sorted([*shown[:-1], extra])


def offer(
    turn: Turn,
    page: int = 0,
    intro: str | None = None,
    slots: list | None = None,
    call_back: bool = False,
) -> None:
    """Show free times as buttons (a page of them), remembering what was offered."""
    household = turn.household
    if household is None:
        start(turn)
        return
    wanted = parsing.When.from_data(turn.data.pop("wanted", None))
    if slots is None and wanted is not None:
        find(turn, wanted)
        return
    if slots is None:
        slots = free_times(turn, household)
    chosen = spread(turn, slots)
    first = page * SLOTS_PER_PAGE
    shown = chosen[first : first + SLOTS_PER_PAGE]
    if page == 0:
        shown = _with_an_evening(turn, shown, chosen)
    if household.area_id is None or not shown:
        turn.state = START
        task = arrange_task(turn, household, "No free visit times in the chat")
        turn.say(
            (intro + " " if intro else "")
            + "I'm sorry, I can't see any free visit times in the next few weeks. I've "
            f"asked our team to contact you{turn.by_when(task.due_at if task else None)} to "
            "find a time that suits you.",
            menu_buttons(),
        )
        return
    turn.state = CHOOSE_SLOT
    turn.new_nonce()
    turn.data["offered"] = [
        {
            "staff": s.staff_id,
            "start": s.starts_at.isoformat(),
            "label": turn.slot_label(s.starts_at),
        }
        for s in shown
    ]
    turn.data["page"] = page
    rows = [
        [turn.button(turn.slot_label(s.starts_at), "slot", i) for i, s in pair]
        for pair in _pairs(list(enumerate(shown)))
    ]
    extra = []
    if len(chosen) > first + SLOTS_PER_PAGE:
        extra.append(turn.button("Later times", "more", page + 1))
    if call_back:
        extra.append(turn.button("Ask the team to call me", "arrange"))
    else:
        extra.append(turn.button("None of these suit me", "nosuit"))
    lead = (
        intro + " "
        if intro
        else "Here are the times we can visit you (each visit takes about an hour and a half). "
    )
    turn.say(
        lead + 'Which suits you best? You can also type a day or time, like "Thursday 11am".',
        rows + [extra],
    )


def _pairs(items: list) -> list[list]:
    return [items[i : i + 2] for i in range(0, len(items), 2)]


def ask_again(turn: Turn) -> None:
    household = turn.household
    offered = turn.data.get("offered") or []
    if household is None or not offered:
        offer(turn)
        return
    # The same times again (still free ones), not a fresh list.
    free = {s.starts_at.isoformat(): s for s in free_times(turn, household, _furthest(offered))}
    slots = [free[o["start"]] for o in offered if o["start"] in free]
    offer(turn, slots=slots or None)


def _furthest(offered: list[dict]) -> date:
    return max(datetime.fromisoformat(o["start"]).date() for o in offered) + timedelta(days=1)


# -- what they choose -----------------------------------------------------------------


def slot_button(turn: Turn, arg: str) -> None:
    offered = turn.data.get("offered") or []
    try:
        choice = offered[int(arg)]
    except (ValueError, IndexError):
        turn.say("That time isn't one of the ones I offered. Please choose again.")
        offer(turn)
        return
    book(turn, datetime.fromisoformat(choice["start"]), int(choice["staff"]))


def more_button(turn: Turn, arg: str) -> None:
    offer(turn, page=int(arg or 0))


def take(turn: Turn, text: str) -> bool:
    """A typed choice: a label, "the first one", a day or time, "none of these"."""
    offered = turn.data.get("offered") or []
    index = parsing.slot_choice(text, [o.get("label", "") for o in offered])
    if index is not None:
        slot_button(turn, str(index))
        return True
    if parsing.wants_later(text):
        offer(turn, page=int(turn.data.get("page", 0)) + 1)
        return True
    wanted = parsing.parse_when(text, today(turn))
    if wanted is not None:
        find(turn, wanted)
        return True
    if parsing.none_suit(text):
        none_suit(turn)
        return True
    return False


def find(turn: Turn, wanted: parsing.When) -> None:
    """Book the time asked for when it is free; else show the nearest times honestly."""
    household = turn.household
    day = today(turn)
    if wanted.past:
        offer(turn, intro="That day has already gone by, so here are the next free times.")
        return
    latest = wanted.latest_day(day)
    horizon = None
    if latest is not None and latest > day + timedelta(days=14):
        horizon = min(latest, day + timedelta(days=FURTHEST_DAYS))
    slots = free_times(turn, household, horizon)
    exact = [s for s in slots if wanted.fits(turn.local(s.starts_at))]
    if exact and wanted.at is not None and wanted.has_day:
        book(turn, exact[0].starts_at, exact[0].staff_id)
        return
    if exact:
        offer(turn, intro=f"Here are the free times {_describe(wanted)}.", slots=exact)
        return
    asked = _describe(wanted)
    near = (
        [s for s in slots if wanted.fits_roughly(turn.local(s.starts_at))] if wanted.has_day else []
    )
    hours = _hours_text(turn, slots)
    if near:
        offer(
            turn,
            intro=f"Sorry, I can't offer {asked}. These are the free times that day:",
            slots=near,
            call_back=True,
        )
        return
    offer(
        turn,
        intro=(
            f"Sorry, I can't offer a visit {asked}: our social workers visit {hours}. "
            "Here are the nearest free times, or I can ask our team to call you to find "
            "another time."
        ),
        slots=slots,
        call_back=True,
    )


def _describe(wanted: parsing.When) -> str:
    parts = []
    if wanted.days:
        parts.append(" or ".join(f"on {d:%A %-d %B}" for d in wanted.days))
    elif wanted.label:
        parts.append(wanted.label)
    if wanted.at is not None:
        parts.append("at " + wanted.at.strftime("%-I:%M%p").lower().replace(":00", ""))
    elif wanted.after is not None:
        parts.append("after " + wanted.after.strftime("%-I:%M%p").lower().replace(":00", ""))
    elif wanted.part:
        parts.append(f"in the {wanted.part}")
    return " ".join(parts) or "then"


def _hours_text(turn: Turn, slots: list) -> str:
    if not slots:
        return "at other times"
    times = sorted({turn.local(s.starts_at).time() for s in slots})

    def hour(moment: time) -> str:
        return moment.strftime("%-I:%M%p").lower().replace(":00", "")

    days = sorted({turn.local(s.starts_at).weekday() for s in slots})
    weekdays = "on weekdays" if days and max(days) < 5 else "on weekdays and weekends"
    return f"between {hour(times[0])} and {hour(times[-1])} {weekdays}"


def none_suit(turn: Turn) -> None:
    """Other days, or a call from the team."""
    household = turn.household
    offered = {o["start"] for o in turn.data.get("offered") or []}
    shown_days = {datetime.fromisoformat(s).date() for s in offered}
    others = [
        s
        for s in free_times(turn, household, today(turn) + timedelta(days=21))
        if s.starts_at.isoformat() not in offered and s.starts_at.date() not in shown_days
    ]
    if not others:
        arrange_button(turn, "")
        return
    offer(
        turn,
        intro=(
            'No problem. You can tell me a day or time that suits you (for example "next '
            'Tuesday afternoon"), choose one of these other days, or I can ask our team to '
            "call you to find a time."
        ),
        slots=others,
        call_back=True,
    )


def none_suit_button(turn: Turn, _arg: str) -> None:
    none_suit(turn)


def arrange_button(turn: Turn, _arg: str) -> None:
    household = turn.household
    turn.state = START
    turn.data.pop("offered", None)
    task = arrange_task(turn, household, "None of the chat's visit times suit")
    turn.say(
        "No problem. I've asked our team to contact you"
        f"{turn.by_when(task.due_at if task else None)} to find a time that works for you.",
        menu_buttons(),
    )


def arrange_task(turn: Turn, household: Household | None, why: str):
    if household is None:
        return None
    now = clock.now()
    try:
        task = create_task(
            turn.session,
            turn.actor,
            kind=TaskKind.CALL_BACK,
            title="Arrange an initial visit time (asked in the chat)",
            detail=why,
            due_at=response_due(turn.settings, now),
            household_id=household.id,
            unique_key=f"chat:{turn.conversation.id}:arrange:{now.date().isoformat()}",
        )
    except ServiceError:
        task = None
    turn.outcome.actions.append("arrange_task")
    return task


# -- booking --------------------------------------------------------------------------


def book(turn: Turn, starts_at: datetime, staff_id: int) -> None:
    """Book (or move to) `starts_at` and confirm it, in one go. The times offered are times,
    not people: a new booking goes to whoever is free then (the service chooses); a move keeps
    the person offered with the new time (`staff_id`)."""
    household = turn.household
    moving = turn.data.get("moving_appointment")
    # Email with a calendar invite when we have an address, else Telegram if they are there.
    telegram_chat_id = turn.conversation.external_id if turn.on_telegram else None
    try:
        if moving:
            appointment = booking.move_visit(
                turn.session,
                turn.actor,
                turn.settings,
                int(moving),
                starts_at=starts_at,
                staff_id=staff_id,
                booked_via=turn.channel.value,
                telegram_chat_id=telegram_chat_id,
            )
        else:
            appointment = booking.book_initial_visit(
                turn.session,
                turn.actor,
                turn.settings,
                household.id,
                starts_at,
                booked_via=turn.channel.value,
                location=f"Home visit, {household.postcode}" if household.postcode else None,
                notes=f"Booked by the person in the chat assistant ({turn.channel.value})",
                telegram_chat_id=telegram_chat_id,
            )
    except SlotTaken:
        turn.outcome.actions.append("slot_taken")
        offer(turn, intro="Sorry, someone has just taken that time. Here are the times still free:")
        return
    except InvalidInput as exc:
        message = next(iter(exc.errors.values()))
        offer(turn, intro=f"Sorry, I couldn't book that: {message}.")
        return
    except (NotFound, NotAllowed):
        turn.state = START
        turn.say("Sorry, I can't change that visit here. Please ask to talk to a person.")
        return
    turn.data.setdefault("appointment_ids", []).append(appointment.id)
    turn.data.pop("offered", None)
    turn.data.pop("moving_appointment", None)
    turn.state = START
    staff = turn.session.get(StaffUser, appointment.staff_id)
    turn.outcome.actions.append("visit_moved" if moving else "visit_booked")
    turn.say(
        f"{'Done, your visit is moved' if moving else 'Booked'}: {staff.name} will visit you "
        f"on {turn.when_text(appointment.starts_at)}. {_confirmation_note(turn)}\n\nIf you "
        "need to move or cancel it, just tell me here.",
        [[Button("Move or cancel", "go:manage")]],
    )
    if not moving:
        ask_interests(turn)


def _confirmation_note(turn: Turn) -> str:
    applicant = turn.first_applicant()
    if applicant is not None and applicant.email:
        return "I've sent a confirmation with a calendar invite to your email."
    if turn.on_telegram:
        return "You'll get a reminder here the day before."
    return "We'll call you the day before to remind you."


# -- the optional questions, last -----------------------------------------------------


def ask_interests(turn: Turn) -> None:
    if turn.data.get("asked_optional") or not turn.data.get("created_household"):
        return
    turn.data["asked_optional"] = True
    repeat_interests(turn)


def repeat_interests(turn: Turn) -> None:
    turn.state = ASK_INTERESTS
    turn.new_nonce()
    rows = [
        [turn.button(label, "interest", key) for key, label in INTERESTS[i : i + 2]]
        for i in range(0, len(INTERESTS), 2)
    ]
    turn.say(
        "Two optional questions to help our social worker prepare. Is there a kind of "
        "fostering you're interested in? Choose one, type your own answer, or skip.",
        rows + [[turn.button("Skip", "interest", "skip")]],
    )


def interest_button(turn: Turn, arg: str) -> None:
    label = dict(INTERESTS).get(arg)
    if label and arg != "not_sure":
        _record(turn, interests=label)
    ask_source(turn)


def take_interests(turn: Turn, text: str) -> bool:
    if _looks_like_something_else(turn, text):
        return False
    if parsing.yes_no(text) is not False and parsing.plain(text) not in ("skip", "no"):
        _record(turn, interests=text[:500])
    ask_source(turn)
    return True


def ask_source(turn: Turn) -> None:
    turn.state = ASK_SOURCE
    turn.new_nonce()
    sources = turn.session.exec(
        select(Source).where(Source.active.is_(True)).order_by(Source.key)
    ).all()
    preferred = [s for s in sources if s.key != "other"][:8]
    buttons = [turn.button(s.label, "source", s.key) for s in preferred]
    turn.say(
        "Last one, and optional: how did you hear about us?",
        _pairs(buttons)
        + [
            [
                turn.button("Something else", "source", "other"),
                turn.button("Skip", "source", "skip"),
            ]
        ],
    )


def source_button(turn: Turn, arg: str) -> None:
    if arg and arg != "skip":
        _record(turn, source_key=arg)
    _done(turn)


def take_source(turn: Turn, text: str) -> bool:
    if _looks_like_something_else(turn, text):
        return False
    if parsing.plain(text) not in ("skip", "no", "no thanks"):
        key = _source_for(turn, text)
        if key:
            _record(turn, source_key=key)
    _done(turn)
    return True


def _done(turn: Turn) -> None:
    turn.state = START
    turn.say("Thank you. If you have any other questions, just ask.", menu_buttons())


def _record(turn: Turn, **answers: str) -> None:
    household = turn.household
    if household is None or not turn.data.get("created_household"):
        return
    # An answer we cannot record (a source switched off meanwhile) is not worth an error.
    with contextlib.suppress(InvalidInput, NotFound, NotAllowed):
        add_enquiry_details(turn.session, turn.actor, household.id, **answers)


def _source_for(turn: Turn, text: str) -> str:
    sources = turn.session.exec(select(Source).where(Source.active.is_(True))).all()
    choices = {s.key: s.label for s in sources}
    found = process.extractOne(text, choices, scorer=fuzz.WRatio, score_cutoff=70)
    if found is not None:
        return found[2]
    return "other" if "other" in choices else ""


def _looks_like_something_else(turn: Turn, text: str) -> bool:
    """A question or a request (about the visit, say) instead of an optional answer."""
    if parsing.visit_change(text) in ("cancel", "move"):
        return True
    return turn.go("is_question", text)
