"""The demo organisation: the hub, its areas and postcode districts, staff in every role with
their availability and leave, and campaigns."""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher

from crm.demo.chance import letters_only
from crm.demo.diary import Window
from crm.demo.shape import TRIAGE_SHARE
from crm.demo.words import FEMALE_NAMES, MALE_NAMES, SURNAMES
from crm.models import (
    Area,
    AreaPostcodeDistrict,
    AvailabilityException,
    AvailabilityPattern,
    Campaign,
    Hub,
    StaffArea,
    StaffUser,
)
from crm.services.errors import InvalidInput

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
    ("decision.maker@example.org", "Agency decision maker, all areas"),
]


@dataclass(frozen=True)
class AreaSpec:
    name: str
    code: str
    share: float  # of the hub's enquiries
    districts: tuple[str, ...]
    towns: tuple[str, ...]
    phone: str


# Fictional local authorities owning real-format districts (the East Midlands, where the
# Leicestershire work DOMAIN.md cites was done). Postcodes are made up within them.
AREAS = (
    AreaSpec(
        "Harrowdale",
        "HD",
        0.40,
        tuple(f"LE{n}" for n in (1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19)),
        ("Harrowdale", "Millbrook", "Thornby", "Elmstead", "Ashby Parva"),
        "01632 960 101",
    ),
    AreaSpec(
        "Kingsmere",
        "KM",
        0.35,
        tuple(f"NG{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16)),
        ("Kingsmere", "Carlton Fields", "Sherwood Vale", "Radwell"),
        "01632 960 102",
    ),
    AreaSpec(
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


POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass(slots=True)
class AreaInfo:
    id: int
    spec: AreaSpec
    districts: list[str]
    officers: list[int] = field(default_factory=list)
    assessors: list[int] = field(default_factory=list)
    supervisors: list[int] = field(default_factory=list)
    manager: int | None = None


@dataclass(slots=True)
class CampaignInfo:
    id: int
    source: str
    starts: datetime
    ends: datetime
    take_up: float


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


class OrganisationMixin:
    """The hub, areas, staff (with availability and leave) and campaigns."""

    def build_organisation(self, taken_districts: set[str]) -> list[AreaInfo]:
        rng = self.rng_org
        start = self.calendar.at(self.first_day - timedelta(days=60), 9 * 60)
        conn = self.connection
        hub_id = self.ids.hub()
        conn.execute(
            Hub.__table__.insert(), [{"id": hub_id, "name": DEMO_HUB_NAME, "created_at": start}]
        )
        areas: list[AreaInfo] = []
        for spec in AREAS:
            area_id = self.ids.area()
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
            areas.append(AreaInfo(area_id, spec, districts))
        self.areas = areas
        self.triage_districts = [d for d in TRIAGE_DISTRICTS if d not in taken_districts]
        self._build_staff(areas, start, rng)
        self._build_campaigns()
        return areas

    def _staff_counts(self, area: AreaInfo) -> tuple[int, int, int]:
        expected = self.n * (1 - TRIAGE_SHARE) * area.spec.share
        # Enough people that a demo at any size has free slots in the coming weeks: about one
        # recruitment officer per 4,000 enquiries over three years, and so on.
        officers = min(40, max(3, math.ceil(expected / 4000)))
        assessors = min(60, max(2, math.ceil(expected / 1500)))
        supervisors = min(60, max(2, math.ceil(expected / 1200)))
        return officers, assessors, supervisors

    def _build_staff(self, areas: list[AreaInfo], start: datetime, rng: random.Random) -> None:
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

        def add(
            role: str, area_ids: list[int], email: str | None = None, name: str | None = None
        ) -> int:
            staff_id = self.ids.staff_user()
            name = name or person()
            if email is None:
                first, last = name.split(" ", 1)
                base = f"{letters_only(first)}.{letters_only(last)}"
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
        # Named here rather than drawn, so the names drawn for everyone else stay as they were.
        self.decision_maker = add(
            "decision_maker", [a.id for a in areas], emails[7], name="Morgan Ellison"
        )

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
                    "id": self.ids.availability_pattern(),
                    "staff_id": staff_id,
                    "weekday": weekday,
                    "start_time": window_start,
                    "end_time": window_end,
                    "slot_minutes": minutes,
                    "valid_from": None,
                    "valid_until": None,
                }
            )
            self.book.windows[staff_id].append(Window(weekday, window_start, window_end, minutes))

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
                    "id": self.ids.availability_exception(),
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
        self.campaigns: dict[str, list[CampaignInfo]] = defaultdict(list)
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
                campaign_id = self.ids.campaign()
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
                    CampaignInfo(campaign_id, source, starts, ends, CAMPAIGN_TAKE_UP[source])
                )
        if rows:
            self.connection.execute(Campaign.__table__.insert(), rows)
        self.extra_counts["campaign"] = len(rows)
