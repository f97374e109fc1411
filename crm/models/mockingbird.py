"""Mockingbird constellations: a hub home carer supporting 6 to 10 satellite fostering
households with sleepovers, short breaks, meetings and peer support (The Fostering Network's
model, which government asks every area to build on)."""

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field, enum_column


class ConstellationActivityKind(StrEnum):
    MEETING = "meeting"
    SLEEPOVER = "sleepover"
    SHORT_BREAK = "short_break"
    PEER_SUPPORT = "peer_support"

    @property
    def label(self) -> str:
        return {
            "meeting": "Constellation meeting",
            "sleepover": "Sleepover",
            "short_break": "Short break",
            "peer_support": "Peer support",
        }[self.value]


class Constellation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    area_id: int = Field(foreign_key="area.id", index=True)
    hub_carer_id: int = Field(foreign_key="carer.id", index=True)
    started_on: date
    ended_on: date | None = None
    created_at: datetime = created_at_field()


class ConstellationMember(SQLModel, table=True):
    """A satellite household's time in a constellation (joined, and left with a reason)."""

    __tablename__ = "constellation_member"
    __table_args__ = (
        sa.Index("ix_constellation_member_live", "constellation_id", "left_on"),
        sa.CheckConstraint("left_on IS NULL OR left_on >= joined_on", name="left_after_joined"),
    )

    id: int | None = Field(default=None, primary_key=True)
    constellation_id: int = Field(foreign_key="constellation.id")
    carer_id: int = Field(foreign_key="carer.id", index=True)
    joined_on: date
    left_on: date | None = None
    left_reason: str | None = Field(default=None, max_length=500)


class ConstellationActivity(SQLModel, table=True):
    """Something the hub home gave: a meeting, a sleepover or short break (nights), support."""

    __tablename__ = "constellation_activity"
    __table_args__ = (
        sa.Index("ix_constellation_activity_when", "constellation_id", "occurred_on"),
        sa.CheckConstraint("nights >= 0", name="nights_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    constellation_id: int = Field(foreign_key="constellation.id")
    kind: ConstellationActivityKind = enum_column(ConstellationActivityKind)
    occurred_on: date
    # The satellite household it was for (none for a meeting of the whole constellation).
    carer_id: int | None = Field(default=None, foreign_key="carer.id")
    nights: int = 0
    notes: str | None = Field(default=None, max_length=2000)
    recorded_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = created_at_field()
