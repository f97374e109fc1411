"""Data protection: subject access export, erasure (anonymisation) and the retention rule.

What is held about a person is found in one place, `_records`: by their household, and once
they are approved by their carer record (supervision visits, tasks, check-ins, messages and
Telegram links are kept by carer id), and by the Telegram chats linked to them. The export and
the erasure both start from it, so a kind of record the export shows is one erasure clears.

Erasing a household keeps what statistics need and nothing that identifies anyone: the
household row stays (its random reference, area, source, campaign, dates and stage) with its
stage events, so the funnel still counts it; names, contact details, address, free text,
consents, notes, chat transcripts and message contents go. Stage events are append-only for
the analytics; erasure is the one exception, and it only blanks their free-text reason (which
may name people), never their stage, time or reason code. A safeguarding concern they raised
is about a child: it stays, open, with only their own details taken out of its words.

On SQLite, `secure_delete` (crm.db) zeroes what a delete or an update leaves behind, and the
write-ahead log is checkpointed and truncated after an erasure, so the values are gone from
the files too. PostgreSQL keeps old row versions until VACUUM reuses their space (see the
README's data protection section for why erasure does not run VACUUM itself).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
import phonenumbers
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.exports import SafeCsvWriter
from crm.messaging import catalogue
from crm.messaging.channels import consent_by, label_of
from crm.models import (
    Activity,
    ActivityKind,
    AnnualReview,
    Applicant,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Area,
    AssessmentSessionNote,
    AuditAction,
    AuditEvent,
    CallOutcome,
    Campaign,
    Carer,
    CarerBreak,
    CarerLeaving,
    CarerStatus,
    Channel,
    ChatChannel,
    ChatConversation,
    ChatMessage,
    CheckIn,
    CheckOutcome,
    Consent,
    ConsentScope,
    ConstellationActivity,
    ConstellationActivityKind,
    ConstellationMember,
    CourseAttendance,
    Decision,
    DocumentKind,
    EnquiryChannel,
    FormFSection,
    FosteringType,
    Household,
    HouseholdCheck,
    HouseholdDocument,
    HouseholdMember,
    HouseholdPet,
    MemberKind,
    OutboxMessage,
    OutboxStatus,
    PanelListing,
    PanelMeeting,
    Placement,
    Reason,
    ReasonKind,
    Recommendation,
    Role,
    SessionOutcome,
    Source,
    Specialism,
    StaffUser,
    Stage,
    StageEvent,
    SupervisionKind,
    SupervisionVisit,
    Task,
    TaskKind,
    TaskPriority,
    TelegramChatLink,
    TemporaryApproval,
    TrainingRecord,
)
from crm.services import audit, checks, documents, lifecycle
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.services.validation import format_phone
from crm.settings import Settings, load_settings

log = logging.getLogger(__name__)

# Who may export or erase a household's data.
DATA_PROTECTION_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
# Households that left the funnel and are anonymised by the retention rule.
RETAINED_STAGES = (Stage.WITHDRAWN, Stage.NOT_PROGRESSED)
ERASED = "[erased]"
# How long truncating the SQLite write-ahead log after an erasure waits for readers.
CHECKPOINT_WAIT_MS = 1000
SAFEGUARDING_ALERT_TEMPLATE = "safeguarding_alert_staff"
# The export's document is kept beside the data protection page's templates so it ships with
# them; it is rendered here, without Flask, so the service builds the whole file.
DOCUMENT_TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"
DOCUMENT_TEMPLATE = "data_protection/subject_access_document.html"


def _check(session: Session, actor: Actor, household_id: int) -> Household:
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound(f"No household with id {household_id}")
    if not actor.is_system:
        if actor.role not in DATA_PROTECTION_ROLES:
            raise NotAllowed("Only managers and admins handle data protection requests")
        if not actor.may_work_on(household.area_id):
            raise NotAllowed("This household is in an area you do not work in")
    return household


# -- what is theirs ---------------------------------------------------------------------------


@dataclass
class _Records:
    """Where a person's data is: the conditions that select each kind of record of theirs."""

    household: Household
    carer: Carer | None
    emails: list[str]
    chat_ids: list[str]
    conversation_ids: list[int]
    task_ids: list[int] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)
    appointment_ids: list[int] = field(default_factory=list)
    check_in_ids: list[int] = field(default_factory=list)
    panel_listing_ids: list[int] = field(default_factory=list)

    def linked(self, model: Any) -> sa.ColumnElement[bool]:
        """Rows kept by household id or, once approved, by carer id."""
        condition = model.household_id == self.household.id
        if self.carer is not None:
            condition = sa.or_(condition, model.carer_id == self.carer.id)
        return condition

    def tasks(self) -> sa.ColumnElement[bool]:
        # Also a concern raised in their chat before the chat was tied to the household.
        condition = self.linked(Task)
        if self.conversation_ids:
            condition = sa.or_(condition, Task.conversation_id.in_(self.conversation_ids))
        return condition

    def messages(self) -> sa.ColumnElement[bool]:
        """Messages kept by their ids, and messages to one of their addresses that no id ties
        to anyone. A message to a member of staff, or about another household, is never theirs
        by its address: a member of staff who applies to foster has their work email there."""
        condition = self.linked(OutboxMessage)
        addressed = []
        if self.emails:
            addressed.append(
                sa.and_(
                    OutboxMessage.channel == Channel.EMAIL,
                    sa.func.lower(OutboxMessage.recipient).in_(self.emails),
                )
            )
        if self.chat_ids:
            addressed.append(
                sa.and_(
                    OutboxMessage.channel == Channel.TELEGRAM,
                    OutboxMessage.recipient.in_(self.chat_ids),
                )
            )
        if addressed:
            condition = sa.or_(
                condition,
                sa.and_(
                    OutboxMessage.staff_id.is_(None),
                    OutboxMessage.household_id.is_(None),
                    OutboxMessage.carer_id.is_(None),
                    sa.or_(*addressed),
                ),
            )
        return condition

    def conversations(self) -> sa.ColumnElement[bool]:
        return ChatConversation.id.in_(self.conversation_ids or [-1])

    def audit_events(self) -> sa.ColumnElement[bool]:
        """Audit events about any record of theirs (the entity names services write)."""
        pairs: list[tuple[str, list[int]]] = [("household", [self.household.id])]
        if self.carer is not None:
            pairs.append(("carer", [self.carer.id]))
        pairs += [
            ("task", self.task_ids),
            ("appointment", self.appointment_ids),
            ("check_in", self.check_in_ids),
            ("outbox_message", self.message_ids),
            ("chat_conversation", self.conversation_ids),
            ("panel_listing", self.panel_listing_ids),
        ]
        # The assessment's records name their household in the event (they may be gone).
        assessment = sa.and_(
            AuditEvent.entity.in_(ASSESSMENT_ENTITIES),
            AuditEvent.detail["household_id"].as_integer() == self.household.id,
        )
        return sa.or_(
            assessment,
            *(
                sa.and_(AuditEvent.entity == entity, AuditEvent.entity_id.in_(ids))
                for entity, ids in pairs
                if ids
            ),
        )


def _records(session: Session, household: Household) -> _Records:
    hid = household.id
    carer = session.exec(select(Carer).where(Carer.household_id == hid)).first()
    emails = sorted(
        {
            e.lower()
            for e in session.exec(
                select(Applicant.email).where(
                    Applicant.household_id == hid, Applicant.email.is_not(None)
                )
            )
        }
    )
    link_condition = TelegramChatLink.household_id == hid
    if carer is not None:
        link_condition = sa.or_(link_condition, TelegramChatLink.carer_id == carer.id)
    chat_ids = sorted(set(session.exec(select(TelegramChatLink.chat_id).where(link_condition))))
    # A carer's Telegram chat with the assistant may never have been tied to the household.
    conversation_condition = ChatConversation.household_id == hid
    if chat_ids:
        conversation_condition = sa.or_(
            conversation_condition,
            sa.and_(
                ChatConversation.channel == ChatChannel.TELEGRAM,
                ChatConversation.external_id.in_(chat_ids),
            ),
        )
    conversation_ids = sorted(
        session.exec(select(ChatConversation.id).where(conversation_condition))
    )
    records = _Records(household, carer, emails, chat_ids, conversation_ids)

    def ids(model: Any, condition: Any) -> list[int]:
        return sorted(session.exec(select(model.id).where(condition)))

    records.task_ids = ids(Task, records.tasks())
    records.message_ids = ids(OutboxMessage, records.messages())
    records.appointment_ids = ids(Appointment, records.linked(Appointment))
    records.panel_listing_ids = ids(PanelListing, PanelListing.household_id == hid)
    if carer is not None:
        records.check_in_ids = ids(CheckIn, CheckIn.carer_id == carer.id)
    return records


