"""Annual reviews, the TSD standards and training.

A review records its date, outcome and whether the approval terms were confirmed or changed;
a change updates the carer's terms in the same transaction (audited, with the terms before and
after kept on the review). The first review after approval goes to the fostering panel. The
next review falls due a year after this one. The TSD standards are due 12 months after
approval (18 for family and friends carers); training records list courses with their hours.
Recording a review or the TSD completion closes the reminders' open task for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    AnnualReview,
    AuditAction,
    Carer,
    CarerStatus,
    FosteringType,
    ReviewOutcome,
    Role,
    Task,
    TaskKind,
    TrainingRecord,
)
from crm.services import audit
from crm.services.actors import Actor
from crm.services.carers import get_carer
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.placements import live_placements

REVIEW_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.SUPERVISING_SOCIAL_WORKER})
MAX_PLACES = 10


@dataclass
class Terms:
    places: int | None = None
    age_min: int | None = None
    age_max: int | None = None
    fostering_types: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, carer: Carer) -> Terms:
        return cls(carer.places, carer.age_min, carer.age_max, sorted(carer.fostering_types))

    def as_dict(self) -> dict:
        return {
            "places": self.places,
            "age_min": self.age_min,
            "age_max": self.age_max,
            "fostering_types": sorted(self.fostering_types),
        }


def _today() -> date:
    return clock.local_date(clock.now())


def _may(actor: Actor, session: Session, carer_id: int) -> tuple[Carer, object]:
    if not actor.is_system and actor.role not in REVIEW_ROLES:
        raise NotAllowed("Only supervising social workers and managers record reviews")
    carer, household = get_carer(session, actor, carer_id)
    if not actor.may_work_on(household.area_id):
        raise NotAllowed("This carer is in an area you do not work in")
    if carer.status == CarerStatus.DEREGISTERED:
        raise InvalidInput("This carer is deregistered")
    return carer, household


def _close_tasks(session: Session, actor: Actor, carer: Carer, prefix: str, kind=None) -> None:  # noqa: ANN001
    query = select(Task).where(Task.carer_id == carer.id, Task.done_at.is_(None))
    if kind is not None:
        query = query.where(
            (Task.kind == kind) | Task.unique_key.like(f"carer:{carer.id}:{prefix}:%")
        )
    else:
        query = query.where(Task.unique_key.like(f"carer:{carer.id}:{prefix}:%"))
    for task in session.exec(query).all():
        task.done_at = clock.now()
        task.done_by_id = actor.user_id
        session.add(task)
        audit.record(session, actor, AuditAction.UPDATE, "task", task.id, done=True)


def _check_terms(session: Session, carer: Carer, terms: Terms, errors: dict) -> None:
    if terms.places is None or not 1 <= terms.places <= MAX_PLACES:
        errors["places"] = f"Enter the number of places, from 1 to {MAX_PLACES}"
    else:
        filled = len(live_placements(session, carer.id))
        if terms.places < filled:
            errors["places"] = (
                f"The carer has {filled} children placed: end or move a placement before "
                f"approving fewer places"
            )
    if terms.age_min is None or not 0 <= terms.age_min <= 25:
        errors["age_min"] = "Enter the youngest age, from 0 to 25"
    if terms.age_max is None or not 0 <= terms.age_max <= 25:
        errors["age_max"] = "Enter the oldest age, from 0 to 25"
    if "age_min" not in errors and "age_max" not in errors and terms.age_min > terms.age_max:
        errors["age_max"] = "The oldest age must be the same as or above the youngest"
    unknown = [t for t in terms.fostering_types if t not in FosteringType._value2member_map_]
    if unknown or not terms.fostering_types:
        errors["fostering_types"] = "Choose at least one type of fostering"


def record_review(
    session: Session,
    actor: Actor,
    carer_id: int,
    *,
    reviewed_on: date | None,
    outcome: str,
    notes: str | None,
    terms: Terms | None = None,
) -> AnnualReview:
    """Record an annual review. With `terms` that differ from the carer's, they become the
    carer's terms."""
    carer, _ = _may(actor, session, carer_id)
    errors: dict[str, str] = {}
    if reviewed_on is None:
        errors["reviewed_on"] = "Enter the date of the review"
    elif reviewed_on < carer.approved_on:
        errors["reviewed_on"] = "The review cannot be before the carer was approved"
    elif reviewed_on > _today():
        errors["reviewed_on"] = "The review cannot be in the future"
    if outcome not in ReviewOutcome._value2member_map_:
        errors["outcome"] = "Choose the outcome of the review"
    notes = (notes or "").strip()[:5000] or None
    before = Terms.of(carer)
    if terms is not None:
        _check_terms(session, carer, terms, errors)
    if errors:
        raise InvalidInput(errors)
    changed = terms is not None and terms.as_dict() != before.as_dict()
    latest = session.exec(
        select(sa.func.max(AnnualReview.reviewed_on)).where(AnnualReview.carer_id == carer.id)
    ).one()
    first = latest is None
    with transaction(session):
        review = AnnualReview(
            carer_id=carer.id,
            reviewed_on=reviewed_on,
            outcome=ReviewOutcome(outcome),
            terms_changed=changed,
            terms_before=before.as_dict(),
            terms_after=(terms if changed else before).as_dict(),
            goes_to_panel=first or outcome == ReviewOutcome.REFERRED_TO_PANEL,
            notes=notes,
            recorded_by_id=actor.user_id,
        )
        session.add(review)
        if changed:
            carer.places = terms.places
            carer.age_min = terms.age_min
            carer.age_max = terms.age_max
            carer.fostering_types = sorted(terms.fostering_types)
        # The latest review sets the next; one recorded late for an earlier date does not.
        if latest is None or reviewed_on >= latest:
            carer.annual_review_due = reviewed_on + relativedelta(years=1)
        session.add(carer)
        _close_tasks(session, actor, carer, "annual_review", TaskKind.ANNUAL_REVIEW)
        session.flush()
        audit.record(
            session, actor, AuditAction.CREATE, "annual_review", review.id,
            carer_id=carer.id, terms_changed=changed, goes_to_panel=review.goes_to_panel,
        )  # fmt: skip
        if changed:
            audit.record(
                session, actor, AuditAction.UPDATE, "carer", carer.id, terms=True,
                review_id=review.id,
            )  # fmt: skip
    session.refresh(review)
    return review


