"""Caseloads: what each member of staff holds (households they are assigned to, carers they
supervise, supervision visits overdue for those carers, open and overdue tasks), for the
person themselves and, as a team view, for managers of their areas.

Every count and list goes through crm.services.access, so a manager's team view counts only
records the manager may open. Each list is one query (grouped counts, never one per person).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Area,
    AuditAction,
    Carer,
    CarerStatus,
    Household,
    Role,
    StaffArea,
    StaffUser,
    Stage,
    Task,
)
from crm.services import access, audit
from crm.services.actors import Actor
from crm.services.errors import NotAllowed, NotFound
from crm.settings import Settings

# The roles that hold a caseload (admins keep none of their own).
CASELOAD_ROLES = (
    Role.MANAGER,
    Role.RECRUITMENT_OFFICER,
    Role.ASSESSING_SOCIAL_WORKER,
    Role.SUPERVISING_SOCIAL_WORKER,
)
TEAM_VIEW_ROLES = frozenset({Role.MANAGER, Role.ADMIN})
# A household is open work until it is approved (then it is a carer) or has left.
NOT_OPEN_STAGES = (Stage.APPROVED, Stage.WITHDRAWN, Stage.NOT_PROGRESSED, Stage.DEREGISTERED)


def open_household() -> sa.ColumnElement[bool]:
    return sa.and_(Household.stage.not_in(NOT_OPEN_STAGES), Household.anonymised_at.is_(None))


def current_carer() -> sa.ColumnElement[bool]:
    return sa.and_(Carer.status != CarerStatus.DEREGISTERED, Household.anonymised_at.is_(None))


@dataclass
class CaseloadRow:
    staff: StaffUser
    areas: list[str]
    households: int = 0
    carers: int = 0
    overdue_visits: int = 0
    open_tasks: int = 0
    overdue_tasks: int = 0


def _last_supervision() -> sa.Subquery:
    return (
        select(
            Appointment.carer_id.label("carer_id"),
            sa.func.max(Appointment.starts_at).label("last_at"),
        )
        .where(
            Appointment.kind == AppointmentKind.SUPERVISION_VISIT,
            Appointment.carer_id.is_not(None),
            Appointment.status.in_([AppointmentStatus.BOOKED, AppointmentStatus.COMPLETED]),
            Appointment.starts_at <= clock.now(),
        )
        .group_by(Appointment.carer_id)
        .subquery()
    )


def _booked_ahead() -> sa.ColumnElement[bool]:
    return (
        select(Appointment.id)
        .where(
            Appointment.carer_id == Carer.id,
            Appointment.kind == AppointmentKind.SUPERVISION_VISIT,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at > clock.now(),
        )
        .correlate(Carer)
        .exists()
    )


def overdue_supervision(
    session: Session, actor: Actor, settings: Settings, staff_ids: list[int]
) -> dict[int, set[int]]:
    """Per supervising social worker, the active carers they supervise whose supervision visit
    is overdue (the same rule as the reminder in crm.services.reminders.carers: nothing for
    `supervision_overdue_days` since the last visit, or approval, and none booked ahead)."""
    if not staff_ids:
        return {}
    last = _last_supervision()
    rows = session.exec(
        select(
            Carer.id,
            Carer.supervising_social_worker_id,
            Carer.last_supervision_at,
            Carer.approved_on,
            last.c.last_at,
        )
        .join(Household, Household.id == Carer.household_id)
        .outerjoin(last, last.c.carer_id == Carer.id)
        .where(
            Carer.supervising_social_worker_id.in_(staff_ids),
            Carer.status == CarerStatus.ACTIVE,
            Household.anonymised_at.is_(None),
            access.carer_visibility(actor),
            sa.not_(_booked_ahead()),
        )
    ).all()
    now = clock.now()
    limit = timedelta(days=settings.reminders.supervision_overdue_days)
    out: dict[int, set[int]] = {}
    for carer_id, worker_id, recorded, approved_on, visited in rows:
        seen = [t for t in (recorded, visited) if t is not None]
        since = max(seen) if seen else datetime.combine(approved_on, time(0, 0), settings.tz)
        if now - since > limit:
            out.setdefault(worker_id, set()).add(carer_id)
    return out


def _grouped(session: Session, query: sa.Select) -> dict[int, int]:
    return {key: count for key, count in session.exec(query).all()}


def team_caseloads(session: Session, actor: Actor, settings: Settings) -> list[CaseloadRow]:
    """The team view: everyone active with a caseload in the areas the actor works in (every
    area for an admin), with their counts, by name."""
    if not actor.is_system and actor.role not in TEAM_VIEW_ROLES:
        raise NotAllowed("Only managers and admins see the team's caseloads")
    query = select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role.in_(CASELOAD_ROLES))
    if not (actor.is_system or actor.role == Role.ADMIN):
        query = query.where(
            select(StaffArea.staff_id)
            .where(
                StaffArea.staff_id == StaffUser.id, StaffArea.area_id.in_(sorted(actor.area_ids))
            )
            .exists()
        )
    staff = list(session.exec(query.order_by(StaffUser.name, StaffUser.id)).all())
    ids = [s.id for s in staff]
    if not ids:
        return []
    areas: dict[int, list[str]] = {}
    for staff_id, name in session.exec(
        select(StaffArea.staff_id, Area.name)
        .join(Area, Area.id == StaffArea.area_id)
        .where(StaffArea.staff_id.in_(ids))
        .order_by(Area.name)
    ).all():
        areas.setdefault(staff_id, []).append(name)
    households = _grouped(
        session,
        select(Household.assigned_officer_id, sa.func.count(Household.id))
        .where(
            Household.assigned_officer_id.in_(ids),
            open_household(),
            access.household_visibility(actor),
        )
        .group_by(Household.assigned_officer_id),
    )
    carers = _grouped(
        session,
        select(Carer.supervising_social_worker_id, sa.func.count(Carer.id))
        .join(Household, Household.id == Carer.household_id)
        .where(
            Carer.supervising_social_worker_id.in_(ids),
            current_carer(),
            access.carer_visibility(actor),
        )
        .group_by(Carer.supervising_social_worker_id),
    )
    now = clock.now()
    task_counts = {
        owner: (count, overdue or 0)
        for owner, count, overdue in session.exec(
            select(
                Task.owner_id,
                sa.func.count(Task.id),
                sa.func.sum(sa.case((Task.due_at < now, 1), else_=0)),
            )
            .where(Task.owner_id.in_(ids), Task.done_at.is_(None), access.task_visibility(actor))
            .group_by(Task.owner_id)
        ).all()
    }
    overdue = overdue_supervision(session, actor, settings, ids)
    return [
        CaseloadRow(
            staff=s,
            areas=areas.get(s.id, []),
            households=households.get(s.id, 0),
            carers=carers.get(s.id, 0),
            overdue_visits=len(overdue.get(s.id, ())),
            open_tasks=task_counts.get(s.id, (0, 0))[0],
            overdue_tasks=task_counts.get(s.id, (0, 0))[1],
        )
        for s in staff
    ]


@dataclass
class Caseload:
    staff: StaffUser
    areas: list[str]
    households: list[Household]
    carers: list[tuple[Carer, Household]]
    overdue_carer_ids: set[int]
    tasks: list[Task]
    visits: list[Appointment]
    # Households named by the visits and tasks, and carers by id (only those the actor may
    # open: a name shown is a record disclosed).
    names: dict[int, Household] = field(default_factory=dict)
    carer_names: dict[int, Household] = field(default_factory=dict)

    @property
    def overdue_tasks(self) -> int:
        now = clock.now()
        return sum(1 for t in self.tasks if t.due_at < now)


def may_see_caseload(session: Session, actor: Actor, staff: StaffUser) -> bool:
    """Their own, or a manager's who works in one of their areas, or an admin's."""
    if actor.is_system or actor.role == Role.ADMIN or actor.user_id == staff.id:
        return True
    if actor.role != Role.MANAGER:
        return False
    theirs = set(session.exec(select(StaffArea.area_id).where(StaffArea.staff_id == staff.id)))
    return bool(theirs & set(actor.area_ids))


LIST_LIMIT = 200


def caseload(session: Session, actor: Actor, settings: Settings, staff_id: int) -> Caseload:
    """One person's caseload, each list limited by what the actor may open."""
    staff = session.get(StaffUser, staff_id)
    if staff is None:
        raise NotFound(f"No member of staff with id {staff_id}")
    if not may_see_caseload(session, actor, staff):
        raise NotAllowed("You may see your own caseload, or your team's if you manage it")
    areas = list(
        session.exec(
            select(Area.name)
            .join(StaffArea, StaffArea.area_id == Area.id)
            .where(StaffArea.staff_id == staff.id)
            .order_by(Area.name)
        ).all()
    )
    households = list(
        session.exec(
            select(Household)
            .where(
                Household.assigned_officer_id == staff.id,
                open_household(),
                access.household_visibility(actor),
            )
            .order_by(Household.enquired_at, Household.id)
            .limit(LIST_LIMIT)
            .options(selectinload(Household.applicants))
        ).all()
    )
    carers = list(
        session.exec(
            select(Carer, Household)
            .join(Household, Household.id == Carer.household_id)
            .where(
                Carer.supervising_social_worker_id == staff.id,
                current_carer(),
                access.carer_visibility(actor),
            )
            .order_by(Carer.approved_on, Carer.id)
            .limit(LIST_LIMIT)
            .options(selectinload(Household.applicants))
        ).all()
    )
    tasks = list(
        session.exec(
            select(Task)
            .where(Task.owner_id == staff.id, Task.done_at.is_(None), access.task_visibility(actor))
            .order_by(Task.due_at, Task.id)
            .limit(LIST_LIMIT)
        ).all()
    )
    visits = list(
        session.exec(
            select(Appointment)
            .where(
                Appointment.staff_id == staff.id,
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.starts_at > clock.now(),
                access.appointment_visibility(actor),
            )
            .order_by(Appointment.starts_at)
            .limit(LIST_LIMIT)
        ).all()
    )
    names = access.visible_households(session, actor, [x.household_id for x in [*tasks, *visits]])
    carer_ids = sorted({x.carer_id for x in [*tasks, *visits] if x.carer_id})
    carer_names = dict(
        session.exec(
            select(Carer.id, Household)
            .join(Household, Household.id == Carer.household_id)
            .where(Carer.id.in_(carer_ids), access.carer_visibility(actor))
            .options(selectinload(Household.applicants))
        ).all()
    )
    overdue = overdue_supervision(session, actor, settings, [staff.id]).get(staff.id, set())
    with transaction(session):
        audit.record(session, actor, AuditAction.VIEW, "caseload", staff.id)
    return Caseload(
        staff=staff,
        areas=areas,
        households=households,
        carers=carers,
        overdue_carer_ids=overdue,
        tasks=tasks,
        visits=visits,
        names=names,
        carer_names=carer_names,
    )
