"""Reading what people type in a chat: names, contact details, postcodes, yes and no, and days
and times ("thursday 11am please", "next week", "any evening after 6").

Pure functions of the text (and of today's date for days), so the flows stay short and every
rule is tested on its own (tests/bot/test_parsing.py). Nothing here talks to the database.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from crm.services.validation import normalise_email, normalise_phone, normalise_postcode

YES = frozenset(
    {
        "yes",
        "y",
        "yeah",
        "yea",
        "yep",
        "yup",
        "ye",
        "yh",
        "yes please",
        "ok",
        "okay",
        "sure",
        "fine",
        "i agree",
        "agree",
        "agreed",
        "yes i agree",
        "i do",
        "go ahead",
        "of course",
        "please do",
        "correct",
        "thats fine",
        "that is fine",
        "thats ok",
        "sounds good",
        "absolutely",
        "definitely",
    }
)
NO = frozenset(
    {
        "no",
        "n",
        "nope",
        "nah",
        "no thanks",
        "no thank you",
        "i dont agree",
        "i do not agree",
        "dont",
        "not now",
        "no way",
        "rather not",
        "id rather not",
    }
)
# Words people type that are not names, whatever the shape of the word.
_NOT_NAMES = """hi hello hey hiya yes no ok okay thanks thank you why what help skip sure fine
maybe dunno pardon sorry test yeah yep nope please cancel stop menu back later none book visit
human person start again next week tomorrow today monday tuesday wednesday thursday friday
saturday sunday morning afternoon evening"""
NOT_A_NAME = frozenset(_NOT_NAMES.split()) | {"thank you", "next week", "start again", "no thanks"}
LEAVE = frozenset(
    {
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
        "leave it",
        "dont bother",
    }
)
_RESUME = re.compile(
    r"\b(?:carry on|continue|go on|keep going|resume|where (?:were we|was i|we left off)|"
    r"pick up where|back to (?:the )?booking|finish (?:the |my )?booking|"
    r"(?:can we|lets|let us) (?:carry on|continue|finish))\b"
)
_NONE_SUIT = re.compile(
    r"\b(?:none (?:of (?:these|those|them|the times)|suit|work|are any good|fit)|"
    r"neither|no good|not suitable|dont suit|do not suit|dont work|do not work|"
    r"cant do (?:any|those|these|them)|can not do (?:any|those|these|them)|"
    r"(?:other|another|different) (?:day|days|time|times|date|dates)|"
    r"nothing (?:suits|works|there))\b"
)
_LATER = re.compile(r"^(?:later|later times|more|more times|any later|show me more|next)$")
_CANCEL = re.compile(
    r"\b(?:cancel\w*|call (?:it |the visit |this )?off|(?:no longer|not) (?:need|want)|"
    r"dont (?:need|want) (?:it|the visit|to go ahead)|changed (?:my|our) minds?|"
    r"not going ahead|wont be going ahead)\b"
)
_MOVE = re.compile(
    r"\b(?:move|moved|moving|change|changing|rearrange\w*|reschedul\w*|re schedul\w*|"
    r"postpon\w*|push (?:it |the visit )?back|bring (?:it |the visit )?forward|rebook\w*|"
    r"different (?:day|time|date)|another (?:day|time|date)|later date|"
    r"cant make|can not make|wont be (?:in|there|home))\b"
)
_KEEP = re.compile(r"\b(?:keep|leave it|its fine|it is fine|stays|no change)\b")

EMAIL_IN_TEXT = re.compile(r"[^\s<>(),;:]+@[^\s<>(),;:]+")
PHONE_IN_TEXT = re.compile(r"\+?\d[\d\s\-()]{8,}\d")
POSTCODE_IN_TEXT = re.compile(r"\b([A-Za-z]{1,2}\d[A-Za-z\d]?)\s*(\d[A-Za-z]{2})\b")
NAME = re.compile(r"^[^\W\d_][^\W\d_'’\-. ]*(?:['’\-. ]+[^\W\d_]+)*\.?$")
NAME_PREFIX = re.compile(
    r"^(?:hi|hello|hey|hiya)?[ ,!.]*(?:my name is|my names|my name's|name is|name:|name -|"
    r"i am|i'm|im|it's|its|this is|call me|it is)\s+",
    re.IGNORECASE,
)
# Between the parts of "Sam Patel, sam@example.com, LE1 6ZG".
_JOINERS = re.compile(
    r"\b(?:and|my|email|e-mail|mail|phone|number|mobile|tel|postcode|post code|is|at|on|"
    r"address|contact)\b|[,;:&+/]",
    re.IGNORECASE,
)


def plain(text: str) -> str:
    """Lower case words without punctuation: "Yes, please!" -> "yes please"."""
    text = text.replace("’", "'").replace("'", "")
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def yes_no(text: str) -> bool | None:
    words = plain(text)
    if words in YES:
        return True
    if words in NO:
        return False
    first = words.split()[:1]
    # "yes that's fine", "no thank you, not yet"
    if first and len(words.split()) <= 6:
        if first[0] in {"yes", "yeah", "yep", "ok", "okay", "sure"} and "not" not in words:
            return True
        if first[0] in {"no", "nope", "nah"}:
            return False
    return None


def wants_to_leave(text: str) -> bool:
    return plain(text) in LEAVE


def wants_to_resume(text: str) -> bool:
    return _RESUME.search(plain(text)) is not None


def none_suit(text: str) -> bool:
    return _NONE_SUIT.search(plain(text)) is not None


def wants_later(text: str) -> bool:
    return _LATER.match(plain(text)) is not None


def visit_change(text: str) -> str | None:
    """ "cancel", "move", "keep" or None for what someone says about their visit."""
    words = plain(text)
    if _CANCEL.search(words):
        return "cancel"
    if _MOVE.search(words):
        return "move"
    if _KEEP.search(words):
        return "keep"
    return None


# -- names and contact details ------------------------------------------------------------


def title_case(word: str) -> str:
    # "o'brien" -> "O'Brien", "smith-jones" -> "Smith-Jones", but leave "McDonald" alone.
    if word != word.lower() and word != word.upper():
        return word
    return re.sub(r"(^|['’\-])(\w)", lambda m: m.group(1) + m.group(2).upper(), word.lower())


def parse_name(text: str, max_words: int = 5) -> tuple[str, str | None] | None:
    """(first name, surname or None) when the text reads as a name, else None."""
    name = NAME_PREFIX.sub("", text.strip()).strip(" .!,")
    words = name.split()
    if not (1 <= len(words) <= max_words) or len(name) > 100 or not NAME.match(name):
        return None
    if plain(name) in NOT_A_NAME or any(plain(w) in {"foster", "fostering"} for w in words):
        return None
    first = title_case(words[0])
    rest = " ".join(title_case(w) for w in words[1:]) or None
    return first, rest


@dataclass
class Found:
    """The details found in one message, and what was wrong with those that looked like one."""

    email: str | None = None
    phone: str | None = None
    postcode: str | None = None
    name: tuple[str, str | None] | None = None
    problems: tuple[str, ...] = ()
    rest: str = ""

    @property
    def anything(self) -> bool:
        return bool(self.email or self.phone or self.postcode or self.name)


def find_details(text: str, *, name_expected: bool = False) -> Found:
    """Email, phone, postcode, and (when a name is expected, or introduced with "my name
    is") a name, from one message."""
    found = Found()
    problems: list[str] = []
    introduced = NAME_PREFIX.match(text.strip()) is not None
    text = NAME_PREFIX.sub("", text.strip())
    rest = text
    email = EMAIL_IN_TEXT.search(text)
    if email:
        try:
            found.email = normalise_email(email.group(0).strip(".,!"))
        except ValueError as exc:
            problems.append(str(exc))
        rest = rest.replace(email.group(0), " ")
    phone = PHONE_IN_TEXT.search(rest)
    if phone:
        try:
            found.phone = normalise_phone(phone.group(0))
        except ValueError as exc:
            problems.append(str(exc))
        rest = rest.replace(phone.group(0), " ")
    postcode = POSTCODE_IN_TEXT.search(rest)
    if postcode:
        try:
            found.postcode = normalise_postcode("".join(postcode.groups()))
            rest = rest.replace(postcode.group(0), " ")
        except ValueError:
            pass
    leftover = " ".join(_JOINERS.sub(" ", rest).split()) if rest != text else rest.strip()
    if name_expected or introduced:
        found.name = parse_name(leftover if rest != text else text)
    found.problems = tuple(problems)
    found.rest = leftover
    return found


def looks_like_postcode_attempt(text: str) -> bool:
    words = text.split()
    return 1 <= len(words) <= 3 and any(ch.isdigit() for ch in text)


# -- days and times -----------------------------------------------------------------------

WEEKDAYS = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tues": 1,
    "tue": 1,
    "wednesday": 2,
    "weds": 2,
    "wed": 2,
    "thursday": 3,
    "thurs": 3,
    "thur": 3,
    "thu": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY_NAME = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_DATE_DM = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? ({_MONTH})\b")
_DATE_MD = re.compile(rf"\b({_MONTH}) (\d{{1,2}})(?:st|nd|rd|th)?\b(?![:.]\d| ?[ap]\.? ?m\b)")
_DATE_NUM = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?\b")
_ORDINAL_DAY = re.compile(r"\b(?:the )(\d{1,2})(?:st|nd|rd|th)\b|\b(\d{1,2})(?:st|nd|rd|th)\b")
_WEEKDAY = re.compile(rf"\b(?:(next|this|coming|last) )?({_DAY_NAME})s?\b")
_TIME_AMPM = re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))? ?([ap])\.? ?m\b\.?")
_TIME_24 = re.compile(r"\b([01]?\d|2[0-3])[:.]([0-5]\d)\b")
_TIME_HALF = re.compile(r"\bhalf (?:past )?(\d{1,2})\b")
_TIME_OCLOCK = re.compile(r"\b(\d{1,2}) ?o ?clock\b")
_TIME_AT = re.compile(r"\b(?:at|around|from) (\d{1,2})\b(?! ?(?:st|nd|rd|th|/|:|\.))")
_AMBIGUOUS_DAYS = frozenset({"sat", "sun", "wed"})
_DAY_PARTS = frozenset({"morning", "afternoon", "evening", "night", "am", "pm", "at", "lunchtime"})
PARTS = {
    "morning": (time(0, 0), time(12, 0)),
    "lunchtime": (time(11, 30), time(14, 0)),
    "afternoon": (time(12, 0), time(17, 0)),
    "evening": (time(17, 0), time(23, 59)),
}


