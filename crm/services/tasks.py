"""One way to create and complete a task, for staff, the assistant and the scheduler."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import AuditAction, Carer, Household, StaffUser, Task, TaskKind, TaskPriority
from crm.services import audit
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
    when not given). With `unique_key`, a second call creates nothing and returns None.
    `commit=False` adds it to the caller's transaction instead (for scheduler scans)."""
    errors: dict[str, str] = {}
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
    if owner_id is not None:
        owner = session.get(StaffUser, owner_id)
        if owner is None or not owner.active:
            errors["owner_id"] = "Choose a member of staff who is working"
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
    if errors:
        raise InvalidInput(errors)
    if not actor.may_work_on(area_id):
        raise NotAllowed("This is in an area you do not work in")
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
        with session.begin_nested():
            session.add(task)
            session.flush()
            audit.record(session, actor, AuditAction.CREATE, "task", task.id, kind=kind.value)
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
    if not actor.may_work_on(task.area_id):
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
