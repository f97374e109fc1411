"""The assessment: household members and pets, the checks tracker and the stage one rule, the
assessing social worker, assessment session notes, Skills to Foster, the Form F, the
reminders, and subject access and erasure of all of it. SQLite and PostgreSQL."""

import io
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import func, select

import crm.models as m
from crm import clock
from crm.services import assessment, checks, data_protection, documents, members, reminders
from crm.services.actors import Actor
from crm.services.appointments import book_appointment
from crm.services.checks import CheckInput
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.members import MemberInput, PetInput
from crm.services.pipeline import move_stage
from crm.testing.fixtures import new_household

SYSTEM = Actor.system("test")
TODAY = date(2026, 3, 10)  # the frozen clock's day


@pytest.fixture
def household(session, org, settings) -> m.Household:
    household = new_household(session, settings)
    clock.advance(timedelta(minutes=5))
    move_stage(session, SYSTEM, household.id, m.Stage.STAGE_ONE)
    session.refresh(household)
    return household


def actor(session, user) -> Actor:
    return Actor.for_staff(session, user)


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def applicant(session, household, **kw) -> m.HouseholdMember:
    data = {"kind": "applicant", "first_name": "Kim", "last_name": "Lee"}
    data.update(kw)
    return members.add_member(session, SYSTEM, household.id, MemberInput(**data))


def received(key, member=None, **kw) -> CheckInput:
    data = {
        "check_key": key,
        "member_id": member.id if member else None,
        "requested_on": TODAY - timedelta(days=20),
        "received_on": TODAY - timedelta(days=2),
        "outcome": "clear",
    }
    data.update(kw)
    return CheckInput(**data)


def complete_stage_one(session, household, who) -> None:
    """Every required check of a household of one applicant with no pets."""
    for key in ("dbs_enhanced", "la_current", "medical_gp", "medical_adviser", "right_to_live"):
        checks.add_check(session, SYSTEM, household.id, received(key, who))
    for referee in ("Jo", "Ali"):
        reference = received("personal_reference", label=referee)
        checks.add_check(session, SYSTEM, household.id, reference)
    checks.add_check(session, SYSTEM, household.id, received("home_safety"))


# -- members ------------------------------------------------------------------------------


def test_a_member_is_recorded_with_the_audit_trail(session, org, household):
    officer = actor(session, org.officer_north)
    child = members.add_member(
        session, officer, household.id,
        MemberInput("birth_child", " Ray ", "Lee", date(2014, 5, 1), relationship="son"),
    )  # fmt: skip
    assert (child.first_name, child.kind, child.date_of_birth) == (
        "Ray", m.MemberKind.BIRTH_CHILD, date(2014, 5, 1),
    )  # fmt: skip
    event = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.entity == "household_member")
    ).one()
    assert event.actor_id == org.officer_north.id
    assert event.detail == {"household_id": household.id, "kind": "birth_child"}
    members.update_member(
        session, officer, child.id,
        MemberInput("birth_child", "Raymond", "Lee", date(2014, 5, 1), relationship="son"),
    )  # fmt: skip
    update = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.action == m.AuditAction.UPDATE)
    ).all()[-1]
    # Fields named, never their values.
    assert update.detail == {"household_id": household.id, "changed": ["first_name"]}


def test_a_date_of_birth_in_the_future_is_refused_and_nothing_saved(session, org, household):
    before = (count(session, m.HouseholdMember), count(session, m.AuditEvent))
    with pytest.raises(InvalidInput) as caught:
        members.add_member(
            session, SYSTEM, household.id,
            MemberInput("other_adult", "Pat", "Lee", TODAY + timedelta(days=1)),
        )  # fmt: skip
    assert caught.value.errors == {"date_of_birth": "Date of birth must be today or in the past"}
    assert (count(session, m.HouseholdMember), count(session, m.AuditEvent)) == before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (MemberInput("birth_child", "Ray", "Lee"), "date_of_birth", "Enter the child's date"),
        (MemberInput("other_child", "Ray", "Lee", date(2000, 1, 1)), "date_of_birth", "under 18"),
        (MemberInput("applicant", "Ray", "Lee", date(2015, 1, 1)), "date_of_birth", "18 or over"),
        (MemberInput("applicant", " ", "Lee"), "first_name", "Enter their first name"),
        (MemberInput("cousin", "Ray", "Lee"), "kind", "Choose how they are part"),
    ],
)
def test_bad_member_input_is_refused(session, household, data, field, message):
    with pytest.raises(InvalidInput) as caught:
        members.add_member(session, SYSTEM, household.id, data)
    assert message in caught.value.errors[field]
    assert count(session, m.HouseholdMember) == 0


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("admin", True),
        ("manager", True),
        ("officer_north", True),
        ("assessor_north", True),
        ("officer_south", False),  # another area
        ("supervisor_north", False),  # works with carers, not the pipeline
    ],
)
def test_who_may_record_members(session, org, household, who, allowed):
    staff = actor(session, getattr(org, who))
    data = MemberInput("lodger", "Sol", "Ray")
    if allowed:
        members.add_member(session, staff, household.id, data)
        assert count(session, m.HouseholdMember) == 1
    else:
        with pytest.raises(NotAllowed):
            members.add_member(session, staff, household.id, data)
        with pytest.raises(NotAllowed):
            checks.household_tracker(session, staff, household.id)
        assert count(session, m.HouseholdMember) == 0


