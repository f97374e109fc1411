"""Placements: adding, ending and moving a child's placement with a carer, the capacity and
vacancies that follow from the approval terms, and utilisation (places filled over approved
places) per area and across the hub, day by day.

A placement outside the approval terms (more children than places, a child outside the age
range, a type of fostering the carer is not approved for) needs a fostering manager's
exemption with a reason; a supervising social worker is told to ask one. Nothing is saved
until every check has passed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    Area,
    AuditAction,
    Carer,
    CarerStatus,
    FosteringType,
    Household,
    Placement,
    PlacementEnding,
    Role,
)
from crm.services import access, audit, leaving
from crm.services.actors import Actor
from crm.services.carers import get_carer
from crm.services.errors import InvalidInput, NotAllowed, NotFound

# Who may add, end and move placements.
PLACEMENT_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.SUPERVISING_SOCIAL_WORKER})
# Who may agree a placement outside the approval terms.
EXEMPTION_ROLES = frozenset({Role.ADMIN, Role.MANAGER})


@dataclass
class PlacementInput:
    child_reference: str = ""
    placing_authority: str = ""
    fostering_type: str = ""
    emergency: bool = False
    started_on: date | None = None
    child_age: int | None = None
    expected_end_on: date | None = None
    exemption_reason: str = ""


@dataclass
class Capacity:
    places: int
    filled: int
    status: CarerStatus

    @property
    def vacancies(self) -> int:
        if self.status != CarerStatus.ACTIVE:
            return 0
        return max(0, self.places - self.filled)


def _today() -> date:
    return clock.local_date(clock.now())


def _words(value: str | None, limit: int) -> str:
    return " ".join((value or "").split())[:limit]


def _may_place(actor: Actor) -> None:
    if not actor.is_system and actor.role not in PLACEMENT_ROLES:
        raise NotAllowed("Only supervising social workers and managers record placements")


def live_placements(session: Session, carer_id: int) -> list[Placement]:
    return list(
        session.exec(
            select(Placement)
            .where(Placement.carer_id == carer_id, Placement.ended_on.is_(None))
            .order_by(Placement.started_on, Placement.id)
        ).all()
    )


def capacity(session: Session, carer: Carer) -> Capacity:
    return Capacity(carer.places, len(live_placements(session, carer.id)), carer.status)


def outside_terms(
    carer: Carer, filled: int, fostering_type: str, child_age: int | None
) -> list[str]:
    """How a new placement would go beyond the approval terms, in words (empty: within)."""
    problems = []
    if filled + 1 > carer.places:
        problems.append(
            f"the carer is approved for {carer.places} "
            f"child{'' if carer.places == 1 else 'ren'} and has {filled} placed"
        )
    if child_age is not None and not carer.age_min <= child_age <= carer.age_max:
        problems.append(
            f"a child aged {child_age} is outside the approved ages "
            f"{carer.age_min} to {carer.age_max}"
        )
    if carer.fostering_types and fostering_type and fostering_type not in carer.fostering_types:
        problems.append(
            f"the carer is not approved for {fostering_type.replace('_', ' ')} fostering"
        )
    return problems


def _check_new(
    actor: Actor, carer: Carer, filled: int, data: PlacementInput, errors: dict[str, str]
) -> tuple[str, str, str | None]:
    """Validate a new placement's details into `errors`; returns the cleaned reference,
    authority and exemption reason."""
    reference = _words(data.child_reference, 40)
    authority = _words(data.placing_authority, 200)
    exemption = _words(data.exemption_reason, 500) or None
    today = _today()
    if not reference:
        errors["child_reference"] = "Enter the child's reference from the case system"
    if not authority:
        errors["placing_authority"] = "Enter the local authority that placed the child"
    if data.fostering_type not in FosteringType._value2member_map_:
        errors["fostering_type"] = "Choose the type of fostering"
    if data.child_age is None:
        errors["child_age"] = "Enter the child's age in years"
    elif not 0 <= data.child_age <= 25:
        errors["child_age"] = "Enter an age from 0 to 25"
    if data.started_on is None:
        errors["started_on"] = "Enter the date the placement started"
    else:
        if data.started_on < carer.approved_on:
            errors["started_on"] = "The placement cannot start before the carer was approved"
        elif data.started_on > today + timedelta(days=90):
            errors["started_on"] = "The start must be within the next 90 days"
        if data.expected_end_on is not None and data.expected_end_on < data.started_on:
            errors["expected_end_on"] = "The expected end must be on or after the start"
    if carer.status != CarerStatus.ACTIVE:
        errors["__all__"] = (
            "This carer is on a break from fostering"
            if carer.status == CarerStatus.ON_BREAK
            else "This carer is deregistered"
        )
    if not errors:
        problems = outside_terms(carer, filled, data.fostering_type, data.child_age)
        if problems and exemption is None:
            errors["exemption_reason"] = (
                "This placement is outside the approval terms ("
                + "; ".join(problems)
                + "). A fostering manager must agree an exemption and give the reason"
            )
        elif problems and not actor.is_system and actor.role not in EXEMPTION_ROLES:
            errors["exemption_reason"] = (
                "Only a fostering manager can agree a placement outside the approval terms ("
                + "; ".join(problems)
                + "): ask one to add it"
            )
        elif not problems:
            # An exemption is for going beyond the terms; within them it would mislead.
            exemption = None
    return reference, authority, exemption


def _check_notice(session: Session, carer: Carer, errors: dict[str, str]) -> None:
    """A carer who has given notice takes no new child (crm.services.leaving)."""
    notice = leaving.standing(session, [carer.id])[carer.id].notice
    if notice is not None and "__all__" not in errors:
        errors["__all__"] = (
            f"This carer has given notice: their approval ends on "
            f"{notice.approval_ends_on:%-d %B %Y}, so no new placement can start"
        )


def add_placement(session: Session, actor: Actor, carer_id: int, data: PlacementInput) -> Placement:
    _may_place(actor)
    carer, household = get_carer(session, actor, carer_id)
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This carer is in an area you do not work in")
    errors: dict[str, str] = {}
    filled = len(live_placements(session, carer.id))
    reference, authority, exemption = _check_new(actor, carer, filled, data, errors)
    _check_notice(session, carer, errors)
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        placement = _new(actor, carer, data, reference, authority, exemption)
        session.add(placement)
        session.flush()
        audit.record(
            session, actor, AuditAction.CREATE, "placement", placement.id,
            carer_id=carer.id, exemption=exemption is not None,
        )  # fmt: skip
    session.refresh(placement)
    return placement


def _new(
    actor: Actor,
    carer: Carer,
    data: PlacementInput,
    reference: str,
    authority: str,
    exemption: str | None,
    moved_from_id: int | None = None,
) -> Placement:
    return Placement(
        carer_id=carer.id,
        child_reference=reference,
        placing_authority=authority,
        fostering_type=FosteringType(data.fostering_type),
        emergency=data.emergency,
        started_on=data.started_on,
        child_age=data.child_age,
        expected_end_on=data.expected_end_on,
        exemption_reason=exemption,
        exempted_by_id=actor.user_id if exemption else None,
        moved_from_id=moved_from_id,
    )


def get_placement(session: Session, actor: Actor, placement_id: int) -> tuple[Placement, Carer]:
    placement = session.get(Placement, placement_id)
    if placement is None:
        raise NotFound(f"No placement with id {placement_id}")
    carer, _ = get_carer(session, actor, placement.carer_id)
    return placement, carer


def _check_ending(
    placement: Placement, ended_on: date | None, reason: str, ending: str, errors: dict
) -> None:
    if placement.ended_on is not None:
        errors["__all__"] = "This placement has already ended"
        return
    if ended_on is None:
        errors["ended_on"] = "Enter the date the placement ended"
    elif ended_on < placement.started_on:
        errors["ended_on"] = "The placement cannot end before it started"
    elif ended_on > _today():
        errors["ended_on"] = "The end date cannot be in the future"
    if not reason:
        errors["end_reason"] = "Say why the placement ended"
    if ending not in PlacementEnding._value2member_map_:
        errors["ending"] = "Choose whether the ending was planned or unplanned"


def end_placement(
    session: Session,
    actor: Actor,
    placement_id: int,
    *,
    ended_on: date | None,
    reason: str,
    ending: str,
) -> Placement:
    _may_place(actor)
    placement, carer = get_placement(session, actor, placement_id)
    household = session.get(Household, carer.household_id)
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This carer is in an area you do not work in")
    reason = _words(reason, 500)
    errors: dict[str, str] = {}
    _check_ending(placement, ended_on, reason, ending, errors)
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        placement.ended_on = ended_on
        placement.end_reason = reason
        placement.ending = PlacementEnding(ending)
        session.add(placement)
        audit.record(
            session, actor, AuditAction.UPDATE, "placement", placement.id, ended=True,
            ending=ending,
        )  # fmt: skip
    session.refresh(placement)
    return placement


def move_placement(
    session: Session,
    actor: Actor,
    placement_id: int,
    *,
    to_carer_id: int | None,
    moved_on: date | None,
    reason: str,
    ending: str,
    child_age: int | None = None,
    exemption_reason: str = "",
) -> Placement:
    """End the placement and start the same child's placement with another carer on the same
    day, both or neither. Returns the new placement."""
    _may_place(actor)
    placement, carer = get_placement(session, actor, placement_id)
    household = session.get(Household, carer.household_id)
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This carer is in an area you do not work in")
    reason = _words(reason, 500)
    errors: dict[str, str] = {}
    _check_ending(placement, moved_on, reason, ending, errors)
    if "ended_on" in errors:
        # The form asks for the day of the move, which is the day the old placement ends.
        errors["moved_on"] = (
            "Enter the date the child moved"
            if moved_on is None
            else errors["ended_on"].replace("placement cannot end", "move cannot be")
        )
        del errors["ended_on"]
    target = None
    if to_carer_id is None:
        errors["to_carer_id"] = "Choose the carer the child is moving to"
    elif to_carer_id == carer.id:
        errors["to_carer_id"] = "Choose a different carer from the current one"
    else:
        try:
            target, target_household = get_carer(session, actor, to_carer_id)
        except (NotFound, NotAllowed):
            errors["to_carer_id"] = "Choose a carer you support"
        else:
            if not actor.may_work_on(target_household.area_id):
                errors["to_carer_id"] = "Choose a carer in an area you work in"
    new_data = PlacementInput(
        child_reference=placement.child_reference,
        placing_authority=placement.placing_authority or "Not recorded",
        fostering_type=placement.fostering_type,
        emergency=placement.emergency,
        started_on=moved_on,
        child_age=child_age if child_age is not None else placement.child_age,
        expected_end_on=placement.expected_end_on,
        exemption_reason=exemption_reason,
    )
    reference = authority = exemption = None
    if target is not None and not errors:
        new_errors: dict[str, str] = {}
        filled = len(live_placements(session, target.id))
        reference, authority, exemption = _check_new(actor, target, filled, new_data, new_errors)
        _check_notice(session, target, new_errors)
        if "started_on" in new_errors:
            # The new placement starts on the day of the move.
            new_errors["moved_on"] = new_errors.pop("started_on")
        errors.update(new_errors)
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        placement.ended_on = moved_on
        placement.end_reason = reason
        placement.ending = PlacementEnding(ending)
        session.add(placement)
        moved = _new(actor, target, new_data, reference, authority, exemption, placement.id)
        session.add(moved)
        session.flush()
        audit.record(
            session, actor, AuditAction.UPDATE, "placement", placement.id, moved_to=moved.id
        )
        audit.record(
            session, actor, AuditAction.CREATE, "placement", moved.id,
            carer_id=target.id, moved_from=placement.id, exemption=exemption is not None,
        )  # fmt: skip
    session.refresh(moved)
    return moved


# -- utilisation ---------------------------------------------------------------------------


@dataclass
class UtilisationRow:
    name: str
    # One (day, filled, places) per day, oldest first.
    days: list[tuple[date, int, int]]

    @property
    def latest(self) -> tuple[date, int, int]:
        return self.days[-1]


def _share(filled: int, places: int) -> str:
    return f"{round(100 * filled / places)}%" if places else "No places"


def share(filled: int, places: int) -> str:
    """Places filled over approved places, as the table shows it."""
    return _share(filled, places)


def utilisation(
    session: Session, actor: Actor, *, end: date | None = None, days: int = 7
) -> tuple[list[UtilisationRow], UtilisationRow]:
    """Places filled / approved places for each visible area, and the hub (all of them), for
    each of `days` days up to `end`. A carer's places count from approval until deregistration;
    a child fills a place from the placement's start until the day it ends."""
    if actor.role not in PLACEMENT_ROLES and not actor.is_system:
        raise NotAllowed("Only supervising social workers and managers see utilisation")
    end = end or _today()
    first = end - timedelta(days=days - 1)
    span = [first + timedelta(days=n) for n in range(days)]
    visible = [access.carer_visibility(actor), Household.anonymised_at.is_(None)]

    # Summed by the database, one column a day, so that a few rows per area come back rather
    # than every carer and placement (the carers list shows today's at 100,000 households).
    def approved(day: date) -> sa.ColumnElement:
        return sa.and_(
            Carer.approved_on <= day,
            sa.or_(Carer.deregistered_on.is_(None), Carer.deregistered_on > day),
        )

    def placed(day: date) -> sa.ColumnElement:
        return sa.and_(
            Placement.started_on <= day,
            sa.or_(Placement.ended_on.is_(None), Placement.ended_on > day),
        )

    # One statement: the visible carers joined to their households once (at 100,000
    # households that join is most of the time), each carer's placements summed first.
    placed_by_carer = (
        sa.select(
            Placement.carer_id,
            *(
                sa.func.sum(sa.case((placed(day), 1), else_=0)).label(f"d{n}")
                for n, day in enumerate(span)
            ),
        )
        .where(Placement.started_on <= end)
        .where(sa.or_(Placement.ended_on.is_(None), Placement.ended_on > first))
        .group_by(Placement.carer_id)
        .subquery()
    )
    in_span = sa.and_(
        Carer.approved_on <= end,
        sa.or_(Carer.deregistered_on.is_(None), Carer.deregistered_on > first),
    )
    # The carer's area if the actor may see the carer (0 for a household in no area), else
    # none: asked of its one household by key for each carer, not joined, since PostgreSQL
    # would read every visible household to join them. OFFSET 0 keeps it asked once a carer.
    seen_in = (
        sa.select(sa.func.coalesce(Household.area_id, 0))
        .where(Household.id == Carer.household_id, *visible)
        .correlate(Carer)
        .scalar_subquery()
    )
    per_carer = (
        sa.select(
            seen_in.label("area"),
            *(
                sa.case((approved(day), Carer.places), else_=0).label(f"p{n}")
                for n, day in enumerate(span)
            ),
            *(sa.func.coalesce(placed_by_carer.c[f"d{n}"], 0).label(f"f{n}") for n in range(days)),
        )
        .select_from(Carer)
        .outerjoin(placed_by_carer, placed_by_carer.c.carer_id == Carer.id)
        .where(sa.or_(in_span, placed_by_carer.c.carer_id.is_not(None)))
        .offset(0)
        .subquery()
    )
    by_area = session.execute(
        sa.select(
            per_carer.c.area,
            *(sa.func.sum(per_carer.c[f"p{n}"]) for n in range(days)),
            *(sa.func.sum(per_carer.c[f"f{n}"]) for n in range(days)),
        )
        .where(per_carer.c.area.is_not(None))
        .group_by(per_carer.c.area)
    ).all()
    places: dict[int | None, list[int]] = defaultdict(lambda: [0] * days)
    filled: dict[int | None, list[int]] = defaultdict(lambda: [0] * days)
    for area_id, *counts in by_area:
        area_id = area_id or None
        places[area_id] = [int(c or 0) for c in counts[:days]]
        filled[area_id] = [int(c or 0) for c in counts[days:]]
    names = dict(session.exec(select(Area.id, Area.name)).all())
    rows = []
    for area_id in sorted(set(places) | set(filled), key=lambda a: names.get(a, "")):
        rows.append(
            UtilisationRow(
                names.get(area_id, "No area"),
                [(day, filled[area_id][n], places[area_id][n]) for n, day in enumerate(span)],
            )
        )
    hub = UtilisationRow(
        "All areas",
        [
            (day, sum(f[n] for f in filled.values()), sum(p[n] for p in places.values()))
            for n, day in enumerate(span)
        ],
    )
    return rows, hub


