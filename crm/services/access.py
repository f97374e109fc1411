"""Who may see which record, and who may be given work: the one visibility rule.

Every list, page, home panel, week view, report, email and task owner check goes through
this module, because a name shown is a record disclosed. Each rule comes twice: a WHERE clause
for lists (`household_visibility`, ...) and a check for one record (`may_view_household`, ...);
the two say the same thing.

Who sees what (least privilege, on top of the areas in crm.services.actors):
- admins (hub-wide) and trusted system code: everything;
- households: managers and recruitment officers those in their areas and the hub's triage
  queue (no area yet); assessing social workers, in their areas and triage, households in
  assessment (application to panel, or on hold from one of those) and any household assigned
  to them (as its officer or as its assessing social worker); agency decision makers, in
  their areas, households at panel or approved (what they decide on, and what they decided);
  supervising social workers work with carers, not this pipeline;
- carers: managers those in their areas; supervising social workers the carers they
  supervise, and in their areas carers nobody supervises yet;
- tasks and visits: through the household or carer they are about. A task about nothing (no
  household, no carer) is seen by its owner, or, when nobody owns it, by the team of its area;
- the funnel report (pages, CSV and the weekly email): managers for the areas they work in,
  admins for the whole hub.

Work goes only to people who may do it: `may_own_work` (the area) and `owner_problem` (the
area, and the record behind the task must be one they can open).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from crm.models import (
    Appointment,
    Area,
    Carer,
    Household,
    Role,
    StaffArea,
    StaffUser,
    Stage,
    Task,
)
from crm.services.actors import ALL_AREAS_ROLES, Actor
from crm.services.errors import NotAllowed

ASSESSMENT_STAGES = (Stage.APPLICATION, Stage.STAGE_ONE, Stage.STAGE_TWO, Stage.PANEL)
# What the agency decision maker decides on, and what they decided.
DECISION_STAGES = (Stage.PANEL, Stage.APPROVED)
# Roles that read the funnel report (its tables name household references).
REPORT_ROLES = frozenset({Role.ADMIN, Role.MANAGER})


def _sees_everything(actor: Actor) -> bool:
    return actor.is_system or actor.role in ALL_AREAS_ROLES


# -- households ---------------------------------------------------------------------------


def household_visibility(actor: Actor) -> sa.ColumnElement[bool]:
    """A WHERE clause limiting households to those the actor may see."""
    if _sees_everything(actor):
        return sa.true()
    in_areas = sa.or_(Household.area_id.in_(sorted(actor.area_ids)), Household.area_id.is_(None))
    if actor.role in (Role.MANAGER, Role.RECRUITMENT_OFFICER):
        return in_areas
    if actor.role == Role.ASSESSING_SOCIAL_WORKER:
        in_assessment = sa.or_(
            Household.stage.in_(ASSESSMENT_STAGES),
            sa.and_(
                Household.stage == Stage.ON_HOLD, Household.held_from_stage.in_(ASSESSMENT_STAGES)
            ),
            Household.assigned_officer_id == actor.user_id,
            Household.assessor_id == actor.user_id,
        )
        return sa.and_(in_areas, in_assessment)
    if actor.role == Role.DECISION_MAKER:
        return sa.and_(
            Household.area_id.in_(sorted(actor.area_ids)), Household.stage.in_(DECISION_STAGES)
        )
    return sa.false()


def may_view_household(actor: Actor, household: Household) -> bool:
    if _sees_everything(actor):
        return True
    if not actor.may_work_on(household.area_id):
        return False
    if actor.role in (Role.MANAGER, Role.RECRUITMENT_OFFICER):
        return True
    if actor.role == Role.ASSESSING_SOCIAL_WORKER:
        stage = Stage(household.stage)
        return (
            stage in ASSESSMENT_STAGES
            or (stage == Stage.ON_HOLD and household.held_from_stage in ASSESSMENT_STAGES)
            or household.assigned_officer_id == actor.user_id
            or household.assessor_id == actor.user_id
        )
    if actor.role == Role.DECISION_MAKER:
        return household.area_id in actor.area_ids and Stage(household.stage) in DECISION_STAGES
    return False


def visible_households(
    session: Session, actor: Actor, household_ids: Iterable[int | None]
) -> dict[int, Household]:
    """The households among `household_ids` the actor may open, by id (with applicants, for
    their names). Lists show a name only when its household is in here."""
    ids = sorted({i for i in household_ids if i is not None})
    if not ids:
        return {}
    rows = session.exec(
        select(Household)
        .where(Household.id.in_(ids), household_visibility(actor))
        .options(selectinload(Household.applicants))
    ).all()
    return {h.id: h for h in rows}


# -- carers -------------------------------------------------------------------------------


def carer_visibility(actor: Actor) -> sa.ColumnElement[bool]:
    """A WHERE clause on Carer joined to its Household."""
    if _sees_everything(actor):
        return sa.true()
    in_areas = Household.area_id.in_(sorted(actor.area_ids))
    if actor.role == Role.MANAGER:
        return in_areas
    if actor.role == Role.SUPERVISING_SOCIAL_WORKER:
        return sa.or_(
            Carer.supervising_social_worker_id == actor.user_id,
            sa.and_(in_areas, Carer.supervising_social_worker_id.is_(None)),
        )
    return sa.false()


def may_view_carer(actor: Actor, carer: Carer, household: Household) -> bool:
    if _sees_everything(actor):
        return True
    in_areas = household.area_id in actor.area_ids
    if actor.role == Role.MANAGER:
        return in_areas
    if actor.role == Role.SUPERVISING_SOCIAL_WORKER:
        return carer.supervising_social_worker_id == actor.user_id or (
            in_areas and carer.supervising_social_worker_id is None
        )
    return False


# -- tasks and visits ---------------------------------------------------------------------


def _household_visible(actor: Actor, household_id: sa.ColumnElement) -> sa.ColumnElement[bool]:
    # Not correlated with a Household the outer query may have: this one is the task's own.
    return (
        select(Household.id)
        .where(Household.id == household_id, household_visibility(actor))
        .correlate_except(Household)
        .exists()
    )


def _carer_visible(actor: Actor, carer_id: sa.ColumnElement) -> sa.ColumnElement[bool]:
    return (
        select(Carer.id)
        .join(Household, Household.id == Carer.household_id)
        .where(Carer.id == carer_id, carer_visibility(actor))
        .correlate_except(Carer, Household)
        .exists()
    )


def _in_areas(actor: Actor, area_id: sa.ColumnElement) -> sa.ColumnElement[bool]:
    # As Actor.may_work_on: work not yet in an area sits in the hub's queue, open to all staff.
    return sa.or_(area_id.is_(None), area_id.in_(sorted(actor.area_ids)))


def task_visibility(actor: Actor) -> sa.ColumnElement[bool]:
    """A WHERE clause on Task: the household and carer it is about must be visible; a task
    about neither is its owner's, or its area team's when nobody owns it."""
    if _sees_everything(actor):
        return sa.true()
    unattached = sa.and_(Task.household_id.is_(None), Task.carer_id.is_(None))
    return sa.and_(
        sa.or_(Task.household_id.is_(None), _household_visible(actor, Task.household_id)),
        sa.or_(Task.carer_id.is_(None), _carer_visible(actor, Task.carer_id)),
        sa.or_(
            sa.not_(unattached),
            Task.owner_id == actor.user_id,
            sa.and_(Task.owner_id.is_(None), _in_areas(actor, Task.area_id)),
        ),
    )


def may_view_record(
    session: Session, actor: Actor, household_id: int | None, carer_id: int | None
) -> bool:
    """The household and the carer (either may be None) are both ones the actor may open."""
    if household_id is not None:
        household = session.get(Household, household_id)
        if household is None or not may_view_household(actor, household):
            return False
    if carer_id is not None:
        carer = session.get(Carer, carer_id)
        if carer is None or not may_view_carer(
            actor, carer, session.get(Household, carer.household_id)
        ):
            return False
    return True


def may_view_task(session: Session, actor: Actor, task: Task) -> bool:
    if _sees_everything(actor):
        return True
    if not may_view_record(session, actor, task.household_id, task.carer_id):
        return False
    if task.household_id is None and task.carer_id is None:
        return task.owner_id == actor.user_id or (
            task.owner_id is None and actor.may_work_on(task.area_id)
        )
    return True


def appointment_visibility(actor: Actor) -> sa.ColumnElement[bool]:
    """A WHERE clause on Appointment: through the household or carer it is with."""
    if _sees_everything(actor):
        return sa.true()
    return sa.and_(
        sa.or_(
            Appointment.household_id.is_(None),
            _household_visible(actor, Appointment.household_id),
        ),
        sa.or_(Appointment.carer_id.is_(None), _carer_visible(actor, Appointment.carer_id)),
    )


def may_view_appointment(session: Session, actor: Actor, appointment: Appointment) -> bool:
    if _sees_everything(actor):
        return True
    return may_view_record(session, actor, appointment.household_id, appointment.carer_id)


# -- who may be given work ----------------------------------------------------------------


def _staff_actor(session: Session, staff: StaffUser) -> Actor:
    return Actor.for_staff(session, staff)


def _may_own_work(staff: StaffUser, staff_actor: Actor, area_id: int | None) -> bool:
    if not staff.active:
        return False
    if staff.role in ALL_AREAS_ROLES:
        return True
    # The hub's triage queue (no area yet) is open to all staff, as in Actor.may_work_on.
    return area_id is None or area_id in staff_actor.area_ids


def may_own_work(session: Session, staff: StaffUser | None, area_id: int | None) -> bool:
    """A member of staff may own work in an area when they work there or are hub-wide (an
    admin). Inactive staff never."""
    if staff is None or not staff.active:
        return False
    return _may_own_work(staff, _staff_actor(session, staff), area_id)


def _owner_problem(
    staff: StaffUser,
    staff_actor: Actor,
    *,
    areas: set[int | None],
    household: Household | None,
    carer: tuple[Carer, Household] | None,
) -> str | None:
    if not staff.active:
        return "Choose a member of staff who is working"
    record = "carer" if carer is not None else "household"
    if not all(_may_own_work(staff, staff_actor, area) for area in areas):
        return f"{staff.name} does not work in this {record}'s area"
    if household is not None and not may_view_household(staff_actor, household):
        return f"{staff.name} cannot open this household's record"
    if carer is not None and not may_view_carer(staff_actor, *carer):
        return f"{staff.name} cannot open this carer's record"
    return None


def _areas_of(
    area_id: int | None, household: Household | None, carer: tuple[Carer, Household] | None
) -> set[int | None]:
    # The work's area and the area of each record it is about.
    areas = {area_id}
    if household is not None:
        areas.add(household.area_id)
    if carer is not None:
        areas.add(carer[1].area_id)
    return areas


def owner_problem(
    session: Session,
    staff: StaffUser | None,
    *,
    area_id: int | None = None,
    household: Household | None = None,
    carer: Carer | None = None,
) -> str | None:
    """Why `staff` may not be given this work (a plain sentence), or None when they may: they
    must be working, work in its area (or be hub-wide), and be able to open the household or
    carer it is about, or it would reach their lists as a name they cannot open."""
    if staff is None:
        return "Choose a member of staff who is working"
    pair = (carer, session.get(Household, carer.household_id)) if carer is not None else None
    return _owner_problem(
        staff,
        _staff_actor(session, staff),
        areas=_areas_of(area_id, household, pair),
        household=household,
        carer=pair,
    )


def possible_owners(
    session: Session,
    *,
    area_id: int | None = None,
    household: Household | None = None,
    carer: Carer | None = None,
    roles: Iterable[Role] | None = None,
) -> list[StaffUser]:
    """Active staff (admins aside: they keep no queue of their own) who may be given this
    work, by name: what a form offers as its owner."""
    query = select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role != Role.ADMIN)
    if roles is not None:
        query = query.where(StaffUser.role.in_(list(roles)))
    staff = list(session.exec(query.order_by(StaffUser.name, StaffUser.id)).all())
    if not staff:
        return []
    areas: dict[int, set[int]] = {s.id: set() for s in staff}
    for staff_id, area in session.exec(
        select(StaffArea.staff_id, StaffArea.area_id).where(StaffArea.staff_id.in_(list(areas)))
    ).all():
        areas[staff_id].add(area)
    pair = (carer, session.get(Household, carer.household_id)) if carer is not None else None
    areas_of_work = _areas_of(area_id, household, pair)
    return [
        s
        for s in staff
        if _owner_problem(
            s,
            Actor(f"staff:{s.id}", s.id, s.role, frozenset(areas[s.id])),
            areas=areas_of_work,
            household=household,
            carer=pair,
        )
        is None
    ]


# Roles that can hold a household as its officer (supervising social workers never see one).
OFFICER_ROLES = frozenset(
    {Role.ADMIN, Role.MANAGER, Role.RECRUITMENT_OFFICER, Role.ASSESSING_SOCIAL_WORKER}
)


def officer_problem(session: Session, staff: StaffUser | None, household: Household) -> str | None:
    """Why `staff` may not be a household's assigned officer, or None. Being assigned opens the
    household to them, so the area and the role decide (not its stage)."""
    if staff is None or not staff.active:
        return "Choose a member of staff who is working"
    if staff.role not in OFFICER_ROLES:
        return f"{staff.name} does not work with households in the pipeline"
    if not may_own_work(session, staff, household.area_id):
        return f"{staff.name} does not work in this household's area"
    return None


def possible_officers(session: Session, household: Household) -> list[StaffUser]:
    """Who a form offers as a household's officer: the same rule as `officer_problem`."""
    return possible_owners(session, area_id=household.area_id, roles=OFFICER_ROLES)