def test_applicants_are_added_as_members_once(session, org, household):
    first = members.add_applicants_as_members(session, SYSTEM, household.id)
    assert [(x.first_name, x.kind, x.applicant_id) for x in first] == [
        ("Kim", m.MemberKind.APPLICANT, household.applicants[0].id)
    ]
    assert members.add_applicants_as_members(session, SYSTEM, household.id) == []


def test_removing_a_member_removes_their_checks(session, household):
    who = applicant(session, household)
    checks.add_check(session, SYSTEM, household.id, received("dbs_enhanced", who))
    members.remove_member(session, SYSTEM, who.id)
    assert count(session, m.HouseholdCheck) == 0


def test_pets_are_recorded_and_refused_without_a_kind(session, household):
    members.add_pet(session, SYSTEM, household.id, PetInput("Dog", "Biscuit"))
    with pytest.raises(InvalidInput) as caught:
        members.add_pet(session, SYSTEM, household.id, PetInput("  "))
    assert "species" in caught.value.errors
    assert count(session, m.HouseholdPet) == 1


# -- checks -------------------------------------------------------------------------------


def test_a_check_received_before_it_was_requested_is_refused(session, household):
    who = applicant(session, household)
    before = count(session, m.AuditEvent)
    with pytest.raises(InvalidInput) as caught:
        checks.add_check(
            session, SYSTEM, household.id,
            received("dbs_enhanced", who, requested_on=TODAY, received_on=TODAY - timedelta(1)),
        )  # fmt: skip
    assert caught.value.errors == {
        "received_on": "Date received must be on or after the date it was requested"
    }
    assert count(session, m.HouseholdCheck) == 0
    assert count(session, m.AuditEvent) == before


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"received_on": TODAY + timedelta(days=1)}, "received_on", "today or in the past"),
        ({"requested_on": None, "chased_on": TODAY}, "chased_on", "requested before"),
        ({"received_on": None}, "received_on", "to record its outcome"),
        ({"outcome": None}, "outcome", "Choose the outcome"),
        ({"outcome": "fine"}, "outcome", "Choose the outcome"),
        ({"member_id": None}, "member_id", "Choose who"),
        ({"check_key": "astrology"}, "check_key", "Choose which check"),
        ({"expires_on": TODAY - timedelta(days=30)}, "expires_on", "after the date it was"),
    ],
)
def test_bad_check_input_is_refused(session, household, change, field, message):
    who = applicant(session, household)
    with pytest.raises(InvalidInput) as caught:
        checks.add_check(session, SYSTEM, household.id, received("dbs_enhanced", who, **change))
    assert message in caught.value.errors[field]
    assert count(session, m.HouseholdCheck) == 0


def test_an_expiring_check_gets_its_expiry_and_counts_only_until_then(session, household):
    who = applicant(session, household)
    dbs = checks.add_check(session, SYSTEM, household.id, received("dbs_enhanced", who))
    assert dbs.expires_on == date(2029, 3, 8)  # received 8 March 2026, 36 months
    assert not any("Enhanced DBS" in x for x in checks.missing_required(session, household))
    clock.set_now(clock.now().replace(year=2029, month=4))
    assert any("Enhanced DBS" in x for x in checks.missing_required(session, household))


