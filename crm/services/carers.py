"""Approved foster carers: the list, the record, the at-risk flag and the supervising social
worker. Breaks and leaving (notice, then deregistration through the pipeline service, so the
stage history stays whole) are crm.services.leaving.

Who sees which carers (admins all; managers those in their areas; supervising social workers
the carers they supervise, plus, in their areas, carers nobody supervises yet) is decided in
crm.services.access.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    AuditAction,
    Carer,
    CarerStatus,
    CheckIn,
    Household,
    Placement,
    Reason,
    ReasonKind,
    Role,
    StaffUser,
)
from crm.services import access, audit, search
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound

PAGE_SIZE = 50


@dataclass
class CarerRow:
    carer: Carer
    household: Household
    filled: int
    supervisor: str

    @property
    def vacancies(self) -> int:
        if self.carer.status != CarerStatus.ACTIVE:
            return 0
        return max(0, self.carer.places - self.filled)


@dataclass
class CarerQuery:
    status: str = "current"  # current (active + on break), or a CarerStatus value, or "all"
    at_risk: bool = False
    supervisor_id: int | None = None
    q: str = ""
    page: int = 1
    # Keyset pagination: the sort key of the row the page starts after (or ends before).
    after: str = ""
    before: str = ""


@dataclass
class CarerPage:
    rows: list[CarerRow]
    total: int
    page: int
    per_page: int = PAGE_SIZE
    totals: dict[str, int] = field(default_factory=dict)
    # The keys the next and previous pages' links carry.
    next_key: str | None = None
    previous_key: str | None = None

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _open_placements(session: Session, carer_ids: list[int]) -> dict[int, int]:
    if not carer_ids:
        return {}
    return dict(
        session.exec(
            select(Placement.carer_id, sa.func.count(Placement.id))
            .where(Placement.carer_id.in_(carer_ids), Placement.ended_on.is_(None))
            .group_by(Placement.carer_id)
        ).all()
    )


# The list's order: at risk first, then the annual review due soonest (none due last, on both
# databases alike: SQLite and PostgreSQL sort NULL at opposite ends), then the carer.
_NO_REVIEW = date(9999, 12, 31)
_REVIEW_DUE = sa.func.coalesce(Carer.annual_review_due, _NO_REVIEW)
ORDER = (Carer.at_risk.desc(), _REVIEW_DUE.asc(), Carer.id.asc())
BACKWARDS = (Carer.at_risk.asc(), _REVIEW_DUE.desc(), Carer.id.desc())


def carer_key(carer: Carer) -> str:
    """The carer's place in the list's order, as a page link carries it: "1~2027-03-01~42"."""
    due = carer.annual_review_due or _NO_REVIEW
    return f"{int(bool(carer.at_risk))}~{due.isoformat()}~{carer.id}"


def _parse_key(text: str) -> tuple[bool, date, int] | None:
    parts = text.split("~")
    if len(parts) != 3 or parts[0] not in ("0", "1"):
        return None
    try:
        return parts[0] == "1", date.fromisoformat(parts[1]), int(parts[2])
    except ValueError:
        return None


def _beyond(
    key: tuple[bool, date, int],
    at_risk_column: sa.ColumnElement,
    due_column: sa.ColumnElement,
    id_column: sa.ColumnElement,
    *,
    forwards: bool = True,
) -> sa.ColumnElement[bool]:
    """Rows after `key` in the list's order (or before it), by the list's sort columns."""
    at_risk, due, carer_id = key
    rest = sa.tuple_(due_column, id_column)
    if forwards:
        # At risk (true) comes first: after it come those not at risk.
        further_group = at_risk_column.is_(False) if at_risk else sa.false()
        return sa.or_(
            further_group, sa.and_(at_risk_column.is_(at_risk), rest > sa.tuple_(due, carer_id))
        )
    earlier_group = sa.false() if at_risk else at_risk_column.is_(True)
    return sa.or_(
        earlier_group, sa.and_(at_risk_column.is_(at_risk), rest < sa.tuple_(due, carer_id))
    )


def list_carers(session: Session, actor: Actor, query: CarerQuery) -> CarerPage:
    # What needs the carer's household (who may see it, and the search), asked of the one
    # household by its key for each carer (a correlated subquery rather than a join, so that
    # PostgreSQL reads the few carers' households rather than every visible household).
    of_household = [access.carer_visibility(actor), Household.anonymised_at.is_(None)]
    conditions = []
    if query.status == "current":
        conditions.append(Carer.status != CarerStatus.DEREGISTERED)
    elif query.status in CarerStatus._value2member_map_:
        conditions.append(Carer.status == query.status)
    if query.at_risk:
        conditions.append(Carer.at_risk.is_(True))
    if query.supervisor_id:
        conditions.append(Carer.supervising_social_worker_id == query.supervisor_id)
    if query.q.strip():
        found = search.match(session, query.q)
        if found is not None:
            of_household.append(found.condition)
    conditions.append(
        select(Household.id)
        .where(Household.id == Carer.household_id, *of_household)
        .correlate(Carer)
        .scalar_subquery()
        .is_not(None)
    )
    # Everything the filters match read once, for the count, the places, children placed and
    # vacancies; only the page's few rows are then read whole, by their keys.
    placed_now = (
        select(Placement.carer_id, sa.func.count(Placement.id).label("placed"))
        .where(Placement.ended_on.is_(None))
        .group_by(Placement.carer_id)
        .subquery()
    )
    active = Carer.status == CarerStatus.ACTIVE
    # One statement for the page and the totals of everything the filters match (window sums
    # over the whole match, before the page is cut), so the carers are joined to their
    # households once: at 100,000 households that join is most of the list's time.
    listed = (
        select(
            Carer.id.label("id"),
            Carer.household_id.label("household_id"),
            Carer.at_risk.label("at_risk"),
            _REVIEW_DUE.label("due"),
            sa.func.count().over().label("total"),
            sa.func.sum(sa.case((active, Carer.places), else_=0)).over().label("places"),
            sa.func.sum(sa.case((active, sa.func.coalesce(placed_now.c.placed, 0)), else_=0))
            .over()
            .label("placed"),
        )
        .select_from(Carer)
        .outerjoin(placed_now, placed_now.c.carer_id == Carer.id)
        .where(*conditions)
        .subquery()
    )
    columns = (listed.c.at_risk, listed.c.due, listed.c.id)
    forwards = (listed.c.at_risk.desc(), listed.c.due.asc(), listed.c.id.asc())
    backwards = (listed.c.at_risk.asc(), listed.c.due.desc(), listed.c.id.desc())
    after = _parse_key(query.after) if query.after else None
    before = _parse_key(query.before) if query.before and after is None else None
    ids = select(
        listed.c.id, listed.c.household_id, listed.c.total, listed.c.places, listed.c.placed
    ).limit(PAGE_SIZE)

    def read(page: int) -> list:
        if after is not None:
            return list(session.exec(ids.where(_beyond(after, *columns)).order_by(*forwards)))
        if before is not None:
            found = ids.where(_beyond(before, *columns, forwards=False)).order_by(*backwards)
            return list(reversed(session.exec(found).all()))
        return list(session.exec(ids.order_by(*forwards).offset((page - 1) * PAGE_SIZE)))

    page = max(1, query.page)
    found = read(page)
    if found:
        total, places, placed = found[0][2], found[0][3], found[0][4]
    elif page == 1 and after is None and before is None:
        total = places = placed = 0
    else:
        # Beyond the list's end: the totals alone, and the last page.
        total, places, placed = session.exec(
            select(
                sa.func.coalesce(sa.func.max(listed.c.total), 0),
                sa.func.coalesce(sa.func.max(listed.c.places), 0),
                sa.func.coalesce(sa.func.max(listed.c.placed), 0),
            )
        ).one()
        if after is None and before is None and page > 1:
            page = max(1, math.ceil(total / PAGE_SIZE))
            found = read(page)
    total, places, placed = int(total), int(places or 0), int(placed or 0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(page, pages)
    keys = [(row[0], row[1]) for row in found]
    # The page's rows whole, each by its primary key.
    pairs = []
    if keys:
        found = {
            c.id: c for c in session.exec(select(Carer).where(Carer.id.in_([k[0] for k in keys])))
        }
        homes = {
            h.id: h
            for h in session.exec(
                select(Household)
                .where(Household.id.in_([k[1] for k in keys]))
                .options(selectinload(Household.applicants))
            )
        }
        pairs = [(found[c], homes[h]) for c, h in keys]
    filled = _open_placements(session, [c.id for c, _ in pairs])
    names = dict(session.exec(select(StaffUser.id, StaffUser.name)).all())
    rows = [
        CarerRow(c, h, filled.get(c.id, 0), names.get(c.supervising_social_worker_id, "None"))
        for c, h in pairs
    ]
    totals = {"places": places, "placed": placed, "vacancies": max(0, places - placed)}
    result = CarerPage(rows=rows, total=total, page=page, totals=totals)
    if rows:
        result.next_key = carer_key(rows[-1].carer)
        # Page 1 is the list's start: its link needs no key.
        result.previous_key = carer_key(rows[0].carer) if page > 2 else None
    return result


@dataclass
class CarerView:
    carer: Carer
    household: Household
    supervisor: StaffUser | None
    placements: list[Placement]
    check_ins: list[CheckIn]
    filled: int
    reasons: list[Reason]

    @property
    def vacancies(self) -> int:
        if self.carer.status != CarerStatus.ACTIVE:
            return 0
        return max(0, self.carer.places - self.filled)

    @property
    def scores(self) -> list[int]:
        """Answered check-in scores, oldest first (for the trend)."""
        return [c.score for c in reversed(self.check_ins) if c.score is not None]

    @property
    def trend(self) -> str:
        scores = self.scores
        if len(scores) < 2:
            return "Not enough answers yet"
        recent = scores[-3:]
        earlier = scores[:-3] or scores[:1]
        change = sum(recent) / len(recent) - sum(earlier) / len(earlier)
        if change <= -0.5:
            return "Falling"
        if change >= 0.5:
            return "Rising"
        return "Steady"


def get_carer(
    session: Session, actor: Actor, carer_id: int, *, record_view: bool = False
) -> tuple[Carer, Household]:
    carer = session.get(Carer, carer_id)
    if carer is None:
        raise NotFound(f"No carer with id {carer_id}")
    household = session.get(Household, carer.household_id)
    if not access.may_view_carer(actor, carer, household):
        raise NotAllowed("This carer is not one you support")
    if record_view:
        with transaction(session):
            audit.record(session, actor, AuditAction.VIEW, "carer", carer.id)
    return carer, household


def carer_view(session: Session, actor: Actor, carer_id: int) -> CarerView:
    carer, household = get_carer(session, actor, carer_id, record_view=True)
    placements = session.exec(
        select(Placement)
        .where(Placement.carer_id == carer.id)
        .order_by(Placement.ended_on.is_not(None), Placement.started_on.desc())
    ).all()
    check_ins = session.exec(
        select(CheckIn)
        .where(CheckIn.carer_id == carer.id)
        .order_by(CheckIn.sent_at.desc())
        .limit(24)
    ).all()
    supervisor = (
        session.get(StaffUser, carer.supervising_social_worker_id)
        if carer.supervising_social_worker_id
        else None
    )
    reasons = session.exec(
        select(Reason)
        .where(Reason.kind == ReasonKind.DEREGISTERED, Reason.active.is_(True))
        .order_by(Reason.label)
    ).all()
    return CarerView(
        carer=carer,
        household=household,
        supervisor=supervisor,
        placements=list(placements),
        check_ins=list(check_ins),
        filled=sum(1 for p in placements if p.ended_on is None),
        reasons=list(reasons),
    )


def _may_change(actor: Actor, household: Household) -> None:
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This carer is in an area you do not work in")


def set_at_risk(
    session: Session, actor: Actor, carer_id: int, *, at_risk: bool, reason: str | None
) -> Carer:
    """Flag (with the reason) or clear a carer's risk of leaving."""
    carer, household = get_carer(session, actor, carer_id)
    _may_change(actor, household)
    reason = " ".join((reason or "").split()) or None
    if at_risk and not reason:
        raise InvalidInput("Say why the carer may be at risk of leaving", "reason")
    with transaction(session):
        carer.at_risk = at_risk
        carer.at_risk_reason = reason[:500] if at_risk and reason else None
        session.add(carer)
        audit.record(session, actor, AuditAction.UPDATE, "carer", carer.id, at_risk=at_risk)
    session.refresh(carer)
    return carer