def reviews_of(session: Session, actor: Actor, carer_id: int) -> list[AnnualReview]:
    carer, _ = get_carer(session, actor, carer_id)
    return list(
        session.exec(
            select(AnnualReview)
            .where(AnnualReview.carer_id == carer.id)
            .order_by(AnnualReview.reviewed_on.desc(), AnnualReview.id.desc())
        ).all()
    )


# -- TSD standards and training --------------------------------------------------------------


def tsd_deadline(carer: Carer) -> date:
    """12 months after approval; 18 for family and friends carers."""
    if carer.tsd_due is not None:
        return carer.tsd_due
    return carer.approved_on + relativedelta(months=18 if carer.is_family_and_friends else 12)


def record_training(
    session: Session,
    actor: Actor,
    carer_id: int,
    *,
    course: str,
    completed_on: date | None,
    hours: float | None,
    completes_tsd: bool = False,
) -> TrainingRecord:
    """A course the carer completed; with `completes_tsd`, the TSD standards too."""
    carer, _ = _may(actor, session, carer_id)
    errors: dict[str, str] = {}
    course = " ".join((course or "").split())[:200]
    if not course:
        errors["course"] = "Enter the name of the course"
    if completed_on is None:
        errors["completed_on"] = "Enter the date the course was completed"
    elif completed_on > _today():
        errors["completed_on"] = "The date cannot be in the future"
    elif completes_tsd and completed_on < carer.approved_on:
        errors["completed_on"] = "The TSD standards cannot be completed before approval"
    if hours is None or not 0 < hours <= 1000:
        errors["hours"] = "Enter the hours, for example 3 or 1.5"
    if completes_tsd and carer.tsd_completed_on is not None:
        errors["completes_tsd"] = "The TSD standards are already recorded as complete"
    if errors:
        raise InvalidInput(errors)
    with transaction(session):
        record = TrainingRecord(
            carer_id=carer.id,
            course=course,
            completed_on=completed_on,
            hours=round(hours, 2),
            recorded_by_id=actor.user_id,
        )
        session.add(record)
        if completes_tsd:
            carer.tsd_completed_on = completed_on
            if carer.tsd_due is None:
                carer.tsd_due = tsd_deadline(carer)
            session.add(carer)
            _close_tasks(session, actor, carer, "tsd")
        session.flush()
        audit.record(
            session, actor, AuditAction.CREATE, "training_record", record.id,
            carer_id=carer.id, completes_tsd=completes_tsd,
        )  # fmt: skip
    session.refresh(record)
    return record


def training_of(session: Session, actor: Actor, carer_id: int) -> list[TrainingRecord]:
    carer, _ = get_carer(session, actor, carer_id)
    return list(
        session.exec(
            select(TrainingRecord)
            .where(TrainingRecord.carer_id == carer.id)
            .order_by(TrainingRecord.completed_on.desc(), TrainingRecord.id.desc())
        ).all()
    )
