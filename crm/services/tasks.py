"""One way to create and complete a task, for staff, the assistant and the scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from crm import clock
from crm.db import savepoint, transaction
from crm.models import (
    AuditAction,
    Carer,
    Household,
    Role,
    StaffUser,
    Task,
    TaskKind,
    TaskPriority,
)
from crm.services import access, audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound


def create_task(
    session: Session,
    actor: Actor,
    *,
    kind: str | TaskKind,
    title: str,
    due_at: datetime,
    household_id: int | None = None,
    carer_id: int | None = None,
    owner_id: int | None = None,
    area_id: int | None = None,
    detail: str | None = None,
    priority: str | TaskPriority = TaskPriority.NORMAL,
    unique_key: str | None = None,
    commit: bool = True,
) -> Task | None:
    """Create a task. Without an owner it lands in the area's team queue (the household's area
    when not given). The owner must be allowed the work (crm.services.access.owner_problem:
    working, in its area, able to open its household or carer): a member of staff asking for
    anyone else gets InvalidInput; for system callers the task goes to the team queue instead.
    With `unique_key`, a second call creates nothing and returns None. `commit=False` adds it
    to the caller's transaction instead (for scheduler scans)."""
    errors: dict[str, str] = {}
    owner_refused = False
    try:
        kind = TaskKind(kind)
    except ValueError:
        errors["kind"] = f"Unknown kind of task {kind!r}"
    try:
        priority = TaskPriority(priority)
    except ValueError:
        errors["priority"] = f"Unknown priority {priority!r}"
    title = " ".join((title or "").split())
    if not title:
        errors["title"] = "Enter what needs doing"
    if due_at.tzinfo is None:
        errors["due_at"] = "The due time must be timezone-aware"
    elif not actor.is_system and clock.local_date(due_at) < clock.local_date(clock.now()):
        # Staff plan work from today on; only the scheduler files tasks that are already late
        # (a call-back past its target).
        errors["due_at"] = "The date the task is due must be today or in the future"
    household = carer = None
    if household_id is not None:
        household = session.get(Household, household_id)
        if household is None:
            raise NotFound(f"No household with id {household_id}")
        area_id = area_id if area_id is not None else household.area_id
    if carer_id is not None:
        carer = session.get(Carer, carer_id)
        if carer is None:
            raise NotFound(f"No carer with id {carer_id}")
        if area_id is None:
            area_id = session.get(Household, carer.household_id).area_id
    if owner_id is not None:
        problem = access.owner_problem(
            session, session.get(StaffUser, owner_id),
            area_id=area_id, household=household, carer=carer,
        )  # fmt: skip
        if problem and actor.is_system:
            # An owner chosen by code (a supervisor on record, an officer who has since moved
            # area): the task goes to the team queue rather than to someone who cannot see it.
            owner_id, owner_refused = None, True
        elif problem:
            errors["owner_id"] = problem
    if errors:
        raise InvalidInput(errors)
    if not actor.may_work_on(area_id):
        raise NotAllowed("This is in an area you do not work in")
    if not access.may_view_record(session, actor, household_id, carer_id):
        raise NotAllowed("This record is not one you may open")
    if unique_key and session.exec(select(Task.id).where(Task.unique_key == unique_key)).first():
        return None

    task = Task(
        kind=kind,
        title=title[:200],
        detail=detail,
        household_id=household_id,
        carer_id=carer_id,
        owner_id=owner_id,
        area_id=area_id,
        priority=priority,
        due_at=due_at,
        unique_key=unique_key,
        created_by_id=actor.user_id,
    )
    try:
        with savepoint(session):
            session.add(task)
            session.flush()
            details = {"kind": kind.value, **({"owner_refused": True} if owner_refused else {})}
            audit.record(session, actor, AuditAction.CREATE, "task", task.id, **details)
    except IntegrityError:
        if unique_key:
            return None
        raise
    if commit:
        session.commit()
        session.refresh(task)
    return task


# -- acting on a task ---------------------------------------------------------------------

# Who, besides the owner, may close or hand on someone's task in the areas they work in.
TASK_LEADS = frozenset({Role.MANAGER, Role.ADMIN})
OUTCOME_LIMIT = 2000


def act_problem(session: Session, actor: Actor, task: Task) -> str | None:
    """Why `actor` may not close or reassign `task` (a plain sentence), or None when they may:
    its owner; a manager or admin in its area; and for a task in the team queue (nobody owns
    it, or its owner can no longer open it), anyone on that team. Always only someone who may
    open the task at all."""
    if actor.is_system:
        return None
    if not actor.may_work_on(task.area_id) or not access.may_view_task(session, actor, task):
        return "This task is not one you may open"
    if task.done_at is not None:
        return "This task is already closed"
    if task.owner_id == actor.user_id or actor.role in TASK_LEADS:
        return None
    if task.owner_id is None or _owner_cannot_act(session, task):
        # The team queue, or an owner who has left or moved area: the team picks it up.
        return None
    return "Only the person it is given to, or a manager in its area, can close or pass it on"