class _Identifiers:
    """Ways a person's own values can be written in free text, to take them out of it:
    email addresses, phone numbers however they were typed, names, address, chat ids."""

    def __init__(self) -> None:
        # (order, pattern): addresses and numbers go before names, so a name inside an email
        # address does not leave the rest of the address behind.
        self.patterns: list[tuple[int, re.Pattern[str]]] = []

    def email(self, value: str | None) -> None:
        if value:
            self.patterns.append((0, re.compile(re.escape(value), re.IGNORECASE)))

    def phone(self, value: str | None) -> None:
        if not value:
            return
        try:
            number = phonenumbers.parse(value, "GB")
        except phonenumbers.NumberParseException:
            self.text(value)
            return
        digits = r"[\s\-().]*".join(str(number.national_number))
        country = str(number.country_code)
        prefix = rf"(?:(?:\+|00)[\s\-]*{country}[\s\-]*(?:\(0\)[\s\-]*)?"
        prefix += r"|\(?0\)?[\s\-]*)?" if country == "44" else ")?"
        self.patterns.append((0, re.compile(rf"(?<![\d+]){prefix}{digits}(?!\d)")))

    def word(self, value: str | None) -> None:
        """A name: whole words only, so "Ann" leaves "Annual" alone."""
        value = " ".join((value or "").split())
        if len(value) >= 2:
            self.patterns.append((2, re.compile(rf"\b{re.escape(value)}\b", re.IGNORECASE)))

    def text(self, value: str | None) -> None:
        """An address line, a postcode or a chat id: spaces as typed do not matter."""
        parts = (value or "").split()
        if parts and len("".join(parts)) >= 3:
            joined = r"\s*".join(re.escape(p) for p in parts)
            pattern = re.compile(rf"(?<![\w-]){joined}(?![\w-])", re.IGNORECASE)
            self.patterns.append((1, pattern))

    def scrub(self, text: str | None, replacement: str) -> str | None:
        if not text:
            return text
        # Then the longest first, so a full name goes before the first name inside it.
        for _order, pattern in sorted(self.patterns, key=lambda p: (p[0], -len(p[1].pattern))):
            text = pattern.sub(replacement, text)
        return text


def _identifiers(session: Session, records: _Records) -> _Identifiers:
    """Everything that identifies the household's people, read before erasure removes it."""
    h = records.household
    found = _Identifiers()
    for a in session.exec(select(Applicant).where(Applicant.household_id == h.id)):
        found.word(f"{a.first_name} {a.last_name}")
        found.word(a.first_name)
        found.word(a.last_name)
        found.email(a.email)
        found.phone(a.phone)
    for m in session.exec(select(HouseholdMember).where(HouseholdMember.household_id == h.id)):
        found.word(f"{m.first_name} {m.last_name}")
        found.word(m.first_name)
        found.word(m.last_name)
    for line in (h.address_line_1, h.address_line_2, h.town, h.postcode):
        found.text(line)
    chats = set(records.chat_ids)
    chats |= set(
        session.exec(
            select(ChatConversation.external_id).where(
                records.conversations(), ChatConversation.channel == ChatChannel.TELEGRAM
            )
        )
    )
    for chat in chats:
        found.text(chat)
    return found


# -- subject access ----------------------------------------------------------------------------


@dataclass
class Section:
    """One kind of record: a table in the document and one CSV file."""

    key: str
    title: str
    explanation: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"{self.key}.csv"


@dataclass
class SubjectAccess:
    """Everything held about a household, in words the person can read."""

    service_name: str
    reference: str
    names: str
    prepared_on: str
    sections: list[Section]
    left_out: list[str]
    # Two applicants: whether both asked for this copy; when one did, the other's name.
    joint: bool = False
    applied_with: str = ""


@dataclass
class SubjectAccessFile:
    filename: str
    content: bytes


STAGE_TEXT = {stage: stage.label for stage in Stage}
APPOINTMENT_KIND_TEXT = {kind: kind.label for kind in AppointmentKind}
APPOINTMENT_STATUS_TEXT = {
    AppointmentStatus.BOOKED: "Booked",
    AppointmentStatus.CANCELLED: "Cancelled",
    AppointmentStatus.MOVED: "Moved to another time",
    AppointmentStatus.COMPLETED: "Took place",
    AppointmentStatus.NO_SHOW: "Missed",
}
TASK_KIND_TEXT = {
    TaskKind.RESPOND_TO_ENQUIRY: "Reply to your enquiry",
    TaskKind.SECOND_ATTEMPT: "Try again to reach you",
    TaskKind.OFFER_VISIT: "Offer you an initial visit",
    TaskKind.CALL_BACK: "Call you back",
    TaskKind.STALLED_CASE: "Check on progress",
    TaskKind.PANEL_DEADLINE: "Panel timescale",
    TaskKind.CHECK_IN_FOLLOW_UP: "Follow up your check-in answer",
    TaskKind.ANNUAL_REVIEW: "Annual review",
    TaskKind.TEMPORARY_APPROVAL: "Your temporary approval",
    TaskKind.SAFEGUARDING: "Safeguarding concern",
    TaskKind.GENERAL: "General",
}
TASK_PRIORITY_TEXT = {TaskPriority.NORMAL: "Normal", TaskPriority.URGENT: "Urgent"}
ACTIVITY_KIND_TEXT = {
    ActivityKind.NOTE: "Note",
    ActivityKind.CALL: "Phone call",
    ActivityKind.EMAIL: "Email",
    ActivityKind.CHAT_TRANSCRIPT: "Chat with our assistant",
    ActivityKind.MESSAGE_SENT: "Message sent",
    ActivityKind.MESSAGE_FAILED: "Message not delivered",
    ActivityKind.REPEAT_ENQUIRY: "Enquired again",
}
CALL_OUTCOME_TEXT = {
    CallOutcome.SPOKE: "Spoke to you",
    CallOutcome.NO_ANSWER: "No answer",
    CallOutcome.VOICEMAIL: "Left a voicemail",
    CallOutcome.WRONG_NUMBER: "Wrong number",
}
ENQUIRY_CHANNEL_TEXT = {
    EnquiryChannel.WEB_FORM: "The enquiry form on our website",
    EnquiryChannel.STAFF: "Talking to our staff (they typed it in)",
    EnquiryChannel.TELEGRAM: "Our assistant on Telegram",
    EnquiryChannel.WEBCHAT: "The chat on our website",
    EnquiryChannel.IMPORT: "Copied from our earlier records",
}
# How a consent was given or withdrawn (Consent.via).
CONSENT_VIA_TEXT = {
    **{channel.value: text for channel, text in ENQUIRY_CHANNEL_TEXT.items()},
    "staff": "Talking to our staff",
    "email": "Answering an email",
    "telegram": "On Telegram",
    "telegram STOP": "Sending STOP on Telegram",
    "unsubscribe link": "The unsubscribe link in an email",
    "carer_agreement": "Your foster carer agreement",
}
OUTBOX_STATUS_TEXT = {
    OutboxStatus.PENDING: "Waiting to be sent",
    OutboxStatus.SENDING: "Being sent",
    OutboxStatus.SENT: "Sent",
    OutboxStatus.FAILED: "Could not be sent",
    OutboxStatus.CANCELLED: "Not sent (cancelled)",
}
# What each message was, in the person's words: from the message catalogue.
MESSAGE_TEXT = catalogue.descriptions()
# The words for what a message carried (its payload); ids and codes are left out or put in words.
PAYLOAD_TEXT = {
    "greeting_name": "Name we used",
    "household_name": "Name",
    "carer_name": "Name",
    "household_reference": "Reference",
    "address": "Address",
    "phone": "Phone",
    "email": "Email",
    "comment": "Your comment",
    "reason": "Reason",
    "staff_name": "Member of staff",
    "officer_name": "Officer",
    "starts_at": "Starts",
    "ends_at": "Ends",
    "enquired_at": "Enquired",
    "due_at": "Due",
    "application_at": "Applied",
    "when": "Sent",
    "booked_via": "Booked through",
    "moved": "Moved",
    "target_working_days": "Target in working days",
}
PAYLOAD_HIDDEN = frozenset({"staff_email"})
PAYLOAD_VALUE_TEXT = {
    "when": {"day_before": "The day before", "morning_of": "The morning of"},
    "reason": {
        "first_year": "Regular check-in in your first year",
        "regular": "Regular check-in",
        "placement_ended": "After a placement ended",
    },
    "booked_via": {
        **{channel.value: text for channel, text in ENQUIRY_CHANNEL_TEXT.items()},
        "web_form": "The booking page on our website",
    },
}
CHAT_CHANNEL_TEXT = {ChatChannel.TELEGRAM: "Telegram", ChatChannel.WEBCHAT: "Web chat"}
CARER_STATUS_TEXT = {
    CarerStatus.ACTIVE: "Active",
    CarerStatus.ON_BREAK: "On a break",
    CarerStatus.DEREGISTERED: "Deregistered",
}
FOSTERING_TYPE_TEXT = {
    FosteringType.EMERGENCY: "Emergency",
    FosteringType.SHORT_TERM: "Short-term",
    FosteringType.LONG_TERM: "Long-term",
    FosteringType.SHORT_BREAKS: "Short breaks",
    FosteringType.PARENT_AND_CHILD: "Parent and child",
    FosteringType.REMAND: "Remand",
    FosteringType.STAYING_PUT: "Staying put",
    FosteringType.SPECIALIST: "Specialist",
}
SPECIALISM_TEXT = {
    Specialism.TEENAGERS: "Teenagers",
    Specialism.SIBLING_GROUPS: "Sibling groups",
    Specialism.DISABILITY: "Disabled children",
    Specialism.PARENT_AND_CHILD: "Parent and child",
    Specialism.UASC: "Unaccompanied asylum-seeking children",
}
AUDIT_ACTION_TEXT = {
    AuditAction.VIEW: "Looked at it",
    AuditAction.CREATE: "Created it",
    AuditAction.UPDATE: "Changed it",
    AuditAction.EXPORT: "Made a copy of it",
    AuditAction.ERASE: "Erased it",
}
# Records of the assessment (crm.services.members, checks, assessment).
ASSESSMENT_ENTITIES = (
    "household_document",
    "household_member",
    "household_pet",
    "household_check",
    "assessment_session_note",
    "course_attendance",
    "form_f_section",
)
AUDIT_ENTITY_TEXT = {
    "household_document": "A document about you",
    "household_member": "A member of your household",
    "household_pet": "A pet in your household",
    "household_check": "A check in your assessment",
    "assessment_session_note": "The notes of an assessment session",
    "course_attendance": "Your preparation training",
    "form_f_section": "Your assessment report (Form F)",
    "household": "Your household's record",
    "carer": "Your foster carer record",
    "task": "A task about you",
    "appointment": "A visit or appointment with you",
    "check_in": "A check-in we sent you",
    "outbox_message": "A message to you or about you",
    "chat_conversation": "Your chat with our assistant",
    "panel_listing": "Your fostering panel and the agency decision",
}
ACTOR_TEXT = {
    "public web form": "You, on our website",
    "scheduler": "Our system, automatically",
    "check-in": "You, answering a check-in",
    "retention rule": "Our system, under our retention rule",
    "import": "Copied from our earlier records",
    "telegram": "You, on Telegram",
    "unsubscribe link": "You, with an unsubscribe link",
    "assistant:webchat": "Our chat assistant on the website",
    "assistant:telegram": "Our chat assistant on Telegram",
}
LEFT_OUT = [
    "The reference numbers of children who lived with you. They are about the children, not "
    "you, so we show that each placement happened, its type and dates, but not who it was.",
    "Our record of a safeguarding concern. It is about a child or another person, so we show "
    "that the concern was recorded and when, and what you wrote stays in your chat. Ask us "
    "if you want us to consider releasing more.",
    "The names of other families. If another household referred you, we say so without naming "
    "them.",
    "Our own reference numbers inside our database. Your household reference is included: it "
    "is the one we use when we talk to you.",
]


