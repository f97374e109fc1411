"""What admins keep: staff accounts, areas and their postcode districts, reason lists, sources
and campaigns. Every change is validated first and written to the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    Area,
    AreaPostcodeDistrict,
    AuditAction,
    AuditEvent,
    Campaign,
    Hub,
    Reason,
    ReasonKind,
    Role,
    SessionEndReason,
    Source,
    StaffArea,
    StaffUser,
)
from crm.services import audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.services.sessions import end_all_sessions
from crm.services.staff import MIN_PASSWORD_LENGTH, hash_password, open_work, stranded_work
from crm.services.throttle import SignInThrottle

_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def _admin_only(actor: Actor) -> None:
    if not actor.is_system and actor.role != Role.ADMIN:
        raise NotAllowed("Only admins change this")


def _text(value: str | None, field: str, limit: int, message: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise InvalidInput(message, field)
    if len(value) > limit:
        raise InvalidInput(f"Use {limit} characters or fewer", field)
    return value


# -- staff --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInFailures:
    failures: int
    addresses: int
    delayed_until: datetime | None


def update_staff_user(
    session: Session,
    actor: Actor,
    staff_id: int,
    *,
    name: str,
    role: str,
    active: bool,
    area_ids: list[int],
) -> StaffUser:
    _admin_only(actor)
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise NotFound(f"No member of staff with id {staff_id}")
    errors: dict[str, str] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = "Enter the person's name"
    try:
        role = Role(role)
    except ValueError:
        errors["role"] = "Choose a role"
    known = set(session.exec(select(Area.id)).all())
    if any(a not in known for a in area_ids):
        errors["areas"] = "Choose areas from the list"
    if user.id == actor.user_id and (not active or role != Role.ADMIN):
        errors["role"] = "You cannot remove your own admin access"
    if user.active and not active:
        work = open_work(session, user.id)
        if work.total:
            # Nothing may be left with someone who cannot sign in: the caseload page moves it.
            errors["active"] = (
                f"{user.name} still holds open work ({work.describe()}): choose who takes it "
                "on their caseload page before deactivating them"
            )
    if errors:
        raise InvalidInput(errors)
    # Rights are read afresh on every request, so new areas apply at once. A new role ends the
    # person's sessions all the same: what a session may need at sign-in (a second factor for
    # some roles) depends on the role. Deactivation ends them too (and is refused at sign-in).
    end_reason = None
    if user.active and not active:
        end_reason = SessionEndReason.DEACTIVATED
    elif role != user.role:
        end_reason = SessionEndReason.ROLE_CHANGED
    with transaction(session):
        if end_reason is not None:
            end_all_sessions(session, actor, user.id, end_reason)
        user.name = name[:200]
        user.role = role
        user.active = active
        session.add(user)
        session.exec(sa.delete(StaffArea).where(StaffArea.staff_id == user.id))
        for area_id in sorted(set(area_ids)):
            session.add(StaffArea(staff_id=user.id, area_id=area_id))
        if active:
            # Checked as they will be, in the same transaction: raising here lands nothing.
            session.flush()
            stranded = stranded_work(session, user)
            if stranded:
                raise InvalidInput(
                    f"{name} would keep work they could no longer do or open "
                    f"({'; '.join(stranded)}): move it from their caseload page first",
                    "role",
                )
        audit.record(
            session, actor, AuditAction.UPDATE, "staff_user", user.id,
            role=role.value, active=active, areas=sorted(set(area_ids)),
        )  # fmt: skip
    session.refresh(user)
    return user


def sign_in_failures(
    session: Session, actor: Actor, staff_id: int, throttle: SignInThrottle
) -> SignInFailures:
    """Recent failed sign-ins on this person's email, for their page (no addresses shown)."""
    _admin_only(actor)
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise NotFound(f"No member of staff with id {staff_id}")
    now = clock.now()
    counters = throttle.account_counters(user.email, now)
    # Every failure is counted on its address's row for this email; the email's own row (the
    # same failures again, up to a share per address) is the one that slows down everyone.
    own = counters.pop(throttle.account_key(user.email), None)
    return SignInFailures(
        failures=sum(c.failures for c in counters.values()),
        addresses=len(counters),
        delayed_until=own.next_attempt_at if own and own.next_attempt_at > now else None,
    )


