"""Connected persons: the temporary approval (regulation 24) of a relative or friend already
caring for a child they know, while their full assessment runs alongside.

The temporary approval lasts 16 weeks from the day it is given and can be extended once, by up
to 8 weeks more (regulation 25), when the full assessment will not finish in time. It ends
when the household is fully approved, leaves the process, or the child moves on; a reminder
(crm.services.reminders.kinship) warns the assessor and the managers as the end nears.
Given, extended and ended by managers (and admins): the decision is the fostering service's.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, col, select

from crm.db import transaction
from crm.models import AuditAction, Household, Role, TemporaryApproval
from crm.services import access, audit
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.text import clean_text

TEMPORARY_WEEKS = 16
EXTENSION_WEEKS = 8
DECIDING_ROLES = frozenset({Role.ADMIN, Role.MANAGER})


def _may_decide(actor: Actor) -> None:
    if not actor.is_system and actor.role not in DECIDING_ROLES:
        raise NotAllowed("Temporary approval of a connected person is a manager's decision")


def _household(session: Session, actor: Actor, household_id: int) -> Household:
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound(f"No household with id {household_id}")
    if not access.may_view_household(actor, household) or not actor.may_work_on(household.area_id):
        raise NotAllowed("This household is in an area you do not work in")
    return household


def _text(value: str | None, limit: int) -> str:
    return " ".join(clean_text(value or "").split())[:limit]


def current(session: Session, household_id: int) -> TemporaryApproval | None:
    """The household's temporary approval that has not ended, if any."""
    return session.exec(
        select(TemporaryApproval).where(
            TemporaryApproval.household_id == household_id,
            col(TemporaryApproval.ended_on).is_(None),
        )
    ).first()


def history(session: Session, household_id: int) -> list[TemporaryApproval]:
    return list(
        session.exec(
            select(TemporaryApproval)
            .where(TemporaryApproval.household_id == household_id)
            .order_by(TemporaryApproval.approved_on.desc(), TemporaryApproval.id.desc())
        ).all()
    )


def grant(
    session: Session,
    actor: Actor,
    household_id: int,
    *,
    child_reference: str,
    approved_on: date | None,
    today: date,
) -> TemporaryApproval:
    """Approve a connected person temporarily, for 16 weeks from `approved_on`."""
    _may_decide(actor)
    household = _household(session, actor, household_id)
    errors: dict[str, str] = {}
    if not household.is_kinship:
        raise InvalidInput(
            "Temporary approval is for connected persons (kinship): mark the household as "
            "already caring for a child they know first",
            "child_reference",
        )
    if household.anonymised_at is not None or household.stage in ("withdrawn", "not_progressed"):
        raise InvalidInput("This household is no longer in the process", "child_reference")
    if current(session, household.id) is not None:
        raise InvalidInput("This household already has a temporary approval", "child_reference")
    reference = _text(child_reference, 40)
    if not reference:
        errors["child_reference"] = "Enter the child's reference from the case system"
    if approved_on is None:
        errors["approved_on"] = "Enter the date of the temporary approval"
    elif approved_on > today:
        errors["approved_on"] = "The date of the temporary approval cannot be in the future"
    elif approved_on < today - timedelta(weeks=TEMPORARY_WEEKS):
        errors["approved_on"] = (
            f"A temporary approval lasts {TEMPORARY_WEEKS} weeks: one given on that date has "
            "already run out"
        )
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        approval = TemporaryApproval(
            household_id=household.id,
            child_reference=reference,
            approved_on=approved_on,
            expires_on=approved_on + timedelta(weeks=TEMPORARY_WEEKS),
            approved_by_id=actor.user_id,
        )
        session.add(approval)
        session.flush()
        audit.record(session, actor, AuditAction.CREATE, "temporary_approval", approval.id,
                     household_id=household.id)  # fmt: skip
    return approval


def extend(
    session: Session,
    actor: Actor,
    household_id: int,
    *,
    until: date | None,
    reason: str,
    today: date,
) -> TemporaryApproval:
    """Extend the temporary approval once, to a date at most 8 weeks after it would end."""
    _may_decide(actor)
    household = _household(session, actor, household_id)
    approval = current(session, household.id)
    if approval is None:
        raise InvalidInput("This household has no temporary approval to extend", "until")
    errors: dict[str, str] = {}
    latest = approval.expires_on + timedelta(weeks=EXTENSION_WEEKS)
    if approval.extended_until is not None:
        errors["until"] = "The temporary approval has been extended already: it can be once"
    elif approval.expires_on < today:
        errors["until"] = "The temporary approval has run out: it can only be extended before"
    elif until is None:
        errors["until"] = "Enter the date the extension runs to"
    elif until <= approval.expires_on:
        errors["until"] = "The extension must run past the date the approval ends"
    elif until > latest:
        errors["until"] = (
            f"An extension is at most {EXTENSION_WEEKS} weeks: the latest date is "
            f"{latest.day} {latest:%B %Y}"
        )
    reason = _text(reason, 500)
    if not reason:
        errors["reason"] = "Say why the full assessment needs more time"
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        approval.extended_until, approval.extension_reason = until, reason
        session.add(approval)
        audit.record(session, actor, AuditAction.UPDATE, "temporary_approval", approval.id,
                     extended=True)  # fmt: skip
    return approval


def end(
    session: Session,
    actor: Actor,
    household_id: int,
    *,
    on: date | None,
    reason: str,
    today: date,
) -> TemporaryApproval:
    """End the temporary approval (the child moved on, or it is no longer needed)."""
    _may_decide(actor)
    household = _household(session, actor, household_id)
    approval = current(session, household.id)
    if approval is None:
        raise InvalidInput("This household has no temporary approval to end", "on")
    errors: dict[str, str] = {}
    if on is None:
        errors["on"] = "Enter the date it ended"
    elif on > today:
        errors["on"] = "The date it ended cannot be in the future"
    elif on < approval.approved_on:
        errors["on"] = "It cannot end before it was given"
    reason = _text(reason, 500)
    if not reason:
        errors["reason"] = "Say why the temporary approval ended"
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        _close(approval, on, reason)
        session.add(approval)
        audit.record(session, actor, AuditAction.UPDATE, "temporary_approval", approval.id,
                     ended=True)  # fmt: skip
    return approval


def _close(approval: TemporaryApproval, on: date, reason: str) -> None:
    approval.ended_on = max(on, approval.approved_on)
    approval.ended_reason = reason[:500]


def household_changed(session: Session, household_id: int, on: date, reason: str) -> bool:
    """A household fully approved, leaving the process or erased: its temporary approval
    ends that day, in the caller's transaction. Whether there was one to end."""
    approval = current(session, household_id)
    if approval is None:
        return False
    _close(approval, on, reason)
    session.add(approval)
    return True
