"""What every table shares: the constraint naming convention, enums, timestamp defaults.

The naming convention matters for SQLite: Alembic's batch mode can only drop or alter a
constraint it can name. Datetimes: SQLModel (pinned) maps every `datetime` field to its
UTCDateTime, which refuses naive values and returns aware UTC ones on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

import sqlalchemy as sa
from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema
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


def enum_column(enum: type[StrEnum] | type[OpenKey], **kwargs: Any) -> Any:
    """A string column holding an enum's value or an open key (not a native database enum, and
    no CHECK constraint: a new member needs no migration while it fits the column)."""
    if issubclass(enum, OpenKey):
        return Field(sa_type=sa.String(OpenKey.LENGTH), **kwargs)
    length = max(len(member.value) for member in enum)
    return Field(sa_type=sa.String(max(length, OpenKey.LENGTH)), **kwargs)


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


KEY_SHAPE = re.compile(r"[a-z][a-z0-9_]{0,15}")


class OpenKey(str):
    """A key of a set that grows outside the models, stored as a plain string of at most
    LENGTH characters (the columns are VARCHAR(16): a new key needs no migration).

    The models name the keys every release has; code above them may bring more (a message
    channel module declares its channel and its consent scope: crm.messaging.channels). So
    constructing one checks only its shape; whether a key is one we know is the registry's
    question, asked where values come in (crm.services). It compares, hashes, serialises and
    binds as the string it is."""

    __slots__ = ()
    LENGTH: ClassVar[int] = 16

    def __new__(cls, value: object) -> Self:
        if not isinstance(value, str) or not KEY_SHAPE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a {cls.__name__} key (a lower-case letter, then letters, "
                f"digits or _, at most {cls.LENGTH} in all)"
            )
        return super().__new__(cls, str.__str__(value))

    @property
    def value(self) -> str:
        return str.__str__(self)

    def __str__(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str.__str__(self)!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.to_string_ser_schema()
        )


class Channel(OpenKey):
    """A way to reach a person, each with its own consent. Named here: the ways every release
    has. A message channel module may declare another (its MessageChannel's `channel`):
    crm.messaging.channels is the registry of the ways we know, and the services check a
    channel against it (`contact_way`) where one comes in."""

    __slots__ = ()
    EMAIL: ClassVar[Channel]
    PHONE: ClassVar[Channel]
    SMS: ClassVar[Channel]
    TELEGRAM: ClassVar[Channel]
    POST: ClassVar[Channel]


Channel.EMAIL = Channel("email")
Channel.PHONE = Channel("phone")
Channel.SMS = Channel("sms")
Channel.TELEGRAM = Channel("telegram")
Channel.POST = Channel("post")


class ConsentScope(OpenKey):
    """What a person agreed to: that we keep their details, and each way we may contact them.
    A message channel module may declare the scope of its own way (its MessageChannel's
    `consent`); crm.messaging.channels checks a scope (`consent_scope`) where one comes in."""

    __slots__ = ()
    STORE_DETAILS: ClassVar[ConsentScope]
    EMAIL: ClassVar[ConsentScope]
    PHONE: ClassVar[ConsentScope]
    SMS: ClassVar[ConsentScope]
    TELEGRAM: ClassVar[ConsentScope]
    POST: ClassVar[ConsentScope]


ConsentScope.STORE_DETAILS = ConsentScope("store_details")
ConsentScope.EMAIL = ConsentScope("email")
ConsentScope.PHONE = ConsentScope("phone")
ConsentScope.SMS = ConsentScope("sms")
ConsentScope.TELEGRAM = ConsentScope("telegram")
ConsentScope.POST = ConsentScope("post")


class EnquiryChannel(StrEnum):
    """How an enquiry reached us (who typed it in), as distinct from the marketing source."""

    WEB_FORM = "web_form"
    STAFF = "staff"
    TELEGRAM = "telegram"
    WEBCHAT = "webchat"
    IMPORT = "import"
