"""Supervision visits: the one way to record a visit (its type, notes, what the carer raised
and the actions, which become tasks for the supervising social worker), when the next is due
(every `reminders.supervision_overdue_days` days) and the unannounced visit expected at least
once a year. The overdue ones are chased by the carer reminders
(crm.services.reminders.carers) and listed for managers here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    AuditAction,
    Carer,
    CarerStatus,
    Household,
    Role,
    StaffUser,
    SupervisionKind,
    SupervisionVisit,
    Task,
    TaskKind,
)
from crm.services import access, audit
from crm.services.actors import Actor
from crm.services.carers import get_carer
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.tasks import create_task
from crm.settings import Settings
from crm.workdays import add_office_days

SUPERVISION_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.SUPERVISING_SOCIAL_WORKER})
# The unique keys of the tasks the reminders write that a visit answers.
SUPERVISION_TASK_KEYS = ("supervision", "unannounced")
MAX_ACTIONS = 10


def _today() -> date:
    return clock.local_date(clock.now())


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:5000] or None


def _may(actor: Actor) -> None:
    if not actor.is_system and actor.role not in SUPERVISION_ROLES:
        raise NotAllowed("Only supervising social workers and managers record supervision")


def record_visit(
    session: Session,
    actor: Actor,
    settings: Settings,
    carer_id: int,
    *,
    visited_on: date | None,
    kind: str,
    notes: str | None,
    carer_raised: str | None = None,
    actions: list[str] | None = None,
) -> SupervisionVisit:
    """Record a visit that took place, and make each action a task for the supervising social
    worker (the team's queue when nobody supervises the carer). Closes the reminders' open
    'visit overdue' tasks the visit answers."""
    _may(actor)
    carer, household = get_carer(session, actor, carer_id)
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This carer is in an area you do not work in")
    errors: dict[str, str] = {}
    if visited_on is None:
        errors["visited_on"] = "Enter the date of the visit"
    elif visited_on > _today():
        errors["visited_on"] = "The visit cannot be in the future"
    elif visited_on < carer.approved_on:
        errors["visited_on"] = "The visit cannot be before the carer was approved"
    if kind not in SupervisionKind._value2member_map_:
        errors["kind"] = "Choose whether the visit was announced or unannounced"
    notes = _text(notes)
    if notes is None:
        errors["notes"] = "Enter what the visit found"
    actions = [" ".join(a.split())[:200] for a in (actions or []) if a and a.strip()]
    if len(actions) > MAX_ACTIONS:
        errors["actions"] = f"Enter at most {MAX_ACTIONS} actions"
    if errors:
        raise InvalidInput(errors)
    now = clock.now()
    due_at = add_office_days(
        now, 10, settings.tz, settings.service.office_hours_start, settings.service.office_hours_end
    )
    with transaction(session):
        visit = SupervisionVisit(
            carer_id=carer.id,
            visited_on=visited_on,
            kind=SupervisionKind(kind),
            notes=notes,
            carer_raised=_text(carer_raised),
            recorded_by_id=actor.user_id,
        )
        session.add(visit)
        when = datetime.combine(visited_on, time(12, 0), settings.tz)
        if carer.last_supervision_at is None or carer.last_supervision_at < when:
            carer.last_supervision_at = when
            session.add(carer)
        session.flush()
        owner = carer.supervising_social_worker_id
        owner_ok = (
            owner is not None
            and access.owner_problem(session, session.get(StaffUser, owner), carer=carer) is None
        )
        for action in actions:
            create_task(
                session,
                actor,
                kind=TaskKind.GENERAL,
                title=action,
                detail=f"Action from the supervision visit of {visited_on:%d %B %Y}",
                carer_id=carer.id,
                owner_id=owner if owner_ok else None,
                due_at=due_at,
                commit=False,
            )
        # The visit answers the reminders' chase; an announced one leaves the unannounced one.
        keys = ["supervision"] + (["unannounced"] if kind == SupervisionKind.UNANNOUNCED else [])
        open_chases = session.exec(
            select(Task).where(
                Task.carer_id == carer.id,
                Task.done_at.is_(None),
                sa.or_(*[Task.unique_key.like(f"carer:{carer.id}:{k}:%") for k in keys]),
            )
        ).all()
        for task in open_chases:
            task.done_at = now
            task.done_by_id = actor.user_id
            session.add(task)
            audit.record(session, actor, AuditAction.UPDATE, "task", task.id, done=True)
        audit.record(
            session, actor, AuditAction.CREATE, "supervision_visit", visit.id,
            carer_id=carer.id, actions=len(actions),
        )  # fmt: skip
    session.refresh(visit)
    return visit


def visits_of(session: Session, actor: Actor, carer_id: int) -> list[SupervisionVisit]:
    _may(actor)
    carer, _ = get_carer(session, actor, carer_id)
    return list(
        session.exec(
            select(SupervisionVisit)
            .where(SupervisionVisit.carer_id == carer.id)
            .order_by(SupervisionVisit.visited_on.desc(), SupervisionVisit.id.desc())
        ).all()
    )


@dataclass
class SupervisionStatus:
    last_visit: date | None
    next_due: date
    last_unannounced: date | None
    unannounced_due: date

    def overdue(self, today: date) -> bool:
        return self.next_due < today

    def unannounced_missing(self, today: date) -> bool:
        return self.unannounced_due < today


def status_for(
    carer: Carer, last_visit: date | None, last_unannounced: date | None, every_days: int
) -> SupervisionStatus:
    since = last_visit or carer.approved_on
    return SupervisionStatus(
        last_visit=last_visit,
        next_due=since + timedelta(days=every_days),
        last_unannounced=last_unannounced,
        # At least one unannounced visit a year: the clock starts at approval.
        unannounced_due=(last_unannounced or carer.approved_on) + relativedelta(years=1),
    )


def _last_dates(session: Session, carer_ids: list[int] | sa.Select) -> dict:
    rows = session.exec(
        select(
            SupervisionVisit.carer_id,
            sa.func.max(SupervisionVisit.visited_on),
            sa.func.max(
                sa.case(
                    (
                        SupervisionVisit.kind == SupervisionKind.UNANNOUNCED,
                        SupervisionVisit.visited_on,
                    )
                )
            ),
        )
        .where(SupervisionVisit.carer_id.in_(carer_ids))
        .group_by(SupervisionVisit.carer_id)
    ).all()
    return {carer_id: (last, unannounced) for carer_id, last, unannounced in rows}


def supervision_status(session: Session, settings: Settings, carer: Carer) -> SupervisionStatus:
    last, unannounced = _last_dates(session, [carer.id]).get(carer.id, (None, None))
    if carer.last_supervision_at is not None:
        recorded = carer.last_supervision_at.astimezone(settings.tz).date()
        last = max(last, recorded) if last else recorded
    return status_for(carer, last, unannounced, settings.reminders.supervision_overdue_days)


@dataclass
class OverdueRow:
    carer: Carer
    household: Household
    supervisor: str
    status: SupervisionStatus
    overdue: bool
    unannounced_missing: bool


def overdue_for_managers(
    session: Session, actor: Actor, settings: Settings, *, limit: int = 200
) -> list[OverdueRow]:
    """Active carers (that the actor may see) whose next visit is overdue or who have had no
    unannounced visit in a year, most overdue first."""
    _may(actor)
    today = _today()
    conditions = (
        access.carer_visibility(actor),
        Household.anonymised_at.is_(None),
        Carer.status == CarerStatus.ACTIVE,
    )
    pairs = session.exec(
        select(Carer, Household)
        .join(Household, Household.id == Carer.household_id)
        .where(*conditions)
    ).all()
    last = _last_dates(
        session,
        select(Carer.id).join(Household, Household.id == Carer.household_id).where(*conditions),
    )
    names = dict(session.exec(select(StaffUser.id, StaffUser.name)).all())
    every = settings.reminders.supervision_overdue_days
    rows = []
    for carer, household in pairs:
        visit, unannounced = last.get(carer.id, (None, None))
        if carer.last_supervision_at is not None:
            recorded = carer.last_supervision_at.astimezone(settings.tz).date()
            visit = max(visit, recorded) if visit else recorded
        status = status_for(carer, visit, unannounced, every)
        overdue, missing = status.overdue(today), status.unannounced_missing(today)
        if overdue or missing:
            rows.append(
                OverdueRow(
                    carer,
                    household,
                    names.get(carer.supervising_social_worker_id, "Nobody yet"),
                    status,
                    overdue,
                    missing,
                )  # fmt: skip
            )
    rows.sort(key=lambda r: (min(r.status.next_due, r.status.unannounced_due), r.carer.id))
    return rows[:limit]
