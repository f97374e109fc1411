"""The fostering panel and the agency decision: panel meetings, the households listed for each,
the panel's recommendation and the agency decision maker's decision (crm.services.panel)."""

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field, enum_column


class Recommendation(StrEnum):
    APPROVE = "approve"
    DO_NOT_APPROVE = "do_not_approve"
    DEFER = "defer"

    @property
    def label(self) -> str:
        return {
            Recommendation.APPROVE: "Approve",
            Recommendation.DO_NOT_APPROVE: "Do not approve",
            Recommendation.DEFER: "Defer",
        }[self]


class Decision(StrEnum):
    APPROVED = "approved"
    NOT_APPROVED = "not_approved"

    @property
    def label(self) -> str:
        return "Approved" if self is Decision.APPROVED else "Not approved"


class PanelMeeting(SQLModel, table=True):
    """A sitting of the fostering panel: its date, its chair and how many households it can
    consider."""

    __tablename__ = "panel_meeting"
    __table_args__ = (sa.CheckConstraint("capacity >= 1", name="capacity_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    meets_on: date = Field(index=True)
    # Often an independent chair, not a member of staff: a name.
    chair: str = Field(max_length=120)
    capacity: int
    # The papers go out this many working days before (panel.papers_due_working_days).
    papers_due_on: date
    created_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = created_at_field()


class PanelListing(SQLModel, table=True):
    """A household listed for a panel meeting, with the panel's recommendation once it has
    met and the agency decision once it is made. Terms recommended and decided are the
    approval's: how many children, the age range, the types of fostering and specialisms."""

    __tablename__ = "panel_listing"
    __table_args__ = (
        sa.UniqueConstraint("meeting_id", "household_id"),
        sa.CheckConstraint(
            "recommended_age_min IS NULL OR recommended_age_max IS NULL "
            "OR recommended_age_min <= recommended_age_max",
            name="recommended_age_order",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="panel_meeting.id", index=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    listed_at: datetime = created_at_field()
    listed_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    papers_sent_on: date | None = None
    # Taken off the panel before it met: the household left or was erased (its place is free).
    withdrawn_at: datetime | None = None
    # After the meeting.
    recommendation: Recommendation | None = enum_column(Recommendation, default=None, nullable=True)
    recommended_places: int | None = None
    recommended_age_min: int | None = None
    recommended_age_max: int | None = None
    recommended_fostering_types: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    recommended_specialisms: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    recommendation_notes: str | None = Field(default=None, max_length=4000)
    recommended_at: datetime | None = None
    recommended_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    # The agency decision.
    decision: Decision | None = enum_column(Decision, default=None, nullable=True)
    decision_due_on: date | None = None
    decision_reason_code: str | None = Field(default=None, max_length=60)
    decision_notes: str | None = Field(default=None, max_length=4000)
    decided_at: datetime | None = None
    decided_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
