"""The hub, the local authorities (areas) it serves, staff, and the lists admins keep."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import ReasonKind, Role, created_at_field, enum_column


class Hub(SQLModel, table=True):
    """A regional recruitment hub: one front door for several local authorities."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    created_at: datetime = created_at_field()


class Area(SQLModel, table=True):
    """A local authority the hub serves. Its postcode districts route enquiries to it."""

    id: int | None = Field(default=None, primary_key=True)
    hub_id: int = Field(foreign_key="hub.id", index=True)
    name: str = Field(max_length=200, unique=True)
    # Given to anyone worried about a child in this area (falls back to the service setting).
    childrens_services_phone: str | None = Field(default=None, max_length=40)
    active: bool = True
    created_at: datetime = created_at_field()


class AreaPostcodeDistrict(SQLModel, table=True):
    """The outward part of a postcode (e.g. "LE1") belongs to one area."""

    __tablename__ = "area_postcode_district"

    district: str = Field(primary_key=True, max_length=4)
    area_id: int = Field(foreign_key="area.id", index=True)


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    role: Role = enum_column(Role)
    password_hash: str = Field(max_length=255)
    active: bool = True
    last_sign_in_at: datetime | None = None
    created_at: datetime = created_at_field()


class StaffArea(SQLModel, table=True):
    """Which areas a member of staff works in (least privilege: they see only these)."""

    __tablename__ = "staff_area"

    staff_id: int = Field(foreign_key="staff_user.id", primary_key=True, ondelete="CASCADE")
    area_id: int = Field(foreign_key="area.id", primary_key=True, ondelete="CASCADE")


class Source(SQLModel, table=True):
    """Where an enquirer heard about us: web search, social media, event, refer-a-friend..."""

    key: str = Field(primary_key=True, max_length=40)
    label: str = Field(max_length=100)
    active: bool = True


class Campaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    source_key: str | None = Field(default=None, foreign_key="source.key", max_length=40)
    starts_on: datetime | None = None
    ends_on: datetime | None = None
    # Whole pence, so cost per approval can be reported without float drift.
    cost_pence: int | None = Field(default=None, ge=0)
    active: bool = True


class Reason(SQLModel, table=True):
    """A reason from the configured list for leaving or pausing the funnel."""

    __table_args__ = (sa.UniqueConstraint("kind", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: ReasonKind = enum_column(ReasonKind)
    code: str = Field(max_length=60)
    label: str = Field(max_length=200)
    active: bool = True
