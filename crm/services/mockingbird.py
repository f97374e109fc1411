"""Mockingbird constellations: a hub home carer and 6 to 10 satellite fostering households.

Managers and admins start and end a constellation; they and the supervising social workers
who support its households add and remove satellites and record what the hub home gave
(meetings, sleepovers and short breaks with their nights, peer support). Who sees which
constellation follows the carers: a constellation is visible to whoever may see its hub home
carer, and its satellites are listed only as far as the viewer may see each one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from crm.db import transaction
from crm.models import (
    Area,
    AuditAction,
    Carer,
    CarerStatus,
    Constellation,
    ConstellationActivity,
    ConstellationActivityKind,
    ConstellationMember,
    Household,
    Role,
)
from crm.services import access, audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.text import clean_text

MIN_SATELLITES = 6
MAX_SATELLITES = 10
LEADING_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
SUPPORTING_ROLES = LEADING_ROLES | {Role.SUPERVISING_SOCIAL_WORKER}
# A sleepover or short break is for one satellite household and lasts at least a night.
STAYS = frozenset({ConstellationActivityKind.SLEEPOVER, ConstellationActivityKind.SHORT_BREAK})


def _may_lead(actor: Actor) -> None:
    if not actor.is_system and actor.role not in LEADING_ROLES:
        raise NotAllowed("Only managers start and end Mockingbird constellations")


def _may_support(actor: Actor) -> None:
    if not actor.is_system and actor.role not in SUPPORTING_ROLES:
        raise NotAllowed(
            "Mockingbird constellations are for managers and supervising social workers"
        )


def _text(value: str | None, limit: int) -> str:
    return " ".join(clean_text(value or "").split())[:limit]


def _carer(session: Session, actor: Actor, carer_id: int | None, field_name: str):  # noqa: ANN202
    carer = session.get(Carer, carer_id) if carer_id else None
    if carer is None:
        raise InvalidInput("Choose a carer household", field_name)
    household = session.get(Household, carer.household_id)
    if not access.may_view_carer(actor, carer, household) or not actor.may_work_on(
        household.area_id
    ):
        raise InvalidInput("Choose a carer household you support", field_name)
    return carer, household


def _not_in_future(day: date | None, today: date, field_name: str, what: str) -> date:
    if day is None:
        raise InvalidInput(f"Enter the date {what}", field_name)
    if day > today:
        raise InvalidInput(f"The date {what} cannot be in the future", field_name)
    return day


def _live_constellation_of(session: Session, carer_id: int) -> Constellation | None:
    """The live constellation the carer is in, as its hub home or a satellite."""
    as_hub = session.exec(
        select(Constellation).where(
            Constellation.hub_carer_id == carer_id, col(Constellation.ended_on).is_(None)
        )
    ).first()
    if as_hub is not None:
        return as_hub
    return session.exec(
        select(Constellation)
        .join(ConstellationMember, ConstellationMember.constellation_id == Constellation.id)
        .where(
            ConstellationMember.carer_id == carer_id,
            col(ConstellationMember.left_on).is_(None),
            col(Constellation.ended_on).is_(None),
        )
    ).first()


def get_constellation(session: Session, actor: Actor, constellation_id: int) -> Constellation:
    _may_support(actor)
    constellation = session.get(Constellation, constellation_id)
    if constellation is None:
        raise NotFound(f"No constellation with id {constellation_id}")
    hub = session.get(Carer, constellation.hub_carer_id)
    household = session.get(Household, hub.household_id)
    if not (
        access.may_view_carer(actor, hub, household) or actor.may_work_on(constellation.area_id)
    ):
        raise NotAllowed("This constellation is in an area you do not work in")
    return constellation


def start_constellation(
    session: Session,
    actor: Actor,
    *,
    name: str,
    hub_carer_id: int | None,
    started_on: date | None,
    today: date,
) -> Constellation:
    """A new constellation around a hub home carer, in the hub home's area."""
    _may_lead(actor)
    errors: dict[str, str] = {}
    name = _text(name, 100)
    if not name:
        errors["name"] = "Enter a name for the constellation"
    elif session.exec(select(Constellation.id).where(Constellation.name == name)).first():
        errors["name"] = f"There is already a constellation called {name}"
    try:
        hub, household = _carer(session, actor, hub_carer_id, "hub_carer_id")
    except InvalidInput as exc:
        errors.update(exc.errors)
        hub = household = None
    try:
        started_on = _not_in_future(started_on, today, "started_on", "it started")
    except InvalidInput as exc:
        errors.update(exc.errors)
    if hub is not None:
        if hub.status != CarerStatus.ACTIVE:
            errors["hub_carer_id"] = "The hub home carer must be an active approved carer"
        elif (other := _live_constellation_of(session, hub.id)) is not None:
            errors["hub_carer_id"] = f"This carer is already in the {other.name} constellation"
        elif household.area_id is None:
            errors["hub_carer_id"] = "The hub home carer's household has no area yet"
        elif "started_on" not in errors and started_on < hub.approved_on:
            errors["started_on"] = "A constellation cannot start before its hub home was approved"
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        constellation = Constellation(
            name=name, area_id=household.area_id, hub_carer_id=hub.id, started_on=started_on
        )
        session.add(constellation)
        session.flush()
        audit.record(session, actor, AuditAction.CREATE, "constellation", constellation.id)
    return constellation