def test_what_is_required_follows_the_household(session, household):
    assert checks.missing_required(session, household)[0] == (
        "The household's members: record the applicants"
    )
    who = applicant(session, household)
    members.add_member(
        session, SYSTEM, household.id, MemberInput("birth_child", "Ray", "Lee", date(2007, 1, 5))
    )
    members.add_member(
        session, SYSTEM, household.id, MemberInput("birth_child", "Amy", "Lee", date(2015, 1, 5))
    )
    members.add_member(session, SYSTEM, household.id, MemberInput("former_partner", "Jo", "Bo"))
    members.add_pet(session, SYSTEM, household.id, PetInput("Cat"))
    checks.add_check(session, SYSTEM, household.id, received("personal_reference", label="Jo"))
    missing = checks.missing_required(session, household)
    # The adult birth child needs a DBS; the 11-year-old does not.
    assert "Enhanced DBS with the children's barred list for Ray Lee" in missing
    assert not any("Amy Lee" in x for x in missing)
    assert "Enhanced DBS with the children's barred list for Kim Lee" in missing
    assert "Personal reference (1 of 2 received)" in missing
    assert "Former partner's reference for Jo Bo" in missing
    assert "Pet assessment" in missing
    assert "Right to live in the UK for Kim Lee" in missing
    assert not any("Employer" in x for x in missing)  # where it applies, not required
    assert who


def test_a_missing_required_check_blocks_stage_one_and_names_it(session, org, household):
    officer = actor(session, org.officer_north)
    who = applicant(session, household)
    complete_stage_one(session, household, who)
    checks.remove_check(
        session, SYSTEM,
        session.exec(select(m.HouseholdCheck.id).where(m.HouseholdCheck.check_key == "la_current"))
        .one(),
    )  # fmt: skip
    events = count(session, m.StageEvent)
    clock.advance(timedelta(minutes=5))
    with pytest.raises(InvalidInput) as caught:
        move_stage(session, officer, household.id, m.Stage.STAGE_TWO)
    assert caught.value.errors == {
        "to_stage": "Stage one cannot be completed until these checks are in: "
        "Local authority check (current area) for Kim Lee"
    }
    session.refresh(household)
    assert household.stage == m.Stage.STAGE_ONE
    assert count(session, m.StageEvent) == events
    # Withdrawing or pausing is not completing stage one.
    checks.add_check(session, SYSTEM, household.id, received("la_current", who))
    move_stage(session, officer, household.id, m.Stage.STAGE_TWO)
    session.refresh(household)
    assert household.stage == m.Stage.STAGE_TWO


def test_on_hold_from_stage_one_cannot_skip_the_checks(session, org, household):
    officer = actor(session, org.officer_north)
    clock.advance(timedelta(minutes=5))
    move_stage(session, officer, household.id, m.Stage.ON_HOLD)
    clock.advance(timedelta(minutes=5))
    with pytest.raises(InvalidInput, match="Stage one cannot be completed"):
        move_stage(session, officer, household.id, m.Stage.PANEL)
    move_stage(session, officer, household.id, m.Stage.STAGE_ONE)  # resuming is fine


def test_a_move_from_application_cannot_jump_past_stage_one(session, org, household):
    officer = actor(session, org.officer_north)
    household.stage = m.Stage.APPLICATION  # history: the application is in, no check yet
    session.add(household)
    session.commit()
    events = count(session, m.StageEvent)
    clock.advance(timedelta(minutes=5))
    for later in (m.Stage.STAGE_TWO, m.Stage.PANEL):
        with pytest.raises(InvalidInput, match="Stage one cannot be completed"):
            move_stage(session, officer, household.id, later)
    session.refresh(household)
    assert household.stage == m.Stage.APPLICATION
    assert count(session, m.StageEvent) == events
    move_stage(session, officer, household.id, m.Stage.STAGE_ONE)  # the next step is fine
    session.refresh(household)
    assert household.stage == m.Stage.STAGE_ONE


