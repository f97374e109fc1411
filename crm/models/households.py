"""Households moving through recruitment, their applicants, and what they consented to."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, Relationship, SQLModel

from crm.models.base import (
    Channel,
    ConsentScope,
    EnquiryChannel,
    Stage,
    created_at_field,
    enum_column,
)


class Household(SQLModel, table=True):
    """One or two applicants who enquire and, with luck, become a fostering household."""

    __table_args__ = (
        sa.Index("ix_household_stage_area", "stage", "area_id"),
        sa.Index("ix_household_area_enquired", "area_id", "enquired_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=40, unique=True)
    # None while the postcode matches no area: the hub's triage queue.
    area_id: int | None = Field(default=None, foreign_key="area.id", index=True)
    address_line_1: str | None = Field(default=None, max_length=200)
    address_line_2: str | None = Field(default=None, max_length=200)
    town: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=8, index=True)
    preferred_channel: Channel | None = enum_column(Channel, default=None, nullable=True)
    enquiry_channel: EnquiryChannel = enum_column(EnquiryChannel)
    source_key: str | None = Field(default=None, foreign_key="source.key", max_length=40)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    # The words a tracker import found for how they heard of us, or the campaign, when the team
    # filed them under "other": the reports' breakdown of "other" shows them.
    source_text: str | None = Field(default=None, max_length=200)
    campaign_text: str | None = Field(default=None, max_length=200)
    # Refer-a-friend: the household that referred this one, or a name when not on our books.
    referrer_household_id: int | None = Field(default=None, foreign_key="household.id")
    referrer_name: str | None = Field(default=None, max_length=200)
    interests: str | None = Field(default=None, max_length=2000)
    is_kinship: bool = False
    assigned_officer_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    # The assessing social worker, separate from the recruitment officer above: stage one
    # and two are theirs (crm.services.assessment).
    assessor_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    stage: Stage = enum_column(Stage, default=Stage.ENQUIRY)
    stage_entered_at: datetime = created_at_field()
    # The stage a household was paused from, so `on_hold` resumes where it stopped.
    held_from_stage: Stage | None = enum_column(Stage, default=None, nullable=True)
    enquired_at: datetime = Field(index=True)
    first_contact_at: datetime | None = None
    anonymised_at: datetime | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()

    applicants: list["Applicant"] = Relationship(
        back_populates="household",
        sa_relationship_kwargs={"order_by": "Applicant.position", "cascade": "all, delete-orphan"},
    )

    @property
    def display_name(self) -> str:
        if self.anonymised_at is not None:
            return f"Anonymised household {self.reference}"
        names = [a.full_name for a in self.applicants]
        return " and ".join(names) if names else self.reference


class Applicant(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("household_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True, ondelete="CASCADE")
    position: int = Field(default=1, ge=1, le=2)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    date_of_birth: date | None = None
    # E.164 ("+447700900123") and lower-case email, so duplicate checks are exact matches.
    phone: str | None = Field(default=None, max_length=20, index=True)
    email: str | None = Field(default=None, max_length=254, index=True)
    created_at: datetime = created_at_field()

    household: Household = Relationship(back_populates="applicants")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Consent(SQLModel, table=True):
    """Append-only: the latest row per scope is what the person has agreed to now."""

    __table_args__ = (sa.Index("ix_consent_household_scope", "household_id", "scope", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", ondelete="CASCADE")
    scope: ConsentScope = enum_column(ConsentScope)
    granted: bool
    # The exact words the person agreed to (or how they withdrew: "STOP", unsubscribe link).
    wording: str = Field(max_length=2000)
    via: str = Field(max_length=40)
    recorded_at: datetime = created_at_field()
    recorded_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