# Who asked for a copy of a joint household's data.
REQUESTED_BY = ("both", "first", "second")
WITHHELD_CELL = "Left out: they did not ask for this copy"
# What a referee told us is theirs as much as the applicant's and was given in confidence
# (DPA 2018, Schedule 2, Part 3: another person's information): the copy says a reference
# came back and its outcome, not what the referee said.
REFERENCE = "_reference"
REFERENCE_NOTES_WITHHELD = (
    "Left out: what a referee tells us is given in confidence. You may ask the referee."
)
WITHHELD_TEXT = "[left out]"
WITHHELD_LEFT_OUT = (
    "The contact details and date of birth of {name}, wherever they appeared (shown as "
    "[left out]). They are theirs alone: they can ask us for their own copy."
)


def _humanise(code: str | None) -> str:
    """Words for a code no table above knows: never an underscore or a colon."""
    text = re.sub(r"[_:]+", " ", code or "").strip()
    return text[:1].upper() + text[1:]


def channel_text(channel: Any) -> str:
    """A way of contact in the person's words, from the channel registry ("Text message")."""
    if not channel:
        return ""
    return label_of(channel) or _humanise(str(channel))


def consent_scope_text(scope: Any) -> str:
    """What a consent covers, in the person's words: keeping their details, or a way of contact
    as the channel registry puts it ("Contacting you on Telegram")."""
    if not scope:
        return ""
    if scope == ConsentScope.STORE_DETAILS:
        return "Keeping your details"
    by = consent_by(scope)
    return f"Contacting you {by}" if by else _humanise(str(scope))


def _text(table: dict, value: Any) -> str:
    if value is None or value == "":
        return ""
    for key in (value, getattr(value, "value", value)):
        try:
            if key in table:
                return table[key]
        except TypeError:
            continue
    return _humanise(str(getattr(value, "value", value)))


