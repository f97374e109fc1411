"""Staff availability and appointments (initial visits, sessions, supervision, reviews)."""

from datetime import date, datetime, time
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field, enum_column


class AppointmentKind(StrEnum):
    INITIAL_VISIT = "initial_visit"
    INFORMATION_SESSION = "information_session"
    ASSESSMENT_SESSION = "assessment_session"
    SUPERVISION_VISIT = "supervision_visit"
    ANNUAL_REVIEW = "annual_review"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    MOVED = "moved"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


class AvailabilityPattern(SQLModel, table=True):
    """A weekly window when a member of staff can be booked, cut into slots."""

    __tablename__ = "availability_pattern"
    __table_args__ = (
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        sa.CheckConstraint("end_time > start_time", name="ends_after_start"),
        sa.CheckConstraint("slot_minutes >= 15", name="slot_length"),
    )

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_user.id", index=True, ondelete="CASCADE")
    weekday: int  # Monday is 0
    start_time: time
    end_time: time
    slot_minutes: int = 90
    valid_from: date | None = None
    valid_until: date | None = None


class AvailabilityException(SQLModel, table=True):
    """A change to the pattern on one date: away (leave, training) or extra hours."""

    __tablename__ = "availability_exception"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_user.id", index=True, ondelete="CASCADE")
    on_date: date
    # Both empty with available=False: away all day.
    start_time: time | None = None
    end_time: time | None = None
    available: bool = False
    note: str | None = Field(default=None, max_length=200)


class Appointment(SQLModel, table=True):
    __table_args__ = (
        # The database itself refuses a second live booking of a staff member's slot, so two
        # people choosing the same slot at the same moment cannot both get it.
        sa.Index(
            "uq_appointment_staff_slot_booked",
            "staff_id",
            "starts_at",
            unique=True,
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        ),
        # And at most one live initial visit per household: a booking link posted many times
        # at once, each with a different slot, books one visit, not several.
        sa.Index(
            "uq_appointment_initial_visit_booked",
            "household_id",
            unique=True,
            sqlite_where=sa.text("kind = 'initial_visit' AND status = 'booked'"),
            postgresql_where=sa.text("kind = 'initial_visit' AND status = 'booked'"),
        ),
        sa.Index("ix_appointment_starts_status", "starts_at", "status"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: AppointmentKind = enum_column(AppointmentKind)
    status: AppointmentStatus = enum_column(AppointmentStatus, default=AppointmentStatus.BOOKED)
    staff_id: int = Field(foreign_key="staff_user.id")
    household_id: int | None = Field(
        default=None, foreign_key="household.id", index=True, ondelete="CASCADE"
    )
    carer_id: int | None = Field(default=None, foreign_key="carer.id", index=True)
    starts_at: datetime
    ends_at: datetime
    location: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=2000)
    # When an appointment is moved, the old row is kept (status "moved") and points here.
    moved_to_id: int | None = Field(default=None, foreign_key="appointment.id")
    cancelled_at: datetime | None = None
    cancel_reason: str | None = Field(default=None, max_length=500)
    booked_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    booked_by_label: str = Field(max_length=60)
    created_at: datetime = created_at_field()
