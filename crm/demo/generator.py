"""The generator: one object made of the parts (organisation, households, pipeline, visits,
carers, work), each a mixin reading the state set up here. One object because the parts draw
from the same random streams, in one order: that order is what makes the rows reproducible."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from crm.demo.assessment import AssessmentMixin
from crm.demo.carers import CarersMixin, due_rule
from crm.demo.chance import Choice, Stream
from crm.demo.diary import Calendar, SlotBook
from crm.demo.households import HouseholdsMixin
from crm.demo.organisation import AreaInfo, OrganisationMixin
from crm.demo.pipeline import PipelineMixin
from crm.demo.rows import Ids, Rows
from crm.demo.shape import (
    DEREGISTRATION_REASONS,
    HISTORY_DAYS,
    NOT_PROGRESSED_REASONS,
    ON_HOLD_REASONS,
    REASON_TEXTS,
    RESPONSE_DELAYS,
    SOURCES,
    WITHDRAWN_REASONS,
)
from crm.demo.support import SupportMixin
from crm.demo.visits import VisitsMixin
from crm.demo.words import CONSENT_WORDING
from crm.demo.work import WorkMixin
from crm.models import (
    Area,
    AuditEvent,
    AvailabilityException,
    AvailabilityPattern,
    Campaign,
    Household,
    Hub,
    StaffUser,
)
from crm.services.errors import InvalidInput
from crm.settings import Settings


class Generator(
    OrganisationMixin,
    HouseholdsMixin,
    PipelineMixin,
    VisitsMixin,
    CarersMixin,
    SupportMixin,
    WorkMixin,
    AssessmentMixin,
):
    """One demo load: the state every part shares (streams of random numbers, the calendar,
    the slot book, the rows to write) and the reasons lists."""

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
        self.calendar = Calendar(settings.tz)
        # The histories run up to the start of `as_of` (local): nothing happens on or after it
        # except what is booked for the future.
        self.cutoff = self.calendar.at(as_of, 0)
        self.tomorrow = self.calendar.at(as_of + timedelta(days=1), 0)
        self.first_day = as_of - timedelta(days=HISTORY_DAYS)
        self.book = SlotBook(self.calendar)
        self.rows = Rows(connection.dialect)
        organisation = [Hub, Area, StaffUser, Campaign, AvailabilityPattern, AvailabilityException]
        self.ids = Ids(
            connection, self.rows.tables + [m.__table__ for m in organisation + [AuditEvent]]
        )
        # Separate streams, so a change in one part leaves the others' data as it was.
        self.rng_org = Stream(f"{seed}:organisation")
        self.rng = Stream(f"{seed}:households")
        self.rng_carers = Stream(f"{seed}:carers")
        self.rng_support = Stream(f"{seed}:support")
        self.rng_assessment = Stream(f"{seed}:assessment")
        self.reasons = reasons
        self.sources = sources
        self.service_name = settings.service.name
        # Each scope's wording, as the web form shows it and as staff read it on the phone.
        wordings = {
            scope: text.format(service=self.service_name) for scope, text in CONSENT_WORDING.items()
        }
        self._consent_wordings = {
            False: wordings,
            True: {scope: f"Agreed on the phone: {text}" for scope, text in wordings.items()},
        }
        self.areas: list[AreaInfo] = []
        self._area_shares: tuple | None = None  # households._choose_area's, made once
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
        self.choose_source = Choice(source_weights)
        self.choose_on_hold = self._reason_choice("on_hold", ON_HOLD_REASONS)
        self.choose_dereg = self._reason_choice("deregistered", DEREGISTRATION_REASONS)
        self.choose_response = Choice({i: p for i, (_, p, _) in enumerate(RESPONSE_DELAYS)})
        self.due_rules = {kinship: due_rule(kinship) for kinship in (False, True)}

    def _reason_choice(self, kind: str, weights: dict[str, float]) -> Choice:
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
        return Choice(usable)

    def _prepare_reasons(self) -> dict[tuple[str, str], Choice]:
        choices = {}
        for stage, weights in WITHDRAWN_REASONS.items():
            choices[("withdrawn", stage)] = self._reason_choice("withdrawn", weights)
        for stage, weights in NOT_PROGRESSED_REASONS.items():
            choices[("not_progressed", stage)] = self._reason_choice("not_progressed", weights)
        return choices

    def reason_text(self, code: str, rng: random.Random) -> str | None:
        texts = REASON_TEXTS.get(code)
        return rng.choice(texts) if texts else None
