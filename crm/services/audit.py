"""The audit trail. Every service that reads or changes personal data calls `record`."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from crm.models import AuditAction, AuditEvent
from crm.services.actors import Actor


def record(
    session: Session,
    actor: Actor,
    action: AuditAction,
    entity: str,
    entity_id: int | None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to the caller's transaction. `detail` names fields, not values."""
    event = AuditEvent(
        actor_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        entity=entity,
        entity_id=entity_id,
        detail=detail,
    )
    session.add(event)
    return event