# -- the funnel report --------------------------------------------------------------------


def report_area_ids(session: Session, actor: Actor) -> list[int] | None:
    """The areas of the funnel report the actor may read: None for the whole hub (admins, and
    managers who work in every area), else the areas they work in. Raises NotAllowed for
    anyone else: its tables name household references."""
    if _sees_everything(actor):
        return None
    if actor.role not in REPORT_ROLES:
        raise NotAllowed("Only managers and admins read the funnel report")
    if not actor.area_ids:
        raise NotAllowed("You do not work in any area yet")
    every_area = set(session.exec(select(Area.id)).all())
    if every_area and every_area <= set(actor.area_ids):
        return None
    return sorted(actor.area_ids)


def _narrow(allowed: list[int] | None, only: Iterable[int] | None) -> list[int] | None:
    if only is None:
        return allowed
    only = sorted(set(only))
    return only if allowed is None else [a for a in only if a in allowed]


def report_scope_for_address(
    session: Session, address: str, *, only_area_ids: Iterable[int] | None = None
) -> list[int] | None:
    """The report areas for an email address: those of the active staff account with that
    address (narrowed to `only_area_ids`). Raises NotAllowed, without naming the address,
    when there is no such account, it may not read the report, or nothing is left."""
    staff = session.exec(
        select(StaffUser).where(
            sa.func.lower(StaffUser.email) == address.strip().lower(), StaffUser.active.is_(True)
        )
    ).first()
    if staff is None:
        raise NotAllowed("The recipient has no active staff account")
    scope = _narrow(report_area_ids(session, _staff_actor(session, staff)), only_area_ids)
    if scope == []:
        raise NotAllowed("The recipient does not work in the areas of this report")
    return scope