def placements_of(session: Session, actor: Actor, carer_id: int) -> list[Placement]:
    """The carer's placements, live ones first, newest first."""
    carer, _ = get_carer(session, actor, carer_id)
    return list(
        session.exec(
            select(Placement)
            .where(Placement.carer_id == carer.id)
            .order_by(Placement.ended_on.is_not(None), Placement.started_on.desc(), Placement.id)
        ).all()
    )


def carers_to_move_to(
    session: Session, actor: Actor, carer_id: int, *, limit: int = 500
) -> list[tuple[Carer, str]]:
    """Active carers the actor may place with (other than `carer_id`), with their vacancies,
    for the move form; those with room first."""
    from sqlalchemy.orm import selectinload

    live = (
        select(Placement.carer_id, sa.func.count(Placement.id).label("filled"))
        .where(Placement.ended_on.is_(None))
        .group_by(Placement.carer_id)
        .subquery()
    )
    filled = sa.func.coalesce(live.c.filled, 0)
    rows = session.exec(
        select(Carer, Household, filled)
        .join(Household, Household.id == Carer.household_id)
        .outerjoin(live, live.c.carer_id == Carer.id)
        .where(
            access.carer_visibility(actor),
            Household.anonymised_at.is_(None),
            Carer.status == CarerStatus.ACTIVE,
            Carer.id != carer_id,
        )
        .order_by((Carer.places - filled) <= 0, Carer.id)
        .limit(limit)
        .options(selectinload(Household.applicants))
    ).all()
    out = []
    for carer, household, taken in rows:
        if not actor.may_work_on(household.area_id):
            continue
        room = max(0, carer.places - taken)
        out.append(
            (carer, f"{household.display_name} ({household.reference}): "
             f"{room} vacanc{'y' if room == 1 else 'ies'}")
        )  # fmt: skip
    return out