def add_satellite(
    session: Session,
    actor: Actor,
    constellation_id: int,
    *,
    carer_id: int | None,
    joined_on: date | None,
    today: date,
) -> ConstellationMember:
    _may_support(actor)
    constellation = get_constellation(session, actor, constellation_id)
    if constellation.ended_on is not None:
        raise InvalidInput("This constellation has ended", "carer_id")
    errors: dict[str, str] = {}
    carer = None
    try:
        carer, _ = _carer(session, actor, carer_id, "carer_id")
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        joined_on = _not_in_future(joined_on, today, "joined_on", "they joined")
    except InvalidInput as exc:
        errors.update(exc.errors)
    live = live_satellite_count(session, constellation.id)
    if live >= MAX_SATELLITES:
        errors["carer_id"] = (
            f"{constellation.name} has {MAX_SATELLITES} satellite households already, the most "
            "a constellation can support: another would need a new constellation"
        )
    elif carer is not None:
        if carer.status == CarerStatus.DEREGISTERED:
            errors["carer_id"] = "This carer has been deregistered"
        elif (other := _live_constellation_of(session, carer.id)) is not None:
            errors["carer_id"] = f"This carer is already in the {other.name} constellation"
        elif "joined_on" not in errors and joined_on < max(
            carer.approved_on, constellation.started_on
        ):
            errors["joined_on"] = (
                "A household cannot join before it was approved or before the constellation started"
            )
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        member = ConstellationMember(
            constellation_id=constellation.id, carer_id=carer.id, joined_on=joined_on
        )
        session.add(member)
        session.flush()
        audit.record(session, actor, AuditAction.CREATE, "constellation_member", member.id)
    return member


def remove_satellite(
    session: Session,
    actor: Actor,
    member_id: int,
    *,
    left_on: date | None,
    reason: str,
    today: date,
) -> ConstellationMember:
    _may_support(actor)
    member = session.get(ConstellationMember, member_id)
    if member is None:
        raise NotFound(f"No constellation membership {member_id}")
    get_constellation(session, actor, member.constellation_id)
    if member.left_on is not None:
        raise InvalidInput("This household has already left the constellation", "left_on")
    errors: dict[str, str] = {}
    try:
        left_on = _not_in_future(left_on, today, "left_on", "they left")
        if left_on < member.joined_on:
            errors["left_on"] = "A household cannot leave before it joined"
    except InvalidInput as exc:
        errors.update(exc.errors)
    reason = _text(reason, 500)
    if not reason:
        errors["reason"] = "Say why the household left the constellation"
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        member.left_on, member.left_reason = left_on, reason
        session.add(member)
        audit.record(session, actor, AuditAction.UPDATE, "constellation_member", member.id)
    return member


