"""A carer's breaks from fostering and their leaving (notice, reason, exit conversation)."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field


class CarerBreak(SQLModel, table=True):
    """A break from fostering: the approval stays, supervision and check-ins pause."""

    __tablename__ = "carer_break"
    __table_args__ = (
        sa.CheckConstraint("expected_end_on >= started_on", name="expected_end_after_start"),
        sa.CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="ends_after_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    carer_id: int = Field(foreign_key="carer.id", index=True)
    started_on: date
    reason: str = Field(max_length=500)
    expected_end_on: date
    # The carer resumed fostering on this date (None: still on the break).
    ended_on: date | None = None
    recorded_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = created_at_field()


# A notice is live until it is withdrawn or the approval has ended.
LIVE_NOTICE = "withdrawn_on IS NULL AND approval_ended_on IS NULL"


class CarerLeaving(SQLModel, table=True):
    """A carer's written notice: when the approval ends (28 days after the notice), why (a
    reason from the deregistration list) and what they said in the exit conversation. One live
    notice at a time; a carer who withdraws their notice, or is approved again after leaving,
    may give another."""

    __tablename__ = "carer_leaving"
    __table_args__ = (
        sa.CheckConstraint("approval_ends_on >= notice_given_on", name="ends_after_notice"),
        sa.CheckConstraint(
            "withdrawn_on IS NULL OR approval_ended_on IS NULL", name="withdrawn_or_ended"
        ),
        sa.Index(
            "uq_carer_leaving_live",
            "carer_id",
            unique=True,
            sqlite_where=sa.text(LIVE_NOTICE),
            postgresql_where=sa.text(LIVE_NOTICE),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    carer_id: int = Field(foreign_key="carer.id", index=True)
    notice_given_on: date
    approval_ends_on: date
    reason_code: str = Field(max_length=60)
    # The carer's own words: needed when the reason is "other".
    reason_text: str | None = Field(default=None, max_length=2000)
    exit_conversation_on: date | None = None
    exit_conversation_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    exit_conversation_notes: str | None = Field(default=None, sa_type=sa.Text)
    # What, in the carer's words, would have kept them fostering.
    exit_would_have_kept: str | None = Field(default=None, sa_type=sa.Text)
    # The carer changed their mind before the approval ended (the approval stays).
    withdrawn_on: date | None = None
    withdrawn_reason: str | None = Field(default=None, max_length=500)
    # The day the approval actually ended (None while the notice runs or once withdrawn).
    approval_ended_on: date | None = None
    recorded_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = created_at_field()