def assign_supervisor(session: Session, actor: Actor, carer_id: int, staff_id: int | None) -> Carer:
    if actor.role not in (Role.ADMIN, Role.MANAGER) and not actor.is_system:
        raise NotAllowed("Only managers assign supervising social workers")
    carer, household = get_carer(session, actor, carer_id)
    _may_change(actor, household)
    if staff_id is not None:
        staff = session.get(StaffUser, staff_id)
        if (
            staff is None
            or not staff.active
            or staff.role not in (Role.SUPERVISING_SOCIAL_WORKER, Role.MANAGER)
        ):
            raise InvalidInput("Choose a supervising social worker who is working", "staff_id")
        if not access.may_own_work(session, staff, household.area_id):
            # A supervisor sees the carers they supervise, so this would open the record to
            # someone outside the carer's area.
            raise InvalidInput("Choose someone who works in this carer's area", "staff_id")
    with transaction(session):
        carer.supervising_social_worker_id = staff_id
        session.add(carer)
        audit.record(session, actor, AuditAction.UPDATE, "carer", carer.id, supervisor=True)
    session.refresh(carer)
    return carer


def supervisors(session: Session, area_id: int | None) -> list[StaffUser]:
    from crm.models import StaffArea

    query = select(StaffUser).where(
        StaffUser.active.is_(True), StaffUser.role == Role.SUPERVISING_SOCIAL_WORKER
    )
    if area_id is not None:
        query = query.join(StaffArea, StaffArea.staff_id == StaffUser.id).where(
            StaffArea.area_id == area_id
        )
    return list(session.exec(query.order_by(StaffUser.name)).all())


def due_soon(carer: Carer, today: date, days: int = 60) -> dict[str, bool]:
    """Which dates on the record are overdue or close, for highlighting."""
    out = {}
    for name in ("annual_review_due", "tsd_due"):
        value = getattr(carer, name)
        out[name] = value is not None and (value - today).days <= days
    if carer.tsd_completed_on is not None:
        out["tsd_due"] = False
    return out


def today_local(settings) -> date:  # noqa: ANN001
    return clock.now().astimezone(settings.tz).date()
