"""Connected persons (kinship): a relative or friend already caring for a child they know can
be approved temporarily under regulation 24 of the Care Planning, Placement and Case Review
(England) Regulations 2010 while their full assessment runs: for up to 16 weeks, extendable
once by up to 8 more."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field


class TemporaryApproval(SQLModel, table=True):
    __tablename__ = "temporary_approval"
    __table_args__ = (
        sa.CheckConstraint("expires_on > approved_on", name="expires_after_approval"),
        sa.CheckConstraint(
            "extended_until IS NULL OR extended_until > expires_on", name="extension_later"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True)
    # The child's reference in the placing authority's case system: never the child's name.
    child_reference: str = Field(max_length=40)
    approved_on: date
    expires_on: date  # 16 weeks after approval
    extended_until: date | None = None  # at most 8 weeks more
    extension_reason: str | None = Field(default=None, max_length=500)
    ended_on: date | None = None
    ended_reason: str | None = Field(default=None, max_length=500)
    approved_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = created_at_field()

    @property
    def ends_on(self) -> date:
        return self.extended_until or self.expires_on