def record_activity(
    session: Session,
    actor: Actor,
    constellation_id: int,
    *,
    kind: str,
    occurred_on: date | None,
    carer_id: int | None,
    nights: str | int | None,
    notes: str,
    today: date,
) -> ConstellationActivity:
    _may_support(actor)
    constellation = get_constellation(session, actor, constellation_id)
    errors: dict[str, str] = {}
    try:
        chosen = ConstellationActivityKind(kind)
    except ValueError:
        errors["kind"] = "Choose what the hub home gave"
        chosen = None
    try:
        occurred_on = _not_in_future(occurred_on, today, "occurred_on", "it happened")
        if occurred_on < constellation.started_on:
            errors["occurred_on"] = "This is before the constellation started"
    except InvalidInput as exc:
        errors.update(exc.errors)
    text = str(nights if nights is not None else "").strip()
    if text and not text.isdigit():
        errors["nights"] = "Enter the number of nights as a whole number, like 2"
    count = int(text) if text.isdigit() else 0
    member_ids = _members_on(session, constellation.id, occurred_on)
    if chosen in STAYS:
        if not carer_id or carer_id not in member_ids:
            errors["carer_id"] = "Choose the satellite household the stay was for"
        if "nights" not in errors and count < 1:
            errors["nights"] = "A sleepover or short break is at least one night"
    elif carer_id and carer_id not in member_ids:
        errors["carer_id"] = "Choose a satellite household of this constellation"
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        activity = ConstellationActivity(
            constellation_id=constellation.id,
            kind=chosen,
            occurred_on=occurred_on,
            carer_id=carer_id or None,
            nights=count if chosen in STAYS else 0,
            notes=_text(notes, 2000) or None,
            recorded_by_id=actor.user_id,
        )
        session.add(activity)
        session.flush()
        audit.record(session, actor, AuditAction.CREATE, "constellation_activity", activity.id)
    return activity


def _members_on(session: Session, constellation_id: int, day: date | None) -> set[int]:
    if day is None:
        return set()
    return set(
        session.exec(
            select(ConstellationMember.carer_id).where(
                ConstellationMember.constellation_id == constellation_id,
                ConstellationMember.joined_on <= day,
                sa.or_(
                    col(ConstellationMember.left_on).is_(None), ConstellationMember.left_on >= day
                ),
            )
        ).all()
    )


def end_constellation(
    session: Session, actor: Actor, constellation_id: int, *, ended_on: date | None, today: date
) -> Constellation:
    """End a constellation; its satellites' memberships end the same day."""
    _may_lead(actor)
    constellation = get_constellation(session, actor, constellation_id)
    if constellation.ended_on is not None:
        raise InvalidInput("This constellation has already ended", "ended_on")
    ended_on = _not_in_future(ended_on, today, "ended_on", "it ended")
    if ended_on < constellation.started_on:
        raise InvalidInput("A constellation cannot end before it started", "ended_on")
    with transaction(session):
        constellation.ended_on = ended_on
        session.add(constellation)
        _leave_all(session, ConstellationMember.constellation_id == constellation.id, ended_on,
                   "The constellation ended")  # fmt: skip
        audit.record(session, actor, AuditAction.UPDATE, "constellation", constellation.id)
    return constellation


def _leave_all(session: Session, where: sa.ColumnElement[bool], on: date, reason: str) -> int:
    # A membership cannot end before it began: one that starts later ends the day it starts.
    return session.execute(
        sa.update(ConstellationMember)
        .where(where, col(ConstellationMember.left_on).is_(None))
        .values(
            left_on=sa.case(
                (ConstellationMember.joined_on > on, ConstellationMember.joined_on), else_=on
            ),
            left_reason=reason,
        )
        .execution_options(synchronize_session="fetch")
    ).rowcount