def clear_sign_in_failures(
    session: Session, actor: Actor, staff_id: int, throttle: SignInThrottle
) -> None:
    """Forget the failed sign-ins on this person's email, ending any wait they cause."""
    _admin_only(actor)
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise NotFound(f"No member of staff with id {staff_id}")
    with transaction(session):
        throttle.clear_account(user.email)
        audit.record(
            session, actor, AuditAction.UPDATE, "staff_user", user.id, sign_in_failures=True
        )


def reset_password(
    session: Session,
    actor: Actor,
    staff_id: int,
    password: str,
    *,
    throttle: SignInThrottle | None = None,
) -> StaffUser:
    """Set a new password: every session of the person ends at once, and (given the
    throttle) earlier failed sign-ins on their email are forgotten."""
    _admin_only(actor)
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise NotFound(f"No member of staff with id {staff_id}")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Use a password of at least {MIN_PASSWORD_LENGTH} characters", "password"
        )
    with transaction(session):
        user.password_hash = hash_password(password)
        session.add(user)
        end_all_sessions(session, actor, user.id, SessionEndReason.PASSWORD_RESET)
        if throttle is not None:
            throttle.clear_account(user.email)
        audit.record(session, actor, AuditAction.UPDATE, "staff_user", user.id, password_reset=True)
    return user


# -- areas --------------------------------------------------------------------------------


def parse_districts(raw: str) -> list[str]:
    districts = sorted({d.strip().upper() for d in re.split(r"[\s,;]+", raw or "") if d.strip()})
    bad = [d for d in districts if not _DISTRICT.match(d)]
    if bad:
        raise InvalidInput(
            f"Not a postcode district: {', '.join(bad[:5])}. Use the first part of a "
            "postcode, like LE1 or NG10",
            "districts",
        )
    return districts


def save_area(
    session: Session,
    actor: Actor,
    area_id: int | None,
    *,
    name: str,
    districts: str,
    childrens_services_phone: str | None = None,
    active: bool = True,
) -> Area:
    """Create (area_id None) or change an area and its postcode districts."""
    _admin_only(actor)
    name = _text(name, "name", 200, "Enter the area's name")
    wanted = parse_districts(districts)
    area = session.get(Area, area_id) if area_id is not None else None
    if area_id is not None and area is None:
        raise NotFound(f"No area with id {area_id}")
    clash = session.exec(select(Area.id).where(Area.name == name)).first()
    if clash is not None and (area is None or clash != area.id):
        raise InvalidInput("An area with that name already exists", "name")
    taken = {
        d: a
        for d, a in session.exec(
            select(AreaPostcodeDistrict.district, AreaPostcodeDistrict.area_id).where(
                AreaPostcodeDistrict.district.in_(wanted)
            )
        )
        if area is None or a != area.id
    }
    if taken:
        raise InvalidInput(f"Already in another area: {', '.join(sorted(taken)[:5])}", "districts")
    with transaction(session):
        if area is None:
            hub = session.exec(select(Hub).order_by(Hub.id)).first()
            if hub is None:
                hub = Hub(name="Hub")
                session.add(hub)
                session.flush()
            area = Area(hub_id=hub.id, name=name)
        area.name = name
        area.active = active
        area.childrens_services_phone = (childrens_services_phone or "").strip()[:40] or None
        session.add(area)
        session.flush()
        session.exec(sa.delete(AreaPostcodeDistrict).where(AreaPostcodeDistrict.area_id == area.id))
        for district in wanted:
            session.add(AreaPostcodeDistrict(district=district, area_id=area.id))
        audit.record(session, actor, AuditAction.UPDATE, "area", area.id, districts=len(wanted))
    session.refresh(area)
    return area


def districts_by_area(session: Session) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for district, area_id in session.exec(
        select(AreaPostcodeDistrict.district, AreaPostcodeDistrict.area_id).order_by(
            AreaPostcodeDistrict.district
        )
    ):
        out.setdefault(area_id, []).append(district)
    return out


# -- lists: reasons, sources, campaigns ---------------------------------------------------


