"""Households and their enquiries: when they came and how, who they are, where they live,
what they consented to; then each household's history is built by the other parts."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crm.demo.chance import Choice, letters_only, weighted
from crm.demo.organisation import POSTCODE_LETTERS, TRIAGE_DISTRICTS, TRIAGE_TOWNS, AreaInfo
from crm.demo.shape import HISTORY_DAYS, KINSHIP_SOURCE, RESPONSE_DELAYS, TRIAGE_SHARE
from crm.demo.words import FEMALE_NAMES, INTERESTS, MALE_NAMES, STREETS, SURNAMES
from crm.services.enquiries import REFERENCE_ALPHABET


@dataclass(slots=True)
class HouseholdPlan:
    id: int
    area: AreaInfo | None
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
    # What the household row will say: its row is added last (crm.demo.households), after
    # the parts that change these (an assessor in assessment, a carer's check-in channel).
    preferred_channel: str | None = None
    assessor_id: int | None = None
    stage_entered_at: datetime | None = None


# Seasonality of enquiries by month (January resolutions, Foster Care Fortnight in May, quiet
# in August and December).
MONTH_WEIGHT = (1.3, 1.1, 1.05, 1.0, 1.25, 1.0, 0.85, 0.75, 1.05, 1.0, 0.95, 0.65)


# Web enquiries by local hour: evenings on a phone, as DOMAIN.md says.
HOUR_WEIGHT = (
    0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 1.2, 1.5, 1.5, 1.5,
    1.6, 1.5, 1.4, 1.4, 1.3, 1.3, 1.6, 2.0, 2.3, 2.1, 1.5, 0.7,
)  # fmt: skip


# The reference letters for each 10 bits (crm.demo.households.reference).
_REFERENCE_PAIRS = tuple(
    REFERENCE_ALPHABET[bits & 31] + REFERENCE_ALPHABET[bits >> 5] for bits in range(1024)
)


CHANNELS = {"web_form": 0.58, "staff": 0.27, "webchat": 0.08, "telegram": 0.04, "import": 0.03}


class HouseholdsMixin:
    """Enquiries, applicants and consents."""

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
        hour_cumulative = list(weighted(dict(zip(hours, HOUR_WEIGHT, strict=True)))[1])
        all_channels = Choice(CHANNELS)
        no_staff = Choice({k: w for k, w in CHANNELS.items() if k != "staff"})
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
        # Letters 5 bits each, lowest first: two at a time from a table of all 1,024 pairs.
        pairs = _REFERENCE_PAIRS
        reference = (
            f"FC-{pairs[value & 1023]}{pairs[(value >> 10) & 1023]}"
            f"-{pairs[(value >> 20) & 1023]}{pairs[(value >> 30) & 1023]}"
        )
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
        plan = HouseholdPlan(
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
        for scope, granted in consents:  # the latest row per scope is what they agree to now
            if granted:
                plan.consented.add(scope)
            else:
                plan.consented.discard(scope)

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
            self.rows.stage_event(
                id=self.ids.stage_event(),
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

        plan.preferred_channel = preferred
        plan.stage_entered_at = last_at
        interests = rng.choice(INTERESTS) if rng.random() < 0.5 else None
        for applicant in applicants:
            applicant["id"] = self.ids.applicant()
            self.rows.applicant(**applicant)
        self._assessment(plan, applicants, last_stage, hold_from, last_at)
        if telegram_chat is not None:
            self.rows.telegram_chat_link(
                id=self.ids.telegram_chat_link(),
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
            self.rows.appointment(**appointment)

        self._timeline(plan, history, attempts, first_contact, by_email, rng)
        self._response_tasks(plan, history, attempts, first_contact, rng)
        self._open_work(plan, last_stage, rng)

        approval = next((e for e in history if e[0] == "approved"), None)
        if approval is not None:
            self._carer(plan, approval[1], history)

        # Last, as the parts above left it (the buffer's order is the ids' order all the same).
        self.rows.household(
            id=household_id,
            reference=self.reference(household_id),
            area_id=area.id if area else None,
            address_line_1=address,
            town=town,
            postcode=postcode,
            preferred_channel=plan.preferred_channel,
            enquiry_channel=channel,
            source_key=source,
            campaign_id=campaign_id,
            referrer_household_id=referrer_id,
            referrer_name=referrer_name,
            interests=interests,
            is_kinship=kinship,
            assigned_officer_id=officer,
            assessor_id=plan.assessor_id,
            stage=last_stage,
            stage_entered_at=last_at,
            held_from_stage=hold_from,
            enquired_at=enquired_at,
            first_contact_at=first_contact,
            created_at=enquired_at,
            updated_at=max(last_at, first_contact or last_at),
        )

    def _choose_area(self, rng: random.Random) -> AreaInfo:
        shares = self._area_shares
        if shares is None or shares[0] is not self.areas:  # once per list of areas
            shares = self._area_shares = (
                self.areas,
                sum(a.spec.share for a in self.areas),
                [(area, area.spec.share) for area in self.areas],
            )
        roll = rng.random() * shares[1]
        for area, share in shares[2]:
            roll -= share
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
                email = f"{letters_only(first)}.{letters_only(last)}{household_id}"
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
    ) -> list[tuple[str, bool]]:
        """The consent rows of the enquiry (added here); returns (scope, granted) of each."""
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
        add = self.rows.consent
        wordings = self._consent_wordings[channel == "staff"]
        for scope in scopes:
            add(
                id=self.ids.consent(),
                household_id=household_id,
                scope=scope,
                granted=True,
                wording=wordings[scope],
                via=channel,
                recorded_at=at,
                recorded_by_id=actor_id,
            )
        consents = [(scope, True) for scope in scopes]
        # A few later say STOP to texts: consent rows are append-only.
        if "sms" in scopes and rng.random() < 0.1:
            stop = at + timedelta(days=rng.randint(3, 200), minutes=rng.randint(0, 600))
            if stop < self.cutoff:
                add(
                    id=self.ids.consent(),
                    household_id=household_id,
                    scope="sms",
                    granted=False,
                    wording="Replied STOP to a text message",
                    via="sms",
                    recorded_at=stop,
                    recorded_by_id=None,
                )
                consents.append(("sms", False))
        return consents

    def _preferred(self, consents: list[tuple[str, bool]], rng: random.Random) -> str | None:
        granted = [scope for scope, yes in consents if yes and scope != "store_details"]
        if not granted:
            return None
        if "telegram" in granted and rng.random() < 0.7:
            return "telegram"
        for scope, chance in (("phone", 0.55), ("email", 0.85), ("sms", 1.0)):
            if scope in granted and rng.random() < chance:
                return scope
        return granted[0]
