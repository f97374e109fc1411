"""The assessment of a household after its application: who lives there or is closely
involved (members and pets), the statutory checks on each of them, the notes of each
assessment session, Skills to Foster attendance and the progress of the Form F."""

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models.base import created_at_field, enum_column


class MemberKind(StrEnum):
    """How a person is part of the household, in the assessing social worker's words."""

    APPLICANT = "applicant"
    OTHER_ADULT = "other_adult"
    BIRTH_CHILD = "birth_child"
    OTHER_CHILD = "other_child"
    LODGER = "lodger"
    ADULT_CHILD_AWAY = "adult_child_away"
    FORMER_PARTNER = "former_partner"

    @property
    def label(self) -> str:
        return MEMBER_KIND_LABELS[self]

    @property
    def lives_in_household(self) -> bool:
        return self not in (MemberKind.ADULT_CHILD_AWAY, MemberKind.FORMER_PARTNER)


MEMBER_KIND_LABELS = {
    MemberKind.APPLICANT: "Applicant",
    MemberKind.OTHER_ADULT: "Other adult in the household",
    MemberKind.BIRTH_CHILD: "Birth child",
    MemberKind.OTHER_CHILD: "Other child in the household",
    MemberKind.LODGER: "Lodger",
    MemberKind.ADULT_CHILD_AWAY: "Adult child living away",
    MemberKind.FORMER_PARTNER: "Former partner (to be contacted)",
}


class CheckOutcome(StrEnum):
    CLEAR = "clear"
    INFORMATION_TO_CONSIDER = "information_to_consider"
    CONCERN = "concern"

    @property
    def label(self) -> str:
        return {
            CheckOutcome.CLEAR: "Clear",
            CheckOutcome.INFORMATION_TO_CONSIDER: "Information to consider",
            CheckOutcome.CONCERN: "Concern",
        }[self]


class HouseholdMember(SQLModel, table=True):
    __tablename__ = "household_member"

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True, ondelete="CASCADE")
    # The applicant this person is, when they applied (their name and contact details stay
    # on the applicant record).
    applicant_id: int | None = Field(default=None, foreign_key="applicant.id", ondelete="SET NULL")
    kind: MemberKind = enum_column(MemberKind)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    date_of_birth: date | None = None
    # Their relationship to the applicants in the family's words ("Sam's mother", "son").
    relationship: str | None = Field(default=None, max_length=100)
    notes: str | None = Field(default=None, max_length=2000)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class HouseholdPet(SQLModel, table=True):
    __tablename__ = "household_pet"

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True, ondelete="CASCADE")
    species: str = Field(max_length=60)
    name: str | None = Field(default=None, max_length=60)
    notes: str | None = Field(default=None, max_length=2000)
    created_at: datetime = created_at_field()


class HouseholdCheck(SQLModel, table=True):
    """One statutory check: on a person (member_id) or on the household as a whole (a home
    and safety check, a pet assessment, a personal reference). `check_key` is its entry in
    config/checks.toml."""

    __tablename__ = "household_check"
    __table_args__ = (
        sa.CheckConstraint(
            "received_on IS NULL OR requested_on IS NULL OR received_on >= requested_on",
            name="received_after_requested",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True, ondelete="CASCADE")
    member_id: int | None = Field(
        default=None, foreign_key="household_member.id", index=True, ondelete="CASCADE"
    )
    check_key: str = Field(max_length=40)
    # Which one, when there are several: the referee, the previous area, the employer.
    label: str | None = Field(default=None, max_length=200)
    requested_on: date | None = None
    chased_on: date | None = None
    received_on: date | None = None
    outcome: CheckOutcome | None = enum_column(CheckOutcome, default=None, nullable=True)
    expires_on: date | None = None
    notes: str | None = Field(default=None, max_length=2000)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class SessionOutcome(StrEnum):
    HELD = "held"
    NOT_HELD = "not_held"
    FOLLOW_UP_NEEDED = "follow_up_needed"

    @property
    def label(self) -> str:
        return {
            SessionOutcome.HELD: "Held as planned",
            SessionOutcome.FOLLOW_UP_NEEDED: "Held: follow-up needed",
            SessionOutcome.NOT_HELD: "Did not take place",
        }[self]


class AssessmentSessionNote(SQLModel, table=True):
    """What an assessment session (a visit of kind assessment_session) covered, and how it
    went: written after it, one per session."""

    __tablename__ = "assessment_session_note"

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(
        foreign_key="appointment.id", unique=True, index=True, ondelete="CASCADE"
    )
    household_id: int = Field(foreign_key="household.id", index=True, ondelete="CASCADE")
    outcome: SessionOutcome = enum_column(SessionOutcome)
    notes: str = Field(max_length=5000)
    recorded_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    recorded_at: datetime = created_at_field()


class CourseAttendance(SQLModel, table=True):
    """Preparation training (Skills to Foster): who attended which course, when."""

    __tablename__ = "course_attendance"

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True, ondelete="CASCADE")
    member_id: int | None = Field(
        default=None, foreign_key="household_member.id", ondelete="CASCADE"
    )
    course: str = Field(max_length=100)
    attended_from: date
    attended_to: date
    completed: bool = True
    created_at: datetime = created_at_field()


class FormFStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DRAFTED = "drafted"
    COMPLETE = "complete"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class FormFSection(SQLModel, table=True):
    """How far the Form F has got, a section (config/form_f.toml) at a time."""

    __tablename__ = "form_f_section"
    __table_args__ = (sa.UniqueConstraint("household_id", "section_key"),)

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True, ondelete="CASCADE")
    section_key: str = Field(max_length=40)
    status: FormFStatus = enum_column(FormFStatus, default=FormFStatus.NOT_STARTED)
    updated_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    updated_at: datetime = created_at_field()


class DocumentKind(StrEnum):
    APPLICATION_FORM = "application_form"
    REFERENCE = "reference"
    REPORT = "report"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class HouseholdDocument(SQLModel, table=True):
    """A file that belongs to a household, kept outside the database (settings.documents):
    this row says what it is and where the file is."""

    __tablename__ = "household_document"

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="household.id", index=True, ondelete="CASCADE")
    kind: DocumentKind = enum_column(DocumentKind)
    # The name it was uploaded with (shown to staff); the file on disk has a name of our own.
    original_name: str = Field(max_length=200)
    stored_name: str = Field(max_length=80, unique=True)
    content_type: str = Field(max_length=100)
    size_bytes: int
    uploaded_by_id: int | None = Field(default=None, foreign_key="staff_user.id")
    uploaded_at: datetime = created_at_field()
