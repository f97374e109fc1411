"""One way to create and complete a task, for staff, the assistant and the scheduler."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from crm import clock
from crm.db import savepoint, transaction
from crm.models import AuditAction, Carer, Household, StaffUser, Task, TaskKind, TaskPriority
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


def complete_task(session: Session, actor: Actor, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"No task with id {task_id}")
    if not actor.may_work_on(task.area_id) or not access.may_view_task(session, actor, task):
        raise NotAllowed("This task is in an area you do not work in")
    if task.done_at is not None:
        raise InvalidInput("This task is already done", "task")
    with transaction(session):
        task.done_at = clock.now()
        task.done_by_id = actor.user_id
        session.add(task)
        audit.record(session, actor, AuditAction.UPDATE, "task", task.id, done=True)
    session.refresh(task)
    return task