def report_visibility_for_address(session: Session, address: str) -> sa.ColumnElement[bool]:
    """The households the holder of this address may open (`household_visibility` of their
    active staff account): the weekly email names only those. Nothing for an unknown address."""
    staff = session.exec(
        select(StaffUser).where(
            sa.func.lower(StaffUser.email) == address.strip().lower(), StaffUser.active.is_(True)
        )
    ).first()
    if staff is None:
        return sa.false()
    return household_visibility(_staff_actor(session, staff))


def visibility_key(actor: Actor) -> tuple | None:
    """What `household_visibility` depends on for this actor (None: everything), so a report
    cached for one reader is only reused for readers who may open the same households."""
    if _sees_everything(actor):
        return None
    # An assessing social worker also sees what is assigned to them: their own key.
    own = actor.user_id if actor.role == Role.ASSESSING_SOCIAL_WORKER else None
    return (str(actor.role), own, tuple(sorted(actor.area_ids)))


@dataclass(frozen=True)
class ReportRecipient:
    address: str
    staff_id: int
    area_ids: list[int] | None  # None: the whole hub


@dataclass
class ReportAudience:
    recipients: list[ReportRecipient]
    # Counts only: addresses are personal data and stay out of logs and job summaries.
    # No active manager's or admin's account (with an area) for the address:
    without_access: int = 0
    # Their areas and the areas asked for (--area) have nothing in common:
    outside_areas: int = 0