@dataclass(frozen=True)
class When:
    """A day or time someone asked for. Every part is optional; `describe` says it back."""

    days: tuple[date, ...] = ()
    first_day: date | None = None
    last_day: date | None = None
    weekdays: frozenset[int] = frozenset()
    at: time | None = None
    after: time | None = None
    part: str | None = None
    past: bool = False
    label: str = ""

    @property
    def has_day(self) -> bool:
        return bool(self.days or self.first_day or self.weekdays)

    def fits_day(self, day: date) -> bool:
        if self.days and day not in self.days:
            return False
        if self.first_day and day < self.first_day:
            return False
        if self.last_day and day > self.last_day:
            return False
        return not (self.weekdays and day.weekday() not in self.weekdays)

    def fits_time(self, moment: time) -> bool:
        if self.at is not None and moment != self.at:
            return False
        if self.after is not None and moment < self.after:
            return False
        if self.part is not None:
            start, end = PARTS[self.part]
            if not start <= moment < end:
                return False
        return True

    def fits(self, local: datetime) -> bool:
        return self.fits_day(local.date()) and self.fits_time(local.time().replace(tzinfo=None))

    def fits_roughly(self, local: datetime) -> bool:
        """The day, ignoring an exact time: for "not at 11, but these on Thursday"."""
        return self.fits_day(local.date()) and (
            self.part is None or PARTS[self.part][0] <= local.time() < PARTS[self.part][1]
        )

    def latest_day(self, today: date) -> date | None:
        candidates = [d for d in (*self.days, self.last_day) if d is not None]
        return max(candidates) if candidates else None

    def as_data(self) -> dict:
        return {
            "days": [d.isoformat() for d in self.days],
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "weekdays": sorted(self.weekdays),
            "at": self.at.strftime("%H:%M") if self.at else None,
            "after": self.after.strftime("%H:%M") if self.after else None,
            "part": self.part,
            "label": self.label,
        }

    @classmethod
    def from_data(cls, data: dict | None) -> When | None:
        if not data:
            return None
        return cls(
            days=tuple(date.fromisoformat(d) for d in data.get("days", [])),
            first_day=date.fromisoformat(data["first_day"]) if data.get("first_day") else None,
            last_day=date.fromisoformat(data["last_day"]) if data.get("last_day") else None,
            weekdays=frozenset(data.get("weekdays", [])),
            at=time.fromisoformat(data["at"]) if data.get("at") else None,
            after=time.fromisoformat(data["after"]) if data.get("after") else None,
            part=data.get("part"),
            label=data.get("label", ""),
        )