def test_an_outstanding_check_past_its_target_is_chased_to_the_assessor(
    session, org, household, sched_settings
):
    assessment.assign_assessor(session, SYSTEM, household.id, org.assessor_north.id)
    who = applicant(session, household)
    # la_current: 15 working days. Requested Monday 16 February: due a chase on 9 March.
    checks.add_check(
        session, SYSTEM, household.id,
        CheckInput("la_current", who.id, requested_on=date(2026, 2, 23)),
    )  # fmt: skip
    assert reminders.run("check_chasers", session, sched_settings, clock.now()) == {"chasers": 0}
    clock.set_now(clock.now() + timedelta(days=7))  # 17 March: past 16 March, the target
    assert reminders.run("check_chasers", session, sched_settings, clock.now()) == {"chasers": 1}
    [message] = session.exec(
        select(m.OutboxMessage).where(m.OutboxMessage.template == "check_overdue_staff")
    ).all()
    assert message.recipient == org.assessor_north.email
    assert message.household_id == household.id
    assert message.payload["check_label"] == "Local authority check (current area)"
    assert message.payload["person_name"] == "Kim Lee"
    # Once is enough, until it is chased and the target passes again.
    assert reminders.run("check_chasers", session, sched_settings, clock.now()) == {"chasers": 0}
    check = session.exec(select(m.HouseholdCheck)).one()
    checks.update_check(
        session, SYSTEM, check.id,
        CheckInput("la_current", who.id, requested_on=date(2026, 2, 23), chased_on=TODAY),
    )  # fmt: skip
    assert reminders.run("check_chasers", session, sched_settings, clock.now()) == {"chasers": 0}
    clock.set_now(clock.now() + timedelta(days=30))
    assert reminders.run("check_chasers", session, sched_settings, clock.now()) == {"chasers": 1}


def test_with_no_assessor_the_managers_are_told(session, org, household, sched_settings):
    checks.add_check(
        session, SYSTEM, household.id, CheckInput("home_safety", requested_on=date(2026, 1, 5))
    )
    assert reminders.run("check_chasers", session, sched_settings, clock.now()) == {"chasers": 1}
    [message] = session.exec(select(m.OutboxMessage)).all()
    assert message.recipient == org.manager.email


def test_a_child_turning_18_in_the_assessment_is_a_reminder(
    session, org, household, sched_settings
):
    assessment.assign_assessor(session, SYSTEM, household.id, org.assessor_north.id)
    members.add_member(
        session, SYSTEM, household.id, MemberInput("birth_child", "Ray", "Lee", date(2008, 4, 20))
    )
    members.add_member(
        session, SYSTEM, household.id, MemberInput("birth_child", "Amy", "Lee", date(2009, 4, 20))
    )
    assert reminders.run("turning_18", session, sched_settings, clock.now()) == {"notices": 1}
    [message] = session.exec(select(m.OutboxMessage)).all()
    assert message.template == "member_turning_18_staff"
    assert message.recipient == org.assessor_north.email
    assert message.payload["person_name"] == "Ray Lee"
    assert message.payload["birthday_date"] == "20 April 2026"
    assert reminders.run("turning_18", session, sched_settings, clock.now()) == {"notices": 0}


def test_the_turning_18_reminder_runs_on_a_leap_day(session, org, household, sched_settings):
    members.add_member(
        session, SYSTEM, household.id, MemberInput("birth_child", "Ray", "Lee", date(2010, 3, 20))
    )
    clock.set_now(clock.now().replace(year=2028, month=2, day=29))
    assert reminders.run("turning_18", session, sched_settings, clock.now()) == {"notices": 1}


# -- the assessing social worker ------------------------------------------------------------


@pytest.mark.parametrize("who", ["officer_north", "assessor_north"])
def test_only_a_manager_assigns_the_assessor(session, org, household, who):
    with pytest.raises(NotAllowed):
        assessment.assign_assessor(
            session, actor(session, getattr(org, who)), household.id, org.assessor_north.id
        )
    session.refresh(household)
    assert household.assessor_id is None


def test_the_assessor_must_be_an_assessing_social_worker_in_the_area(session, org, household):
    manager = actor(session, org.manager)
    with pytest.raises(InvalidInput, match="is not an assessing social worker"):
        assessment.assign_assessor(session, manager, household.id, org.officer_north.id)
    assessment.assign_assessor(session, manager, household.id, org.assessor_north.id)
    session.refresh(household)
    assert household.assessor_id == org.assessor_north.id
    assert household.assigned_officer_id != org.assessor_north.id


def test_the_caseload_lists_the_assessors_households(session, org, household, settings):
    other = new_household(session, settings, first_name="Alex", email="alex@example.com")
    assessment.assign_assessor(session, SYSTEM, household.id, org.assessor_north.id)
    applicant(session, household)
    rows = assessment.caseload(session, actor(session, org.assessor_north))
    assert [(r.household.id, r.missing) for r in rows] == [(household.id, 7)]
    assert other.id not in [r.household.id for r in rows]
    assert assessment.caseload(session, actor(session, org.officer_north)) == []


# -- sessions, Skills to Foster, the Form F -------------------------------------------------