def report_recipients(
    session: Session,
    extra_addresses: Iterable[str] = (),
    *,
    only_area_ids: Iterable[int] | None = None,
) -> ReportAudience:
    """Who gets the weekly report, and for which areas: every active manager, then the extra
    addresses (settings.report.recipients), each once. An address counts only when it is an
    active manager's or admin's account: anyone else gets nothing (counted, not named)."""
    only = None if only_area_ids is None else sorted(set(only_area_ids))
    managers = session.exec(
        select(StaffUser.email)
        .where(StaffUser.role == Role.MANAGER, StaffUser.active.is_(True))
        .order_by(StaffUser.email)
    ).all()
    audience = ReportAudience([])
    seen: set[str] = set()
    for raw in [*managers, *extra_addresses]:
        address = raw.strip().lower()
        if not address or address in seen:
            continue
        seen.add(address)
        staff = session.exec(
            select(StaffUser).where(
                sa.func.lower(StaffUser.email) == address, StaffUser.active.is_(True)
            )
        ).first()
        try:
            if staff is None:
                raise NotAllowed("no account")
            scope = _narrow(report_area_ids(session, _staff_actor(session, staff)), only)
        except NotAllowed:
            audience.without_access += 1
            continue
        if scope == []:
            audience.outside_areas += 1
            continue
        audience.recipients.append(ReportRecipient(address, staff.id, scope))
    return audience
