"""Keeping carers: the children placed with them, supervision visits, annual reviews and
training. A placement holds a child's reference from the case system, never a case file."""

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field, enum_column
from crm.models.carers import FosteringType


class PlacementEnding(StrEnum):
    PLANNED = "planned"
    UNPLANNED = "unplanned"


class Placement(SQLModel, table=True):
    """A child living with the carer. No child's name: a reference from the case system."""

    __table_args__ = (
        sa.Index("ix_placement_carer_open", "carer_id", "ended_on"),
        sa.CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="ends_after_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    carer_id: int = Field(foreign_key="carer.id")
    child_reference: str = Field(max_length=40)
    fostering_type: FosteringType = enum_column(FosteringType)
    started_on: date
    ended_on: date | None = None
    # The local authority that placed the child (often a neighbouring one in the hub).
    placing_authority: str | None = Field(default=None, max_length=200)
    emergency: bool = False
    # The child's age in years when placed: what the approval's age range is checked against.
    child_age: int | None = Field(default=None, ge=0, le=25)
    expected_end_on: date | None = None
    end_reason: str | None = Field(default=None, max_length=500)
    ending: PlacementEnding | None = enum_column(PlacementEnding, default=None, nullable=True)
    # Outside the approval terms (over capacity, age, type): a manager's exemption and why.
    exemption_reason: str | None = Field(default=None, max_length=500)
    exempted_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    # A move: the placement with the previous carer that this one continues.
    moved_from_id: int | None = Field(default=None, foreign_key="placement.id")
    created_at: datetime = created_at_field()


class SupervisionKind(StrEnum):
    ANNOUNCED = "announced"
    UNANNOUNCED = "unannounced"


class SupervisionVisit(SQLModel, table=True):
    """A supervising social worker's visit to a carer: what it found and what the carer
    raised. Actions become tasks (owned by the supervising social worker)."""

    __tablename__ = "supervision_visit"
    __table_args__ = (sa.Index("ix_supervision_visit_carer_on", "carer_id", "visited_on"),)

    id: int | None = Field(default=None, primary_key=True)
    carer_id: int = Field(foreign_key="carer.id")
    visited_on: date
    kind: SupervisionKind = enum_column(SupervisionKind, default=SupervisionKind.ANNOUNCED)
    notes: str | None = Field(default=None, sa_type=sa.Text)
    carer_raised: str | None = Field(default=None, sa_type=sa.Text)
    recorded_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = created_at_field()


class ReviewOutcome(StrEnum):
    APPROVAL_CONTINUES = "approval_continues"
    CONTINUES_WITH_SUPPORT_PLAN = "continues_with_support_plan"
    REFERRED_TO_PANEL = "referred_to_panel"


class AnnualReview(SQLModel, table=True):
    """A foster carer review (Fostering Regulations 2011, reg. 28): the first goes to panel."""

    __tablename__ = "annual_review"
    __table_args__ = (sa.Index("ix_annual_review_carer_on", "carer_id", "reviewed_on"),)

    id: int | None = Field(default=None, primary_key=True)
    carer_id: int = Field(foreign_key="carer.id")
    reviewed_on: date
    outcome: ReviewOutcome = enum_column(ReviewOutcome)
    terms_changed: bool = False
    # The terms before and after ({"places", "age_min", "age_max", "fostering_types"}).
    terms_before: dict = Field(default_factory=dict, sa_type=sa.JSON)
    terms_after: dict = Field(default_factory=dict, sa_type=sa.JSON)
    goes_to_panel: bool = False
    notes: str | None = Field(default=None, sa_type=sa.Text)
    recorded_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = created_at_field()


class TrainingRecord(SQLModel, table=True):
    __tablename__ = "training_record"

    id: int | None = Field(default=None, primary_key=True)
    carer_id: int = Field(foreign_key="carer.id", index=True)
    course: str = Field(max_length=200)
    completed_on: date
    hours: float = Field(ge=0, le=1000)
    recorded_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = created_at_field()