def _when_words(text: str) -> str:
    """Lower case, keeping the ":", "." and "/" of times and dates ("9:30am", "12/3")."""
    text = text.lower().replace("’", "").replace("'", "")
    text = re.sub(r"[^\w\s:./]", " ", text)
    text = re.sub(r"(?<!\d)[:./]|[:./](?!\d)", " ", text)
    return " ".join(text.replace("a.m", "am").replace("p.m", "pm").split())


def _hour(hour: int, minute: int = 0, meridiem: str | None = None) -> time | None:
    if meridiem == "p" and hour < 12:
        hour += 12
    elif meridiem == "a" and hour == 12:
        hour = 0
    elif meridiem is None and 1 <= hour <= 7:
        # "at 2", "half 4": people mean the afternoon, never the small hours.
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def _parse_time(words: str) -> tuple[time | None, time | None]:
    """(an exact time, "after" a time) in the words."""
    after = None
    match = re.search(r"\bafter (\d{1,2})(?:[:.](\d{2}))? ?(?:([ap])\.? ?m\b)?", words)
    if match:
        after = _hour(int(match.group(1)), int(match.group(2) or 0), match.group(3))
        words = words.replace(match.group(0), " ")
    if re.search(r"\b(?:noon|midday|12 noon)\b", words):
        return time(12, 0), after
    for pattern in (_TIME_AMPM, _TIME_24):
        match = pattern.search(words)
        if match:
            if pattern is _TIME_AMPM:
                return _hour(int(match.group(1)), int(match.group(2) or 0), match.group(3)), after
            return _hour(int(match.group(1)), int(match.group(2))), after
    match = _TIME_HALF.search(words)
    if match:
        return _hour(int(match.group(1)), 30), after
    match = _TIME_OCLOCK.search(words) or _TIME_AT.search(words)
    if match and 1 <= int(match.group(1)) <= 12:
        return _hour(int(match.group(1))), after
    return None, after