def carer_left(session: Session, carer_id: int, on: date, reason: str) -> int:
    """A carer who deregisters (or whose record is erased) leaves their constellation that
    day, in the caller's transaction. A hub home that leaves keeps its constellation open for
    a manager to find a new hub home (`change_hub`): the satellites still need one."""
    return _leave_all(session, ConstellationMember.carer_id == carer_id, on, reason[:500])


def change_hub(
    session: Session, actor: Actor, constellation_id: int, *, hub_carer_id: int | None
) -> Constellation:
    _may_lead(actor)
    constellation = get_constellation(session, actor, constellation_id)
    hub, household = _carer(session, actor, hub_carer_id, "hub_carer_id")
    if hub.status != CarerStatus.ACTIVE:
        raise InvalidInput("The hub home carer must be an active approved carer", "hub_carer_id")
    other = _live_constellation_of(session, hub.id)
    is_own_satellite = other is not None and other.id == constellation.id
    if other is not None and not is_own_satellite:
        raise InvalidInput(f"This carer is already in the {other.name} constellation",
                           "hub_carer_id")  # fmt: skip
    with transaction(session):
        if is_own_satellite:
            # A satellite becoming the hub home stops being a satellite.
            _leave_all(
                session,
                sa.and_(
                    ConstellationMember.constellation_id == constellation.id,
                    ConstellationMember.carer_id == hub.id,
                ),
                max(hub.approved_on, constellation.started_on),
                "Became the hub home carer",
            )
        constellation.hub_carer_id = hub.id
        session.add(constellation)
        audit.record(session, actor, AuditAction.UPDATE, "constellation", constellation.id,
                     hub_carer_id=True)  # fmt: skip
    return constellation


def retention_area_ids(actor: Actor) -> list[int] | None:
    """The areas whose carers the retention comparison counts (counts only, no names): the
    whole hub for admins, else the areas the actor works in."""
    _may_support(actor)
    if actor.is_system or actor.role == Role.ADMIN:
        return None
    return sorted(actor.area_ids)


def live_satellite_count(session: Session, constellation_id: int) -> int:
    return session.exec(
        select(sa.func.count())
        .select_from(ConstellationMember)
        .where(
            ConstellationMember.constellation_id == constellation_id,
            col(ConstellationMember.left_on).is_(None),
        )
    ).one()


# -- what the pages show ------------------------------------------------------------------


@dataclass
class ConstellationRow:
    constellation: Constellation
    area: str
    hub_name: str
    hub_active: bool
    satellites: int
    activities_90_days: int

    @property
    def short_of_satellites(self) -> bool:
        return self.constellation.ended_on is None and self.satellites < MIN_SATELLITES


def list_constellations(session: Session, actor: Actor, today: date) -> list[ConstellationRow]:
    """The constellations whose hub home the actor may see, live ones first."""
    _may_support(actor)
    satellites = (
        select(sa.func.count())
        .where(
            ConstellationMember.constellation_id == Constellation.id,
            col(ConstellationMember.left_on).is_(None),
        )
        .scalar_subquery()
    )
    recent = (
        select(sa.func.count())
        .where(
            ConstellationActivity.constellation_id == Constellation.id,
            ConstellationActivity.occurred_on > date.fromordinal(today.toordinal() - 90),
        )
        .scalar_subquery()
    )
    rows = session.exec(
        select(Constellation, Area.name, Carer, Household, satellites, recent)
        .join(Area, Area.id == Constellation.area_id)
        .join(Carer, Carer.id == Constellation.hub_carer_id)
        .join(Household, Household.id == Carer.household_id)
        .where(
            sa.or_(
                access.carer_visibility(actor),
                col(Constellation.area_id).in_(sorted(actor.area_ids)),
            )
        )
        .options(selectinload(Household.applicants))
        .order_by(col(Constellation.ended_on).is_not(None), Constellation.name)
    ).all()
    return [
        ConstellationRow(c, area, household.display_name, hub.status == CarerStatus.ACTIVE, n, r)
        for c, area, hub, household, n, r in rows
    ]