def _owner_cannot_act(session: Session, task: Task) -> bool:
    household = session.get(Household, task.household_id) if task.household_id else None
    carer = session.get(Carer, task.carer_id) if task.carer_id else None
    problem = access.owner_problem(
        session, session.get(StaffUser, task.owner_id),
        area_id=task.area_id, household=household, carer=carer,
    )  # fmt: skip
    return problem is not None


def may_act_on(session: Session, actor: Actor, task: Task) -> bool:
    return act_problem(session, actor, task) is None


@dataclass
class TaskView:
    task: Task
    household: Household | None
    carer: Carer | None
    carer_household: Household | None
    owner: StaffUser | None
    done_by: StaffUser | None
    may_act: bool
    possible_owners: list[StaffUser] = field(default_factory=list)


def _viewable(session: Session, actor: Actor, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"No task with id {task_id}")
    if not actor.may_work_on(task.area_id) or not access.may_view_task(session, actor, task):
        raise NotAllowed("This task is not one you may open")
    return task


def task_view(session: Session, actor: Actor, task_id: int) -> TaskView:
    """The task page: what it is about, who has it, and whether the actor may act on it."""
    task = _viewable(session, actor, task_id)
    household = session.get(Household, task.household_id) if task.household_id else None
    carer = session.get(Carer, task.carer_id) if task.carer_id else None
    carer_household = session.get(Household, carer.household_id) if carer else None
    may_act = may_act_on(session, actor, task)
    with transaction(session):
        audit.record(session, actor, AuditAction.VIEW, "task", task.id)
    return TaskView(
        task=task,
        household=household,
        carer=carer,
        carer_household=carer_household,
        owner=session.get(StaffUser, task.owner_id) if task.owner_id else None,
        done_by=session.get(StaffUser, task.done_by_id) if task.done_by_id else None,
        may_act=may_act,
        possible_owners=(
            access.possible_owners(session, area_id=task.area_id, household=household, carer=carer)
            if may_act
            else []
        ),
    )


def _refuse_unless_may_act(session: Session, actor: Actor, task: Task) -> None:
    problem = act_problem(session, actor, task)
    if problem == "This task is already closed":
        raise InvalidInput(problem, "task")
    if problem:
        raise NotAllowed(problem)


def close_task(session: Session, actor: Actor, task_id: int, *, outcome: str | None) -> Task:
    """Close a task with what came of it. The outcome is required: a closed task with no word
    on what happened tells the next person nothing."""
    task = _viewable(session, actor, task_id)
    _refuse_unless_may_act(session, actor, task)
    outcome = (outcome or "").strip()
    if not outcome:
        raise InvalidInput("Say what came of it: what you did or found out", "outcome")
    if len(outcome) > OUTCOME_LIMIT:
        raise InvalidInput(f"Use {OUTCOME_LIMIT} characters or fewer", "outcome")
    with transaction(session):
        task.done_at = clock.now()
        task.done_by_id = actor.user_id
        task.outcome = outcome
        session.add(task)
        audit.record(session, actor, AuditAction.UPDATE, "task", task.id, done=True, outcome=True)
    session.refresh(task)
    return task


def reassign_task(session: Session, actor: Actor, task_id: int, owner_id: int | None) -> Task:
    """Give an open task to someone else in its area (or, with None, to the area's team
    queue). The new owner must be allowed the work (crm.services.access.owner_problem)."""
    task = _viewable(session, actor, task_id)
    _refuse_unless_may_act(session, actor, task)
    if owner_id == task.owner_id:
        raise InvalidInput("The task is already with them: choose someone else", "owner_id")
    if owner_id is not None:
        staff = session.get(StaffUser, owner_id)
        household = session.get(Household, task.household_id) if task.household_id else None
        carer = session.get(Carer, task.carer_id) if task.carer_id else None
        problem = access.owner_problem(
            session, staff, area_id=task.area_id, household=household, carer=carer
        )
        if problem:
            raise InvalidInput(problem, "owner_id")
    with transaction(session):
        task.owner_id = owner_id
        session.add(task)
        audit.record(
            session, actor, AuditAction.UPDATE, "task", task.id, owner=True, team=owner_id is None
        )
    session.refresh(task)
    return task


def open_tasks_about(
    session: Session, actor: Actor, *, household_id: int | None = None, carer_id: int | None = None
) -> list[Task]:
    """The open tasks about a household or a carer that the actor may see, soonest first."""
    about = Task.household_id == household_id if household_id is not None else None
    if carer_id is not None:
        about = Task.carer_id == carer_id
    if about is None:
        return []
    return list(
        session.exec(
            select(Task)
            .where(about, Task.done_at.is_(None), access.task_visibility(actor))
            .order_by(Task.due_at, Task.id)
            .limit(100)
        ).all()
    )
