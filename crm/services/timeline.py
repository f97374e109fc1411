"""Adding to a household's timeline: notes and logged contact."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    Activity,
    ActivityKind,
    AuditAction,
    CallOutcome,
    Household,
    Task,
    TaskKind,
)
from crm.services import audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound

# Contact that counts as having responded to the enquirer.
RESPONSE_KINDS = {ActivityKind.EMAIL, ActivityKind.MESSAGE_SENT}


def log_activity(
    session: Session,
    actor: Actor,
    household_id: int,
    kind: str | ActivityKind,
    *,
    summary: str,
    body: str | None = None,
    call_outcome: str | CallOutcome | None = None,
    occurred_at: datetime | None = None,
) -> Activity:
    """Add a note, logged call or email. Speaking to the household (or writing to them) is
    their first contact: it closes the call-back tasks."""
    household = session.get(Household, household_id)
    if household is None or household.anonymised_at is not None:
        raise NotFound(f"No household with id {household_id}")
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This household is in an area you do not work in")
    try:
        kind = ActivityKind(kind)
    except ValueError:
        raise InvalidInput(f"Unknown kind of activity {kind!r}", "kind") from None
    summary = " ".join((summary or "").split())
    if not summary:
        raise InvalidInput("Enter a short summary", "summary")
    outcome = None
    if kind == ActivityKind.CALL:
        try:
            outcome = CallOutcome(call_outcome)
        except ValueError:
            raise InvalidInput("Choose how the call went", "call_outcome") from None
    now = clock.now()
    when = occurred_at or now
    if when > now:
        raise InvalidInput("This cannot be in the future", "occurred_at")

    with transaction(session):
        activity = Activity(
            household_id=household.id,
            kind=kind,
            occurred_at=when,
            actor_id=actor.user_id,
            actor_label=actor.label,
            summary=summary[:200],
            body=body,
            call_outcome=outcome,
        )
        session.add(activity)
        contacted = outcome == CallOutcome.SPOKE or kind in RESPONSE_KINDS
        if contacted and household.first_contact_at is None:
            household.first_contact_at = when
            session.add(household)
            for task in session.exec(
                select(Task).where(
                    Task.household_id == household.id,
                    Task.kind.in_([TaskKind.RESPOND_TO_ENQUIRY, TaskKind.SECOND_ATTEMPT]),
                    Task.done_at.is_(None),
                )
            ):
                task.done_at = now
                task.done_by_id = actor.user_id
                session.add(task)
        audit.record(session, actor, AuditAction.UPDATE, "household", household.id, added=kind)
    session.refresh(activity)
    return activity
