"""The stage history: append-only, and the single source the funnel analytics read."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, SQLModel

from crm.models.base import Stage, created_at_field, enum_column


class StageEvent(SQLModel, table=True):
    __tablename__ = "stage_event"
    __table_args__ = (
        sa.Index("ix_stage_event_household_occurred", "household_id", "occurred_at", "id"),
        sa.Index("ix_stage_event_to_occurred", "to_stage", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id")
    from_stage: Stage | None = enum_column(Stage, default=None, nullable=True)
    to_stage: Stage = enum_column(Stage)
    occurred_at: datetime
    actor_id: int | None = Field(default=None, foreign_key="staff_user.id")
    # Who, when no member of staff did it: "assistant:telegram", "public web form", "import".
    actor_label: str = Field(max_length=60)
    reason_code: str | None = Field(default=None, max_length=60)
    reason_text: str | None = Field(default=None, max_length=2000)
    recorded_at: datetime = created_at_field()


@event.listens_for(StageEvent, "before_update")
def _stage_events_are_append_only(mapper, connection, target) -> None:  # noqa: ANN001
    # Analytics rebuild history from these rows; an edited event would rewrite the past.
    raise ValueError("stage events are append-only; record a new event instead")