class _Formatter:
    """Dates and times as people in England read them (GOV.UK style), in local time."""

    def __init__(self, settings: Settings) -> None:
        self.tz = settings.tz

    def date(self, value: date | datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        return f"{value.day} {value:%B %Y}"

    def time(self, value: datetime | None) -> str:
        if value is None:
            return ""
        local = value.astimezone(self.tz)
        if (local.hour, local.minute) == (12, 0):
            return "midday"
        if (local.hour, local.minute) == (0, 0):
            return "midnight"
        hour = local.hour % 12 or 12
        minutes = "" if local.minute == 0 else f":{local.minute:02d}"
        return f"{hour}{minutes}{'am' if local.hour < 12 else 'pm'}"

    def when(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return f"{self.date(value)} at {self.time(value)}"


def _yes_no(value: bool | None) -> str:
    return "Yes" if value else "No"


class _Builder:
    """Reads their records and puts each kind into words."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        records: _Records,
        withheld: frozenset[int] = frozenset(),
    ) -> None:
        self.session = session
        self.settings = settings
        self.records = records
        # Positions of the applicants whose own details are left out (they did not ask).
        self.withheld = withheld
        self.fmt = _Formatter(settings)
        self.staff = dict(session.exec(select(StaffUser.id, StaffUser.name)).all())
        self.reasons = {(r.kind, r.code): r.label for r in session.exec(select(Reason)).all()}

    # Who did something, in words: staff are named (they act for the service), systems said.
    def who(self, actor_id: int | None, label: str | None = None) -> str:
        if actor_id is not None and actor_id in self.staff:
            return self.staff[actor_id]
        label = label or ""
        if label.startswith("staff:"):
            staff_id = label.removeprefix("staff:")
            if staff_id.isdigit() and int(staff_id) in self.staff:
                return self.staff[int(staff_id)]
            return "A member of our staff"
        if label in ACTOR_TEXT:
            return ACTOR_TEXT[label]
        if label.startswith("carer ("):
            return f"You ({label.removeprefix('carer (').rstrip(')')})"
        return _humanise(label) or "Our system"

    def staff_name(self, staff_id: int | None, empty: str = "") -> str:
        return self.staff.get(staff_id, empty) if staff_id is not None else empty

    def reason(self, kind: ReasonKind | str | None, code: str | None) -> str:
        if not code:
            return ""
        try:
            kind = ReasonKind(kind) if kind else None
        except ValueError:
            kind = None
        return self.reasons.get((kind, code)) or _humanise(code)

    def rows(self, model: Any, condition: Any, *order: Any) -> list[Any]:
        return list(self.session.exec(select(model).where(condition).order_by(*order)).all())

    # -- the sections, in the order of the document --------------------------------------

    def sections(self) -> list[Section]:
        return [
            self.applicants(),
            self.household(),
            self.consents(),
            self.stages(),
            self.panel(),
            self.timeline(),
            self.members(),
            self.pets(),
            self.checks(),
            self.visits(),
            self.assessment_sessions(),
            self.courses(),
            self.documents(),
            self.tasks(),
            self.messages(),
            self.chats(),
            self.telegram(),
            self.carer(),
            self.breaks_and_notice(),
            self.placements(),
            self.supervision_visits(),
            self.annual_reviews(),
            self.training(),
            self.check_ins(),
            self.constellations(),
            self.access_log(),
        ]

    def applicants(self) -> Section:
        section = Section(
            "your-details",
            "Your details",
            "The names and contact details of the people who applied, as you gave them to us "
            "or as we corrected them with you.",
            ("Applicant", "First name", "Last name", "Date of birth", "Phone", "Email",
             "Added on"),
        )  # fmt: skip
        hid = self.records.household.id
        for a in self.rows(Applicant, Applicant.household_id == hid, Applicant.position):
            if a.position in self.withheld:
                own = (WITHHELD_CELL,) * 3
            else:
                own = (self.fmt.date(a.date_of_birth), _phone(a.phone), a.email or "")
            section.rows.append(
                (
                    "First applicant" if a.position == 1 else "Second applicant",
                    a.first_name,
                    a.last_name,
                    *own,
                    self.fmt.date(a.created_at),
                )
            )
        return section

    def household(self) -> Section:
        h = self.records.household
        section = Section(
            "household",
            "Your household's record",
            "What we hold about your household as a whole: where you live, how you found us "
            "and where you are in the process.",
            ("What", "What we hold"),
        )
        area = self.session.get(Area, h.area_id) if h.area_id else None
        source = self.session.get(Source, h.source_key) if h.source_key else None
        campaign = self.session.get(Campaign, h.campaign_id) if h.campaign_id else None
        last = self.session.exec(
            select(StageEvent)
            .where(StageEvent.household_id == h.id)
            .order_by(StageEvent.occurred_at.desc(), StageEvent.id.desc())
        ).first()
        stage = STAGE_TEXT.get(Stage(h.stage), _humanise(h.stage))
        if last is not None and last.reason_code and last.to_stage == h.stage:
            stage = f"{stage}: {self.reason(last.to_stage, last.reason_code)}"
        # A household that referred them is another family: never named, whatever was typed.
        referred_by = h.referrer_name or ""
        if h.referrer_household_id is not None:
            referred_by = "Another household on our records"
        items = [
            ("Your reference", h.reference),
            ("Address line 1", h.address_line_1 or ""),
            ("Address line 2", h.address_line_2 or ""),
            ("Town or city", h.town or ""),
            ("Postcode", h.postcode or ""),
            ("Area", area.name if area else "Not known yet"),
            ("How you first contacted us", _text(ENQUIRY_CHANNEL_TEXT, h.enquiry_channel)),
            ("How you heard about us", source.label if source else ""),
            ("Campaign", campaign.name if campaign else ""),
            ("Who referred you", referred_by),
            ("What you told us you are interested in", h.interests or ""),
            ("Family and friends (kinship) carer", _yes_no(h.is_kinship)),
            ("How you prefer us to contact you", channel_text(h.preferred_channel)),
            ("Where you are in the process", stage),
            ("Since", self.fmt.date(h.stage_entered_at)),
            ("You first enquired", self.fmt.date(h.enquired_at)),
            ("We first spoke to you", self.fmt.date(h.first_contact_at)),
            ("Officer looking after you", self.staff_name(h.assigned_officer_id)),
        ]
        for approval in self.rows(
            TemporaryApproval, TemporaryApproval.household_id == h.id, TemporaryApproval.id
        ):
            # The child's reference is about the child: left out, as for placements.
            ends = approval.ended_on or approval.extended_until or approval.expires_on
            items.append(
                (
                    "Temporary approval as a connected person",
                    f"From {self.fmt.date(approval.approved_on)} to {self.fmt.date(ends)}"
                    + (f" (extended: {approval.extension_reason})" if approval.extended_until
                       else ""),
                )
            )  # fmt: skip
        if h.anonymised_at is not None:
            items.append(("Your details were erased on", self.fmt.date(h.anonymised_at)))
        section.rows.extend(items)
        return section

    def consents(self) -> Section:
        section = Section(
            "what-you-agreed-to",
            "What you agreed to",
            "Each time you agreed to something or changed your mind, with the words you saw. "
            "The latest entry for each kind is what you have agreed to now.",
            ("Date", "What it covers", "Your choice", "The words you saw", "How you told us",
             "Recorded by"),
        )  # fmt: skip
        hid = self.records.household.id
        for c in self.rows(Consent, Consent.household_id == hid, Consent.recorded_at, Consent.id):
            section.rows.append(
                (
                    self.fmt.when(c.recorded_at),
                    consent_scope_text(c.scope),
                    "Agreed" if c.granted else "Said no or withdrew",
                    c.wording,
                    _text(CONSENT_VIA_TEXT, c.via),
                    self.staff_name(c.recorded_by_id, "You"),
                )
            )
        return section

    def stages(self) -> Section:
        section = Section(
            "your-progress",
            "Your progress",
            "Each step from your enquiry onwards: when you moved from one stage to the next, "
            "and the reason when you stopped or paused.",
            ("Date", "From", "To", "Reason", "Our note", "Recorded by"),
        )
        hid = self.records.household.id
        for e in self.rows(
            StageEvent, StageEvent.household_id == hid, StageEvent.occurred_at, StageEvent.id
        ):
            section.rows.append(
                (
                    self.fmt.when(e.occurred_at),
                    _text(STAGE_TEXT, e.from_stage) if e.from_stage else "",
                    _text(STAGE_TEXT, e.to_stage),
                    self.reason(e.to_stage, e.reason_code),
                    e.reason_text or "",
                    self.who(e.actor_id, e.actor_label),
                )
            )
        return section

    def panel(self) -> Section:
        section = Section(
            "panel",
            "Your fostering panel and the agency decision",
            "Each panel your assessment went to: what the panel recommended and why, and the "
            "agency decision maker's decision with the reasons.",
            ("Panel date", "Chair", "Papers sent on", "Recommendation", "Recommended terms",
             "The panel's notes", "Decision", "Decided on", "Decided by", "Reason",
             "The reasons we gave"),
        )  # fmt: skip
        rows = self.session.exec(
            select(PanelListing, PanelMeeting)
            .join(PanelMeeting, PanelMeeting.id == PanelListing.meeting_id)
            .where(PanelListing.household_id == self.records.household.id)
            .order_by(PanelMeeting.meets_on, PanelListing.id)
        ).all()
        for li, meeting in rows:
            terms = ""
            if li.recommended_places:
                types = ", ".join(
                    _text(FOSTERING_TYPE_TEXT, t) for t in li.recommended_fostering_types
                )
                terms = (
                    f"{li.recommended_places} child{'' if li.recommended_places == 1 else 'ren'}, "
                    f"aged {li.recommended_age_min} to {li.recommended_age_max}"
                    + (f"; {types}" if types else "")
                )
            section.rows.append(
                (
                    self.fmt.date(meeting.meets_on),
                    meeting.chair,
                    self.fmt.date(li.papers_sent_on),
                    Recommendation(li.recommendation).label
                    if li.recommendation
                    else ("Taken off the panel" if li.withdrawn_at else "Not yet"),
                    terms,
                    li.recommendation_notes or "",
                    Decision(li.decision).label if li.decision else "",
                    self.fmt.date(li.decided_at),
                    self.staff_name(li.decided_by_id),
                    self.reason(ReasonKind.NOT_PROGRESSED, li.decision_reason_code),
                    li.decision_notes or "",
                )
            )
        return section

    def timeline(self) -> Section:
        section = Section(
            "notes-and-contact",
            "Notes, calls and contact",
            "What our staff wrote down about you, the calls they made, and the messages "
            "recorded on your record.",
            ("Date", "Kind", "Summary", "Details", "Call outcome", "Recorded by"),
        )
        hid = self.records.household.id
        for a in self.rows(
            Activity, Activity.household_id == hid, Activity.occurred_at, Activity.id
        ):
            section.rows.append(
                (
                    self.fmt.when(a.occurred_at),
                    _text(ACTIVITY_KIND_TEXT, a.kind),
                    a.summary,
                    a.body or "",
                    _text(CALL_OUTCOME_TEXT, a.call_outcome),
                    self.who(a.actor_id, a.actor_label),
                )
            )
        return section

    def members(self) -> Section:
        section = Section(
            "household-members",
            "The people in your household",
            "Who lives in your household or is closely involved with it, as recorded for your "
            "assessment.",
            ("First name", "Last name", "How they are part of the household", "Relationship",
             "Date of birth", "Notes", "Added on"),
        )  # fmt: skip
        hid = self.records.household.id
        for m in self.rows(
            HouseholdMember, HouseholdMember.household_id == hid, HouseholdMember.id
        ):
            section.rows.append(
                (
                    m.first_name,
                    m.last_name,
                    MemberKind(m.kind).label,
                    m.relationship or "",
                    self.fmt.date(m.date_of_birth),
                    m.notes or "",
                    self.fmt.date(m.created_at),
                )
            )
        return section

    def pets(self) -> Section:
        section = Section(
            "pets",
            "Your pets",
            "The animals in your home, as recorded for your assessment.",
            ("Kind of animal", "Name", "Notes", "Added on"),
        )
        hid = self.records.household.id
        for p in self.rows(HouseholdPet, HouseholdPet.household_id == hid, HouseholdPet.id):
            section.rows.append(
                (p.species, p.name or "", p.notes or "", self.fmt.date(p.created_at))
            )
        return section

    def checks(self) -> Section:
        section = Section(
            "checks",
            "Checks in your assessment",
            "The checks we made while assessing your household (such as DBS, local authority "
            "and medical checks, and references), when we asked for each and what came back.",
            ("Check", "About", "Which one", "Requested on", "Chased on", "Received on",
             "Outcome", "Expires on", "Notes"),
        )  # fmt: skip
        hid = self.records.household.id
        config = checks.load_config()
        names = {
            m.id: m.full_name
            for m in self.rows(HouseholdMember, HouseholdMember.household_id == hid)
        }
        for c in self.rows(HouseholdCheck, HouseholdCheck.household_id == hid, HouseholdCheck.id):
            kind = config.kind(c.check_key)
            section.rows.append(
                (
                    kind.label if kind else _humanise(c.check_key),
                    names.get(c.member_id, "Your household"),
                    c.label or "",
                    self.fmt.date(c.requested_on),
                    self.fmt.date(c.chased_on),
                    self.fmt.date(c.received_on),
                    CheckOutcome(c.outcome).label if c.outcome else "",
                    self.fmt.date(c.expires_on),
                    REFERENCE_NOTES_WITHHELD
                    if c.notes and c.check_key.endswith(REFERENCE)
                    else c.notes or "",
                )
            )
        return section

    def assessment_sessions(self) -> Section:
        section = Section(
            "assessment-sessions",
            "Notes of your assessment sessions",
            "What each assessment session with your assessing social worker covered.",
            ("Session date", "How it went", "Notes", "Written by", "Written on"),
        )
        hid = self.records.household.id
        visits = {v.id: v for v in self.rows(Appointment, Appointment.household_id == hid)}
        for n in self.rows(
            AssessmentSessionNote,
            AssessmentSessionNote.household_id == hid,
            AssessmentSessionNote.recorded_at,
        ):
            visit = visits.get(n.appointment_id)
            section.rows.append(
                (
                    self.fmt.date(visit.starts_at) if visit else "",
                    SessionOutcome(n.outcome).label,
                    n.notes,
                    self.staff_name(n.recorded_by_id, "A member of our staff"),
                    self.fmt.date(n.recorded_at),
                )
            )
        return section

    def courses(self) -> Section:
        section = Section(
            "preparation-training",
            "Your preparation training",
            "The preparation courses (Skills to Foster) you attended.",
            ("Course", "Who", "From", "To", "Completed"),
        )
        hid = self.records.household.id
        names = {
            m.id: m.full_name
            for m in self.rows(HouseholdMember, HouseholdMember.household_id == hid)
        }
        for c in self.rows(
            CourseAttendance, CourseAttendance.household_id == hid, CourseAttendance.attended_from
        ):
            section.rows.append(
                (
                    c.course,
                    names.get(c.member_id, "Your household"),
                    self.fmt.date(c.attended_from),
                    self.fmt.date(c.attended_to),
                    _yes_no(c.completed),
                )
            )
        return section

    def documents(self) -> Section:
        section = Section(
            "documents",
            "Documents",
            "Files we keep about you, such as your application form, references and reports. "
            "A copy of each is in the documents folder of this download.",
            ("Kind", "File name", "In this download as", "Size", "Added on"),
        )
        hid = self.records.household.id
        for d in self.rows(
            HouseholdDocument, HouseholdDocument.household_id == hid, HouseholdDocument.id
        ):
            section.rows.append(
                (
                    DocumentKind(d.kind).label,
                    d.original_name,
                    document_file_name(d),
                    f"{max(1, d.size_bytes // 1024)} KB",
                    self.fmt.date(d.uploaded_at),
                )
            )
        return section

    def visits(self) -> Section:
        section = Section(
            "visits",
            "Visits and appointments",
            "Visits booked with you: initial visits, assessment sessions and, once you were "
            "approved, supervision visits and annual reviews. A visit that was moved shows "
            "twice: the old time and the new one.",
            ("Date", "Starts", "Ends", "Kind", "With", "Where", "Notes", "Status",
             "Cancelled on", "Why it was cancelled", "Booked by"),
        )  # fmt: skip
        for v in self.rows(Appointment, self.records.linked(Appointment), Appointment.starts_at):
            section.rows.append(
                (
                    self.fmt.date(v.starts_at),
                    self.fmt.time(v.starts_at),
                    self.fmt.time(v.ends_at),
                    _text(APPOINTMENT_KIND_TEXT, v.kind),
                    self.staff_name(v.staff_id, "A member of our staff"),
                    v.location or "",
                    v.notes or "",
                    _text(APPOINTMENT_STATUS_TEXT, v.status),
                    self.fmt.date(v.cancelled_at),
                    v.cancel_reason or "",
                    self.who(v.booked_by_id, v.booked_by_label),
                )
            )
        return section

    def tasks(self) -> Section:
        section = Section(
            "tasks",
            "Tasks for our staff",
            "Things our staff had to do for you or about you, such as calling you back or "
            "booking a visit.",
            ("Created", "Due", "Kind", "Title", "Details", "Priority", "Assigned to",
             "Done on", "Outcome"),
        )  # fmt: skip
        for t in self.rows(Task, self.records.tasks(), Task.created_at, Task.id):
            withheld = t.kind == TaskKind.SAFEGUARDING
            section.rows.append(
                (
                    self.fmt.when(t.created_at),
                    self.fmt.when(t.due_at),
                    _text(TASK_KIND_TEXT, t.kind),
                    "Safeguarding concern recorded" if withheld else t.title,
                    "Withheld: see the start of this document" if withheld else t.detail or "",
                    _text(TASK_PRIORITY_TEXT, t.priority),
                    self.staff_name(t.owner_id, "The team"),
                    self.fmt.when(t.done_at),
                    # What staff wrote when they closed it is about the person too.
                    "Withheld: see the start of this document"
                    if withheld and t.outcome
                    else t.outcome or t.closed_reason or "",
                )
            )
        return section

    def messages(self) -> Section:
        section = Section(
            "messages",
            "Messages",
            "Messages we sent you or prepared for you, and messages to our staff about you, "
            "with what each one carried.",
            ("Due", "Sent on", "Channel", "Sent to", "What it was", "Details", "Status"),
        )
        condition = self.records.messages()
        for m in self.rows(OutboxMessage, condition, OutboxMessage.due_at, OutboxMessage.id):
            to = m.recipient
            if m.staff_id is not None:
                to = f"Our staff: {self.staff_name(m.staff_id, 'a member of staff')}"
            elif m.channel == Channel.TELEGRAM and m.recipient != ERASED:
                to = f"Your Telegram chat {m.recipient}"
            section.rows.append(
                (
                    self.fmt.when(m.due_at),
                    self.fmt.when(m.sent_at),
                    channel_text(m.channel),
                    to,
                    _text(MESSAGE_TEXT, m.template),
                    self.payload(m.payload or {}),
                    _text(OUTBOX_STATUS_TEXT, m.status),
                )
            )
        return section

    def payload(self, payload: dict[str, Any]) -> str:
        parts = []
        for key, value in payload.items():
            if key.endswith("_id") or key in PAYLOAD_HIDDEN or value in (None, "", [], {}):
                continue
            label = PAYLOAD_TEXT.get(key) or _humanise(key)
            if isinstance(value, bool):
                text = _yes_no(value)
            elif key in PAYLOAD_VALUE_TEXT and value in PAYLOAD_VALUE_TEXT[key]:
                text = PAYLOAD_VALUE_TEXT[key][value]
            elif key.endswith("_at") and isinstance(value, str):
                try:
                    text = self.fmt.when(datetime.fromisoformat(value))
                except ValueError:
                    text = value
            elif key == "phone" and isinstance(value, str):
                text = _phone(value)
            else:
                text = str(value)
            parts.append(f"{label}: {text}")
        return "; ".join(parts)

    def chats(self) -> Section:
        section = Section(
            "chats",
            "Chats with our assistant",
            "What you and our chat assistant wrote to each other, on our website or on "
            "Telegram, when you agreed to us keeping it.",
            ("Chat", "Started", "You agreed to us keeping it", "When", "From", "Message"),
        )
        for c in self.rows(ChatConversation, self.records.conversations(), ChatConversation.id):
            chat = _text(CHAT_CHANNEL_TEXT, c.channel)
            started = self.fmt.when(c.started_at)
            kept = self.fmt.when(c.consent_given_at)
            messages = self.rows(ChatMessage, ChatMessage.conversation_id == c.id, ChatMessage.id)
            if not messages:
                section.rows.append((chat, started, kept, "", "", ""))
            for message in messages:
                section.rows.append(
                    (
                        chat,
                        started,
                        kept,
                        self.fmt.when(message.created_at),
                        "You" if message.from_person else "Our assistant",
                        message.text,
                    )
                )
        return section

    def telegram(self) -> Section:
        section = Section(
            "telegram",
            "Telegram",
            "The Telegram chats linked to your record so that we can send you reminders, and "
            "when you asked us to stop.",
            ("Telegram chat number", "Linked on", "You asked us to stop on"),
        )
        for link in self.rows(TelegramChatLink, self.records.linked(TelegramChatLink)):
            section.rows.append(
                (link.chat_id, self.fmt.when(link.linked_at), self.fmt.when(link.opted_out_at))
            )
        return section

    def carer(self) -> Section:
        section = Section(
            "foster-carer",
            "You as a foster carer",
            "Your approval and the support we give you as a foster carer. Empty if you have "
            "not been approved.",
            ("What", "What we hold"),
        )
        c = self.records.carer
        if c is None:
            return section
        section.rows.extend(
            [
                ("Approved on", self.fmt.date(c.approved_on)),
                ("Children you are approved for", _count(c.places, "child", "children")),
                ("Ages", f"{c.age_min} to {c.age_max} years"),
                ("Types of fostering",
                 ", ".join(_text(FOSTERING_TYPE_TEXT, t) for t in c.fostering_types or [])),
                ("Specialisms",
                 ", ".join(_text(SPECIALISM_TEXT, s) for s in c.specialisms or [])),
                ("Family and friends (kinship) carer", _yes_no(c.is_family_and_friends)),
                ("Supervising social worker", self.staff_name(c.supervising_social_worker_id)),
                ("Annual review due", self.fmt.date(c.annual_review_due)),
                ("TSD standards due", self.fmt.date(c.tsd_due)),
                ("TSD standards completed on", self.fmt.date(c.tsd_completed_on)),
                ("Last supervision visit", self.fmt.date(c.last_supervision_at)),
                ("Status", _text(CARER_STATUS_TEXT, c.status)),
                ("Status since", self.fmt.date(c.status_changed_at)),
                ("Deregistered on", self.fmt.date(c.deregistered_on)),
                ("Reason for deregistration",
                 self.reason(ReasonKind.DEREGISTERED, c.deregistration_reason_code)),
                ("Our note on the deregistration", c.deregistration_reason_text or ""),
                ("We think you may need more support", _yes_no(c.at_risk)),
                ("Why we think so", c.at_risk_reason or ""),
                ("Record opened on", self.fmt.date(c.created_at)),
            ]
        )  # fmt: skip
        return section

    def breaks_and_notice(self) -> Section:
        section = Section(
            "breaks-and-notice",
            "Breaks from fostering and your notice",
            "Each break you took from fostering, and each notice you gave us that you would "
            "stop: why, and what you told us when we talked about it.",
            ("What", "From", "Until", "Why", "What you told us", "What would have kept you"),
        )
        c = self.records.carer
        if c is None:
            return section
        for b in self.rows(CarerBreak, CarerBreak.carer_id == c.id, CarerBreak.started_on):
            section.rows.append(
                (
                    "A break from fostering",
                    self.fmt.date(b.started_on),
                    self.fmt.date(b.ended_on) or f"Expected {self.fmt.date(b.expected_end_on)}",
                    b.reason or "",
                    "",
                    "",
                )
            )
        for n in self.rows(
            CarerLeaving, CarerLeaving.carer_id == c.id, CarerLeaving.notice_given_on
        ):
            if n.withdrawn_on is not None:
                until = f"You withdrew it on {self.fmt.date(n.withdrawn_on)}"
                if n.withdrawn_reason:
                    until += f": {n.withdrawn_reason}"
            elif n.approval_ended_on is not None:
                until = f"Your approval ended on {self.fmt.date(n.approval_ended_on)}"
            else:
                until = f"Your approval ends on {self.fmt.date(n.approval_ends_on)}"
            why = self.reason(ReasonKind.DEREGISTERED, n.reason_code)
            if n.reason_text:
                why = f"{why}: {n.reason_text}"
            told = n.exit_conversation_notes or ""
            if told and n.exit_conversation_on:
                told = f"{self.fmt.date(n.exit_conversation_on)}: {told}"
            section.rows.append(
                (
                    "Your notice to stop fostering",
                    self.fmt.date(n.notice_given_on),
                    until,
                    why,
                    told,
                    n.exit_would_have_kept or "",
                )
            )
        return section

    def placements(self) -> Section:
        section = Section(
            "placements",
            "Children who lived with you",
            "Each placement of a child with you: its type and dates. We leave out the child's "
            "reference, which is information about the child.",
            ("Type of fostering", "Started on", "Ended on"),
        )
        c = self.records.carer
        if c is None:
            return section
        for p in self.rows(Placement, Placement.carer_id == c.id, Placement.started_on):
            section.rows.append(
                (
                    _text(FOSTERING_TYPE_TEXT, p.fostering_type),
                    self.fmt.date(p.started_on),
                    self.fmt.date(p.ended_on) or "Still living with you",
                )
            )
        return section

    def supervision_visits(self) -> Section:
        section = Section(
            "supervision-visits",
            "Supervision visits",
            "Your supervising social worker's visits: when, whether you knew in advance, what "
            "they noted and what you raised with them.",
            ("Date", "Announced", "What the visit found", "What you raised"),
        )
        c = self.records.carer
        if c is None:
            return section
        for v in self.rows(
            SupervisionVisit, SupervisionVisit.carer_id == c.id, SupervisionVisit.visited_on
        ):
            section.rows.append(
                (
                    self.fmt.date(v.visited_on),
                    "No" if v.kind == SupervisionKind.UNANNOUNCED else "Yes",
                    v.notes or "",
                    v.carer_raised or "",
                )
            )
        return section

    def annual_reviews(self) -> Section:
        section = Section(
            "annual-reviews",
            "Annual reviews",
            "Each review of your approval: its outcome, whether your approval terms changed, "
            "and the notes made.",
            ("Date", "Outcome", "Approval terms", "Went to the fostering panel", "Notes"),
        )
        c = self.records.carer
        if c is None:
            return section
        for r in self.rows(AnnualReview, AnnualReview.carer_id == c.id, AnnualReview.reviewed_on):
            terms = r.terms_after or {}
            section.rows.append(
                (
                    self.fmt.date(r.reviewed_on),
                    _humanise(r.outcome),
                    (
                        f"Changed to {terms.get('places')} places, ages {terms.get('age_min')} "
                        f"to {terms.get('age_max')}"
                        if r.terms_changed
                        else "Confirmed"
                    ),
                    _yes_no(r.goes_to_panel),
                    r.notes or "",
                )
            )
        return section

    def training(self) -> Section:
        section = Section(
            "training",
            "Training",
            "Courses you completed with us, with their hours.",
            ("Course", "Completed on", "How long"),
        )
        c = self.records.carer
        if c is None:
            return section
        for t in self.rows(
            TrainingRecord, TrainingRecord.carer_id == c.id, TrainingRecord.completed_on
        ):
            section.rows.append(
                (
                    t.course,
                    self.fmt.date(t.completed_on),
                    f"{t.hours:g} hour{'' if t.hours == 1 else 's'}",
                )
            )
        return section

    def check_ins(self) -> Section:
        section = Section(
            "check-ins",
            "Check-ins",
            "The short questions we send foster carers about how things are going, and your "
            "answers.",
            ("Sent on", "How", "Answered on", "Your score", "You asked for a call",
             "Your comment"),
        )  # fmt: skip
        c = self.records.carer
        if c is None:
            return section
        for ci in self.rows(CheckIn, CheckIn.carer_id == c.id, CheckIn.sent_at, CheckIn.id):
            section.rows.append(
                (
                    self.fmt.when(ci.sent_at),
                    channel_text(ci.channel),
                    self.fmt.when(ci.answered_at),
                    f"{ci.score} out of 5" if ci.score is not None else "",
                    _yes_no(ci.wants_call),
                    ci.comment or "",
                )
            )
        return section

    def constellations(self) -> Section:
        section = Section(
            "mockingbird",
            "Mockingbird constellation",
            "The Mockingbird constellations you were part of, and the sleepovers, short breaks "
            "and support the hub home gave you, with our notes.",
            ("What", "When", "Nights", "Notes"),
        )
        c = self.records.carer
        if c is None:
            return section
        for m in self.rows(
            ConstellationMember, ConstellationMember.carer_id == c.id, ConstellationMember.joined_on
        ):
            left = f", left on {self.fmt.date(m.left_on)}" if m.left_on else ""
            section.rows.append(
                ("A satellite household", f"Joined on {self.fmt.date(m.joined_on)}{left}", "",
                 m.left_reason or "")
            )  # fmt: skip
        for a in self.rows(
            ConstellationActivity,
            ConstellationActivity.carer_id == c.id,
            ConstellationActivity.occurred_on,
            ConstellationActivity.id,
        ):
            section.rows.append(
                (
                    ConstellationActivityKind(a.kind).label,
                    self.fmt.date(a.occurred_on),
                    _count(a.nights, "night", "nights") if a.nights else "",
                    a.notes or "",
                )
            )
        return section

    def access_log(self) -> Section:
        section = Section(
            "access-log",
            "Who looked at or changed your record",
            "Our log of each time someone looked at, changed or copied your record. Our staff "
            "are named; automatic changes say so.",
            ("When", "Who", "What they did", "Which record"),
        )
        for e in self.rows(
            AuditEvent, self.records.audit_events(), AuditEvent.occurred_at, AuditEvent.id
        ):
            section.rows.append(
                (
                    self.fmt.when(e.occurred_at),
                    self.who(e.actor_id, e.actor_label),
                    _text(AUDIT_ACTION_TEXT, e.action),
                    _text(AUDIT_ENTITY_TEXT, e.entity),
                )
            )
        return section


def _phone(value: str | None) -> str:
    if not value:
        return ""
    try:
        return format_phone(value)
    except Exception:  # noqa: BLE001 - an odd stored number is shown as stored
        return value


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _requested_by(applicants: list[Applicant], requested_by: str | None) -> str:
    """Who asked for the copy. For two applicants it must be said: each may only have their
    own contact details and date of birth, unless both asked."""
    choice = (requested_by or "").strip().lower() or None
    if len(applicants) < 2:
        if choice not in (None, "both", "first"):
            raise InvalidInput("Only one person applied: the copy is theirs", "requested_by")
        return "first"
    if choice not in REQUESTED_BY:
        raise InvalidInput(
            "Choose who asked for the copy: both applicants, or which one", "requested_by"
        )
    return choice


def _withheld_values(
    fmt: _Formatter, others: list[Applicant], own: list[Applicant]
) -> _Identifiers:
    """The other applicant's own details as they may appear anywhere in the copy, leaving out
    any the requester shares with them (a household's one landline)."""
    mine = {_squashed(v) for a in own for v in (a.email, a.phone) if v}
    found = _Identifiers()
    for a in others:
        if a.email and _squashed(a.email) not in mine:
            found.email(a.email)
        if a.phone and _squashed(a.phone) not in mine:
            found.phone(a.phone)
        if a.date_of_birth is not None and all(a.date_of_birth != b.date_of_birth for b in own):
            found.text(fmt.date(a.date_of_birth))
            found.text(a.date_of_birth.isoformat())
    return found


def _squashed(value: str) -> str:
    return re.sub(r"[^0-9a-z@.+]", "", value.lower())


def subject_access_export(
    session: Session,
    actor: Actor,
    settings: Settings,
    household_id: int,
    *,
    requested_by: str | None = None,
) -> SubjectAccess:
    """Everything held about a household and, once approved, its carer record, in words (no
    internal ids or codes). With two applicants, `requested_by` says who asked ("both",
    "first" or "second"); when only one did, the other's contact details and date of birth
    are left out (they may have separated). Audited as an export (that it happened and who
    asked, never what it held)."""
    household = _check(session, actor, household_id)
    applicants = list(
        session.exec(
            select(Applicant)
            .where(Applicant.household_id == household.id)
            .order_by(Applicant.position)
        )
    )
    requested_by = _requested_by(applicants, requested_by)
    asking = {"both": {1, 2}, "first": {1}, "second": {2}}[requested_by]
    own = [a for a in applicants if a.position in asking]
    others = [a for a in applicants if a.position not in asking]
    records = _records(session, household)
    builder = _Builder(session, settings, records, withheld=frozenset(a.position for a in others))
    sections = builder.sections()
    if others:
        hidden = _withheld_values(builder.fmt, others, own)
        for section in sections:
            section.rows = [
                tuple(hidden.scrub(cell, WITHHELD_TEXT) or "" for cell in row)
                for row in section.rows
            ]
    left_out = list(LEFT_OUT)
    applied_with = " and ".join(_full_name(a) for a in others)
    if applied_with:
        left_out.insert(0, WITHHELD_LEFT_OUT.format(name=applied_with))
    document = SubjectAccess(
        service_name=settings.service.name,
        reference=household.reference,
        names=" and ".join(_full_name(a) for a in own),
        prepared_on=builder.fmt.when(clock.now()),
        sections=sections,
        left_out=left_out,
        joint=len(applicants) > 1,
        applied_with=applied_with,
    )
    with transaction(session):
        audit.record(
            session, actor, AuditAction.EXPORT, "household", household.id,
            subject_access=True, requested_by=requested_by,
        )  # fmt: skip
    return document


def _full_name(applicant: Applicant) -> str:
    return f"{applicant.first_name} {applicant.last_name}".strip()


def _csv(section: Section) -> bytes:
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer)
    writer.writerow(section.columns)
    writer.writerows(section.rows)
    # The byte order mark makes spreadsheet programs read the names' accents right.
    return buffer.getvalue().encode("utf-8-sig")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(DOCUMENT_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_document(document: SubjectAccess) -> str:
    return _environment().get_template(DOCUMENT_TEMPLATE).render(document=document)


def subject_access_zip(
    session: Session,
    actor: Actor,
    settings: Settings,
    household_id: int,
    *,
    requested_by: str | None = None,
) -> SubjectAccessFile:
    """The file to hand to the person: a zip with a readable document (HTML, self-contained)
    and one CSV file per kind of record (see subject_access_export for `requested_by`)."""
    document = subject_access_export(
        session, actor, settings, household_id, requested_by=requested_by
    )
    stamp = clock.now().astimezone(settings.tz)
    folder = f"your-information-{_file_part(document.reference)}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, content: bytes) -> None:
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)

        add("your-information.html", render_document(document).encode("utf-8"))
        for section in document.sections:
            add(section.filename, _csv(section))
        for d in session.exec(
            select(HouseholdDocument).where(HouseholdDocument.household_id == household_id)
        ):
            path = documents.path_of(settings, d)
            if path.is_file():
                add(document_file_name(d), path.read_bytes())
    return SubjectAccessFile(f"{folder}-{stamp:%Y-%m-%d}.zip", buffer.getvalue())


def document_file_name(document: HouseholdDocument) -> str:
    """Where a document sits in the download: its id keeps two files of one name apart."""
    name = re.sub(r"[^A-Za-z0-9._ -]+", "-", document.original_name).strip(" .-") or "file"
    return f"documents/{document.id}-{name}"


def _file_part(reference: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", reference).strip("-") or "household"


# -- erasure -----------------------------------------------------------------------------------


def anonymise_household(
    session: Session,
    actor: Actor,
    household_id: int,
    *,
    reason: str,
    commit: bool = True,
    checkpoint: bool = True,
    settings: Settings | None = None,
) -> Household:
    """Erase a household's personal data everywhere it is held (by household, by carer and by
    Telegram chat), keeping its anonymous stage history. With `commit` (the default) it is
    one transaction and, with `checkpoint`, the SQLite write-ahead log is truncated after.
    The household's documents' files go from `settings`' documents folder (the configured
    one when not given) once the rows are gone: after the commit, or at once without one."""
    household = _check(session, actor, household_id)
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why the household's data is being erased", "reason")
    if household.anonymised_at is not None:
        raise InvalidInput("This household has already been anonymised", "reason")
    now = clock.now()
    records = _records(session, household)
    # Read before anything is deleted: what identifies them in a record that stays.
    identifiers = _identifiers(session, records)
    basis = "retention rule" if actor.is_system else "request"
    files = list(
        session.exec(
            select(HouseholdDocument.stored_name).where(
                HouseholdDocument.household_id == household.id
            )
        ).all()
    )

    def work() -> None:
        _erase_records(session, records, identifiers, basis, now)
        # The one place the household row itself is finally changed.
        _anonymise(session, household, now)
        # Last, so nothing it writes is blanked: visits to come cancelled (staff told), tasks
        # closed.
        lifecycle.close_what_follows(
            session, actor, household, why=lifecycle.Change.ERASED,
            reason="The household's details were erased",
        )  # fmt: skip
        # The reason may name people: the log says only whether a request or the rule did it.
        audit.record(session, actor, AuditAction.ERASE, "household", household.id, basis=basis)

    if commit:
        with transaction(session):
            work()
        session.refresh(household)
        if checkpoint:
            checkpoint_after_erasure(session)
    else:
        work()
        session.flush()
    if files:
        documents.remove_files(settings or load_settings(), files)
    return household


def _erase_records(
    session: Session, records: _Records, identifiers: _Identifiers, basis: str, now: datetime
) -> None:
    """Every record of theirs, scrubbed or deleted; what statistics count stays, and so does
    what a safeguarding concern says about a child."""
    hid = records.household.id
    carer = records.carer
    # The assessment's records go whole: checks and training before the people they are on.
    for model in (
        HouseholdDocument,
        HouseholdCheck,
        CourseAttendance,
        AssessmentSessionNote,
        FormFSection,
        HouseholdMember,
        HouseholdPet,
    ):
        session.exec(sa.delete(model).where(model.household_id == hid))
    for applicant in session.exec(select(Applicant).where(Applicant.household_id == hid)):
        session.delete(applicant)
    # A page may have loaded the household's applicants in this session: the deleted rows must
    # leave that list too, or saving the household would try to save them again.
    session.flush()
    session.expire(records.household, ["applicants"])
    for model in (Consent, Activity):
        session.exec(sa.delete(model).where(model.household_id == hid))
    # A temporary approval's dates stay for the statistics; the child's reference and staff's
    # words go.
    session.exec(
        sa.update(TemporaryApproval)
        .where(TemporaryApproval.household_id == hid)
        .values(child_reference=ERASED, extension_reason=None, ended_reason=None)
    )
    # Free text in the stage history may name people; the stages and codes stay.
    session.exec(
        sa.update(StageEvent)
        .where(StageEvent.household_id == hid, StageEvent.reason_text.is_not(None))
        .values(reason_text=None)
    )
    # Another household they referred keeps the link for the statistics, never their name.
    session.exec(
        sa.update(Household)
        .where(Household.referrer_household_id == hid)
        .values(referrer_name=None)
    )
    # Tasks and visits of the household and of the carer (supervision visits are booked at
    # their home: the location is their address). A safeguarding concern is about a child,
    # so it is kept, open, with only their own details taken out.
    if records.task_ids:
        session.exec(
            sa.update(Task)
            .where(Task.id.in_(records.task_ids), Task.kind != TaskKind.SAFEGUARDING)
            .values(title="Task (erased)", detail=None, outcome=None)
        )
        _keep_safeguarding_concerns(session, records.task_ids, identifiers, basis)
    session.exec(
        sa.update(Appointment)
        .where(records.linked(Appointment))
        .values(location=None, notes=None, cancel_reason=None)
    )
    # Messages to them and to staff about them (reminders carry their name, phone and
    # address). Keys can hold an email address or a chat id, so they go too. By the ids found
    # before: once the recipient is blanked, a message found by its address no longer matches.
    if records.message_ids:
        theirs = OutboxMessage.id.in_(records.message_ids)
        session.exec(
            sa.update(OutboxMessage)
            .where(theirs)
            .values(
                recipient=ERASED,
                payload={},
                error=None,
                provider_message_id=None,
                unique_key=sa.literal("erased-") + sa.cast(OutboxMessage.id, sa.String),
            )
        )
        session.exec(
            sa.update(OutboxMessage)
            .where(theirs, OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
            .values(status=OutboxStatus.CANCELLED)
        )
    _scrub_safeguarding_alerts(session, records.task_ids)
    if records.conversation_ids:
        conversations = records.conversations()
        session.exec(
            sa.delete(ChatMessage).where(ChatMessage.conversation_id.in_(records.conversation_ids))
        )
        session.exec(
            sa.update(ChatConversation)
            .where(conversations)
            .values(
                state="start",
                data={},
                consent_given_at=None,
                erased_at=now,
                external_id=sa.literal("erased-") + sa.cast(ChatConversation.id, sa.String),
            )
        )
    session.exec(sa.delete(TelegramChatLink).where(records.linked(TelegramChatLink)))
    # The panel's and the decision maker's words about them go; the recommendation, the
    # decision and their dates stay for the statistics.
    session.exec(
        sa.update(PanelListing)
        .where(PanelListing.household_id == hid)
        .values(recommendation_notes=None, decision_notes=None)
    )
    if carer is not None:
        carer.at_risk_reason = None
        carer.deregistration_reason_text = None
        session.add(carer)
        session.exec(sa.update(CheckIn).where(CheckIn.carer_id == carer.id).values(comment=None))
        session.exec(
            sa.update(ConstellationActivity)
            .where(ConstellationActivity.carer_id == carer.id)
            .values(notes=None)
        )
        session.exec(
            sa.update(ConstellationMember)
            .where(ConstellationMember.carer_id == carer.id)
            .values(left_reason=None)
        )
        # The child's reference would tie the placement (and so the carer) to a case file; its
        # type and dates stay for the statistics.
        session.exec(
            sa.update(Placement)
            .where(Placement.carer_id == carer.id)
            .values(child_reference=ERASED, end_reason=None, exemption_reason=None)
        )
        # What a visit or review noted about them and what they raised; dates, types and
        # outcomes stay for the statistics (visits a year, reviews on time).
        session.exec(
            sa.update(SupervisionVisit)
            .where(SupervisionVisit.carer_id == carer.id)
            .values(notes=None, carer_raised=None)
        )
        session.exec(
            sa.update(AnnualReview).where(AnnualReview.carer_id == carer.id).values(notes=None)
        )
        # Why they took a break or left, in their words or ours; the dates and the listed
        # reason stay for the statistics (leavers by reason and time since approval).
        session.exec(
            sa.update(CarerBreak).where(CarerBreak.carer_id == carer.id).values(reason=ERASED)
        )
        session.exec(
            sa.update(CarerLeaving)
            .where(CarerLeaving.carer_id == carer.id)
            .values(
                reason_text=None, exit_conversation_notes=None, exit_would_have_kept=None,
                withdrawn_reason=None,
            )
        )  # fmt: skip


SAFEGUARDING_KEPT_NOTE = {
    "request": "The details of the person who raised this concern were erased at their request.",
    "retention rule": "The details of the person who raised this concern were erased under "
    "our retention rule.",
}
SAFEGUARDING_KEPT_WHY = (
    " What they said about the child is kept: it is needed to keep a child safe."
)
SAFEGUARDING_MARKED = f" {ERASED} marks where their details were."
TASK_TITLE_LIMIT, TASK_DETAIL_LIMIT = 200, 2000


def _keep_safeguarding_concerns(
    session: Session, task_ids: list[int], identifiers: _Identifiers, basis: str
) -> None:
    """A safeguarding concern stays whole and open (UK GDPR lets a record needed to protect a
    child be kept; Working Together to Safeguard Children expects it to be): only the erased
    person's own names, contact details, address and chat ids are taken out of its words."""
    concerns = session.exec(
        select(Task).where(Task.id.in_(task_ids), Task.kind == TaskKind.SAFEGUARDING)
    )
    for task in concerns:
        title = identifiers.scrub(task.title, ERASED) or ""
        words = identifiers.scrub(task.detail, ERASED) or ""
        note = SAFEGUARDING_KEPT_NOTE[basis] + SAFEGUARDING_KEPT_WHY
        if title != task.title or words != (task.detail or ""):
            note += SAFEGUARDING_MARKED
        task.title = title[:TASK_TITLE_LIMIT]
        task.outcome = identifiers.scrub(task.outcome, ERASED)
        room = TASK_DETAIL_LIMIT - len(note) - 2
        task.detail = f"{words[:room]}\n\n{note}" if words else note
        session.add(task)


def _scrub_safeguarding_alerts(session: Session, task_ids: Iterable[int]) -> None:
    """Alerts to managers about a concern point at the task and say where it was raised (before
    revision 0012, a Telegram chat id). They keep working (a pending alert still goes) but say
    no more."""
    task_ids = set(
        session.exec(
            select(Task.id).where(Task.id.in_(list(task_ids)), Task.kind == TaskKind.SAFEGUARDING)
        )
    )
    if not task_ids:
        return
    alerts = session.exec(
        select(OutboxMessage).where(OutboxMessage.template == SAFEGUARDING_ALERT_TEMPLATE)
    ).all()
    for alert in alerts:
        payload = dict(alert.payload or {})
        if payload.get("task_id") not in task_ids:
            continue
        payload.update(task_title="Safeguarding concern: act today", where="chat")
        alert.payload = payload
        alert.unique_key = f"erased-{alert.id}"
        session.add(alert)


def _anonymise(session: Session, household: Household, now: datetime) -> None:
    household.address_line_1 = household.address_line_2 = household.town = None
    # The postcode district is kept: it says which area, never which house.
    if household.postcode:
        household.postcode = household.postcode.split(" ")[0][:4]
    household.referrer_name = None
    household.interests = None
    household.preferred_channel = None
    household.anonymised_at = now
    household.updated_at = now
    session.add(household)


def checkpoint_after_erasure(session: Session) -> bool | None:
    """On SQLite, copy the write-ahead log into the database file and truncate it, so the
    erased values are not left in the log (secure_delete has zeroed them in the file).
    True when done, False when a reader kept the log busy (the nightly retention job, which
    checkpoints every time it runs, tries again); None on PostgreSQL (nothing to do)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return None
    # A connection of its own: the session's may still be inside a transaction. It waits a
    # moment for readers, not the connections' usual busy timeout: the erasure has been
    # committed, and a person waiting on the page should not wait on a long report.
    with bind.engine.connect() as connection:
        usual = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        connection.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
        try:
            busy, _frames, _done = connection.exec_driver_sql(
                "PRAGMA wal_checkpoint(TRUNCATE)"
            ).one()
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={int(usual)}")
    if busy:
        log.warning(
            "write-ahead log not truncated after an erasure: a reader was busy; the nightly "
            "retention job tries again"
        )
        return False
    return True


# -- the retention rule ------------------------------------------------------------------------


def retention_due(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Households that left (withdrawn / not progressed) longer ago than the retention rule."""
    cutoff = now - relativedelta(months=settings.retention.anonymise_closed_after_months)
    return list(
        session.exec(
            select(Household.id)
            .where(
                Household.stage.in_(RETAINED_STAGES),
                Household.stage_entered_at < cutoff,
                Household.anonymised_at.is_(None),
            )
            .order_by(Household.id)
        ).all()
    )


def apply_retention(
    session: Session,
    actor: Actor,
    settings: Settings,
    now: datetime | None = None,
    *,
    checkpoint: bool = True,
) -> int:
    """Anonymise every household past the retention rule; returns how many. Safe to run again:
    an anonymised household is never picked twice. Each household is its own transaction, so
    a failure leaves the others done. With `checkpoint`, the SQLite log is then truncated
    (whether or not anything was erased: it retries a checkpoint an erasure missed)."""
    now = now or clock.now()
    done = 0
    months = settings.retention.anonymise_closed_after_months
    for household_id in retention_due(session, settings, now):
        anonymise_household(
            session, actor, household_id,
            reason=f"Retention rule: closed more than {months} months ago",
            checkpoint=False, settings=settings,
        )  # fmt: skip
        done += 1
    if checkpoint:
        # Every run, not only when it erased something: an erasure earlier in the day may have
        # found the log busy.
        checkpoint_after_erasure(session)
    return done