@dataclass
class MemberRow:
    member: ConstellationMember
    carer_id: int
    name: str
    visible: bool


@dataclass
class ConstellationView:
    constellation: Constellation
    area: str
    hub: Carer
    hub_name: str
    members: list[MemberRow]
    activities: list[tuple[ConstellationActivity, str]]
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def live_members(self) -> list[MemberRow]:
        return [m for m in self.members if m.member.left_on is None]

    @property
    def short_of_satellites(self) -> bool:
        return self.constellation.ended_on is None and len(self.live_members) < MIN_SATELLITES


def constellation_view(session: Session, actor: Actor, constellation_id: int) -> ConstellationView:
    constellation = get_constellation(session, actor, constellation_id)
    hub = session.get(Carer, constellation.hub_carer_id)
    hub_household = session.get(Household, hub.household_id)
    rows = session.exec(
        select(ConstellationMember, Carer, Household)
        .join(Carer, Carer.id == ConstellationMember.carer_id)
        .join(Household, Household.id == Carer.household_id)
        .where(ConstellationMember.constellation_id == constellation.id)
        .options(selectinload(Household.applicants))
        .order_by(col(ConstellationMember.left_on).is_not(None), ConstellationMember.joined_on)
    ).all()
    members = []
    for member, carer, household in rows:
        # A name shown is a record disclosed: another area's satellite shows as its reference.
        visible = access.may_view_carer(actor, carer, household)
        name = household.display_name if visible else household.reference
        members.append(MemberRow(member, carer.id, name, visible))
    names = {m.carer_id: m.name for m in members}
    activities = session.exec(
        select(ConstellationActivity)
        .where(ConstellationActivity.constellation_id == constellation.id)
        .order_by(ConstellationActivity.occurred_on.desc(), ConstellationActivity.id.desc())
        .limit(100)
    ).all()
    nights = sa.func.sum(ConstellationActivity.nights)
    totals_rows = session.exec(
        select(ConstellationActivity.kind, sa.func.count(), nights)
        .where(ConstellationActivity.constellation_id == constellation.id)
        .group_by(ConstellationActivity.kind)
    ).all()
    totals: dict[str, int] = {}
    for kind, count, nights in totals_rows:
        totals[str(kind)] = count
        if ConstellationActivityKind(kind) in STAYS:
            totals[f"{kind}_nights"] = int(nights or 0)
    audit.record(session, actor, AuditAction.VIEW, "constellation", constellation.id)
    session.commit()
    return ConstellationView(
        constellation,
        session.get(Area, constellation.area_id).name,
        hub,
        hub_household.display_name,
        members,
        [(a, names.get(a.carer_id, "") if a.carer_id else "") for a in activities],
        totals,
    )


def possible_satellites(
    session: Session, actor: Actor, constellation: Constellation
) -> list[tuple[int, str]]:
    """Active carers the actor supports who are in no live constellation."""
    in_one = sa.union(
        select(ConstellationMember.carer_id)
        .join(Constellation, Constellation.id == ConstellationMember.constellation_id)
        .where(col(ConstellationMember.left_on).is_(None), col(Constellation.ended_on).is_(None)),
        select(Constellation.hub_carer_id).where(col(Constellation.ended_on).is_(None)),
    )
    rows = session.exec(
        select(Carer.id, Household)
        .join(Household, Household.id == Carer.household_id)
        .where(
            Carer.status == CarerStatus.ACTIVE,
            access.carer_visibility(actor),
            col(Carer.id).not_in(in_one),
        )
        .options(selectinload(Household.applicants))
        .order_by(Household.reference)
        .limit(500)
    ).all()
    return [(carer_id, f"{h.display_name} ({h.reference})") for carer_id, h in rows]
