"""The assessment (stage two) around the checks: the assessing social worker, the notes of each
assessment session, Skills to Foster attendance and the Form F's progress.

Rules:
- a manager (or an admin) assigns the assessing social worker, separately from the recruitment
  officer; only an active assessing social worker who works in the household's area may be
  given it, and being given it opens the household to them (crm.services.access);
- an assessment session is booked as a visit (kind assessment_session, crm.services.booking /
  appointments); after it has started, its notes and outcome are written once and may be
  corrected; writing them marks the visit held;
- Skills to Foster attendance is dated, never in the future, and never ends before it starts;
- the Form F's sections are data (config/form_f.toml), each with a status.
Who records these is who records members (crm.services.members); every change is audited.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from crm import clock
from crm.db import transaction
from crm.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AssessmentSessionNote,
    AuditAction,
    CourseAttendance,
    FormFSection,
    FormFStatus,
    Household,
    HouseholdMember,
    Role,
    SessionOutcome,
    StaffUser,
    Stage,
)
from crm.services import access, audit, checks, members
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed, NotFound
from crm.settings import CONFIG_DIR

ASSIGNING_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
SKILLS_TO_FOSTER = "Skills to Foster"
CLOSED = frozenset(Stage.in_group("closed"))


# -- the assessing social worker ------------------------------------------------------------


def assessor_problem(session: Session, staff: StaffUser | None, household: Household) -> str | None:
    if staff is None or not staff.active:
        return "Choose an assessing social worker who is working"
    if staff.role != Role.ASSESSING_SOCIAL_WORKER:
        return f"{staff.name} is not an assessing social worker"
    if not access.may_own_work(session, staff, household.area_id):
        return f"{staff.name} does not work in this household's area"
    return None


def possible_assessors(session: Session, household: Household) -> list[StaffUser]:
    return access.possible_owners(
        session, area_id=household.area_id, roles=[Role.ASSESSING_SOCIAL_WORKER]
    )


def assign_assessor(
    session: Session, actor: Actor, household_id: int, assessor_id: int | None
) -> Household:
    household = members.household_for_assessment(session, actor, household_id)
    if not actor.is_system and actor.role not in ASSIGNING_ROLES:
        raise NotAllowed("Only a manager assigns the assessing social worker")
    if assessor_id is not None:
        problem = assessor_problem(session, session.get(StaffUser, assessor_id), household)
        if problem:
            raise InvalidInput(problem, "assessor_id")
    if household.assessor_id == assessor_id:
        return household
    with transaction(session):
        household.assessor_id = assessor_id
        household.updated_at = clock.now()
        session.add(household)
        audit.record(session, actor, AuditAction.UPDATE, "household", household.id, assessor=True)
    session.refresh(household)
    return household


@dataclass
class CaseloadRow:
    household: Household
    outstanding: int
    missing: int


def caseload(session: Session, actor: Actor) -> list[CaseloadRow]:
    """The households the actor is the assessing social worker of, still open, through the
    visibility rule (someone who has moved area no longer sees them)."""
    if actor.user_id is None:
        return []
    rows = session.exec(
        select(Household)
        .where(
            Household.assessor_id == actor.user_id,
            Household.anonymised_at.is_(None),
            Household.stage.not_in([s.value for s in CLOSED | {Stage.APPROVED}]),
            access.household_visibility(actor),
        )
        .order_by(Household.stage_entered_at, Household.id)
        .limit(200)
        .options(selectinload(Household.applicants))
    ).all()
    found = checks.trackers(session, list(rows))
    return [CaseloadRow(h, len(found[h.id].outstanding), len(found[h.id].missing)) for h in rows]


# -- assessment sessions ------------------------------------------------------------------


def _session_visit(session: Session, actor: Actor, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if (
        appointment is None
        or appointment.household_id is None
        or appointment.kind != AppointmentKind.ASSESSMENT_SESSION
    ):
        raise NotFound(f"No assessment session with id {appointment_id}")
    members.household_for_assessment(session, actor, appointment.household_id)
    return appointment


def record_session_notes(
    session: Session, actor: Actor, appointment_id: int, *, outcome: str, notes: str
) -> AssessmentSessionNote:
    appointment = _session_visit(session, actor, appointment_id)
    errors = {}
    if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.COMPLETED):
        errors["outcome"] = "This session was cancelled or moved: write up the session it became"
    elif appointment.starts_at > clock.now():
        errors["outcome"] = "Write up a session after it has started"
    try:
        chosen = SessionOutcome(outcome or "")
    except ValueError:
        chosen = None
        errors.setdefault("outcome", "Choose how the session went")
    notes = (notes or "").strip()
    if not notes:
        errors["notes"] = "Enter what the session covered"
    elif len(notes) > 5000:
        errors["notes"] = "Notes must be 5000 characters or fewer"
    if errors:
        raise InvalidInput(errors)
    note = session.exec(
        select(AssessmentSessionNote).where(AssessmentSessionNote.appointment_id == appointment.id)
    ).first()
    with transaction(session):
        action = AuditAction.UPDATE if note else AuditAction.CREATE
        if note is None:
            note = AssessmentSessionNote(
                appointment_id=appointment.id, household_id=appointment.household_id,
                outcome=chosen, notes=notes,
            )  # fmt: skip
        note.outcome, note.notes = chosen, notes
        note.recorded_by_id = actor.user_id
        note.recorded_at = clock.now()
        session.add(note)
        appointment.status = (
            AppointmentStatus.NO_SHOW
            if chosen == SessionOutcome.NOT_HELD
            else AppointmentStatus.COMPLETED
        )
        session.add(appointment)
        session.flush()
        audit.record(
            session, actor, action, "assessment_session_note", note.id,
            household_id=appointment.household_id, appointment_id=appointment.id,
        )  # fmt: skip
    session.refresh(note)
    return note


@dataclass
class SessionRow:
    appointment: Appointment
    note: AssessmentSessionNote | None

    @property
    def may_write_up(self) -> bool:
        return self.appointment.status != AppointmentStatus.CANCELLED and (
            self.appointment.starts_at <= clock.now()
        )


def sessions_of(session: Session, household_id: int) -> list[SessionRow]:
    visits = session.exec(
        select(Appointment)
        .where(
            Appointment.household_id == household_id,
            Appointment.kind == AppointmentKind.ASSESSMENT_SESSION,
            Appointment.status != AppointmentStatus.MOVED,
        )
        .order_by(Appointment.starts_at)
    ).all()
    notes = {
        n.appointment_id: n
        for n in session.exec(
            select(AssessmentSessionNote).where(AssessmentSessionNote.household_id == household_id)
        )
    }
    return [SessionRow(v, notes.get(v.id)) for v in visits]


def get_session(session: Session, actor: Actor, appointment_id: int) -> SessionRow:
    appointment = _session_visit(session, actor, appointment_id)
    note = session.exec(
        select(AssessmentSessionNote).where(AssessmentSessionNote.appointment_id == appointment.id)
    ).first()
    return SessionRow(appointment, note)


# -- Skills to Foster ---------------------------------------------------------------------


def add_course(
    session: Session,
    actor: Actor,
    household_id: int,
    *,
    member_id: int | None,
    attended_from: date | None,
    attended_to: date | None,
    course: str = SKILLS_TO_FOSTER,
    completed: bool = True,
) -> CourseAttendance:
    household = members.household_for_assessment(session, actor, household_id)
    today = clock.local_date(clock.now())
    errors = {}
    course = " ".join((course or "").split())
    if not course:
        errors["course"] = "Enter the name of the course"
    elif len(course) > 100:
        errors["course"] = "Course must be 100 characters or fewer"
    if member_id is not None:
        member = session.get(HouseholdMember, member_id)
        if member is None or member.household_id != household.id:
            errors["member_id"] = "Choose someone in this household"
    if attended_from is None:
        errors["attended_from"] = "Enter the date the course started"
    elif attended_from > today:
        errors["attended_from"] = "Start date must be today or in the past"
    if attended_to is None:
        errors["attended_to"] = "Enter the date the course ended"
    elif attended_to > today:
        errors["attended_to"] = "End date must be today or in the past"
    elif attended_from is not None and attended_to < attended_from:
        errors["attended_to"] = "End date must be on or after the start date"
    if errors:
        raise InvalidInput(errors)
    record = CourseAttendance(
        household_id=household.id, member_id=member_id, course=course,
        attended_from=attended_from, attended_to=attended_to, completed=completed,
    )  # fmt: skip
    with transaction(session):
        session.add(record)
        session.flush()
        audit.record(
            session, actor, AuditAction.CREATE, "course_attendance", record.id,
            household_id=household.id,
        )  # fmt: skip
    session.refresh(record)
    return record


def courses_of(session: Session, household_id: int) -> list[CourseAttendance]:
    return list(
        session.exec(
            select(CourseAttendance)
            .where(CourseAttendance.household_id == household_id)
            .order_by(CourseAttendance.attended_from, CourseAttendance.id)
        ).all()
    )


# -- the Form F ---------------------------------------------------------------------------


@lru_cache(maxsize=4)
def form_f_sections(path: Path | None = None) -> tuple[tuple[str, str], ...]:
    """(key, label) of each section in config/form_f.toml, in order."""
    data = tomllib.loads((path or CONFIG_DIR / "form_f.toml").read_text(encoding="utf-8"))
    sections = tuple((s["key"], s["label"]) for s in data.get("section", []))
    if len({k for k, _ in sections}) != len(sections):
        raise ValueError("config/form_f.toml: two sections have the same key")
    return sections


@dataclass
class FormFRow:
    key: str
    label: str
    status: FormFStatus


def form_f_progress(session: Session, household_id: int) -> list[FormFRow]:
    stored = {
        s.section_key: FormFStatus(s.status)
        for s in session.exec(select(FormFSection).where(FormFSection.household_id == household_id))
    }
    return [
        FormFRow(key, label, stored.get(key, FormFStatus.NOT_STARTED))
        for key, label in form_f_sections()
    ]


def set_form_f_status(
    session: Session, actor: Actor, household_id: int, section_key: str, status: str
) -> FormFSection:
    household = members.household_for_assessment(session, actor, household_id)
    if section_key not in dict(form_f_sections()):
        raise InvalidInput("Choose a section of the Form F", "section_key")
    try:
        chosen = FormFStatus(status or "")
    except ValueError:
        raise InvalidInput("Choose the section's status", "status") from None
    row = session.exec(
        select(FormFSection).where(
            FormFSection.household_id == household.id, FormFSection.section_key == section_key
        )
    ).first()
    with transaction(session):
        if row is None:
            row = FormFSection(household_id=household.id, section_key=section_key)
        row.status = chosen
        row.updated_by_id = actor.user_id
        row.updated_at = clock.now()
        session.add(row)
        session.flush()
        audit.record(
            session, actor, AuditAction.UPDATE, "form_f_section", row.id,
            household_id=household.id, section=section_key,
        )  # fmt: skip
    session.refresh(row)
    return row


# -- the household page's section ---------------------------------------------------------


@dataclass
class AssessmentView:
    household: Household
    tracker: checks.Tracker
    sessions: list[SessionRow]
    courses: list[CourseAttendance]
    form_f: list[FormFRow]
    assessor: StaffUser | None
    may_assign: bool
    changes: list

    @property
    def missing(self) -> list[str]:
        return self.tracker.missing


def assessment_view(session: Session, actor: Actor, household_id: int) -> AssessmentView:
    """Everything the household page's assessment section shows (the page's own view event
    covers reading it: crm.services.households.household_view)."""
    from crm.models import AuditEvent

    household = members.household_for_assessment(session, actor, household_id)
    entities = (
        "household_document",
        "household_member",
        "household_pet",
        "household_check",
        "assessment_session_note",
        "course_attendance",
        "form_f_section",
    )
    # The audit trail of the assessment: who added or changed what, newest first.
    changes = list(
        session.exec(
            select(AuditEvent)
            .where(
                AuditEvent.entity.in_(entities),
                AuditEvent.detail["household_id"].as_integer() == household.id,
            )
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(20)
        ).all()
    )
    return AssessmentView(
        household=household,
        tracker=checks.tracker(session, household),
        sessions=sessions_of(session, household.id),
        courses=courses_of(session, household.id),
        form_f=form_f_progress(session, household.id),
        assessor=session.get(StaffUser, household.assessor_id) if household.assessor_id else None,
        may_assign=actor.is_system or actor.role in ASSIGNING_ROLES,
        changes=changes,
    )
