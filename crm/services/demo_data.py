"""Realistic, made-up, deterministic demo data: `fostercrm demo-data` and `fostercrm up --demo`.

What it builds: a regional hub with three fictional local authorities, their postcode districts
(plus a few that belong to no area, so the triage queue has work), staff in every role with
weekly availability and some leave, campaigns with costs, and households whose histories follow
the national shape in DOMAIN.md (about 31% of enquiries reach an initial visit, 12% apply and
5-6% are approved, about nine months from enquiry to approval), with the reasons people stop,
pauses, approved carers with placements, supervision, check-ins and deregistrations, and the
open work of today: call-backs due, visits booked in free slots, follow-ups.

Why it does not call the services: 100,000 households must load in minutes. The rows are
generated in Python and bulk-inserted with SQLAlchemy Core in chunks, ids assigned here (after
whatever the database already holds), in foreign-key order, one commit per chunk. The rules the
services keep are mirrored instead, and the tests check the result with the services' own eyes:
stage events form the chain `move_stage` would have written, booked visits sit on free slots
that `free_slots` computes, and the normal services keep working on the loaded database.

Deterministic: everything comes from `random.Random` streams seeded by `seed`, and every time
is derived from `as_of` (the local day the histories run up to, exclusive). The same seed and
`as_of` on an empty database give identical rows, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import random
import re
import time as time_module
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from argon2 import PasswordHasher
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, SQLModel, select
from tqdm import tqdm

from crm import clock
from crm.models import (
    Activity,
    Applicant,
    Appointment,
    Area,
    AreaPostcodeDistrict,
    AuditEvent,
    AvailabilityException,
    AvailabilityPattern,
    Campaign,
    Carer,
    CheckIn,
    Consent,
    Household,
    Hub,
    OutboxMessage,
    Placement,
    Reason,
    Source,
    StaffArea,
    StaffUser,
    StageEvent,
    Task,
    TelegramChatLink,
)
from crm.services.checkins import LOW_SCORE, SCORE_LABELS
from crm.services.enquiries import REFERENCE_ALPHABET, response_due
from crm.services.errors import InvalidInput
from crm.services.pipeline import new_carer_record
from crm.services.reference import ensure_reference_data
from crm.settings import Settings
from crm.workdays import add_office_days, is_bank_holiday

# -- the demo organisation ----------------------------------------------------------------

DEMO_PASSWORD = "fostering-demo"
DEMO_HUB_NAME = "Fostering Together (demo hub)"
# The demo staff all sign in with DEMO_PASSWORD. Shown by `fostercrm up --demo` and the README.
DEMO_LOGINS: list[tuple[str, str]] = [
    ("admin@example.org", "Admin"),
    ("manager@example.org", "Fostering manager, all areas"),
    ("officer.harrowdale@example.org", "Recruitment officer, Harrowdale"),
    ("officer.kingsmere@example.org", "Recruitment officer, Kingsmere"),
    ("officer.westbrook@example.org", "Recruitment officer, Westbrook"),
    ("assessor@example.org", "Assessing social worker, Harrowdale"),
    ("supervisor@example.org", "Supervising social worker, Harrowdale"),
]
HISTORY_DAYS = 3 * 365
# Households per chunk: one commit each, and the progress bar moves per chunk.
CHUNK_HOUSEHOLDS = 2000


@dataclass(frozen=True)
class _AreaSpec:
    name: str
    code: str
    share: float  # of the hub's enquiries
    districts: tuple[str, ...]
    towns: tuple[str, ...]
    phone: str


# Fictional local authorities owning real-format districts (the East Midlands, where the
# Leicestershire work DOMAIN.md cites was done). Postcodes are made up within them.
AREAS = (
    _AreaSpec(
        "Harrowdale",
        "HD",
        0.40,
        tuple(f"LE{n}" for n in (1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19)),
        ("Harrowdale", "Millbrook", "Thornby", "Elmstead", "Ashby Parva"),
        "01632 960 101",
    ),
    _AreaSpec(
        "Kingsmere",
        "KM",
        0.35,
        tuple(f"NG{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16)),
        ("Kingsmere", "Carlton Fields", "Sherwood Vale", "Radwell"),
        "01632 960 102",
    ),
    _AreaSpec(
        "Westbrook",
        "WB",
        0.25,
        tuple(f"DE{n}" for n in (1, 3, 4, 5, 6, 7, 11, 12, 13, 14, 15, 21, 22, 23, 24, 56)),
        ("Westbrook", "Oakhurst", "Stanmoor", "Belper Green"),
        "01632 960 103",
    ),
)
# Real-format districts no area owns: these enquiries wait in the hub's triage queue.
TRIAGE_DISTRICTS = ("CV1", "CV21", "MK9", "PE1", "S10", "B15")
TRIAGE_TOWNS = ("Coventry", "Rugby", "Milton Keynes", "Peterborough", "Sheffield", "Birmingham")
TRIAGE_SHARE = 0.04
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

# -- the national shape (DOMAIN.md) ---------------------------------------------------------
# Targets for a cohort of enquiries whose outcomes are known (histories up to ~17 months).
TARGET_INITIAL_VISIT = 0.31
TARGET_APPLICATION = 0.12
TARGET_APPROVED = 0.055

# Source: (weight, multiplier on reaching an initial visit). Friends and carers bring people
# who convert better than social media; kinship referrals take their own pathway.
SOURCES: dict[str, tuple[float, float]] = {
    "web_search": (27, 0.95),
    "social_media": (22, 0.7),
    "council_website": (9, 1.05),
    "radio_tv": (3, 0.9),
    "print_poster": (4, 0.9),
    "event": (6, 1.1),
    "refer_a_friend": (6, 1.5),
    "word_of_mouth": (9, 1.3),
    "existing_carer": (4, 1.5),
    "kinship_referral": (2.2, 1.0),
    "transfer": (1.5, 2.0),
    "other": (2, 1.0),
}
KINSHIP_SOURCE = "kinship_referral"
# Working days until first contact: (probability, multiplier on reaching a visit). Faster
# responses convert better (the Leicestershire finding); None = never reached.
RESPONSE_DELAYS: tuple[tuple[int | None, float, float], ...] = (
    (0, 0.42, 1.15),
    (1, 0.30, 1.05),
    (2, 0.12, 0.90),
    (3, 0.07, 0.80),
    (5, 0.06, 0.60),  # 4 to 8 working days: late
    (None, 0.03, 0.0),
)
# Kinship / connected persons: 40% have an initial visit, then straight to assessment
# (stage one; the application is skipped) because a child already lives with them.
KINSHIP_VISIT = 0.4
KINSHIP_PASS = {
    "visit_to_iv": 0.9,
    "iv_to_stage_one": 0.75 / 0.9,
    "enquiry_to_stage_one": 0.75,
    "stage_one": 0.9,
    "stage_two": 0.85,
    "panel": 0.95,
}
# Regular pathway after the application; stage two is solved for below to hit the target.
APPLICATION_PASS = 0.97
STAGE_ONE_PASS = 0.72
PANEL_PASS = 0.93
# Pauses: share of households at these stages who go on hold, and how long (days).
HOLD_CHANCE = 0.08
HOLD_DAYS = (25, 110)
# Carers: yearly chance of deregistering, and of taking a break.
DEREGISTRATION_PER_YEAR = 0.10
ON_BREAK_SHARE = 0.06

# Stage durations, days from entering the stage to the next: (median, sigma, min, max).
DURATIONS = {
    "enquiry": (11, 0.5, 2, 75),  # from first contact to the initial visit
    "initial_visit": (27, 0.6, 4, 120),
    "application": (7, 0.5, 1, 30),
    "stage_one": (70, 0.35, 25, 130),
    "stage_two": (128, 0.3, 60, 220),
    "panel": (8, 0.3, 3, 21),
}
KINSHIP_DURATIONS = {
    "enquiry": (7, 0.5, 2, 30),
    "initial_visit": (5, 0.5, 1, 20),
    "stage_one": (30, 0.35, 10, 70),
    "stage_two": (60, 0.35, 25, 120),
    "panel": (7, 0.3, 3, 21),
}
# Leaving a stage: days after entering it, and the share leaving by the service's decision.
DROP_DAYS = {
    "enquiry": (16, 0.6, 3, 90),
    "initial_visit": (20, 0.6, 3, 120),
    "application": (10, 0.6, 1, 45),
    "stage_one": (40, 0.5, 7, 150),
    "stage_two": (75, 0.5, 14, 240),
    "panel": (8, 0.3, 2, 21),
}
NOT_PROGRESSED_SHARE = {
    "enquiry": 0.15,
    "initial_visit": 0.2,
    "application": 0.1,
    "stage_one": 0.55,
    "stage_two": 0.35,
    "panel": 0.9,
}

# Reason codes (config/lists.toml) with weights per stage, and the words staff wrote.
WITHDRAWN_REASONS = {
    "enquiry": {
        "no_response": 30,
        "timing": 20,
        "space": 14,
        "changed_mind": 12,
        "circumstances_changed": 8,
        "finances": 8,
        "family_not_supportive": 3,
        "other_service": 3,
        "other": 2,
    },
    "initial_visit": {
        "timing": 30,
        "circumstances_changed": 15,
        "changed_mind": 15,
        "space": 12,
        "finances": 10,
        "family_not_supportive": 8,
        "other_service": 5,
        "no_response": 3,
        "other": 2,
    },
    "application": {
        "timing": 30,
        "circumstances_changed": 25,
        "changed_mind": 20,
        "family_not_supportive": 10,
        "finances": 10,
        "other": 5,
    },
    "stage_one": {
        "circumstances_changed": 35,
        "timing": 25,
        "changed_mind": 15,
        "family_not_supportive": 10,
        "process_too_long": 10,
        "other": 5,
    },
    "stage_two": {
        "circumstances_changed": 30,
        "process_too_long": 20,
        "changed_mind": 20,
        "timing": 15,
        "family_not_supportive": 10,
        "other_service": 5,
    },
    "panel": {"circumstances_changed": 60, "changed_mind": 40},
    "on_hold": {"timing": 50, "circumstances_changed": 40, "changed_mind": 10},
}
NOT_PROGRESSED_REASONS = {
    "enquiry": {"eligibility": 35, "accommodation": 35, "capacity": 15, "other": 15},
    "initial_visit": {"accommodation": 40, "suitability": 35, "eligibility": 15, "other": 10},
    "application": {"eligibility": 40, "accommodation": 40, "capacity": 20},
    "stage_one": {"checks": 75, "suitability": 15, "accommodation": 5, "other": 5},
    "stage_two": {"suitability": 80, "checks": 10, "other": 10},
    "panel": {"suitability": 90, "other": 10},
}
ON_HOLD_REASONS = {
    "family_event": 35,
    "house_move": 25,
    "work": 20,
    "applicant_request": 15,
    "other": 5,
}
DEREGISTRATION_REASONS = {
    "personal_circumstances": 20,
    "unhappy_with_support": 16,
    "special_guardianship": 14,
    "health": 9,
    "burnout": 10,
    "transfer": 9,
    "retirement": 8,
    "adoption": 4,
    "allegation": 4,
    "other": 6,
}
REASON_TEXTS = {
    "no_response": [
        "Two calls and an email with no reply",
        "No reply to calls, texts or emails",
        "Left voicemails twice; no response",
    ],
    "timing": [
        "Want to wait until their youngest starts school",
        "Would like to come back to us next year",
        "Busy year at work; will get in touch again",
        "Caring for a parent at the moment",
    ],
    "circumstances_changed": [
        "New job with long hours",
        "Illness in the family",
        "Relationship has ended",
        "Expecting a baby",
        "Moving away from the area",
    ],
    "finances": [
        "Cannot manage on one income while fostering",
        "Worried the allowance would not cover giving up work",
    ],
    "space": [
        "No spare bedroom until their eldest leaves home",
        "Planning an extension first",
    ],
    "changed_mind": [
        "Decided fostering is not for them at the moment",
        "Would rather volunteer with children for now",
        "Thinking about adoption instead",
    ],
    "other_service": [
        "Chose an independent fostering agency",
        "Went to a neighbouring council",
    ],
    "family_not_supportive": ["Partner not ready", "Their own children are unsure"],
    "process_too_long": ["Assessment taking longer than they expected"],
    "other": ["Other reason given on the phone"],
    "checks": [
        "A reference raised concerns",
        "Medical advice against fostering at present",
        "DBS disclosure relevant to working with children",
    ],
    "suitability": [
        "Assessment found they could not meet a child's needs at present",
        "Panel did not recommend approval",
    ],
    "accommodation": [
        "No spare bedroom for a child",
        "Home safety concerns not resolved",
    ],
    "capacity": ["No assessing social worker free: referred to a partner agency"],
    "eligibility": ["Under 21", "No settled right to live in the UK yet"],
    "out_of_area": ["Lives outside the areas we serve: passed to their local fostering service"],
    "family_event": ["Bereavement in the family", "New baby due", "Illness in the family"],
    "house_move": ["Moving house; will carry on once settled"],
    "work": ["Busy period at work until the summer"],
    "applicant_request": ["Asked to pause for a few months"],
    "personal_circumstances": ["Relationship ended", "Moving abroad", "New caring duties"],
    "unhappy_with_support": [
        "Felt unsupported by the service",
        "No respite when it was needed",
    ],
    "special_guardianship": ["Special guardianship order granted for the child in placement"],
    "health": ["Health no longer allows fostering"],
    "burnout": ["Exhausted after a difficult placement; need a break from fostering"],
    "transfer": ["Transferred to an independent fostering agency"],
    "retirement": ["Retiring from fostering after many years"],
    "adoption": ["Adopting the child in placement"],
    "allegation": ["Approval ended after an allegation was investigated"],
}

# -- names, places and words --------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FEMALE_NAMES = _words(
    "Aisha Amelia Amy Anna Bethany Charlotte Chloe Claire Deborah Eleanor Elizabeth Emily Emma "
    "Esther Fatima Florence Gemma Grace Hannah Harriet Helen Imogen Isla Jade Jasmine Jennifer "
    "Jessica Joanne Julie Karen Katie Kirsty Laura Leah Lisa Louise Lucy Maria Megan Michelle "
    "Nadia Naomi Natalie Nicola Olivia Parveen Priya Rachel Rebecca Ruth Sadia Samantha Sarah "
    "Shabnam Sophie Stacey Susan Tanya Tracey Victoria Yasmin Zainab Zara Agnieszka Chipo Funmi "
    "Niamh Siobhan Gurpreet Mei Ayesha Kelly Donna Angela"
)
MALE_NAMES = _words(
    "Adam Ahmed Alan Andrew Anthony Ben Callum Chris Craig Daniel Darren David Dean Emeka "
    "Gareth Gary George Harry Imran Jack James Jamal Jason John Jonathan Kamal Kevin Lee Liam "
    "Mark Martin Matthew Michael Mohammed Neil Nathan Oliver Omar Patrick Paul Peter Rajesh "
    "Richard Robert Ryan Samuel Scott Simon Stephen Steven Stuart Thomas Tom Tony Usman Wayne "
    "William Yusuf Kwame Piotr Sean Rhys Dylan Tariq Arjun Wei Hamza Declan Marcus"
)
SURNAMES = _words(
    "Adams Ahmed Ali Allen Anderson Atkinson Bailey Baker Barker Begum Bell Bennett Brown "
    "Butler Campbell Carter Chapman Clarke Collins Cook Cooper Cox Davies Dixon Edwards Ellis "
    "Evans Fisher Fletcher Foster Gill Graham Green Hall Harris Harrison Hill Holmes Hughes "
    "Hussain Jackson James Johnson Jones Kaur Kelly Khan King Knight Lee Lewis Lloyd Marshall "
    "Martin Mason Mitchell Moore Morgan Morris Murphy Murray Nowak Okafor Owen Palmer Parker "
    "Patel Pearson Phillips Powell Price Rahman Reid Richards Richardson Roberts Robinson "
    "Rogers Rose Russell Scott Shah Sharma Shaw Simpson Singh Smith Stevens Stewart Taylor "
    "Thomas Thompson Turner Walker Ward Watson White Wilkinson Williams Wilson Wood Wright "
    "Young Mensah Kowalski Chen Nguyen Osei Adeyemi Iqbal Mahmood Doyle O'Brien"
)
STREETS = (
    "Mill Lane",
    "Church Street",
    "Station Road",
    "Victoria Road",
    "Park Avenue",
    "The Green",
    "Orchard Close",
    "Manor Way",
    "Queens Road",
    "Meadow Drive",
    "Chapel Street",
    "Willow Crescent",
    "School Lane",
    "Brook Street",
    "Hawthorn Road",
    "Elm Grove",
    "Canal Side",
    "Windsor Close",
)
INTERESTS = (
    "Interested in short breaks",
    "Would like to foster teenagers",
    "Thinking about fostering a sibling group",
    "Not sure yet which kind of fostering",
    "Interested in parent and child fostering",
    "Would like to know about the allowances",
    "Asked about fostering while working full time",
    "Interested in caring for disabled children",
    "Asked whether renting is a problem",
)
CONSENT_WORDING = {
    "store_details": "I agree to {service} keeping my details to help with my enquiry about "
    "fostering.",
    "email": "You may email me about fostering.",
    "phone": "You may phone me about fostering.",
    "sms": "You may send me text messages about fostering.",
    "telegram": "You may message me on Telegram about fostering.",
    "post": "You may send me information by post.",
}
VISIT_NOTES = (
    "Initial visit: spare room seen; keen on short-term fostering",
    "Initial visit: talked through the assessment; both applicants very motivated",
    "Initial visit: interested in teenagers; will think about an application",
    "Initial visit: asked about working while fostering",
    "Initial visit: own children at home and supportive",
    "Initial visit: renting; landlord's agreement needed",
)
CHECK_IN_COMMENTS = {
    "low": (
        "Still waiting for the respite I asked about",
        "Haven't seen my supervising social worker for weeks",
        "Finding the current placement really hard",
        "Nobody answers the out-of-hours line",
        "Feeling let down by the school meetings",
    ),
    "mid": (
        "Things are okay, busy month",
        "Training was useful",
        "Contact arrangements are tricky",
    ),
    "high": (
        "Really well supported this month",
        "The support group is brilliant",
        "Settling in well, thank you",
        "Our supervising social worker is great",
    ),
}

# -- results ------------------------------------------------------------------------------


@dataclass
class DemoSummary:
    """What `generate_demo_data` created and how long it took."""

    households: int
    seed: int
    as_of: date
    seconds: float
    rows: dict[str, int]
    reached: dict[str, int] = field(default_factory=dict)
    carers: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def describe(self) -> str:
        reached = self.reached
        lines = [
            f"Demo data: {self.households:,} household{'s' if self.households != 1 else ''} "
            f"(seed {self.seed}, histories up to "
            f"{self.as_of.isoformat()}) in {self.seconds:.1f} s "
            f"({self.total_rows:,} rows, {self.total_rows / max(self.seconds, 1e-9):,.0f}/s).",
            f"  {len(AREAS)} areas, {self.rows.get('staff_user', 0)} staff, "
            f"{self.rows.get('campaign', 0)} campaigns.",
            "  Reached: "
            + ", ".join(
                f"{stage.replace('_', ' ')} {reached.get(stage, 0):,}"
                for stage in ("initial_visit", "application", "approved")
            )
            + ".",
            "  Carers: "
            + (
                ", ".join(f"{status.replace('_', ' ')} {n:,}" for status, n in self.carers.items())
                or "none yet"
            )
            + ".",
            f"  Open: {self.current.get('open_tasks', 0):,} tasks, "
            f"{self.current.get('booked_appointments', 0):,} booked appointments.",
        ]
        return "\n".join(lines)


# -- helpers ------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _weighted(weights: dict[str, float]) -> tuple[list[str], list[float]]:
    keys = list(weights)
    total = 0.0
    cumulative = []
    for key in keys:
        total += weights[key]
        cumulative.append(total)
    return keys, cumulative


class _Choice:
    """A weighted choice prepared once (random.choices with cum_weights is the fast path)."""

    def __init__(self, weights: dict[Any, float]) -> None:
        self.keys, self.cumulative = _weighted(weights)

    def __call__(self, rng: random.Random) -> Any:
        return rng.choices(self.keys, cum_weights=self.cumulative)[0]


def _lognormal(rng: random.Random, spec: tuple[float, float, float, float]) -> float:
    median, sigma, low, high = spec
    return min(high, max(low, rng.lognormvariate(math.log(median), sigma)))


class _Calendar:
    """Local days, office times and working days, cached (the generator asks millions of
    times)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._working: dict[date, bool] = {}
        self._holiday: dict[date, bool] = {}

    def holiday(self, day: date) -> bool:
        known = self._holiday.get(day)
        if known is None:
            known = self._holiday[day] = is_bank_holiday(day)
        return known

    def working(self, day: date) -> bool:
        known = self._working.get(day)
        if known is None:
            known = self._working[day] = day.weekday() < 5 and not self.holiday(day)
        return known

    def next_working(self, day: date) -> date:
        """`day` itself if it is a working day, else the next one."""
        while not self.working(day):
            day += timedelta(days=1)
        return day

    def add_working(self, day: date, days: int) -> date:
        for _ in range(days):
            day += timedelta(days=1)
            while not self.working(day):
                day += timedelta(days=1)
        return day

    def at(self, day: date, minutes: int) -> datetime:
        """A local time on `day` (minutes after midnight), as aware UTC."""
        hours, minute = divmod(minutes, 60)
        return datetime(day.year, day.month, day.day, hours, minute, tzinfo=self.tz).astimezone(UTC)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def office_moment(
        self, day: date, rng: random.Random, after: datetime | None = None
    ) -> datetime:
        """A time in office hours on the first working day from `day`, later than `after`."""
        day = self.next_working(day)
        while True:
            moment = self.at(day, rng.randint(9 * 60 + 5, 16 * 60 + 55))
            if after is None or moment > after:
                return moment
            # Later the same day if there is room, otherwise the next working day.
            latest = self.at(day, 17 * 60 + 30)
            if after < latest - timedelta(minutes=10):
                span = int((latest - after).total_seconds() // 60)
                return after + timedelta(minutes=rng.randint(5, max(5, span - 5)))
            day = self.add_working(day, 1)

    def later(self, moment: datetime, days: float, rng: random.Random) -> datetime:
        """Office time about `days` after `moment` (always strictly later)."""
        day = self.local_date(moment) + timedelta(days=int(round(days)))
        return self.office_moment(day, rng, after=moment)


@dataclass(frozen=True)
class _Window:
    weekday: int
    start: time
    end: time
    minutes: int


class _SlotBook:
    """Staff slots, computed exactly as crm.services.appointments.free_slots does (weekly
    windows, exceptions, bank holidays), and which are taken, so no slot is booked twice."""

    def __init__(self, calendar: _Calendar) -> None:
        self.calendar = calendar
        self.windows: dict[int, list[_Window]] = defaultdict(list)
        self.exceptions: dict[int, dict[date, list[tuple]]] = defaultdict(dict)
        self.taken: dict[int, set[datetime]] = defaultdict(set)
        self._cache: dict[tuple[int, date], list[tuple[datetime, datetime]]] = {}

    def slots(self, staff_id: int, day: date) -> list[tuple[datetime, datetime]]:
        key = (staff_id, day)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if self.calendar.holiday(day):
            windows: list[tuple[time, time, int]] = []
        else:
            windows = [
                (w.start, w.end, w.minutes)
                for w in self.windows.get(staff_id, ())
                if w.weekday == day.weekday()
            ]
        for available, start, end in self.exceptions.get(staff_id, {}).get(day, ()):
            if available and start and end:
                windows.append((start, end, 90))
            elif not available:
                if start is None or end is None:
                    windows = []
                    break
                windows = [w for w in windows if w[1] <= start or w[0] >= end]
        result = []
        tz = self.calendar.tz
        for start, end, minutes in windows:
            cursor = datetime.combine(day, start, tz)
            window_end = datetime.combine(day, end, tz)
            step = timedelta(minutes=minutes)
            while cursor + step <= window_end:
                result.append((cursor.astimezone(UTC), (cursor + step).astimezone(UTC)))
                cursor += step
        result.sort()
        self._cache[key] = result
        return result

    def take(
        self,
        staff_ids: Sequence[int],
        earliest: datetime,
        rng: random.Random,
        days: int = 45,
        before: datetime | None = None,
    ) -> tuple[int, datetime, datetime] | None:
        """The first day from `earliest` with a free slot for one of `staff_ids` (in order of
        preference); one of that day's free slots, taken. None when nothing is free."""
        day = self.calendar.local_date(earliest)
        for _ in range(days + 1):
            for staff_id in staff_ids:
                taken = self.taken[staff_id]
                free = [
                    slot
                    for slot in self.slots(staff_id, day)
                    if slot[0] >= earliest
                    and slot[0] not in taken
                    and (before is None or slot[0] < before)
                ]
                if free:
                    start, end = free[0] if len(free) == 1 else rng.choice(free)
                    taken.add(start)
                    return staff_id, start, end
            day += timedelta(days=1)
        return None


class _Ids:
    """Primary keys handed out here, after whatever the database already holds."""

    def __init__(self, connection: sa.Connection, tables: Sequence[sa.Table]) -> None:
        self.tables = list(tables)
        self._next: dict[str, int] = {}
        for table in tables:
            current = connection.execute(sa.select(sa.func.max(table.c.id))).scalar()
            self._next[table.name] = (current or 0) + 1

    def take(self, table: str) -> int:
        value = self._next[table]
        self._next[table] = value + 1
        return value


# Tables in foreign-key order, and the defaults each row starts from (Core inserts skip the
# models' Python defaults, so every column is given explicitly).
_ROW_TABLES: list[tuple[type[SQLModel], dict[str, Any]]] = [
    (Household, {"is_kinship": False}),
    (Applicant, {}),
    (Consent, {"granted": True}),
    (StageEvent, {}),
    (Carer, {"at_risk": False}),
    (Placement, {}),
    (TelegramChatLink, {}),
    (Task, {"priority": "normal"}),
    (OutboxMessage, {"attempts": 0}),
    (CheckIn, {"wants_call": False}),
    (Activity, {}),
    (Appointment, {}),
]


class _Rows:
    """Buffered rows per table, flushed to the database in foreign-key order."""

    def __init__(self) -> None:
        self.templates: dict[str, dict[str, Any]] = {}
        self.tables: list[sa.Table] = []
        for model, defaults in _ROW_TABLES:
            table = model.__table__
            template = dict.fromkeys(table.c.keys())
            template.update(defaults)
            self.templates[table.name] = template
            self.tables.append(table)
        self.buffer: dict[str, list[dict[str, Any]]] = {t.name: [] for t in self.tables}
        self.counts: Counter[str] = Counter()

    def add(self, table: str, **values: Any) -> dict[str, Any]:
        row = self.templates[table].copy()
        row.update(values)
        self.buffer[table].append(row)
        return row

    def flush(self, connection: sa.Connection) -> None:
        postgres = connection.dialect.name == "postgresql"
        for table in self.tables:
            rows = self.buffer[table.name]
            if rows:
                if postgres:
                    _copy(connection, table, rows)
                else:
                    connection.execute(table.insert(), rows)
                self.counts[table.name] += len(rows)
                rows.clear()


def _copy(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's bulk path: COPY through psycopg, in the connection's transaction (several
    times faster than executemany, which sends one statement per row)."""
    if not connection.in_transaction():
        connection.begin()  # so that connection.commit() commits what COPY wrote
    columns = list(table.c.keys())
    json_columns = {c.key for c in table.c if isinstance(c.type, sa.JSON)}
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        if json_columns:
            for row in rows:
                copy.write_row(
                    [
                        json.dumps(row[c]) if c in json_columns and row[c] is not None else row[c]
                        for c in columns
                    ]
                )
        else:
            for row in rows:
                copy.write_row([row[c] for c in columns])


@dataclass
class _AreaInfo:
    id: int
    spec: _AreaSpec
    districts: list[str]
    officers: list[int] = field(default_factory=list)
    assessors: list[int] = field(default_factory=list)
    supervisors: list[int] = field(default_factory=list)
    manager: int | None = None


@dataclass
class _CampaignInfo:
    id: int
    source: str
    starts: datetime
    ends: datetime
    take_up: float


@dataclass
class _HouseholdPlan:
    id: int
    area: _AreaInfo | None
    officer: int | None
    kinship: bool
    source: str
    enquired_at: datetime
    channel: str
    first_name: str
    greeting: str  # "Sam and Alex", as check-in messages greet them
    emails: list[str]
    address: str
    telegram_chat: str | None
    consented: set[str] = field(default_factory=set)
    row: dict[str, Any] = field(default_factory=dict)  # the household row, until flushed


# How often a household's source leads to a campaign, when one for that source is running.
CAMPAIGN_TAKE_UP = {
    "social_media": 0.55,
    "print_poster": 0.6,
    "event": 0.7,
    "radio_tv": 0.8,
    "web_search": 0.3,
    "refer_a_friend": 0.9,
}
# (name, source, first day (month, day), last day, cost range in pounds)
CAMPAIGN_TEMPLATES = (
    ("New year, new start: foster ({year})", "social_media", (1, 2), (2, 28), (4000, 8000)),
    ("Bus stop posters, spring {year}", "print_poster", (3, 1), (4, 30), (6000, 9000)),
    ("Foster Care Fortnight {year} roadshows", "event", (5, 10), (6, 10), (3000, 6000)),
    ("Teenagers need you ({year})", "social_media", (9, 1), (10, 31), (5000, 9000)),
    ("Local radio, autumn {year}", "radio_tv", (10, 1), (11, 30), (9000, 15000)),
    ("Search advertising {year}", "web_search", (1, 1), (12, 31), (12000, 20000)),
    ("Refer a friend {year}", "refer_a_friend", (1, 1), (12, 31), (2000, 5000)),
)
# Seasonality of enquiries by month (January resolutions, Foster Care Fortnight in May, quiet
# in August and December).
MONTH_WEIGHT = (1.3, 1.1, 1.05, 1.0, 1.25, 1.0, 0.85, 0.75, 1.05, 1.0, 0.95, 0.65)
# Web enquiries by local hour: evenings on a phone, as DOMAIN.md says.
HOUR_WEIGHT = (
    0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 1.2, 1.5, 1.5, 1.5,
    1.6, 1.5, 1.4, 1.4, 1.3, 1.3, 1.6, 2.0, 2.3, 2.1, 1.5, 0.7,
)  # fmt: skip
CHANNELS = {"web_form": 0.58, "staff": 0.27, "webchat": 0.08, "telegram": 0.04, "import": 0.03}


def _calibration() -> dict[str, float]:
    """Solve the pass rates that give the national shape, from the mix of households.

    Households come as triage (never visited), kinship (their own pathway, above) or regular.
    For regular ones the chance of a visit is base x source multiplier x response multiplier;
    the later steps are plain rates. Solved so that the whole cohort hits the targets.
    """
    weights = {k: w for k, (w, _) in SOURCES.items()}
    total = sum(weights.values())
    kinship_share = (1 - TRIAGE_SHARE) * weights[KINSHIP_SOURCE] / total
    regular_share = (1 - TRIAGE_SHARE) - kinship_share
    regular_total = total - weights[KINSHIP_SOURCE]
    source_mean = (
        sum(w * SOURCES[k][1] for k, w in weights.items() if k != KINSHIP_SOURCE) / regular_total
    )
    response_mean = sum(p * m for _, p, m in RESPONSE_DELAYS)

    k = KINSHIP_PASS
    kin_stage_one = (
        KINSHIP_VISIT * k["visit_to_iv"] * k["iv_to_stage_one"]
        + (1 - KINSHIP_VISIT) * (k["enquiry_to_stage_one"])
    )
    kin_visit = KINSHIP_VISIT * k["visit_to_iv"] + (1 - KINSHIP_VISIT) * k["enquiry_to_stage_one"]
    kin_approved = kin_stage_one * k["stage_one"] * k["stage_two"] * k["panel"]

    regular_visit = (TARGET_INITIAL_VISIT - kinship_share * kin_visit) / regular_share
    regular_apply = (TARGET_APPLICATION - kinship_share * kin_stage_one) / regular_share
    regular_approved = (TARGET_APPROVED - kinship_share * kin_approved) / regular_share
    approved_of_applied = regular_approved / regular_apply
    return {
        "visit_base": regular_visit / (source_mean * response_mean),
        "apply_after_visit": regular_apply / regular_visit,
        "stage_two_pass": approved_of_applied / (APPLICATION_PASS * STAGE_ONE_PASS * PANEL_PASS),
    }


CALIBRATION = _calibration()


def _due_rule(kinship: bool) -> tuple[relativedelta, relativedelta]:
    """The pipeline's rule for a new carer's annual review and TSD dates, as offsets from
    approval (building a record per carer costs more than all the rest of the carer)."""
    approved_on = date(2001, 1, 15)
    record = new_carer_record(Household(id=0, is_kinship=kinship), approved_on)
    return (
        relativedelta(record.annual_review_due, approved_on),
        relativedelta(record.tsd_due, approved_on),
    )


# -- the generator ------------------------------------------------------------------------


class _Generator:
    def __init__(
        self,
        connection: sa.Connection,
        settings: Settings,
        households: int,
        seed: int,
        as_of: date,
        sources: set[str],
        reasons: dict[str, set[str]],
    ) -> None:
        self.connection = connection
        self.settings = settings
        self.n = households
        self.seed = seed
        self.as_of = as_of
        self.calendar = _Calendar(settings.tz)
        # The histories run up to the start of `as_of` (local): nothing happens on or after it
        # except what is booked for the future.
        self.cutoff = self.calendar.at(as_of, 0)
        self.tomorrow = self.calendar.at(as_of + timedelta(days=1), 0)
        self.first_day = as_of - timedelta(days=HISTORY_DAYS)
        self.book = _SlotBook(self.calendar)
        self.rows = _Rows()
        organisation = [Hub, Area, StaffUser, Campaign, AvailabilityPattern, AvailabilityException]
        self.ids = _Ids(
            connection, self.rows.tables + [m.__table__ for m in organisation + [AuditEvent]]
        )
        # Separate streams, so a change in one part leaves the others' data as it was.
        self.rng_org = random.Random(f"{seed}:organisation")
        self.rng = random.Random(f"{seed}:households")
        self.rng_carers = random.Random(f"{seed}:carers")
        self.reasons = reasons
        self.sources = sources
        self.service_name = settings.service.name
        self.areas: list[_AreaInfo] = []
        self.hub_manager: int | None = None
        self.reference_key = int.from_bytes(hashlib.sha256(f"{seed}".encode()).digest()[:5])
        self.approved_pool: list[tuple[datetime, int]] = []
        self.referrers: list[int] = []
        self.reached: Counter[str] = Counter()
        self.carer_status: Counter[str] = Counter()
        self.current: Counter[str] = Counter()
        self._existing_references: set[str] = set(
            connection.execute(sa.select(Household.__table__.c.reference)).scalars()
        )
        self._reason_choices = self._prepare_reasons()
        source_weights = {k: w for k, (w, _) in SOURCES.items() if k in sources}
        if not source_weights:
            source_weights = dict.fromkeys(sorted(sources), 1.0)
        self.choose_source = _Choice(source_weights)
        self.choose_on_hold = self._reason_choice("on_hold", ON_HOLD_REASONS)
        self.choose_dereg = self._reason_choice("deregistered", DEREGISTRATION_REASONS)
        self.choose_response = _Choice({i: p for i, (_, p, _) in enumerate(RESPONSE_DELAYS)})
        self.due_rules = {kinship: _due_rule(kinship) for kinship in (False, True)}

    # -- reasons --------------------------------------------------------------------------

    def _reason_choice(self, kind: str, weights: dict[str, float]) -> _Choice:
        """Weights for the codes this database's list has (an admin may have edited it)."""
        known = self.reasons.get(kind, set())
        usable = {code: w for code, w in weights.items() if code in known}
        if not usable:
            if not known:
                raise InvalidInput(
                    f"The {kind.replace('_', ' ')} reasons list is empty: demo histories need "
                    "it (run `fostercrm db upgrade` to load the default lists)",
                    "reasons",
                )
            usable = dict.fromkeys(sorted(known), 1.0)
        return _Choice(usable)

    def _prepare_reasons(self) -> dict[tuple[str, str], _Choice]:
        choices = {}
        for stage, weights in WITHDRAWN_REASONS.items():
            choices[("withdrawn", stage)] = self._reason_choice("withdrawn", weights)
        for stage, weights in NOT_PROGRESSED_REASONS.items():
            choices[("not_progressed", stage)] = self._reason_choice("not_progressed", weights)
        return choices

    def reason_text(self, code: str, rng: random.Random) -> str | None:
        texts = REASON_TEXTS.get(code)
        return rng.choice(texts) if texts else None

    # -- organisation ---------------------------------------------------------------------

    def build_organisation(self, taken_districts: set[str]) -> list[_AreaInfo]:
        rng = self.rng_org
        start = self.calendar.at(self.first_day - timedelta(days=60), 9 * 60)
        conn = self.connection
        hub_id = self.ids.take("hub")
        conn.execute(
            Hub.__table__.insert(), [{"id": hub_id, "name": DEMO_HUB_NAME, "created_at": start}]
        )
        areas: list[_AreaInfo] = []
        for spec in AREAS:
            area_id = self.ids.take("area")
            conn.execute(
                Area.__table__.insert(),
                [
                    {
                        "id": area_id,
                        "hub_id": hub_id,
                        "name": spec.name,
                        "childrens_services_phone": spec.phone,
                        "active": True,
                        "created_at": start,
                    }
                ],
            )
            districts = [d for d in spec.districts if d not in taken_districts]
            if not districts:
                raise InvalidInput(
                    f"Every postcode district of the demo area {spec.name} already belongs to "
                    "an area: use an empty database for demo data",
                    "districts",
                )
            conn.execute(
                AreaPostcodeDistrict.__table__.insert(),
                [{"district": d, "area_id": area_id} for d in districts],
            )
            areas.append(_AreaInfo(area_id, spec, districts))
        self.areas = areas
        self.triage_districts = [d for d in TRIAGE_DISTRICTS if d not in taken_districts]
        self._build_staff(areas, start, rng)
        self._build_campaigns()
        return areas

    def _staff_counts(self, area: _AreaInfo) -> tuple[int, int, int]:
        expected = self.n * (1 - TRIAGE_SHARE) * area.spec.share
        # Enough people that a demo at any size has free slots in the coming weeks: about one
        # recruitment officer per 4,000 enquiries over three years, and so on.
        officers = min(40, max(3, math.ceil(expected / 4000)))
        assessors = min(60, max(2, math.ceil(expected / 1500)))
        supervisors = min(60, max(2, math.ceil(expected / 1200)))
        return officers, assessors, supervisors

    def _build_staff(self, areas: list[_AreaInfo], start: datetime, rng: random.Random) -> None:
        # One hash for everyone (argon2 is slow on purpose), salted from the seed so the rows
        # are reproducible. The password is published, so a known salt gives nothing away.
        salt = hashlib.sha256(f"fostercrm-demo:{self.seed}".encode()).digest()[:16]
        password_hash = PasswordHasher().hash(DEMO_PASSWORD, salt=salt)
        staff_rows: list[dict[str, Any]] = []
        staff_areas: list[dict[str, Any]] = []
        patterns: list[dict[str, Any]] = []
        exceptions: list[dict[str, Any]] = []
        used_emails = set(self.connection.execute(sa.select(StaffUser.__table__.c.email)).scalars())
        names_used: set[str] = set()

        def person() -> str:
            while True:
                first = rng.choice(FEMALE_NAMES if rng.random() < 0.75 else MALE_NAMES)
                name = f"{first} {rng.choice(SURNAMES)}"
                if name not in names_used:
                    names_used.add(name)
                    return name

        def add(role: str, area_ids: list[int], email: str | None = None) -> int:
            staff_id = self.ids.take("staff_user")
            name = person()
            if email is None:
                first, last = name.split(" ", 1)
                base = f"{_ascii(first)}.{_ascii(last)}"
                email, n = f"{base}@example.org", 1
                while email in used_emails:
                    n += 1
                    email = f"{base}{n}@example.org"
            used_emails.add(email)
            staff_rows.append(
                {
                    "id": staff_id,
                    "email": email,
                    "name": name,
                    "role": role,
                    "password_hash": password_hash,
                    "active": True,
                    "last_sign_in_at": None,
                    "created_at": start,
                }
            )
            for area_id in area_ids:
                staff_areas.append({"staff_id": staff_id, "area_id": area_id})
            return staff_id

        logins = dict(DEMO_LOGINS)
        assert len(logins) == len(DEMO_LOGINS)
        emails = list(logins)
        add("admin", [], emails[0])
        self.hub_manager = add("manager", [a.id for a in areas], emails[1])
        for index, area in enumerate(areas):
            officers, assessors, supervisors = self._staff_counts(area)
            first_area = index == 0
            area.officers.append(add("recruitment_officer", [area.id], emails[2 + index]))
            area.officers += [add("recruitment_officer", [area.id]) for _ in range(officers - 1)]
            area.assessors.append(
                add("assessing_social_worker", [area.id], emails[5] if first_area else None)
            )
            area.assessors += [
                add("assessing_social_worker", [area.id]) for _ in range(assessors - 1)
            ]
            area.supervisors.append(
                add("supervising_social_worker", [area.id], emails[6] if first_area else None)
            )
            area.supervisors += [
                add("supervising_social_worker", [area.id]) for _ in range(supervisors - 1)
            ]
            area.manager = add("manager", [area.id])

        for area in areas:
            for staff_id in area.officers:
                self._pattern(patterns, staff_id, (9, 30), (15, 30), 90, rng, evening=True)
            for staff_id in area.assessors:
                self._pattern(patterns, staff_id, (9, 30), (15, 30), 120, rng, evening=False)
            for staff_id in area.supervisors:
                self._pattern(patterns, staff_id, (9, 0), (16, 30), 90, rng, evening=False)
            for staff_id in area.officers + area.assessors + area.supervisors:
                self._leave(exceptions, staff_id, rng, officer=staff_id in area.officers)

        conn = self.connection
        conn.execute(StaffUser.__table__.insert(), staff_rows)
        conn.execute(StaffArea.__table__.insert(), staff_areas)
        conn.execute(AvailabilityPattern.__table__.insert(), patterns)
        if exceptions:
            conn.execute(AvailabilityException.__table__.insert(), exceptions)
        self.staff_count = len(staff_rows)
        self.extra_counts = Counter(
            {
                "staff_user": len(staff_rows),
                "staff_area": len(staff_areas),
                "availability_pattern": len(patterns),
                "availability_exception": len(exceptions),
            }
        )

    def _pattern(
        self,
        rows: list[dict[str, Any]],
        staff_id: int,
        start: tuple[int, int],
        end: tuple[int, int],
        minutes: int,
        rng: random.Random,
        evening: bool,
    ) -> None:
        weekdays = list(range(5))
        if rng.random() < 0.25:  # part time: four days a week
            weekdays.remove(rng.randrange(5))
        windows = [(day, time(*start), time(*end)) for day in weekdays]
        # Some officers visit after work, when most applicants are home.
        if evening and rng.random() < 0.35:
            windows.append((rng.choice([1, 2, 3]), time(17, 0), time(20, 0)))
        for weekday, window_start, window_end in windows:
            rows.append(
                {
                    "id": self.ids.take("availability_pattern"),
                    "staff_id": staff_id,
                    "weekday": weekday,
                    "start_time": window_start,
                    "end_time": window_end,
                    "slot_minutes": minutes,
                    "valid_from": None,
                    "valid_until": None,
                }
            )
            self.book.windows[staff_id].append(_Window(weekday, window_start, window_end, minutes))

    def _leave(
        self, rows: list[dict[str, Any]], staff_id: int, rng: random.Random, officer: bool
    ) -> None:
        """Leave and training in the coming six weeks; some officers add a Saturday morning."""
        entries: list[tuple[date, time | None, time | None, bool, str]] = []
        if rng.random() < 0.3:
            day = self.calendar.add_working(self.as_of, rng.randint(1, 28))
            for _ in range(rng.randint(1, 5)):
                entries.append((day, None, None, False, "Annual leave"))
                day = self.calendar.add_working(day, 1)
        if rng.random() < 0.15:
            day = self.calendar.add_working(self.as_of, rng.randint(1, 28))
            entries.append((day, time(9, 0), time(12, 30), False, "Training"))
        if officer and rng.random() < 0.1:
            day = self.as_of + timedelta(days=(5 - self.as_of.weekday()) % 7 + 7)
            entries.append((day, time(10, 0), time(13, 0), True, "Saturday information morning"))
        seen: set[date] = set()
        for day, start, end, available, note in entries:
            if day in seen:  # one change a day keeps the picture simple
                continue
            seen.add(day)
            rows.append(
                {
                    "id": self.ids.take("availability_exception"),
                    "staff_id": staff_id,
                    "on_date": day,
                    "start_time": start,
                    "end_time": end,
                    "available": available,
                    "note": note,
                }
            )
            self.book.exceptions[staff_id].setdefault(day, []).append((available, start, end))

    def _build_campaigns(self) -> None:
        rng = self.rng_org
        rows = []
        self.campaigns: dict[str, list[_CampaignInfo]] = defaultdict(list)
        existing = set(self.connection.execute(sa.select(Campaign.__table__.c.name)).scalars())
        for year in range(self.first_day.year, self.as_of.year + 1):
            for name, source, (m1, d1), (m2, d2), (low, high) in CAMPAIGN_TEMPLATES:
                first, last = date(year, m1, d1), date(year, m2, d2)
                name = name.format(year=year)
                if last < self.first_day or first >= self.as_of or source not in self.sources:
                    continue
                if name in existing:
                    continue
                starts = self.calendar.at(first, 0)
                ends = self.calendar.at(last, 23 * 60 + 59)
                campaign_id = self.ids.take("campaign")
                rows.append(
                    {
                        "id": campaign_id,
                        "name": name,
                        "source_key": source,
                        "starts_on": starts,
                        "ends_on": ends,
                        "cost_pence": rng.randrange(low, high, 250) * 100,
                        "active": ends >= self.cutoff,
                    }
                )
                self.campaigns[source].append(
                    _CampaignInfo(campaign_id, source, starts, ends, CAMPAIGN_TAKE_UP[source])
                )
        if rows:
            self.connection.execute(Campaign.__table__.insert(), rows)
        self.extra_counts["campaign"] = len(rows)

    # -- enquiries ------------------------------------------------------------------------

    def enquiry_times(self) -> list[tuple[datetime, str]]:
        """When each household enquired, and through which door, oldest first."""
        rng = self.rng
        days = [self.first_day + timedelta(days=i) for i in range(HISTORY_DAYS)]
        cumulative = []
        total = 0.0
        for i, day in enumerate(days):
            weight = MONTH_WEIGHT[day.month - 1] * (1 + 0.15 * i / HISTORY_DAYS)
            if day.weekday() == 5:
                weight *= 0.6
            elif day.weekday() == 6:
                weight *= 0.7
            elif not self.calendar.working(day):
                weight *= 0.5
            total += weight
            cumulative.append(total)
        chosen = rng.choices(days, cum_weights=cumulative, k=self.n)
        hours = list(range(24))
        hour_cumulative = list(_weighted(dict(zip(hours, HOUR_WEIGHT, strict=True)))[1])
        all_channels = _Choice(CHANNELS)
        no_staff = _Choice({k: w for k, w in CHANNELS.items() if k != "staff"})
        result = []
        for day in chosen:
            working = self.calendar.working(day)
            channel = all_channels(rng) if working else no_staff(rng)
            if channel == "staff":
                minutes = rng.randint(9 * 60 + 5, 16 * 60 + 55)
            else:
                hour = rng.choices(hours, cum_weights=hour_cumulative)[0]
                minutes = hour * 60 + rng.randrange(60)
            result.append((self.calendar.at(day, minutes), channel))
        result.sort()
        return result

    def reference(self, household_id: int) -> str:
        # A bijection of the id on 40 bits (odd multiplier), so references look random, never
        # repeat, and need no lookups.
        value = ((household_id + self.reference_key) * 0x9E3779B97F4A7C15) % (1 << 40)
        code = "".join(REFERENCE_ALPHABET[(value >> (5 * i)) & 31] for i in range(8))
        reference = f"FC-{code[:4]}-{code[4:]}"
        if reference in self._existing_references:
            reference += f"-{household_id}"
        return reference

    def household(self, household_id: int, enquired_at: datetime, channel: str) -> None:
        rng = self.rng
        cal = self.calendar
        triage = rng.random() < TRIAGE_SHARE and bool(self.triage_districts)
        if triage:
            area = None
            source = self.choose_source(rng)
            while source == KINSHIP_SOURCE:
                source = self.choose_source(rng)
            district = rng.choice(self.triage_districts)
            town = TRIAGE_TOWNS[TRIAGE_DISTRICTS.index(district)]
        else:
            area = self._choose_area(rng)
            source = "event" if channel == "import" and rng.random() < 0.8 else None
            source = source if source in self.sources else self.choose_source(rng)
            district = rng.choice(area.districts)
            town = rng.choice(area.spec.towns)
        kinship = source == KINSHIP_SOURCE
        postcode = (
            f"{district} {rng.randrange(10)}"
            f"{rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}"
        )
        address = f"{rng.randint(1, 180)} {rng.choice(STREETS)}"
        officer = rng.choice(area.officers) if area else None

        # Applicants: one or two, made up, with Ofcom drama-range phone numbers.
        applicants = self._applicants(household_id, enquired_at, rng)
        first = applicants[0]
        telegram_chat = str(600_000_000 + household_id) if channel == "telegram" else None
        plan = _HouseholdPlan(
            household_id,
            area,
            officer,
            kinship,
            source,
            enquired_at,
            channel,
            first["first_name"],
            " and ".join(a["first_name"] for a in applicants),
            [a["email"] for a in applicants if a["email"]],
            f"{address}, {town}",
            telegram_chat,
        )

        campaign_id = None
        for campaign in self.campaigns.get(source, ()):
            if campaign.starts <= enquired_at <= campaign.ends and rng.random() < campaign.take_up:
                campaign_id = campaign.id
                break
        referrer_id = referrer_name = None
        if source in ("refer_a_friend", "existing_carer"):
            pool = self._referrers_before(enquired_at)
            if pool and (source == "refer_a_friend" or rng.random() < 0.5):
                referrer_id = rng.choice(pool)
            elif source == "refer_a_friend":
                referrer_name = f"{rng.choice(FEMALE_NAMES + MALE_NAMES)} {rng.choice(SURNAMES)}"

        staff_actor = officer or (self.areas[0].officers[0] if channel == "staff" else None)
        actor_id, actor_label = self._door_actor(channel, staff_actor)
        consents = self._consents(household_id, applicants, channel, enquired_at, actor_id, rng)
        preferred = self._preferred(consents, rng)
        for consent in consents:  # the latest row per scope is what they agree to now
            if consent["granted"]:
                plan.consented.add(consent["scope"])
            else:
                plan.consented.discard(consent["scope"])

        # First contact, in working days; some late, a few never reached.
        delay_index = self.choose_response(rng)
        delay, _, response_multiplier = RESPONSE_DELAYS[delay_index]
        attempts: list[datetime] = []
        first_contact: datetime | None = None
        local = enquired_at.astimezone(cal.tz)
        start_day = local.date()
        if delay is not None:
            if delay == 5:
                delay = rng.randint(4, 8)
            # After 16:30 or on a day off, the "same day" is the next working day.
            if not cal.working(start_day) or local.hour * 60 + local.minute > 16 * 60 + 30:
                start_day = cal.next_working(start_day + timedelta(days=1))
            day = cal.add_working(start_day, delay)
            if rng.random() < 0.2:  # a first call that went unanswered
                attempts.append(cal.office_moment(start_day, rng, after=enquired_at))
            after = attempts[-1] if attempts else enquired_at
            first_contact = cal.office_moment(day, rng, after=after)
        else:
            attempts.append(cal.office_moment(start_day, rng, after=enquired_at))
            later_day = cal.add_working(cal.local_date(attempts[0]), 2)
            attempts.append(cal.office_moment(later_day, rng, after=attempts[0]))
        by_email = first_contact is not None and rng.random() < 0.2

        events: list[tuple] = [("enquiry", enquired_at, actor_id, actor_label, None, None)]
        appointments: list[dict[str, Any]] = []
        if triage:
            self._triage_history(events, first_contact, attempts, district, rng)
        elif first_contact is None:
            close = cal.later(attempts[-1], rng.randint(7, 14), rng)
            events.append(self._leave_event("withdrawn", officer, close, "no_response", rng))
        elif kinship:
            self._kinship_history(plan, events, appointments, first_contact, rng)
        else:
            self._regular_history(
                plan, events, appointments, first_contact, response_multiplier, rng
            )

        # Everything up to the start of `as_of` happened; the rest has not happened yet.
        cutoff = self.cutoff
        history = [e for e in events if e[1] < cutoff]
        if first_contact is not None and first_contact >= cutoff:
            first_contact = None
        attempts = [a for a in attempts if a < cutoff]

        hold_from = None
        previous = None
        for to_stage, at, event_actor, label, code, text in history:
            self.rows.add(
                "stage_event",
                id=self.ids.take("stage_event"),
                household_id=household_id,
                from_stage=previous,
                to_stage=to_stage,
                occurred_at=at,
                actor_id=event_actor,
                actor_label=label,
                reason_code=code,
                reason_text=text,
                recorded_at=at,
            )
            # As move_stage keeps it: where a pause started, until the household moves on.
            if to_stage == "on_hold":
                hold_from = previous
            elif previous == "on_hold" and to_stage not in ("withdrawn", "not_progressed"):
                hold_from = None
            previous = to_stage
        last_stage, last_at = history[-1][0], history[-1][1]
        self._count_reached(history, kinship)

        plan.row = self.rows.add(
            "household",
            id=household_id,
            reference=self.reference(household_id),
            area_id=area.id if area else None,
            address_line_1=address,
            address_line_2=None,
            town=town,
            postcode=postcode,
            preferred_channel=preferred,
            enquiry_channel=channel,
            source_key=source,
            campaign_id=campaign_id,
            referrer_household_id=referrer_id,
            referrer_name=referrer_name,
            interests=rng.choice(INTERESTS) if rng.random() < 0.5 else None,
            is_kinship=kinship,
            assigned_officer_id=officer,
            stage=last_stage,
            stage_entered_at=last_at,
            held_from_stage=hold_from,
            enquired_at=enquired_at,
            first_contact_at=first_contact,
            anonymised_at=None,
            created_at=enquired_at,
            updated_at=max(last_at, first_contact or last_at),
        )
        for applicant in applicants:
            self.rows.add("applicant", id=self.ids.take("applicant"), **applicant)
        for consent in consents:
            self.rows.add("consent", **consent)
        if telegram_chat is not None:
            self.rows.add(
                "telegram_chat_link",
                id=self.ids.take("telegram_chat_link"),
                chat_id=telegram_chat,
                household_id=household_id,
                carer_id=None,
                linked_at=enquired_at,
                opted_out_at=None,
            )
        for appointment in appointments:
            if appointment["status"] == "booked":
                # Only households still waiting for their visit, and already spoken to, have one.
                if last_stage != "enquiry" or first_contact is None:
                    continue
                self.current["booked_appointments"] += 1
            self.rows.add("appointment", **appointment)

        self._timeline(plan, history, attempts, first_contact, by_email, rng)
        self._response_tasks(plan, history, attempts, first_contact, rng)
        self._open_work(plan, last_stage, rng)

        approval = next((e for e in history if e[0] == "approved"), None)
        if approval is not None:
            self._carer(plan, approval[1], history)

    def _choose_area(self, rng: random.Random) -> _AreaInfo:
        roll = rng.random() * sum(a.spec.share for a in self.areas)
        for area in self.areas:
            roll -= area.spec.share
            if roll < 0:
                return area
        return self.areas[-1]

    def _referrers_before(self, moment: datetime) -> list[int]:
        pool = self.approved_pool
        while pool and pool[0][0] < moment:
            self.referrers.append(heapq.heappop(pool)[1])
        return self.referrers

    def _door_actor(self, channel: str, staff_id: int | None) -> tuple[int | None, str]:
        if channel == "staff" and staff_id is not None:
            return staff_id, f"staff:{staff_id}"
        return None, {
            "web_form": "public web form",
            "webchat": "assistant:webchat",
            "telegram": "assistant:telegram",
            "import": "import",
        }[channel]

    def _applicants(
        self, household_id: int, enquired_at: datetime, rng: random.Random
    ) -> list[dict[str, Any]]:
        two = rng.random() < 0.55
        if two:
            roll = rng.random()
            genders = ["f", "m"] if roll < 0.92 else (["f", "f"] if roll < 0.96 else ["m", "m"])
        else:
            genders = ["f"] if rng.random() < 0.75 else ["m"]
        surname = rng.choice(SURNAMES)
        people = []
        for position, gender in enumerate(genders, start=1):
            first = rng.choice(FEMALE_NAMES if gender == "f" else MALE_NAMES)
            last = surname if position == 1 or rng.random() < 0.7 else rng.choice(SURNAMES)
            age = rng.triangular(23, 66, 42)
            dob = None
            if rng.random() < 0.85:
                dob = enquired_at.date() - timedelta(days=int(age * 365.25))
            lead = position == 1
            email = phone = None
            if rng.random() < (0.92 if lead else 0.6):
                domain = "example.com" if rng.random() < 0.6 else "example.org"
                email = f"{_ascii(first)}.{_ascii(last)}{household_id}"
                email += f"{position}@{domain}" if position == 2 else f"@{domain}"
            if rng.random() < (0.85 if lead else 0.5) or (lead and email is None):
                if rng.random() < 0.8:
                    phone = f"+447700900{rng.randrange(1000):03d}"
                else:
                    phone = f"+441632960{rng.randrange(1000):03d}"
            people.append(
                {
                    "household_id": household_id,
                    "position": position,
                    "first_name": first,
                    "last_name": last,
                    "date_of_birth": dob,
                    "phone": phone,
                    "email": email,
                    "created_at": enquired_at,
                }
            )
        return people

    def _consents(
        self,
        household_id: int,
        applicants: list[dict[str, Any]],
        channel: str,
        at: datetime,
        actor_id: int | None,
        rng: random.Random,
    ) -> list[dict[str, Any]]:
        has_email = any(a["email"] for a in applicants)
        mobile = any(a["phone"] and a["phone"].startswith("+447") for a in applicants)
        has_phone = any(a["phone"] for a in applicants)
        scopes = ["store_details"]
        if has_email and rng.random() < 0.9:
            scopes.append("email")
        if has_phone and rng.random() < 0.75:
            scopes.append("phone")
        if mobile and rng.random() < 0.35:
            scopes.append("sms")
        if channel == "telegram":
            scopes.append("telegram")
        if rng.random() < 0.08:
            scopes.append("post")
        rows = []
        for scope in scopes:
            wording = CONSENT_WORDING[scope].format(service=self.service_name)
            if channel == "staff":
                wording = f"Agreed on the phone: {wording}"
            rows.append(
                {
                    "id": self.ids.take("consent"),
                    "household_id": household_id,
                    "scope": scope,
                    "granted": True,
                    "wording": wording,
                    "via": channel,
                    "recorded_at": at,
                    "recorded_by_id": actor_id,
                }
            )
        # A few later say STOP to texts: consent rows are append-only.
        if "sms" in scopes and rng.random() < 0.1:
            stop = at + timedelta(days=rng.randint(3, 200), minutes=rng.randint(0, 600))
            if stop < self.cutoff:
                rows.append(
                    {
                        "id": self.ids.take("consent"),
                        "household_id": household_id,
                        "scope": "sms",
                        "granted": False,
                        "wording": "Replied STOP to a text message",
                        "via": "sms",
                        "recorded_at": stop,
                        "recorded_by_id": None,
                    }
                )
        return rows

    def _preferred(self, consents: list[dict[str, Any]], rng: random.Random) -> str | None:
        granted = [c["scope"] for c in consents if c["granted"] and c["scope"] != "store_details"]
        if not granted:
            return None
        if "telegram" in granted and rng.random() < 0.7:
            return "telegram"
        for scope, chance in (("phone", 0.55), ("email", 0.85), ("sms", 1.0)):
            if scope in granted and rng.random() < chance:
                return scope
        return granted[0]

    # -- histories ------------------------------------------------------------------------

    def _leave_event(
        self, stage: str, actor: int | None, at: datetime, code: str, rng: random.Random
    ) -> tuple:
        label = f"staff:{actor}" if actor else "system:demo"
        return (stage, at, actor, label, code, self.reason_text(code, rng))

    def _triage_history(
        self,
        events: list[tuple],
        first_contact: datetime | None,
        attempts: list[datetime],
        district: str,
        rng: random.Random,
    ) -> None:
        """Outside every area: the hub tells them who to contact and closes the enquiry."""
        actor = self.hub_manager
        if first_contact is None:
            at = self.calendar.later(attempts[-1], rng.randint(7, 14), rng)
            events.append(self._leave_event("withdrawn", actor, at, "no_response", rng))
            return
        at = self.calendar.later(first_contact, rng.randint(0, 3), rng)
        code = "out_of_area" if "out_of_area" in self.reasons["not_progressed"] else None
        if code is None:
            code = self._reason_choices[("not_progressed", "enquiry")](rng)
        text = f"Lives in {district}: passed to their local fostering service"
        events.append(("not_progressed", at, actor, f"staff:{actor}", code, text))

    def _drop(
        self,
        plan: _HouseholdPlan,
        events: list[tuple],
        stage: str,
        since: datetime,
        actor: int | None,
        rng: random.Random,
    ) -> None:
        at = self.calendar.later(since, _lognormal(rng, DROP_DAYS[stage]), rng)
        if rng.random() < NOT_PROGRESSED_SHARE[stage]:
            code = self._reason_choices[("not_progressed", stage)](rng)
            events.append(self._leave_event("not_progressed", actor, at, code, rng))
        else:
            code = self._reason_choices[("withdrawn", stage)](rng)
            events.append(self._leave_event("withdrawn", actor, at, code, rng))

    def _advance(
        self,
        events: list[tuple],
        stage: str,
        next_stage: str,
        since: datetime,
        days: float,
        actor: int | None,
        passes: bool,
        plan: _HouseholdPlan,
        rng: random.Random,
    ) -> datetime | None:
        """One stage: perhaps a pause, then on to `next_stage` or out. Returns when the
        household reached `next_stage`, or None when it left the funnel."""
        label = f"staff:{actor}" if actor else "system:demo"
        if stage in ("application", "stage_one", "stage_two") and rng.random() < HOLD_CHANCE:
            hold_at = self.calendar.later(since, days * rng.uniform(0.15, 0.6), rng)
            code = self.choose_on_hold(rng)
            events.append(("on_hold", hold_at, actor, label, code, self.reason_text(code, rng)))
            back_at = self.calendar.later(hold_at, rng.uniform(*HOLD_DAYS), rng)
            if not passes and rng.random() < 0.5:
                code = self._reason_choices[("withdrawn", "on_hold")](rng)
                events.append(self._leave_event("withdrawn", actor, back_at, code, rng))
                return None
            events.append((stage, back_at, actor, label, None, "Ready to carry on"))
            # The clock was paused: what was left of the stage runs from the return.
            days = max(1.0, days - (hold_at - since).days)
            since = back_at
        if not passes:
            self._drop(plan, events, stage, since, actor, rng)
            return None
        at = self.calendar.later(since, days, rng)
        events.append((next_stage, at, actor, label, None, None))
        return at

    def _initial_visit(
        self,
        plan: _HouseholdPlan,
        events: list[tuple],
        appointments: list[dict[str, Any]],
        first_contact: datetime,
        days: float,
        rng: random.Random,
    ) -> datetime:
        """Book the visit in a free slot of the officer's diary; the stage moves when it is
        done. A few households miss the first date or rearrange it."""
        cal = self.calendar
        planned = cal.later(first_contact, days, rng)
        officers = [plan.officer] + [o for o in plan.area.officers if o != plan.officer]
        booked_at = first_contact
        if rng.random() < 0.07:
            earliest = cal.later(first_contact, 1, rng)
            earlier = self.book.take(officers[:1], earliest, rng, before=min(planned, self.cutoff))
            if earlier is not None:
                staff, starts, ends = earlier
                missed = rng.random() < 0.45
                status = "no_show" if missed else "cancelled"
                cancelled_at = None
                if not missed:
                    cancelled_at = starts - timedelta(days=rng.randint(1, 3))
                    cancelled_at = max(cancelled_at, booked_at + timedelta(minutes=30))
                appointments.append(
                    self._appointment(
                        "initial_visit",
                        status,
                        staff,
                        starts,
                        ends,
                        booked_at,
                        plan,
                        cancelled_at=cancelled_at,
                        cancel_reason=None if missed else "Applicant asked to rearrange",
                    )
                )
                planned = max(planned, cal.later(ends, 3, rng))
        slot = self._slot(officers, planned, rng)
        if slot is None:  # nobody free in weeks: the visit happens, off the diary
            return planned
        staff, starts, ends = slot
        status = "completed" if starts < self.cutoff else "booked"
        appointments.append(
            self._appointment("initial_visit", status, staff, starts, ends, booked_at, plan)
        )
        return ends + timedelta(minutes=rng.randint(10, 90))

    def _slot(
        self, staff: Sequence[int], earliest: datetime, rng: random.Random
    ) -> tuple[int, datetime, datetime] | None:
        """A past slot stays in the past; one that falls on or after `as_of` is booked from
        tomorrow (what happens today is up to the people using the demo)."""
        slot = self.book.take(staff, earliest, rng, before=self.cutoff)
        if slot is None:
            slot = self.book.take(staff, max(earliest, self.tomorrow), rng)
        return slot

    def _appointment(
        self,
        kind: str,
        status: str,
        staff: int,
        starts: datetime,
        ends: datetime,
        booked_at: datetime,
        plan: _HouseholdPlan | None,
        carer_id: int | None = None,
        cancelled_at: datetime | None = None,
        cancel_reason: str | None = None,
        by_staff: bool = False,
    ) -> dict[str, Any]:
        # People who enquired by chat book their own visit there; the rest are booked by staff.
        if not by_staff and plan is not None and plan.channel in ("webchat", "telegram"):
            booked_by, label = None, f"assistant:{plan.channel}"
        else:
            booked_by, label = staff, f"staff:{staff}"
        return {
            "kind": kind,
            "status": status,
            "staff_id": staff,
            "household_id": plan.id if carer_id is None and plan else None,
            "carer_id": carer_id,
            "starts_at": starts,
            "ends_at": ends,
            "location": plan.address if plan else None,
            "notes": None,
            "moved_to_id": None,
            "cancelled_at": cancelled_at,
            "cancel_reason": cancel_reason,
            "booked_by_id": booked_by,
            "booked_by_label": label,
            "created_at": min(booked_at, self.cutoff - timedelta(minutes=1)),
            "id": self.ids.take("appointment"),
        }

    def _regular_history(
        self,
        plan: _HouseholdPlan,
        events: list[tuple],
        appointments: list[dict[str, Any]],
        first_contact: datetime,
        response_multiplier: float,
        rng: random.Random,
    ) -> None:
        officer = plan.officer
        visit_chance = min(
            0.95,
            CALIBRATION["visit_base"] * SOURCES[plan.source][1] * response_multiplier,
        )
        if rng.random() >= visit_chance:
            self._drop(plan, events, "enquiry", first_contact, officer, rng)
            return
        days = _lognormal(rng, DURATIONS["enquiry"])
        at = self._initial_visit(plan, events, appointments, first_contact, days, rng)
        events.append(("initial_visit", at, officer, f"staff:{officer}", None, None))

        assessor = rng.choice(plan.area.assessors)
        steps = [
            ("initial_visit", "application", officer, CALIBRATION["apply_after_visit"]),
            ("application", "stage_one", assessor, APPLICATION_PASS),
            ("stage_one", "stage_two", assessor, STAGE_ONE_PASS),
            ("stage_two", "panel", assessor, CALIBRATION["stage_two_pass"]),
            ("panel", "approved", plan.area.manager, PANEL_PASS),
        ]
        for stage, next_stage, actor, chance in steps:
            days = _lognormal(rng, DURATIONS[stage])
            passes = rng.random() < chance
            at = self._advance(events, stage, next_stage, at, days, actor, passes, plan, rng)
            if at is None:
                return
        self._after_approval(plan, events, at, rng)

    def _kinship_history(
        self,
        plan: _HouseholdPlan,
        events: list[tuple],
        appointments: list[dict[str, Any]],
        first_contact: datetime,
        rng: random.Random,
    ) -> None:
        """A connected person: a child already lives with them, so assessment starts at once
        (stage one, the application skipped), sometimes after an initial visit."""
        officer = plan.officer
        assessor = rng.choice(plan.area.assessors)
        k = KINSHIP_PASS
        at = first_contact
        stage = "enquiry"
        if rng.random() < KINSHIP_VISIT:
            if rng.random() >= k["visit_to_iv"]:
                self._drop(plan, events, "enquiry", at, officer, rng)
                return
            days = _lognormal(rng, KINSHIP_DURATIONS["enquiry"])
            at = self._initial_visit(plan, events, appointments, at, days, rng)
            events.append(("initial_visit", at, officer, f"staff:{officer}", None, None))
            stage, chance = "initial_visit", k["iv_to_stage_one"]
        else:
            chance = k["enquiry_to_stage_one"]
        steps = [
            (stage, "stage_one", assessor, chance),
            ("stage_one", "stage_two", assessor, k["stage_one"]),
            ("stage_two", "panel", assessor, k["stage_two"]),
            ("panel", "approved", plan.area.manager, k["panel"]),
        ]
        for stage, next_stage, actor, chance in steps:
            days = _lognormal(rng, KINSHIP_DURATIONS[stage])
            passes = rng.random() < chance
            at = self._advance(events, stage, next_stage, at, days, actor, passes, plan, rng)
            if at is None:
                return
        self._after_approval(plan, events, at, rng)

    def _after_approval(
        self, plan: _HouseholdPlan, events: list[tuple], approved_at: datetime, rng: random.Random
    ) -> None:
        if approved_at >= self.cutoff:
            return
        heapq.heappush(self.approved_pool, (approved_at, plan.id))
        years = rng.expovariate(DEREGISTRATION_PER_YEAR)
        notice = approved_at + timedelta(days=years * 365.25)
        ends = notice + timedelta(days=28)  # approval ends 28 days after written notice
        if ends < self.cutoff:
            ends = self.calendar.office_moment(self.calendar.local_date(ends), rng, approved_at)
            if ends < self.cutoff:
                code = self.choose_dereg(rng)
                notice_day = self.calendar.local_date(notice)
                text = (
                    f"{self.reason_text(code, rng) or 'Gave notice'}. Written notice received "
                    f"{notice_day.day} {notice_day:%B %Y}; approval ended 28 days later."
                )
                actor = plan.area.manager
                events.append(("deregistered", ends, actor, f"staff:{actor}", code, text))

    def _count_reached(self, history: list[tuple], kinship: bool) -> None:
        furthest = -1
        order = ("enquiry", "initial_visit", "application", "stage_one", "stage_two", "panel")
        for event in history:
            stage = event[0]
            if stage in order:
                furthest = max(furthest, order.index(stage))
            elif stage == "approved":
                furthest = 6
        for index, stage in enumerate(order + ("approved",)):
            if index <= furthest:
                self.reached[stage] += 1

    # -- timeline and work ----------------------------------------------------------------

    def _timeline(
        self,
        plan: _HouseholdPlan,
        history: list[tuple],
        attempts: list[datetime],
        first_contact: datetime | None,
        by_email: bool,
        rng: random.Random,
    ) -> None:
        officer = plan.officer or self.hub_manager
        label = f"staff:{officer}"

        def activity(kind: str, at: datetime, summary: str, outcome: str | None = None) -> None:
            self.rows.add(
                "activity",
                id=self.ids.take("activity"),
                household_id=plan.id,
                kind=kind,
                occurred_at=at,
                actor_id=officer,
                actor_label=label,
                summary=summary,
                body=None,
                call_outcome=outcome,
                conversation_id=None,
                outbox_message_id=None,
                created_at=at,
            )

        for at in attempts:
            if rng.random() < 0.5:
                activity("call", at, "Called: left a voicemail", "voicemail")
            else:
                activity("call", at, "Called: no answer", "no_answer")
        if first_contact is not None:
            if by_email:
                activity("email", first_contact, "Sent the information pack and visit dates")
            else:
                activity(
                    "call", first_contact, f"Spoke to {plan.first_name} about fostering", "spoke"
                )
        previous = None
        for stage, at, *_ in history:
            if previous == "on_hold":  # carrying on after a pause is not a new visit or form
                pass
            elif stage == "initial_visit":
                activity("note", at, rng.choice(VISIT_NOTES))
            elif stage == "application":
                activity("email", at, "Application form received")
            previous = stage

    def _response_tasks(
        self,
        plan: _HouseholdPlan,
        history: list[tuple],
        attempts: list[datetime],
        first_contact: datetime | None,
        rng: random.Random,
    ) -> None:
        """The call-back task create_enquiry opens, closed by the first contact (or when the
        enquiry closed without one); still open for those not reached yet."""
        area_id = plan.area.id if plan.area else None
        due = response_due(self.settings, plan.enquired_at)
        done_at = first_contact
        if done_at is None and history[-1][0] != "enquiry":
            done_at = history[-1][1]
        self.rows.add(
            "task",
            id=self.ids.take("task"),
            kind="respond_to_enquiry",
            title="Call back a new enquirer",
            detail=None,
            household_id=plan.id,
            carer_id=None,
            owner_id=plan.officer,
            area_id=area_id,
            due_at=due,
            done_at=done_at,
            done_by_id=(plan.officer or self.hub_manager) if done_at else None,
            unique_key=None,
            created_by_id=plan.officer if plan.channel == "staff" else None,
            created_at=plan.enquired_at,
        )
        if done_at is None:
            self.current["open_tasks"] += 1
            if attempts:
                second_due = self.calendar.at(
                    self.calendar.add_working(self.calendar.local_date(attempts[-1]), 2), 17 * 60
                )
                self.rows.add(
                    "task",
                    id=self.ids.take("task"),
                    kind="second_attempt",
                    title="Try the enquirer again",
                    detail="The first call was not answered",
                    household_id=plan.id,
                    carer_id=None,
                    owner_id=plan.officer,
                    area_id=area_id,
                    due_at=second_due,
                    done_at=None,
                    done_by_id=None,
                    unique_key=None,
                    created_by_id=plan.officer,
                    created_at=attempts[-1],
                )
                self.current["open_tasks"] += 1

    def _open_work(self, plan: _HouseholdPlan, stage: str, rng: random.Random) -> None:
        """What is on people's lists today for households in assessment."""
        if plan.area is None:
            return
        if stage == "stage_one" and rng.random() < 0.4:
            assessor = rng.choice(plan.area.assessors)
            due_day = self.calendar.next_working(self.as_of + timedelta(days=rng.randint(-4, 14)))
            self.rows.add(
                "task",
                id=self.ids.take("task"),
                kind="general",
                title="Chase outstanding references",
                detail=None,
                household_id=plan.id,
                carer_id=None,
                owner_id=assessor,
                area_id=plan.area.id,
                due_at=self.calendar.at(due_day, 17 * 60),
                done_at=None,
                done_by_id=None,
                unique_key=None,
                created_by_id=assessor,
                created_at=self.cutoff - timedelta(days=rng.randint(3, 20)),
            )
            self.current["open_tasks"] += 1
        elif stage == "stage_two" and rng.random() < 0.6:
            assessor = rng.choice(plan.area.assessors)
            earliest = self.tomorrow + timedelta(days=rng.randint(0, 10))
            slot = self.book.take([assessor], earliest, rng, days=21)
            if slot is not None:
                staff, starts, ends = slot
                booked_at = self.cutoff - timedelta(days=rng.randint(2, 20))
                appointment = self._appointment(
                    "assessment_session",
                    "booked",
                    staff,
                    starts,
                    ends,
                    booked_at,
                    plan,
                    by_staff=True,
                )
                appointment["notes"] = "Form F session"
                self.rows.add("appointment", **appointment)
                self.current["booked_appointments"] += 1

    # -- carers ---------------------------------------------------------------------------

    def _carer(self, plan: _HouseholdPlan, approved_at: datetime, history: list[tuple]) -> None:
        rng = self.rng_carers
        cal = self.calendar
        carer_id = self.ids.take("carer")
        approved_on = approved_at.date()
        # The due dates rule is the pipeline's (annual review, TSD by 12 or 18 months).
        review_after, tsd_after = self.due_rules[plan.kinship]
        dereg = next((e for e in history if e[0] == "deregistered"), None)
        end_at = dereg[1] if dereg else self.cutoff
        end_day = cal.local_date(end_at)
        places, age_min, age_max, types, specialisms = self._terms(plan.kinship, rng)
        status, status_changed_at = "active", approved_at
        if dereg:
            status, status_changed_at = "deregistered", dereg[1]
        elif (self.cutoff - approved_at).days > 180 and rng.random() < ON_BREAK_SHARE:
            status = "on_break"
            status_changed_at = cal.office_moment(
                self.as_of - timedelta(days=rng.randint(10, 150)), rng
            )
            if status_changed_at >= self.cutoff:
                status, status_changed_at = "active", approved_at
        self.carer_status[status] += 1
        placement_end = cal.local_date(status_changed_at) if status == "on_break" else end_day
        supervisor = rng.choice(plan.area.supervisors)

        # Annual reviews held most years; a few are overdue.
        review_due = approved_on + review_after
        while review_due <= self.as_of and rng.random() < 0.93:
            review_due += relativedelta(years=1)
        tsd_due = approved_on + tsd_after
        tsd_done = None
        months = 18 if plan.kinship else 12
        if rng.random() < (0.88 if tsd_due <= self.as_of else 0.45):
            candidate = approved_on + timedelta(days=rng.randint(90, months * 30 - 10))
            if candidate < min(self.as_of, end_day):
                tsd_done = candidate

        last_supervision = self._supervision(
            carer_id, plan, supervisor, status, approved_at, end_at, rng
        )
        worrying = self._check_ins(plan, carer_id, supervisor, approved_at, end_at, dereg, rng)
        # A worrying answer flags the carer; their social worker clears it once things settle,
        # so only recent ones still show.
        at_risk_reason = None
        recent = [w for w in worrying if w[0] >= self.cutoff - timedelta(days=75)]
        if recent and status != "deregistered":
            at_risk_reason = recent[-1][1][:500]
        self.rows.add(
            "carer",
            id=carer_id,
            household_id=plan.id,
            approved_on=approved_on,
            places=places,
            age_min=age_min,
            age_max=age_max,
            fostering_types=types,
            specialisms=specialisms,
            is_family_and_friends=plan.kinship,
            supervising_social_worker_id=supervisor,
            annual_review_due=review_due,
            tsd_due=tsd_due,
            tsd_completed_on=tsd_done,
            last_supervision_at=last_supervision,
            status=status,
            status_changed_at=status_changed_at,
            deregistered_on=dereg[1].date() if dereg else None,
            deregistration_reason_code=dereg[4] if dereg else None,
            deregistration_reason_text=dereg[5] if dereg else None,
            at_risk=at_risk_reason is not None,
            at_risk_reason=at_risk_reason,
            created_at=approved_at,
        )
        self._placements(
            plan, carer_id, approved_on, placement_end, places, types, status, dereg, rng
        )
        if (
            status == "active"
            and review_due <= self.as_of + timedelta(days=30)
            and rng.random() < 0.6
        ):
            slot = self.book.take([supervisor], self.tomorrow, rng, days=28)
            if slot is not None:
                staff, starts, ends = slot
                booked_at = max(approved_at, self.cutoff - timedelta(days=14))
                self._carer_appointment(
                    "annual_review", "booked", staff, starts, ends, plan, carer_id, booked_at
                )

    def _terms(
        self, kinship: bool, rng: random.Random
    ) -> tuple[int, int, int, list[str], list[str]]:
        """Approval terms: places, age range, types of fostering, specialisms."""
        if kinship:
            places = 1 if rng.random() < 0.8 else 2
            types = ["long_term"] if rng.random() < 0.7 else ["short_term", "long_term"]
            return places, 0, 17, types, []
        places = rng.choices((1, 2, 3), weights=(40, 45, 15))[0]
        age_min, age_max = rng.choices(
            ((0, 4), (0, 10), (0, 17), (5, 17), (11, 17), (0, 2), (16, 21)),
            weights=(12, 20, 28, 15, 15, 5, 5),
        )[0]
        types = []
        for value, chance in (
            ("emergency", 0.3),
            ("short_term", 0.85),
            ("long_term", 0.55),
            ("short_breaks", 0.25),
            ("parent_and_child", 0.06),
            ("remand", 0.04 if age_max >= 12 else 0.0),
            ("staying_put", 0.4 if age_max >= 18 else 0.0),
            ("specialist", 0.08),
        ):
            if rng.random() < chance:
                types.append(value)
        if not types:
            types.append("short_term")
        specialisms = []
        if age_max >= 15 and rng.random() < 0.45:
            specialisms.append("teenagers")
        if places >= 2 and rng.random() < 0.4:
            specialisms.append("sibling_groups")
        if "specialist" in types or rng.random() < 0.08:
            specialisms.append("disability")
        if "parent_and_child" in types:
            specialisms.append("parent_and_child")
        if age_max >= 14 and rng.random() < 0.08:
            specialisms.append("unaccompanied_asylum_seeking_children")
        return places, age_min, age_max, types, specialisms

    def _placements(
        self,
        plan: _HouseholdPlan,
        carer_id: int,
        approved_on: date,
        end_day: date,
        places: int,
        types: list[str],
        status: str,
        dereg: tuple | None,
        rng: random.Random,
    ) -> None:
        durations = {
            "emergency": (10, 0.6, 1, 40),
            "short_term": (160, 0.7, 20, 700),
            "long_term": (900, 0.6, 200, 4000),
            "short_breaks": (4, 0.5, 2, 14),
            "parent_and_child": (100, 0.3, 60, 200),
            "remand": (60, 0.5, 7, 200),
            "staying_put": (500, 0.4, 120, 1100),
            "specialist": (400, 0.6, 60, 2000),
        }
        last_day = self.as_of - timedelta(days=1)
        for place in range(places):
            if plan.kinship and place == 0:
                # The child they were already caring for, placed before approval.
                start = plan.enquired_at.date()
                kinds = ["long_term"]
            else:
                start = approved_on + timedelta(days=int(_lognormal(rng, (35, 0.8, 0, 300))))
                kinds = types
            while start < min(end_day, last_day):
                kind = rng.choice(kinds)
                ends = start + timedelta(days=int(_lognormal(rng, durations[kind])))
                ended_on = ends if ends <= last_day else None
                if ended_on is None or ended_on > end_day:
                    # Open at the end: a break or deregistration ends every placement.
                    ended_on = end_day if status != "active" else None
                placement_id = self.ids.take("placement")
                self.rows.add(
                    "placement",
                    id=placement_id,
                    carer_id=carer_id,
                    # A case-system number, never a child's name.
                    child_reference=f"{plan.area.spec.code}-{placement_id + 100000:07d}",
                    fostering_type=kind,
                    started_on=start,
                    ended_on=ended_on,
                    created_at=self.calendar.at(start, 12 * 60),
                )
                if ended_on is None or plan.kinship and place == 0:
                    break
                start = ended_on + timedelta(days=int(_lognormal(rng, (30, 0.9, 1, 365))))
                if status == "deregistered" and dereg[4] == "special_guardianship":
                    break

    def _supervision(
        self,
        carer_id: int,
        plan: _HouseholdPlan,
        supervisor: int,
        status: str,
        approved_at: datetime,
        end_at: datetime,
        rng: random.Random,
    ) -> datetime | None:
        """The last supervision visit (done, in the diary), and for some the next one."""
        cal = self.calendar
        first_visit = approved_at + timedelta(days=3)
        if status == "deregistered":
            moment = cal.office_moment(
                cal.local_date(end_at) - timedelta(days=rng.randint(10, 60)), rng
            )
            return moment if first_visit <= moment < end_at else None
        overdue = rng.random() < 0.1
        back = rng.randint(45, 90) if overdue else rng.randint(5, 38)
        earliest = max(cal.at(self.as_of - timedelta(days=back), 0), first_visit)
        last = None
        if earliest < self.cutoff:
            slot = self.book.take([supervisor], earliest, rng, days=back, before=self.cutoff)
            if slot is not None:
                staff, starts, last = slot
                booked_at = max(approved_at, starts - timedelta(days=14))
                self._carer_appointment(
                    "supervision_visit", "completed", staff, starts, last, plan, carer_id, booked_at
                )
        if status == "active" and rng.random() < 0.35:
            upcoming = self.book.take([supervisor], self.tomorrow, rng, days=21)
            if upcoming is not None:
                staff, starts, ends = upcoming
                booked_at = max(approved_at, self.cutoff - timedelta(days=rng.randint(1, 20)))
                self._carer_appointment(
                    "supervision_visit", "booked", staff, starts, ends, plan, carer_id, booked_at
                )
        return last

    def _carer_appointment(
        self,
        kind: str,
        status: str,
        staff: int,
        starts: datetime,
        ends: datetime,
        plan: _HouseholdPlan,
        carer_id: int,
        booked_at: datetime,
    ) -> None:
        appointment = self._appointment(
            kind, status, staff, starts, ends, booked_at, plan, carer_id=carer_id, by_staff=True
        )
        self.rows.add("appointment", **appointment)
        if status == "booked":
            self.current["booked_appointments"] += 1

    def _check_in_channel(
        self, plan: _HouseholdPlan, carer_id: int, approved_at: datetime, rng: random.Random
    ) -> tuple[str, list[str]]:
        """How check-ins reach this carer, chosen as outbox.reachable_recipients would: their
        preferred channel if they agreed to it. Signing the foster carer agreement at approval
        records the consent, and some move to Telegram for the one-tap answers."""
        preferred = plan.row["preferred_channel"]
        if plan.emails and not (preferred == "telegram" and plan.telegram_chat):
            channel = "telegram" if rng.random() < 0.12 else "email"
        else:
            channel = "telegram"
        if channel == "telegram":
            plan.row["preferred_channel"] = "telegram"
            if plan.telegram_chat is None:
                plan.telegram_chat = str(600_000_000 + plan.id)
                self.rows.add(
                    "telegram_chat_link",
                    id=self.ids.take("telegram_chat_link"),
                    chat_id=plan.telegram_chat,
                    household_id=plan.id,
                    carer_id=carer_id,
                    linked_at=approved_at + timedelta(days=2),
                    opted_out_at=None,
                )
        elif preferred == "telegram":
            plan.row["preferred_channel"] = "email"
        if channel not in plan.consented:
            plan.consented.add(channel)
            label = "Telegram" if channel == "telegram" else "email"
            self.rows.add(
                "consent",
                id=self.ids.take("consent"),
                household_id=plan.id,
                scope=channel,
                granted=True,
                wording=f"Foster carer agreement: you may contact us by {label} about support "
                "and check-ins.",
                via="carer_agreement",
                recorded_at=approved_at,
                recorded_by_id=None,
            )
        recipients = plan.emails if channel == "email" else [plan.telegram_chat]
        return channel, list(dict.fromkeys(recipients))

    def _check_ins(
        self,
        plan: _HouseholdPlan,
        carer_id: int,
        supervisor: int,
        approved_at: datetime,
        end_at: datetime,
        dereg: tuple | None,
        rng: random.Random,
    ) -> list[tuple[datetime, str]]:
        """Retention check-ins through the outbox, as crm.services.checkins writes them:
        monthly in the first year, then every six weeks (the settings' cadence), about two in
        three answered. Carers who leave unhappy score lower as the end nears, which is what
        the at-risk flag looks for. Returns (answered at, at-risk reason) of worrying answers."""
        cal = self.calendar
        reminders = self.settings.reminders
        mood = rng.gauss(3.9, 0.5)
        unhappy = dereg is not None and dereg[4] in ("unhappy_with_support", "burnout")
        channel, recipients = self._check_in_channel(plan, carer_id, approved_at, rng)
        worrying = []
        sent_day = cal.local_date(approved_at)
        first_year_end = sent_day + timedelta(days=365)
        stop = min(end_at, self.cutoff)
        while True:
            first_year = sent_day < first_year_end
            step = (
                reminders.checkin_first_year_every_days
                if first_year
                else reminders.checkin_every_days
            )
            sent_day += timedelta(days=step)
            sent_at = cal.at(sent_day, 10 * 60)
            if sent_at >= stop:
                break
            check_in_id = self.ids.take("check_in")
            key = f"checkin:{carer_id}:{sent_day.isoformat()}"
            outbox_ids = []
            for address in recipients:
                outbox_id = self.ids.take("outbox_message")
                outbox_ids.append(outbox_id)
                self.rows.add(
                    "outbox_message",
                    id=outbox_id,
                    channel=channel,
                    recipient=address,
                    template="check_in",
                    payload={
                        "check_in_id": check_in_id,
                        "reason": "first_year" if first_year else "regular",
                        "greeting_name": plan.greeting,
                    },
                    due_at=sent_at,
                    unique_key=f"{key}:{channel}:{address}",
                    status="sent",
                    attempts=1,
                    next_attempt_at=None,
                    claimed_by=None,
                    claimed_until=None,
                    provider_message_id=f"demo-{outbox_id}",
                    error=None,
                    sent_at=sent_at,
                    household_id=None,
                    carer_id=carer_id,
                    staff_id=None,
                    created_at=sent_at,
                )
            answered_at = score = comment = task_id = None
            wants_call = False
            if rng.random() < 0.65:
                answered_at = sent_at + timedelta(minutes=rng.randint(20, 4 * 24 * 60))
                if answered_at.astimezone(cal.tz).hour < 7:  # people answer when awake
                    answered_at += timedelta(hours=8)
                if answered_at >= stop:
                    answered_at = None
            if answered_at is not None:
                level = mood
                if unhappy:
                    months_left = (end_at - sent_at).days / 30
                    level -= max(0.0, 2.2 - 0.35 * months_left)
                score = min(5, max(1, round(rng.gauss(level, 0.8))))
                band = "low" if score <= LOW_SCORE else ("high" if score == 5 else "mid")
                if band == "low" or rng.random() < 0.25:
                    comment = rng.choice(CHECK_IN_COMMENTS[band])
                wants_call = rng.random() < (0.4 if score <= LOW_SCORE else 0.04)
                parts = [f"{score} out of 5 ({SCORE_LABELS[score].lower()})"]
                if wants_call:
                    parts.append("would like a call")
                self.rows.add(
                    "activity",
                    id=self.ids.take("activity"),
                    household_id=plan.id,
                    kind="note",
                    occurred_at=answered_at,
                    actor_id=None,
                    actor_label=f"carer ({channel})",
                    summary="Check-in answered: " + ", ".join(parts),
                    body=comment,
                    call_outcome=None,
                    conversation_id=None,
                    outbox_message_id=None,
                    created_at=answered_at,
                )
                if score <= LOW_SCORE or wants_call:
                    local_day = cal.local_date(answered_at)
                    reason = f"Check-in on {local_day:%d %b %Y}: " + ", ".join(parts)
                    task_id = self._follow_up(
                        plan,
                        carer_id,
                        check_in_id,
                        supervisor,
                        answered_at,
                        reason,
                        comment,
                        None if wants_call else score,
                        rng,
                    )
                    worrying.append((answered_at, reason))
            self.rows.add(
                "check_in",
                id=check_in_id,
                carer_id=carer_id,
                channel=channel,
                sent_at=sent_at,
                outbox_message_id=outbox_ids[0],
                answered_at=answered_at,
                score=score,
                wants_call=wants_call,
                comment=comment,
                follow_up_task_id=task_id,
                unique_key=key,
            )
        return worrying

    def _follow_up(
        self,
        plan: _HouseholdPlan,
        carer_id: int,
        check_in_id: int,
        supervisor: int,
        answered_at: datetime,
        reason: str,
        comment: str | None,
        score: int | None,
        rng: random.Random,
    ) -> int:
        """The task answer_check_in gives the supervising social worker: urgent, due within a
        working day; most are done by now."""
        service = self.settings.service
        due = add_office_days(
            answered_at, 1, self.calendar.tz, service.office_hours_start, service.office_hours_end
        )
        done_at = None
        if due < self.cutoff and rng.random() < 0.9:
            done_at = min(self.calendar.later(answered_at, rng.randint(0, 1), rng), due)
        task_id = self.ids.take("task")
        self.rows.add(
            "task",
            id=task_id,
            kind="check_in_follow_up",
            title="Call the carer: they asked for a call"
            if score is None
            else f"Call the carer: check-in score {score} out of 5",
            detail=(reason + (f'\nThey wrote: "{comment}"' if comment else ""))[:2000],
            household_id=None,
            carer_id=carer_id,
            owner_id=supervisor,
            area_id=plan.area.id,
            priority="urgent",
            due_at=due,
            done_at=done_at,
            done_by_id=supervisor if done_at else None,
            unique_key=f"check_in:{check_in_id}:follow_up",
            created_by_id=None,
            created_at=answered_at,
        )
        if done_at is None:
            self.current["open_tasks"] += 1
        return task_id


# -- entry point --------------------------------------------------------------------------


def _refuse_if_loaded(connection: sa.Connection) -> set[str]:
    """Demo data goes into a database once. Returns the postcode districts already taken."""
    conflicts = []
    if connection.execute(
        sa.select(Hub.__table__.c.id).where(Hub.__table__.c.name == DEMO_HUB_NAME)
    ).first():
        conflicts.append(f"the hub {DEMO_HUB_NAME!r}")
    names = [spec.name for spec in AREAS]
    for name in connection.execute(
        sa.select(Area.__table__.c.name).where(Area.__table__.c.name.in_(names))
    ).scalars():
        conflicts.append(f"the area {name!r}")
    emails = [email for email, _ in DEMO_LOGINS]
    for email in connection.execute(
        sa.select(StaffUser.__table__.c.email).where(StaffUser.__table__.c.email.in_(emails))
    ).scalars():
        conflicts.append(f"the user {email}")
    if conflicts:
        more = f" and {len(conflicts) - 1} more" if len(conflicts) > 1 else ""
        raise InvalidInput(
            f"Demo data is already loaded in this database ({conflicts[0]} exists{more}). "
            "Load it into an empty database.",
            "database",
        )
    return set(connection.execute(sa.select(AreaPostcodeDistrict.__table__.c.district)).scalars())


def _fix_sequences(connection: sa.Connection, tables: list[sa.Table]) -> None:
    """PostgreSQL hands out ids from sequences that bulk inserts with our own ids never
    touched: move each past the largest id so the services' next insert works."""
    for table in tables:
        connection.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f'COALESCE((SELECT MAX(id) FROM "{table.name}"), 0) + 1, false)'
            )
        )