def _date(day: int, month: int, year: int | None, today: date) -> tuple[date | None, bool]:
    """A date from its parts (no year: this year); and whether it is in the past."""
    try:
        moment = date(year or today.year, month, day)
    except ValueError:
        return None, False
    if year is None and moment < today - timedelta(days=60):
        moment = moment.replace(year=today.year + 1)
    return moment, moment <= today - timedelta(days=1)


def parse_when(text: str, today: date) -> When | None:
    """A day and/or time from the text, relative to `today`; None when there is neither."""
    words = _when_words(text)
    days: list[date] = []
    first_day = last_day = None
    weekdays: set[int] = set()
    past = False
    label_parts: list[str] = []

    if re.search(r"\b(?:day after tomorrow)\b", words):
        days.append(today + timedelta(days=2))
        label_parts.append("the day after tomorrow")
    elif re.search(r"\b(?:tomorrow|tmrw|tmr|tomoz|2moro|2morrow)\b", words):
        days.append(today + timedelta(days=1))
        label_parts.append("tomorrow")
    elif re.search(r"\btoday\b|\btonight\b", words):
        days.append(today)
        label_parts.append("today")
    if re.search(r"\byesterday\b|\blast week\b", words):
        past = True

    monday = today - timedelta(days=today.weekday())
    if re.search(r"\b(?:week after next|in (?:2|two) weeks|in a fortnight|fortnight)\b", words):
        first_day, last_day = monday + timedelta(days=14), monday + timedelta(days=20)
        label_parts.append("the week after next")
    elif re.search(r"\bnext week\b", words):
        first_day, last_day = monday + timedelta(days=7), monday + timedelta(days=13)
        label_parts.append("next week")
    elif re.search(r"\bthis week\b", words):
        first_day, last_day = today, monday + timedelta(days=6)
        label_parts.append("this week")
    if re.search(r"\b(?:weekend|weekends|wknd)\b", words):
        weekdays.update({5, 6})
        label_parts.append("at the weekend")

    named_days: list[date] = []
    for match in _WEEKDAY.finditer(words):
        which, name = match.group(1), match.group(2)
        weekday = WEEKDAYS[name]
        if name in _AMBIGUOUS_DAYS and which is None:
            # "sat", "sun" and "wed" are words too: a day only as "on sat" or "sat 14th".
            before = words[: match.start()].split()[-1:]
            after = words[match.end() :].split()[:1]
            follows = after and (after[0][:1].isdigit() or after[0] in _DAY_PARTS)
            if before not in (["on"], ["this"], ["next"]) and not follows:
                continue
        if which == "last":
            past = True
            continue
        if which == "next" and not first_day:
            # "next Thursday": the Thursday of next week.
            day = monday + timedelta(days=7 + weekday)
        else:
            day = today + relativedelta(days=1, weekday=weekday)
            if first_day and not first_day <= day <= (last_day or day):
                day = first_day + relativedelta(weekday=weekday)
        named_days.append(day)
        label_parts.append(f"{calendar.day_name[weekday]}")

    for pattern, order in ((_DATE_DM, "dm"), (_DATE_MD, "md")):
        for match in pattern.finditer(words):
            day_text, month_text = match.groups() if order == "dm" else match.groups()[::-1]
            moment, was_past = _date(int(day_text), MONTHS[month_text], None, today)
            if moment:
                days.append(moment)
                past = past or was_past
    for match in _DATE_NUM.finditer(words):
        year = match.group(3)
        year_number = (2000 + int(year) if len(year) == 2 else int(year)) if year else None
        moment, was_past = _date(int(match.group(1)), int(match.group(2)), year_number, today)
        if moment:
            days.append(moment)
            past = past or was_past
    if not days and not _DATE_DM.search(words):
        match = _ORDINAL_DAY.search(words)
        if match:
            number = int(match.group(1) or match.group(2))
            moment, _ = _date(number, today.month, today.year, today)
            if moment and moment < today:
                moment = (date(today.year, today.month, 1) + relativedelta(months=1)).replace(
                    day=min(number, 28)
                )
            if moment:
                days.append(moment)

    if not days:
        # With a date ("Monday 16th March", "tomorrow"), the date decides; else the day name.
        days = named_days
    at, after = _parse_time(words)
    part = None
    if re.search(r"\b(?:evening|evenings|after work|tonight|night)\b", words):
        part = "evening"
    elif re.search(r"\b(?:afternoon|afternoons)\b", words) and at is None:
        part = "afternoon"
    elif re.search(r"\b(?:lunchtime|lunch time|lunch)\b", words) and at is None:
        part = "lunchtime"
    elif re.search(r"\b(?:morning|mornings)\b", words) and at is None:
        part = "morning"
    if after is not None and after >= time(17, 0):
        part = None

    if any(d < today for d in days):
        past = True
    if not (days or first_day or weekdays or at or after or part or past):
        return None
    label = " ".join(label_parts)
    return When(
        days=tuple(sorted(set(days))),
        first_day=first_day,
        last_day=last_day,
        weekdays=frozenset(weekdays),
        at=at,
        after=after,
        part=part,
        past=past,
        label=label,
    )


