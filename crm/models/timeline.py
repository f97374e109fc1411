"""What happened with a household (the timeline) and what someone has to do next (tasks)."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field, enum_column


class ActivityKind(StrEnum):
    NOTE = "note"
    CALL = "call"
    EMAIL = "email"
    CHAT_TRANSCRIPT = "chat_transcript"
    MESSAGE_SENT = "message_sent"
    MESSAGE_FAILED = "message_failed"
    REPEAT_ENQUIRY = "repeat_enquiry"
    # Brought in from a tracker file: which file and row.
    IMPORTED = "imported"


class CallOutcome(StrEnum):
    SPOKE = "spoke"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    WRONG_NUMBER = "wrong_number"


class Activity(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_activity_household_occurred", "household_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", ondelete="CASCADE")
    kind: ActivityKind = enum_column(ActivityKind)
    occurred_at: datetime
    actor_id: int | None = Field(default=None, foreign_key="staff_user.id")
    actor_label: str = Field(max_length=60)
    summary: str = Field(max_length=200)
    body: str | None = Field(default=None, sa_type=sa.Text)
    call_outcome: CallOutcome | None = enum_column(CallOutcome, default=None, nullable=True)
    # Links to the thing behind the entry, when there is one.
    conversation_id: int | None = Field(default=None, foreign_key="chat_conversation.id")
    outbox_message_id: int | None = Field(default=None, foreign_key="outbox_message.id")
    # A check-in's answer is one entry, updated when the carer answers again.
    check_in_id: int | None = Field(default=None, foreign_key="check_in.id", unique=True)
    created_at: datetime = created_at_field()


class TaskKind(StrEnum):
    RESPOND_TO_ENQUIRY = "respond_to_enquiry"
    SECOND_ATTEMPT = "second_attempt"
    OFFER_VISIT = "offer_visit"
    CALL_BACK = "call_back"
    STALLED_CASE = "stalled_case"
    PANEL_DEADLINE = "panel_deadline"
    PANEL_PAPERS = "panel_papers"
    PANEL_DECISION = "panel_decision"
    CHECK_IN_FOLLOW_UP = "check_in_follow_up"
    ANNUAL_REVIEW = "annual_review"
    TEMPORARY_APPROVAL = "temporary_approval"
    SAFEGUARDING = "safeguarding"
    GENERAL = "general"


class TaskPriority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Task(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_task_owner_open_due", "owner_id", "done_at", "due_at"),
        sa.Index("ix_task_area_open_due", "area_id", "done_at", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: TaskKind = enum_column(TaskKind)
    title: str = Field(max_length=200)
    detail: str | None = Field(default=None, max_length=2000)
    household_id: int | None = Field(
        default=None, foreign_key="household.id", index=True, ondelete="CASCADE"
    )
    carer_id: int | None = Field(default=None, foreign_key="carer.id", index=True)
    # The chat it came from (a safeguarding concern raised to the assistant): the chat is named
    # by this link, never in the title or detail, so erasing the person who chatted finds it
    # even when the chat was tied to their household only later.
    conversation_id: int | None = Field(
        default=None, foreign_key="chat_conversation.id", index=True, ondelete="SET NULL"
    )
    # No owner: the task sits in the area's (or, with no area, the hub's) team queue.
    owner_id: int | None = Field(default=None, foreign_key="staff_user.id")
    area_id: int | None = Field(default=None, foreign_key="area.id")
    priority: TaskPriority = enum_column(TaskPriority, default=TaskPriority.NORMAL)
    due_at: datetime
    # When the task stopped being open: done, or closed without being done.
    done_at: datetime | None = None
    done_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    # Set when a change made the task pointless (the household withdrew, the carer
    # deregistered...): it was closed, not done, and this says why.
    closed_reason: str | None = Field(default=None, max_length=500)
    # What the person who closed it found or did ("Spoke to them; visit booked").
    outcome: str | None = Field(default=None, max_length=2000)
    # Lets the scheduler create a task once however often its scan runs.
    unique_key: str | None = Field(default=None, max_length=200, unique=True)
    created_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = created_at_field()