def generate_demo_data(
    engine: sa.Engine,
    settings: Settings,
    *,
    households: int,
    seed: int,
    as_of: date | None = None,
    progress: bool = False,
) -> DemoSummary:
    """Fill the database with `households` demo households and everything around them.

    Refuses (InvalidInput) when the demo organisation is already there. `as_of` is the local
    day histories run up to (default: today in the service's time zone); the same `seed` and
    `as_of` on an empty database give identical rows.
    """
    if not isinstance(households, int) or households < 1:
        raise InvalidInput("Ask for at least one household", "households")
    if as_of is None:
        as_of = clock.now().astimezone(settings.tz).date()
    elif isinstance(as_of, datetime):
        as_of = as_of.date()
    started = time_module.perf_counter()

    with Session(engine) as session:
        ensure_reference_data(session)
        sources = {
            key for key in session.exec(select(Source.key).where(Source.active.is_(True))).all()
        }
        reasons: dict[str, set[str]] = defaultdict(set)
        for kind, code in session.exec(
            select(Reason.kind, Reason.code).where(Reason.active.is_(True))
        ).all():
            reasons[str(kind)].add(code)
    if not sources:
        raise InvalidInput("The sources list is empty: run `fostercrm db upgrade`", "sources")

    with engine.connect() as connection:
        taken = _refuse_if_loaded(connection)
        generator = _Generator(connection, settings, households, seed, as_of, sources, reasons)
        generator.build_organisation(taken)
        connection.commit()

        times = generator.enquiry_times()
        bar = tqdm(
            total=households, unit="household", desc="Demo data", disable=not progress, leave=False
        )
        try:
            for index, (enquired_at, channel) in enumerate(times):
                generator.household(generator.ids.take("household"), enquired_at, channel)
                if (index + 1) % CHUNK_HOUSEHOLDS == 0:
                    generator.rows.flush(connection)
                    connection.commit()
                    bar.update(CHUNK_HOUSEHOLDS)
            generator.rows.flush(connection)
            connection.execute(
                AuditEvent.__table__.insert(),
                [
                    {
                        "id": generator.ids.take("audit_event"),
                        "occurred_at": generator.cutoff,
                        "actor_id": None,
                        "actor_label": "demo-data",
                        "action": "create",
                        "entity": "demo_data",
                        "entity_id": None,
                        "detail": {
                            "households": households,
                            "seed": seed,
                            "as_of": as_of.isoformat(),
                        },
                    }
                ],
            )
            connection.commit()
            bar.update(households - bar.n)
        finally:
            bar.close()

        if connection.dialect.name == "postgresql":
            _fix_sequences(connection, generator.ids.tables)
            connection.commit()
            # Fresh statistics, so the first pages after a big load get good query plans.
            for table in generator.rows.tables:
                connection.execute(sa.text(f'ANALYZE "{table.name}"'))
            connection.commit()

    rows = Counter(generator.rows.counts)
    rows.update(generator.extra_counts)
    rows.update({"hub": 1, "area": len(AREAS), "audit_event": 1})
    rows["area_postcode_district"] = sum(len(a.districts) for a in generator.areas)
    reached = {k: generator.reached[k] for k in ("initial_visit", "application", "approved")}
    return DemoSummary(
        households=households,
        seed=seed,
        as_of=as_of,
        seconds=time_module.perf_counter() - started,
        rows=dict(sorted(rows.items())),
        reached=reached,
        carers=dict(sorted(generator.carer_status.items())),
        current=dict(generator.current),
    )


__all__ = ["DEMO_LOGINS", "DEMO_PASSWORD", "DemoSummary", "generate_demo_data"]
