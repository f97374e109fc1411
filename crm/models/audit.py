"""Who saw and changed what. Details name fields, never their personal values."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field, enum_column


class AuditAction(StrEnum):
    VIEW = "view"
    CREATE = "create"
    UPDATE = "update"
    EXPORT = "export"
    ERASE = "erase"


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (
        sa.Index("ix_audit_event_entity", "entity", "entity_id", "occurred_at"),
        sa.Index("ix_audit_event_actor", "actor_id", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = created_at_field()
    actor_id: int | None = Field(default=None, foreign_key="staff_user.id")
    actor_label: str = Field(max_length=60)
    action: AuditAction = enum_column(AuditAction)
    entity: str = Field(max_length=40)
    entity_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