def _session_visit(session, org, household, settings) -> m.Appointment:
    starts = clock.now().replace(hour=14, minute=0) + timedelta(days=1)  # Wednesday 14:00 UTC
    return book_appointment(
        session, SYSTEM, settings, staff_id=org.assessor_north.id,
        kind=m.AppointmentKind.ASSESSMENT_SESSION, starts_at=starts, household_id=household.id,
        check_availability=False,
    )  # fmt: skip


def test_a_session_is_written_up_after_it_starts(session, org, household, settings):
    assessor = actor(session, org.assessor_north)
    visit = _session_visit(session, org, household, settings)
    with pytest.raises(InvalidInput, match="after it has started"):
        assessment.record_session_notes(
            session, assessor, visit.id, outcome="held", notes="Childhood"
        )
    clock.set_now(visit.starts_at + timedelta(hours=2))
    with pytest.raises(InvalidInput) as caught:
        assessment.record_session_notes(session, assessor, visit.id, outcome="great", notes=" ")
    assert set(caught.value.errors) == {"outcome", "notes"}
    note = assessment.record_session_notes(
        session, assessor, visit.id, outcome="held", notes="Talked about Kim's childhood"
    )
    session.refresh(visit)
    assert visit.status == m.AppointmentStatus.COMPLETED
    assert note.recorded_by_id == org.assessor_north.id
    [row] = assessment.sessions_of(session, household.id)
    assert row.note.notes == "Talked about Kim's childhood"
    with pytest.raises(NotAllowed):
        assessment.record_session_notes(
            session, actor(session, org.supervisor_north), visit.id, outcome="held", notes="x"
        )


def test_skills_to_foster_dates_are_checked(session, household):
    who = applicant(session, household)
    with pytest.raises(InvalidInput) as caught:
        assessment.add_course(
            session, SYSTEM, household.id, member_id=who.id,
            attended_from=date(2026, 3, 2), attended_to=date(2026, 3, 1),
        )  # fmt: skip
    assert caught.value.errors == {"attended_to": "End date must be on or after the start date"}
    assessment.add_course(
        session, SYSTEM, household.id, member_id=who.id,
        attended_from=date(2026, 3, 2), attended_to=date(2026, 3, 3),
    )  # fmt: skip
    assert [c.course for c in assessment.courses_of(session, household.id)] == ["Skills to Foster"]


def test_form_f_progress_by_section(session, household):
    rows = assessment.form_f_progress(session, household.id)
    assert rows[0].key == "applicants" and rows[0].status == m.FormFStatus.NOT_STARTED
    assessment.set_form_f_status(session, SYSTEM, household.id, "applicants", "drafted")
    assessment.set_form_f_status(session, SYSTEM, household.id, "applicants", "complete")
    assert assessment.form_f_progress(session, household.id)[0].status == m.FormFStatus.COMPLETE
    with pytest.raises(InvalidInput):
        assessment.set_form_f_status(session, SYSTEM, household.id, "horoscope", "complete")
    assert count(session, m.FormFSection) == 1


# -- subject access and erasure -----------------------------------------------------------


def _assessed(session, org, household, settings) -> None:
    who = applicant(session, household)
    members.add_member(
        session, SYSTEM, household.id, MemberInput("birth_child", "Ray", "Lee", date(2014, 5, 1))
    )
    members.add_pet(session, SYSTEM, household.id, PetInput("Dog", "Biscuit"))
    checks.add_check(
        session, SYSTEM, household.id, received("dbs_enhanced", who, notes="Nothing known")
    )
    assessment.add_course(
        session, SYSTEM, household.id, member_id=who.id,
        attended_from=date(2026, 3, 2), attended_to=date(2026, 3, 3),
    )  # fmt: skip
    assessment.set_form_f_status(session, SYSTEM, household.id, "applicants", "drafted")
    visit = _session_visit(session, org, household, settings)
    clock.set_now(visit.starts_at + timedelta(hours=2))
    assessment.record_session_notes(
        session, SYSTEM, visit.id, outcome="held", notes="Spoke about Ray's school"
    )


def test_subject_access_covers_the_assessment(session, org, household, settings):
    _assessed(session, org, household, settings)
    document = data_protection.subject_access_export(
        session, actor(session, org.manager), settings, household.id
    )
    sections = {s.key: s for s in document.sections}
    assert sections["household-members"].rows[1][:3] == ("Ray", "Lee", "Birth child")
    assert sections["pets"].rows[0][:2] == ("Dog", "Biscuit")
    check = sections["checks"].rows[0]
    assert check[0] == "Enhanced DBS with the children's barred list"
    assert check[1] == "Kim Lee" and check[6] == "Clear" and check[8] == "Nothing known"
    assert sections["assessment-sessions"].rows[0][2] == "Spoke about Ray's school"
    assert sections["preparation-training"].rows[0][0] == "Skills to Foster"
    logged = {row[3] for row in sections["access-log"].rows}
    assert {"A member of your household", "A check in your assessment"} <= logged