def save_reason(
    session: Session,
    actor: Actor,
    reason_id: int | None,
    *,
    kind: str,
    code: str,
    label: str,
    active: bool = True,
) -> Reason:
    _admin_only(actor)
    label = _text(label, "label", 200, "Enter the reason as staff will see it")
    if reason_id is None:
        try:
            kind = ReasonKind(kind)
        except ValueError:
            raise InvalidInput("Choose which stage the reason is for", "kind") from None
        code = (code or "").strip().lower()
        if not _KEY.match(code):
            raise InvalidInput(
                "A code is 2 to 40 lower-case letters, digits or underscores", "code"
            )
        if session.exec(select(Reason.id).where(Reason.kind == kind, Reason.code == code)).first():
            raise InvalidInput("That code is already in this list", "code")
        reason = Reason(kind=kind, code=code, label=label, active=active)
    else:
        reason = session.get(Reason, reason_id)
        if reason is None:
            raise NotFound(f"No reason with id {reason_id}")
        # The code is what reports count by: it never changes once used.
        reason.label = label
        reason.active = active
    with transaction(session):
        session.add(reason)
        session.flush()
        audit.record(session, actor, AuditAction.UPDATE, "reason", reason.id, active=active)
    session.refresh(reason)
    return reason


def save_source(
    session: Session, actor: Actor, key: str, *, label: str, active: bool = True, new: bool
) -> Source:
    _admin_only(actor)
    label = _text(label, "label", 100, "Enter the source as people will see it")
    key = (key or "").strip().lower()
    source = session.get(Source, key)
    if new:
        if not _KEY.match(key):
            raise InvalidInput("A key is 2 to 40 lower-case letters, digits or underscores", "key")
        if source is not None:
            raise InvalidInput("That key is already used", "key")
        source = Source(key=key, label=label, active=active)
    else:
        if source is None:
            raise NotFound(f"No source {key!r}")
        source.label = label
        source.active = active
    with transaction(session):
        session.add(source)
        audit.record(session, actor, AuditAction.UPDATE, "source", None, key=key, active=active)
    session.refresh(source)
    return source


def save_campaign(
    session: Session,
    actor: Actor,
    campaign_id: int | None,
    *,
    name: str,
    source_key: str | None,
    cost_pounds: str | None,
    active: bool = True,
) -> Campaign:
    _admin_only(actor)
    name = _text(name, "name", 200, "Enter the campaign's name")
    errors: dict[str, str] = {}
    if source_key and session.get(Source, source_key) is None:
        errors["source_key"] = "Choose a source from the list"
    cost_pence = None
    if cost_pounds and cost_pounds.strip():
        try:
            value = float(cost_pounds.replace(",", "").replace("£", "").strip())
            if value < 0:
                raise ValueError
            cost_pence = round(value * 100)
        except ValueError:
            errors["cost"] = "Enter the cost in pounds, like 1500 or 1500.50"
    campaign = session.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign_id is not None and campaign is None:
        raise NotFound(f"No campaign with id {campaign_id}")
    clash = session.exec(select(Campaign.id).where(Campaign.name == name)).first()
    if clash is not None and (campaign is None or clash != campaign.id):
        errors["name"] = "A campaign with that name already exists"
    if errors:
        raise InvalidInput(errors)
    campaign = campaign or Campaign(name=name)
    campaign.name = name
    campaign.source_key = source_key or None
    campaign.cost_pence = cost_pence
    campaign.active = active
    with transaction(session):
        session.add(campaign)
        session.flush()
        audit.record(session, actor, AuditAction.UPDATE, "campaign", campaign.id, active=active)
    session.refresh(campaign)
    return campaign


# -- the audit log ------------------------------------------------------------------------


@dataclass
class AuditQuery:
    actor_id: int | None = None
    action: str = ""
    entity: str = ""
    entity_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    per_page: int = 50


def audit_log(session: Session, query: AuditQuery) -> tuple[list[AuditEvent], int]:
    conditions = []
    if query.actor_id:
        conditions.append(AuditEvent.actor_id == query.actor_id)
    if query.action:
        conditions.append(AuditEvent.action == query.action)
    if query.entity:
        conditions.append(AuditEvent.entity == query.entity)
    if query.entity_id:
        conditions.append(AuditEvent.entity_id == query.entity_id)
    if query.since:
        conditions.append(AuditEvent.occurred_at >= query.since)
    if query.until:
        conditions.append(AuditEvent.occurred_at < query.until)
    total = session.exec(select(sa.func.count(AuditEvent.id)).where(*conditions)).one()
    events = session.exec(
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .offset((max(1, query.page) - 1) * query.per_page)
        .limit(query.per_page)
    ).all()
    return list(events), total
