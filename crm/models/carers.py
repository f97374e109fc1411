"""Approved fostering households: their approval terms, placements and support."""

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field, enum_column


class CarerStatus(StrEnum):
    ACTIVE = "active"
    ON_BREAK = "on_break"
    DEREGISTERED = "deregistered"


class FosteringType(StrEnum):
    EMERGENCY = "emergency"
    SHORT_TERM = "short_term"
    LONG_TERM = "long_term"
    SHORT_BREAKS = "short_breaks"
    PARENT_AND_CHILD = "parent_and_child"
    REMAND = "remand"
    STAYING_PUT = "staying_put"
    SPECIALIST = "specialist"


class Specialism(StrEnum):
    TEENAGERS = "teenagers"
    SIBLING_GROUPS = "sibling_groups"
    DISABILITY = "disability"
    PARENT_AND_CHILD = "parent_and_child"
    UASC = "unaccompanied_asylum_seeking_children"


class Carer(SQLModel, table=True):
    __table_args__ = (
        sa.CheckConstraint("places >= 0", name="places_not_negative"),
        sa.CheckConstraint("age_min <= age_max", name="age_range_order"),
    )

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", unique=True)
    approved_on: date = Field(index=True)
    # Approval terms.
    places: int = 1
    age_min: int = Field(default=0, ge=0, le=25)
    age_max: int = Field(default=17, ge=0, le=25)
    fostering_types: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    specialisms: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    is_family_and_friends: bool = False
    supervising_social_worker_id: int | None = Field(
        default=None, foreign_key="staff_user.id", index=True
    )
    annual_review_due: date | None = None
    # TSD standards: within 12 months of approval (18 for family and friends carers).
    tsd_due: date | None = None
    tsd_completed_on: date | None = None
    last_supervision_at: datetime | None = None
    status: CarerStatus = enum_column(CarerStatus, default=CarerStatus.ACTIVE, index=True)
    status_changed_at: datetime = created_at_field()
    deregistered_on: date | None = None
    deregistration_reason_code: str | None = Field(default=None, max_length=60)
    deregistration_reason_text: str | None = Field(default=None, max_length=2000)
    at_risk: bool = False
    at_risk_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_at_field()