_ORDINALS = {
    "first": 0,
    "1st": 0,
    "one": 0,
    "1": 0,
    "second": 1,
    "2nd": 1,
    "two": 1,
    "2": 1,
    "third": 2,
    "3rd": 2,
    "three": 2,
    "3": 2,
    "fourth": 3,
    "4th": 3,
    "four": 3,
    "4": 3,
    "fifth": 4,
    "5th": 4,
    "five": 4,
    "5": 4,
    "sixth": 5,
    "6th": 5,
    "six": 5,
    "6": 5,
}
_PICK = re.compile(
    r"^(?:(?:i ll|ill|i will|we ll|well|lets|let s|i d like|id like|can i have|can we have|"
    r"can we do|we ll take|i ll take|the|option|number|no|please|take|have)\s+)*"
    r"(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|last|one|two|three|"
    r"four|five|six|[1-6])(?:\s+(?:one|option|slot|time|please|thanks|thank you))*$"
)


def slot_choice(text: str, labels: list[str]) -> int | None:
    """Which offered slot the text picks: its label typed ("Wed 11 Mar, 9:30am"), or "the
    first one", "option 2", "last"."""
    words = plain(text)
    for index, label in enumerate(labels):
        if plain(label) == words or (words.startswith(plain(label)) and len(words) < 40):
            return index
    match = _PICK.match(words)
    if match:
        pick = match.group(1)
        if pick == "last":
            return len(labels) - 1 if labels else None
        index = _ORDINALS[pick]
        return index if index < len(labels) else None
    return None
