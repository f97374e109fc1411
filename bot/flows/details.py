"""Taking someone's details with their consent, then creating (or linking) their enquiry
through the one enquiry service.

Only what the purpose needs is asked: a name and one way to contact them, and for a visit
the postcode (it decides which team visits). Everything found in a message is taken, so "Sam
Patel, sam@example.com, LE1 6ZG" answers three questions at once, and on Telegram the share
contact button gives the phone number with one tap. Then consent, in the exact words recorded.
"""

from __future__ import annotations

from bot import conversations, parsing
from bot.flows.base import (
    ASK_CONSENT,
    ASK_CONTACT,
    ASK_NAME,
    ASK_POSTCODE,
    ASK_SURNAME,
    START,
    Incoming,
    Turn,
    menu_buttons,
)
from bot.knowledge import privacy_url
from crm.models import Channel as ContactChannel
from crm.models import ConsentScope, EnquiryChannel
from crm.services.enquiries import (
    ApplicantDetails,
    EnquiryInput,
    area_for_postcode,
    create_enquiry,
)
from crm.services.errors import InvalidInput

# What each purpose needs before consent is asked.
NEEDS = {"book": ("name", "contact", "postcode"), "human": ("name", "contact")}


def collect(turn: Turn, purpose: str, intro: str) -> None:
    """Start taking details for `purpose` ("book" or "human"), keeping any already given."""
    turn.data["purpose"] = purpose
    turn.say(intro)
    ask_next(turn)


def missing(turn: Turn) -> str | None:
    details = turn.details
    for need in NEEDS.get(turn.data.get("purpose", "book"), NEEDS["book"]):
        if need == "name" and not details.get("first_name"):
            return "name"
        if need == "name" and not details.get("last_name"):
            return "surname"
        if need == "contact" and not (details.get("email") or details.get("phone")):
            return "contact"
        if need == "postcode" and not details.get("postcode"):
            return "postcode"
    return None


def ask_next(turn: Turn) -> None:
    need = missing(turn)
    if need is None:
        ask_consent(turn)
    elif need == "name":
        ask_name(turn)
    elif need == "surname":
        ask_surname(turn)
    elif need == "contact":
        ask_contact(turn)
    else:
        ask_postcode(turn)


def ask_name(turn: Turn) -> None:
    turn.state = ASK_NAME
    if turn.data.get("purpose") == "human":
        turn.say(
            "What's your name, and a phone number or email address we can reach you on?",
        )
    else:
        turn.say("What's your name?")


def ask_surname(turn: Turn) -> None:
    turn.state = ASK_SURNAME
    first = turn.details.get("first_name", "")
    turn.say(f"Thanks{', ' + first if first else ''}. And your surname?")


def ask_contact(turn: Turn) -> None:
    turn.state = ASK_CONTACT
    first = turn.details.get("first_name", "")
    share = ' You can also tap "Share my phone number" below.' if turn.on_telegram else ""
    turn.say(
        f"Thanks{', ' + first if first else ''}. What's the best way to contact you? Please "
        f"type your email address or phone number.{share}",
        request_contact=turn.on_telegram,
    )


def ask_postcode(turn: Turn) -> None:
    turn.state = ASK_POSTCODE
    turn.say("And your postcode? It tells us which of our teams covers where you live.")


def take(turn: Turn, text: str) -> bool:
    """A typed answer in any of the detail states; False when it is something else."""
    state = turn.state
    found = parsing.find_details(text, name_expected=state in (ASK_NAME, ASK_SURNAME))
    taken = _take_found(turn, found, state)
    if found.problems and not taken:
        turn.say(found.problems[0] + ".")
        ask_again(turn)
        return True
    if not taken:
        return False
    if found.problems:
        turn.say(found.problems[0] + ". I've kept the rest.")
    ask_next(turn)
    return True


def _take_found(turn: Turn, found: parsing.Found, state: str) -> bool:
    details = turn.details
    taken = False
    if found.email:
        details["email"] = found.email
        taken = True
    if found.phone:
        details["phone"] = found.phone
        taken = True
    if found.postcode:
        details["postcode"] = found.postcode
        turn.data["area_id"] = area_for_postcode(turn.session, found.postcode)
        taken = True
    if found.name is not None and state in (ASK_NAME, ASK_SURNAME):
        first, rest = found.name
        if state == ASK_SURNAME:
            details["last_name"] = " ".join(w for w in (first, rest) if w)
        else:
            details["first_name"] = first
            if rest:
                details["last_name"] = rest
        taken = True
    return taken


def take_contact(turn: Turn, incoming: Incoming) -> None:
    """Telegram's share contact button: the phone number (and the name, if we lack it)."""
    shared = incoming.contact
    details = turn.details
    try:
        details["phone"] = parsing.normalise_phone(shared.phone)
    except ValueError as exc:
        turn.say(f"{exc}. Please type your email address or phone number.")
        return
    if not details.get("first_name") and shared.first_name:
        first = parsing.parse_name(shared.first_name)
        if first:
            details["first_name"] = first[0]
    if not details.get("last_name") and shared.last_name:
        last = parsing.parse_name(shared.last_name)
        if last:
            details["last_name"] = " ".join(w for w in last if w)
    if turn.state == ASK_CONSENT:
        ask_consent(turn)
    else:
        ask_next(turn)


