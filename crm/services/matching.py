"""Finding a carer for a child: the hub's wider pool.

Staff describe what the child (or brothers and sisters placed together) needs and where they
live; the search lists the carers whose approval terms and vacancies fit, nearest first (the
child's postcode district, then the rest of the child's area, then the hub's other areas), with
their terms, their current household and anything that should make staff think twice (on a
break, given notice to leave, flagged at risk of leaving, annual review overdue). Matching is
a decision of staff: the search explains each carer it lists and never picks one.

Visibility is crm.services.access's carer rule: a manager searches the areas they work in, an
admin the whole hub.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from crm import clock
from crm.models import (
    Area,
    AreaPostcodeDistrict,
    Carer,
    CarerStatus,
    FosteringType,
    Household,
    Placement,
    Role,
    Specialism,
)
from crm.services import access, leaving
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.validation import normalise_postcode, postcode_district

MATCHING_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.SUPERVISING_SOCIAL_WORKER})
MAX_CHILDREN = 6
SHOWN = 50

# How long the child is likely to stay, and the types of fostering that suit it.
HOW_LONG = {
    "nights": ("A few nights", {"emergency", "short_term", "short_breaks", "remand"}),
    "months": ("Weeks or months", {"short_term", "remand", "parent_and_child", "long_term"}),
    "years": ("Until adulthood", {"long_term", "staying_put"}),
}


class Band:
    DISTRICT = 0
    AREA = 1
    HUB = 2
    LABELS = {
        0: "Same postcode district",
        1: "Same area",
        2: "Neighbouring area in the hub",
    }


@dataclass
class Needs:
    ages: list[int] = field(default_factory=list)
    fostering_type: str = ""
    specialisms: list[str] = field(default_factory=list)
    how_long: str = ""
    postcode: str = ""


@dataclass
class Match:
    carer: Carer
    household: Household
    area: str
    band: int
    vacancies: int
    current: list[Placement]
    # What makes staff think twice (listed, never hidden).
    cautions: list[str]
    # Why the carer fits, in words.
    reasons: list[str]

    @property
    def band_label(self) -> str:
        return Band.LABELS[self.band]


@dataclass
class Result:
    needs: Needs
    district: str
    area: str
    matches: list[Match]
    total: int


def _today() -> date:
    return clock.local_date(clock.now())


def _check(needs: Needs) -> tuple[str, dict[str, str]]:
    errors: dict[str, str] = {}
    if not needs.ages:
        errors["ages"] = "Enter the age of each child, for example 6, 9"
    elif len(needs.ages) > MAX_CHILDREN:
        errors["ages"] = f"Enter at most {MAX_CHILDREN} children placed together"
    elif any(not 0 <= a <= 25 for a in needs.ages):
        errors["ages"] = "Enter ages from 0 to 25"
    if needs.fostering_type and needs.fostering_type not in FosteringType._value2member_map_:
        errors["fostering_type"] = "Choose a type of fostering from the list"
    if any(s not in Specialism._value2member_map_ for s in needs.specialisms):
        errors["specialisms"] = "Choose specialisms from the list"
    if needs.how_long and needs.how_long not in HOW_LONG:
        errors["how_long"] = "Choose how long from the list"
    district = ""
    try:
        district = postcode_district(normalise_postcode(needs.postcode))
    except ValueError:
        stripped = "".join(needs.postcode.split()).upper()
        # A district on its own ("LE1") is enough to say where.
        if 2 <= len(stripped) <= 4 and stripped[0].isalpha() and stripped[-1].isalnum():
            district = stripped
        else:
            errors["postcode"] = "Enter the child's postcode or postcode district, like LE1"
    return district, errors


def parse_ages(text: str) -> list[int]:
    """'6, 9' or '6 and 9' -> [6, 9]; raises InvalidInput for anything else."""
    words = text.replace(",", " ").replace(" and ", " ").split()
    try:
        return [int(w) for w in words]
    except ValueError:
        raise InvalidInput("Enter each child's age as a number, for example 6, 9", "ages") from None


def search(session: Session, actor: Actor, needs: Needs, *, limit: int = SHOWN) -> Result:
    if not actor.is_system and actor.role not in MATCHING_ROLES:
        raise NotAllowed("Only managers and supervising social workers search for carers")
    district, errors = _check(needs)
    home_area_id = None
    if not errors:
        home_area_id = session.exec(
            select(AreaPostcodeDistrict.area_id).where(AreaPostcodeDistrict.district == district)
        ).first()
        if home_area_id is None:
            errors["postcode"] = f"{district} is not in any area the hub serves"
    if errors:
        raise InvalidInput(errors)
    home = session.get(Area, home_area_id)
    hub_areas = dict(
        session.exec(
            select(Area.id, Area.name).where(Area.hub_id == home.hub_id, Area.active.is_(True))
        ).all()
    )
    children = len(needs.ages)
    youngest, oldest = min(needs.ages), max(needs.ages)
    # Children placed now, per carer: a look-up in the (carer_id, ended_on) index for each
    # candidate, cheaper than counting every open placement in the hub first.
    filled = (
        select(sa.func.count(Placement.id))
        .where(Placement.carer_id == Carer.id, Placement.ended_on.is_(None))
        .correlate(Carer)
        .scalar_subquery()
    )
    today = _today()

    def offers(column: sa.ColumnElement, value: str) -> sa.ColumnElement[bool]:
        # The lists are JSON arrays of strings; their text holds each value in quotes on
        # SQLite and PostgreSQL alike, so the filter runs in the database.
        return sa.cast(column, sa.String).like(f'%"{value}"%')

    conditions = [
        access.carer_visibility(actor),
        Household.anonymised_at.is_(None),
        Household.area_id.in_(list(hub_areas)),
        Carer.status.in_([CarerStatus.ACTIVE, CarerStatus.ON_BREAK]),
        Carer.age_min <= youngest,
        Carer.age_max >= oldest,
        Carer.places >= children,
    ]
    if needs.fostering_type:
        conditions.append(offers(Carer.fostering_types, needs.fostering_type))
    if needs.how_long:
        conditions.append(
            sa.or_(*[offers(Carer.fostering_types, t) for t in sorted(HOW_LONG[needs.how_long][1])])
        )
    conditions.extend(offers(Carer.specialisms, s) for s in needs.specialisms)
    band = sa.case(
        (Household.postcode.like(f"{district} %"), Band.DISTRICT),
        (Household.area_id == home_area_id, Band.AREA),
        else_=Band.HUB,
    )
    on_break = sa.case((Carer.status == CarerStatus.ON_BREAK, 1), else_=0)
    # Given notice (crm.services.leaving): listed, last among the same distance.
    notice = sa.case((leaving.under_notice(), 1), else_=0)
    at_risk = sa.case((Carer.at_risk.is_(True), 1), else_=0)
    review_overdue = sa.case((Carer.annual_review_due < today, 1), else_=0)
    siblings_last = (
        sa.case((offers(Carer.specialisms, Specialism.SIBLING_GROUPS.value), 0), else_=1)
        if children > 1
        else sa.literal(0)
    )
    # One pass: every candidate's sort key (a few thousand small rows at the hub's size), so
    # the count and the nearest `limit` come from the same read.
    candidates = session.exec(
        select(
            Carer.id,
            Household.area_id,
            band,
            filled,
            on_break + at_risk + review_overdue + notice,
            siblings_last,
            Carer.places,
        )  # fmt: skip
        .join(Household, Household.id == Carer.household_id)
        .where(*conditions)
    ).all()
    # Room for every child (children placed counted once per carer, here rather than in the
    # query's filter, where it would be counted again).
    candidates = [r for r in candidates if r[6] - r[3] >= children]
    total = len(candidates)
    # Nearest first; then nothing to think twice about; sibling groups with carers who offer
    # them; then the tightest fit, so a large household is kept for the group that needs it.
    ranked = heapq.nsmallest(
        limit, candidates, key=lambda r: (r[2], r[4], r[5], r[6] - r[3] - children, r[0])
    )
    carers = {
        c.id: c for c in session.exec(select(Carer).where(Carer.id.in_([r[0] for r in ranked])))
    }
    shown = []
    standings = leaving.standing(session, [r[0] for r in ranked])
    for carer_id, area_id, carer_band, taken, *_ in ranked:
        carer = carers[carer_id]
        cautions = []
        standing = standings[carer_id]
        if standing.on_break is not None:
            cautions.append(standing.problems[0])
        elif carer.status == CarerStatus.ON_BREAK:
            cautions.append("On a break from fostering")
        if standing.notice is not None:
            cautions.append(standing.problems[-1])
        if carer.at_risk:
            cautions.append("Flagged at risk of leaving")
        if carer.annual_review_due is not None and carer.annual_review_due < today:
            cautions.append("Annual review overdue")
        shown.append((None, carer, area_id, carer_band, carer.places - taken, cautions))
    ids = [item[1].id for item in shown]
    households = {
        h.id: h
        for h in session.exec(
            select(Household)
            .where(Household.id.in_([item[1].household_id for item in shown]))
            .options(selectinload(Household.applicants))
        ).all()
    }
    current: dict[int, list[Placement]] = {i: [] for i in ids}
    for placement in session.exec(
        select(Placement)
        .where(Placement.carer_id.in_(ids), Placement.ended_on.is_(None))
        .order_by(Placement.started_on)
    ).all():
        current[placement.carer_id].append(placement)
    matches = []
    for _, carer, area_id, band, vacancies, cautions in shown:
        reasons = [
            f"{vacancies} vacanc{'y' if vacancies == 1 else 'ies'} for {children} "
            f"child{'' if children == 1 else 'ren'}",
            f"Approved for ages {carer.age_min} to {carer.age_max}",
        ]
        if needs.fostering_type:
            reasons.append(f"Approved for {needs.fostering_type.replace('_', ' ')} fostering")
        if needs.specialisms:
            reasons.append("Offers " + ", ".join(s.replace("_", " ") for s in needs.specialisms))
        if children > 1 and Specialism.SIBLING_GROUPS in carer.specialisms:
            reasons.append("Offers sibling groups")
        matches.append(
            Match(
                carer=carer,
                household=households[carer.household_id],
                area=hub_areas.get(area_id, ""),
                band=band,
                vacancies=vacancies,
                current=current[carer.id],
                cautions=cautions,
                reasons=reasons,
            )
        )
    return Result(needs, district, home.name, matches, total)
