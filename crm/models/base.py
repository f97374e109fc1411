"""What every table shares: the constraint naming convention, enums, timestamp defaults.

The naming convention matters for SQLite: Alembic's batch mode can only drop or alter a
constraint it can name. Datetimes: SQLModel (pinned) maps every `datetime` field to its
UTCDateTime, which refuses naive values and returns aware UTC ones on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm import stages

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    # Imported late so that tests moving the clock also move column defaults.
    from crm import clock

    return clock.now()


def created_at_field() -> Any:
    return Field(default_factory=utc_now, nullable=False)


def enum_column(enum: type[StrEnum], **kwargs: Any) -> Any:
    """A string column holding an enum's value (not a native database enum)."""
    length = max(len(member.value) for member in enum)
    return Field(sa_type=sa.String(max(length, 16)), **kwargs)


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    RECRUITMENT_OFFICER = "recruitment_officer"
    ASSESSING_SOCIAL_WORKER = "assessing_social_worker"
    SUPERVISING_SOCIAL_WORKER = "supervising_social_worker"
    # The agency decision maker: decides on approval after the panel's recommendation.
    DECISION_MAKER = "decision_maker"

    @property
    def label(self) -> str:
        if self is Role.DECISION_MAKER:
            return "Agency decision maker"
        return self.value.replace("_", " ").capitalize()


class Stage(StrEnum):
    """Where a household is. The first seven are the funnel, in order. Everything else about a
    stage (label, colour, target days, groups) is its row in crm.stages."""

    ENQUIRY = "enquiry"
    INITIAL_VISIT = "initial_visit"
    APPLICATION = "application"
    STAGE_ONE = "stage_one"
    STAGE_TWO = "stage_two"
    PANEL = "panel"
    APPROVED = "approved"
    ON_HOLD = "on_hold"
    WITHDRAWN = "withdrawn"
    NOT_PROGRESSED = "not_progressed"
    DEREGISTERED = "deregistered"

    @property
    def label(self) -> str:
        return stages.row(self).label

    @property
    def funnel_index(self) -> int | None:
        return FUNNEL_STAGES.index(self) if self in FUNNEL_STAGES else None

    @classmethod
    def in_group(cls, name: str) -> tuple[Stage, ...]:
        """The stages of a crm.stages group, in funnel order."""
        return tuple(cls(key) for key in stages.group(name))


# Read from the stage table; the funnel and the tracker importer still import these names
# (they move to crm.stages after the architecture merge).
FUNNEL_STAGES: tuple[Stage, ...] = Stage.in_group("funnel")
CLOSED_STAGES = frozenset(Stage.in_group("closed"))
STAGES_NEEDING_REASON = frozenset(CLOSED_STAGES)
STAGE_LABELS = {stage: stage.label for stage in Stage}


class ReasonKind(StrEnum):
    """Which stage a reason explains; the lists are data an admin can edit."""

    WITHDRAWN = "withdrawn"
    NOT_PROGRESSED = "not_progressed"
    DEREGISTERED = "deregistered"
    ON_HOLD = "on_hold"


class Channel(StrEnum):
    """Ways to reach a person, each with its own consent."""

    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"
    TELEGRAM = "telegram"
    POST = "post"


class ConsentScope(StrEnum):
    """What a person agreed to: that we keep their details, and each way we may contact them."""

    STORE_DETAILS = "store_details"
    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"
    TELEGRAM = "telegram"
    POST = "post"


class EnquiryChannel(StrEnum):
    """How an enquiry reached us (who typed it in), as distinct from the marketing source."""

    WEB_FORM = "web_form"
    STAFF = "staff"
    TELEGRAM = "telegram"
    WEBCHAT = "webchat"
    IMPORT = "import"
