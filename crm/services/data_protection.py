"""Data protection: subject access export, erasure (anonymisation) and the retention rule.

Erasing a household keeps what statistics need and nothing that identifies anyone: the
household row stays (its random reference, area, source, campaign, dates and stage) with its
stage events, so the funnel still counts it; names, contact details, address, free text,
consents, notes, chat transcripts and message contents go. Stage events are append-only for
the analytics; erasure is the one exception, and it only blanks their free-text reason (which
may name people), never their stage, time or reason code.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, SQLModel, select

from crm import clock
from crm.db import transaction
from crm.models import (
    Activity,
    Applicant,
    Appointment,
    AuditAction,
    AuditEvent,
    Carer,
    ChatConversation,
    ChatMessage,
    CheckIn,
    Consent,
    Household,
    OutboxMessage,
    OutboxStatus,
    Placement,
    Role,
    Stage,
    StageEvent,
    Task,
    TelegramChatLink,
)
from crm.services import audit, lifecycle
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.settings import Settings

# Who may export or erase a household's data.
DATA_PROTECTION_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
# Households that left the funnel and are anonymised by the retention rule.
RETAINED_STAGES = (Stage.WITHDRAWN, Stage.NOT_PROGRESSED)
ERASED = "[erased]"


def _check(session: Session, actor: Actor, household_id: int) -> Household:
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound(f"No household with id {household_id}")
    if not actor.is_system:
        if actor.role not in DATA_PROTECTION_ROLES:
            raise NotAllowed("Only managers and admins handle data protection requests")
        if not actor.may_work_on(household.area_id):
            raise NotAllowed("This household is in an area you do not work in")
    return household


def _row(obj: SQLModel) -> dict[str, Any]:
    return {k: _plain(v) for k, v in obj.model_dump(warnings=False).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return value


def subject_access_export(session: Session, actor: Actor, household_id: int) -> dict[str, Any]:
    """Everything held about a household, as one JSON-ready document. Audited as an export."""
    household = _check(session, actor, household_id)
    hid = household.id

    def rows(model: type[SQLModel], *where: Any) -> list[dict[str, Any]]:
        return [_row(r) for r in session.exec(select(model).where(*where))]

    carer = session.exec(select(Carer).where(Carer.household_id == hid)).first()
    conversations = session.exec(
        select(ChatConversation).where(ChatConversation.household_id == hid)
    ).all()
    document: dict[str, Any] = {
        "generated_at": clock.now().isoformat(),
        "household": _row(household),
        "applicants": rows(Applicant, Applicant.household_id == hid),
        "consents": rows(Consent, Consent.household_id == hid),
        "stage_events": rows(StageEvent, StageEvent.household_id == hid),
        "activities": rows(Activity, Activity.household_id == hid),
        "tasks": rows(Task, Task.household_id == hid),
        "appointments": rows(Appointment, Appointment.household_id == hid),
        "messages": rows(
            OutboxMessage,
            sa.or_(
                OutboxMessage.household_id == hid,
                OutboxMessage.carer_id == (carer.id if carer else -1),
            ),
        ),
        "chat_conversations": [
            {
                **_row(c),
                "messages": rows(ChatMessage, ChatMessage.conversation_id == c.id),
            }
            for c in conversations
        ],
        "telegram_links": rows(
            TelegramChatLink,
            sa.or_(
                TelegramChatLink.household_id == hid,
                TelegramChatLink.carer_id == (carer.id if carer else -1),
            ),
        ),
        "carer": _row(carer) if carer else None,
        "placements": rows(Placement, Placement.carer_id == carer.id) if carer else [],
        "check_ins": rows(CheckIn, CheckIn.carer_id == carer.id) if carer else [],
        "access_log": rows(
            AuditEvent, AuditEvent.entity == "household", AuditEvent.entity_id == hid
        ),
    }
    with transaction(session):
        audit.record(session, actor, AuditAction.EXPORT, "household", hid, subject_access=True)
    return document


def subject_access_json(session: Session, actor: Actor, household_id: int) -> str:
    return json.dumps(
        subject_access_export(session, actor, household_id), indent=2, ensure_ascii=False
    )


def anonymise_household(
    session: Session, actor: Actor, household_id: int, *, reason: str, commit: bool = True
) -> Household:
    """Erase a household's personal data, keeping its anonymous stage history."""
    household = _check(session, actor, household_id)
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why the household's data is being erased", "reason")
    if household.anonymised_at is not None:
        raise InvalidInput("This household has already been anonymised", "reason")
    hid = household.id
    now = clock.now()

    def work() -> None:
        for applicant in session.exec(select(Applicant).where(Applicant.household_id == hid)):
            session.delete(applicant)
        for model in (Consent, Activity):
            session.exec(sa.delete(model).where(model.household_id == hid))
        household.address_line_1 = household.address_line_2 = household.town = None
        # The postcode district is kept: it says which area, never which house.
        if household.postcode:
            household.postcode = household.postcode.split(" ")[0][:4]
        household.referrer_name = None
        household.interests = None
        household.preferred_channel = None
        household.anonymised_at = now
        household.updated_at = now
        session.add(household)
        # Free text in the stage history may name people; the stages and codes stay.
        session.exec(
            sa.update(StageEvent)
            .where(StageEvent.household_id == hid, StageEvent.reason_text.is_not(None))
            .values(reason_text=None)
        )
        session.exec(
            sa.update(Task)
            .where(Task.household_id == hid)
            .values(title="Task (erased)", detail=None)
        )
        session.exec(
            sa.update(Appointment)
            .where(Appointment.household_id == hid)
            .values(location=None, notes=None, cancel_reason=None)
        )
        carer = session.exec(select(Carer).where(Carer.household_id == hid)).first()
        # Messages about the household and, once approved, to them as carers (check-ins and
        # staff alerts carry only carer_id). Keys can hold an email address, so they go too.
        theirs = OutboxMessage.household_id == hid
        if carer is not None:
            theirs = sa.or_(theirs, OutboxMessage.carer_id == carer.id)
        session.exec(
            sa.update(OutboxMessage)
            .where(theirs)
            .values(
                recipient=ERASED,
                payload={},
                error=None,
                unique_key=sa.literal("erased-") + sa.cast(OutboxMessage.id, sa.String),
            )
        )
        session.exec(
            sa.update(OutboxMessage)
            .where(theirs, OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
            .values(status=OutboxStatus.CANCELLED)
        )
        conversation_ids = list(
            session.exec(
                select(ChatConversation.id).where(ChatConversation.household_id == hid)
            ).all()
        )
        if conversation_ids:
            session.exec(
                sa.delete(ChatMessage).where(ChatMessage.conversation_id.in_(conversation_ids))
            )
            session.exec(
                sa.update(ChatConversation)
                .where(ChatConversation.id.in_(conversation_ids))
                .values(
                    data={},
                    erased_at=now,
                    external_id=sa.literal("erased-") + sa.cast(ChatConversation.id, sa.String),
                )
            )
        session.exec(sa.delete(TelegramChatLink).where(TelegramChatLink.household_id == hid))
        if carer is not None:
            session.exec(sa.delete(TelegramChatLink).where(TelegramChatLink.carer_id == carer.id))
            carer.at_risk_reason = None
            carer.deregistration_reason_text = None
            session.add(carer)
            session.exec(
                sa.update(CheckIn).where(CheckIn.carer_id == carer.id).values(comment=None)
            )
        # Last, so nothing it writes is blanked: visits to come cancelled (staff told), tasks
        # closed.
        lifecycle.close_what_follows(
            session, actor, household, why=lifecycle.Change.ERASED,
            reason="The household's details were erased",
        )  # fmt: skip
        # The reason may name people: the log says only whether a request or the rule did it.
        basis = "retention rule" if actor.is_system else "request"
        audit.record(session, actor, AuditAction.ERASE, "household", hid, basis=basis)

    if commit:
        with transaction(session):
            work()
        session.refresh(household)
    else:
        work()
        session.flush()
    return household


def retention_due(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Households that left (withdrawn / not progressed) longer ago than the retention rule."""
    cutoff = now - relativedelta(months=settings.retention.anonymise_closed_after_months)
    return list(
        session.exec(
            select(Household.id)
            .where(
                Household.stage.in_(RETAINED_STAGES),
                Household.stage_entered_at < cutoff,
                Household.anonymised_at.is_(None),
            )
            .order_by(Household.id)
        ).all()
    )


def apply_retention(
    session: Session, actor: Actor, settings: Settings, now: datetime | None = None
) -> int:
    """Anonymise every household past the retention rule; returns how many. Safe to run again:
    an anonymised household is never picked twice. Each household is its own transaction, so
    a failure leaves the others done."""
    now = now or clock.now()
    done = 0
    for household_id in retention_due(session, settings, now):
        months = settings.retention.anonymise_closed_after_months
        anonymise_household(
            session, actor, household_id,
            reason=f"Retention rule: closed more than {months} months ago",
        )  # fmt: skip
        done += 1
    return done