def test_erasure_removes_members_pets_checks_and_session_notes(session, org, household, settings):
    _assessed(session, org, household, settings)
    data_protection.anonymise_household(
        session, actor(session, org.manager), household.id, reason="Asked us to"
    )
    for model in (
        m.HouseholdMember,
        m.HouseholdPet,
        m.HouseholdCheck,
        m.AssessmentSessionNote,
        m.CourseAttendance,
        m.FormFSection,
    ):
        assert count(session, model) == 0, model.__name__
    # What is left of the visit says nothing of them.
    visit = session.exec(
        select(m.Appointment).where(m.Appointment.household_id == household.id)
    ).one()
    assert visit.notes is None and visit.location is None


# -- documents ----------------------------------------------------------------------------

PDF = b"%PDF-1.7\n" + b"x" * 200


@pytest.fixture
def doc_settings(settings, tmp_path):
    documents = settings.documents.model_copy(
        update={"folder": str(tmp_path / "documents"), "max_megabytes": 0.01}
    )
    return settings.model_copy(update={"documents": documents})


def test_a_document_is_kept_outside_the_database_and_every_look_audited(
    session, org, household, doc_settings
):
    assessor = actor(session, org.assessor_north)
    doc = documents.upload(
        session, assessor, doc_settings, household.id,
        kind="reference", filename="C:\\Users\\me\\Reference from Jo.pdf", content=PDF,
    )  # fmt: skip
    assert doc.original_name == "Reference from Jo.pdf" and doc.size_bytes == len(PDF)
    stored = documents.path_of(doc_settings, doc)
    assert stored.read_bytes() == PDF and stored.parent == Path(doc_settings.documents.folder)
    assert "Jo" not in stored.name
    opened = documents.open_document(session, assessor, doc_settings, doc.id, download=False)
    assert opened.content == PDF
    documents.open_document(session, assessor, doc_settings, doc.id, download=True)
    actions = session.exec(
        select(m.AuditEvent.action)
        .where(m.AuditEvent.entity == "household_document")
        .order_by(m.AuditEvent.id)
    ).all()
    assert actions == [m.AuditAction.CREATE, m.AuditAction.VIEW, m.AuditAction.EXPORT]
    with pytest.raises(NotAllowed):
        documents.open_document(
            session, actor(session, org.supervisor_north), doc_settings, doc.id, download=True
        )


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("big.pdf", b"%PDF-" + b"x" * 20_000, "smaller than 0.01 MB"),
        ("run.exe", b"MZ", "must be one of: PDF"),
        ("photo.png", PDF, "not a real PNG"),
        ("empty.pdf", b"", "The file is empty"),
        ("", PDF, "Choose a file"),
    ],
)
def test_a_refused_upload_saves_nothing(
    session, household, doc_settings, filename, content, message
):
    with pytest.raises(InvalidInput) as caught:
        documents.upload(
            session, SYSTEM, doc_settings, household.id,
            kind="report", filename=filename, content=content,
        )  # fmt: skip
    assert message in caught.value.errors["file"]
    assert count(session, m.HouseholdDocument) == 0
    folder = Path(doc_settings.documents.folder)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_subject_access_and_erasure_cover_documents(session, org, household, doc_settings):
    doc = documents.upload(
        session, SYSTEM, doc_settings, household.id,
        kind="application_form", filename="application.pdf", content=PDF,
    )  # fmt: skip
    manager = actor(session, org.manager)
    export = data_protection.subject_access_zip(session, manager, doc_settings, household.id)
    with zipfile.ZipFile(io.BytesIO(export.content)) as archive:
        names = archive.namelist()
        [inside] = [n for n in names if n.endswith(f"documents/{doc.id}-application.pdf")]
        assert archive.read(inside) == PDF
    stored = documents.path_of(doc_settings, doc)
    data_protection.anonymise_household(
        session, manager, household.id, reason="Asked us to", settings=doc_settings
    )
    assert count(session, m.HouseholdDocument) == 0
    assert not stored.exists()