def problem(turn: Turn) -> str:
    """What to say when a typed answer is neither the answer nor a question."""
    return {
        ASK_NAME: 'Please tell me your name, for example "Sam Patel".',
        ASK_SURNAME: "Please tell me your surname (family name).",
        ASK_CONTACT: (
            "That doesn't look like an email address or a phone number. Please type one, for "
            "example name@example.com or 07700 900 982."
        ),
        ASK_POSTCODE: "That doesn't look like a UK postcode. Please type it like LE1 6ZG.",
        ASK_CONSENT: "Please answer yes or no.",
    }[turn.state]


def ask_again(turn: Turn) -> None:
    state = turn.state
    if state == ASK_NAME:
        ask_name(turn)
    elif state == ASK_SURNAME:
        turn.say("What's your surname?")
    elif state == ASK_CONTACT:
        turn.say(
            "What's the best email address or phone number to contact you on?",
            request_contact=turn.on_telegram,
        )
    elif state == ASK_POSTCODE:
        turn.say("What's your postcode?")
    elif state == ASK_CONSENT:
        ask_consent(turn)


# -- consent --------------------------------------------------------------------------


def consent_wording(turn: Turn) -> str:
    details = turn.details
    ways = []
    if details.get("email"):
        ways.append("email")
    if details.get("phone"):
        ways.append("phone")
    if turn.on_telegram:
        ways.append("Telegram")
    how = " and ".join([", ".join(ways[:-1]), ways[-1]] if len(ways) > 1 else ways)
    return (
        f"I agree that {turn.settings.service.name} may keep the details I have given in "
        f"this chat, and contact me about fostering by {how}. Privacy notice: "
        f"{privacy_url(turn.settings)}"
    )


def ask_consent(turn: Turn) -> None:
    turn.state = ASK_CONSENT
    wording = consent_wording(turn)
    turn.data["consent_wording"] = wording
    turn.new_nonce()
    turn.say(
        f'Before I save anything, do you agree to this?\n\n"{wording}"\n\nYou can change '
        "your mind at any time.",
        [[turn.button("Yes, I agree", "consent", "yes"), turn.button("No", "consent", "no")]],
    )


def take_consent(turn: Turn, text: str) -> bool:
    answer = parsing.yes_no(text)
    if answer is not None:
        consent_answer(turn, answer)
        return True
    found = parsing.find_details(text)
    if _take_found(turn, found, ASK_CONSENT):
        # A detail added or corrected: the wording may change, so ask again.
        ask_next(turn)
        return True
    return False


def consent_button(turn: Turn, arg: str) -> None:
    consent_answer(turn, arg == "yes")


def consent_answer(turn: Turn, agreed: bool) -> None:
    if not agreed:
        turn.data.pop("details", None)
        turn.data.pop("consent_wording", None)
        turn.data.pop("purpose", None)
        turn.state = START
        turn.say(
            "That's absolutely fine. Without your agreement I can't keep your details, so "
            "I haven't saved them. You can still ask me anything, and if you change your "
            'mind just say "book a visit".',
            menu_buttons(),
        )
        return
    turn.data["consented"] = True
    save(turn)


def save(turn: Turn) -> None:
    """Create (or link) the household through the one enquiry service."""
    details = turn.details
    wording = turn.data.get("consent_wording") or consent_wording(turn)
    consents = {ConsentScope.STORE_DETAILS: wording}
    if details.get("email"):
        consents[ConsentScope.EMAIL] = wording
    if details.get("phone"):
        consents[ConsentScope.PHONE] = wording
    telegram = turn.on_telegram
    if telegram:
        consents[ConsentScope.TELEGRAM] = wording
    preferred = (
        ContactChannel.TELEGRAM
        if telegram
        else ContactChannel.EMAIL
        if details.get("email")
        else ContactChannel.PHONE
    )
    purpose = turn.data.get("purpose", "book")
    interests = None
    if purpose == "human":
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
        interests=interests,
        consents=consents,
        # Concerns raised earlier in this chat join the household it creates.
        conversation_id=turn.conversation.id,
    )
    try:
        result = create_enquiry(turn.session, turn.actor, data, turn.settings)
    except InvalidInput as exc:
        field_name, message = next(iter(exc.errors.items()))
        turn.say(f"Sorry, I couldn't save that: {message}.")
        if "email" in field_name or "phone" in field_name:
            details.pop("email", None)
            details.pop("phone", None)
        elif "postcode" in field_name:
            details.pop("postcode", None)
        else:
            details.pop("first_name", None)
            details.pop("last_name", None)
        ask_next(turn)
        return
    household = result.household
    due = result.response_task.due_at if result.response_task else None
    if not result.created:
        # We cannot tell a returning enquirer from someone typing another person's email or
        # phone, so a chat never attaches itself to a household it did not create: the
        # team calls back on the details we already hold.
        turn.state = START
        turn.data.pop("purpose", None)
        turn.outcome.actions.append("enquiry_known")
        turn.say(
            "Thank you. It looks like we already have your details, so to keep them safe a "
            f"member of our team will contact you{turn.by_when(due)} using the details we "
            f"hold, and help you from there. {turn.office_note()}",
            menu_buttons(),
        )
        return
    conversations.link_household(
        turn.session, turn.conversation, household.id, telegram_consent=telegram
    )
    turn.session.commit()
    turn.data["created_household"] = True
    turn.data["household_id"] = household.id
    turn.outcome.actions.append("enquiry_created")
    turn.go("details_saved", purpose, household, due)
