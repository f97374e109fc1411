"""The assessment section of the household page and its forms: members, checks, the
assessor, session notes; bad input re-shown with what was typed, nothing saved."""

import io
from datetime import timedelta

import pytest
from sqlmodel import func, select

import crm.models as m
from crm import clock
from crm.services import members
from crm.services.actors import Actor
from crm.services.appointments import book_appointment
from crm.services.pipeline import move_stage

SYSTEM = Actor.system("test")


@pytest.fixture
def household(session, make_household):
    household = make_household()
    clock.advance(timedelta(minutes=5))
    move_stage(session, SYSTEM, household.id, m.Stage.STAGE_ONE)
    return household


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_the_household_page_shows_the_assessment(client_for, org, household):
    page = client_for(org.officer_north).get(f"/households/{household.id}").get_data(as_text=True)
    assert 'id="assessment"' in page
    assert "Stage one cannot be completed until" in page
    assert "Add the applicants (Sam Patel)" in page
    assert "Home and safety check" in page


def test_a_supervising_social_worker_gets_no_assessment_pages(client_for, org, household):
    c = client_for(org.supervisor_north)
    assert c.get(f"/households/{household.id}/members/new").status_code == 403


def test_adding_a_member_with_a_future_birthday_keeps_what_was_typed(
    client_for, org, household, session
):
    c = client_for(org.officer_north)
    url = f"/households/{household.id}/members/new"
    response = c.post(
        url,
        {
            "kind": "birth_child",
            "first_name": "Ray",
            "last_name": "Patel",
            "date_of_birth": ["1", "1", "2099"],
            "relationship": "son",
        },
        token_from=url,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Date of birth must be today or in the past" in page
    assert 'value="Ray"' in page and 'value="son"' in page and 'value="2099"' in page
    assert count(session, m.HouseholdMember) == 0
    response = c.post(
        url,
        {"kind": "birth_child", "first_name": "Ray", "last_name": "Patel",
         "date_of_birth": ["1", "1", "2015"]},
        token_from=url,
    )  # fmt: skip
    assert response.status_code == 302
    [member] = session.exec(select(m.HouseholdMember)).all()
    assert member.first_name == "Ray"


def test_a_check_received_before_it_was_requested_is_shown_again(
    client_for, org, household, session
):
    who = members.add_applicants_as_members(session, SYSTEM, household.id)[0]
    c = client_for(org.assessor_north)
    url = f"/households/{household.id}/checks/new"
    response = c.post(
        url,
        {
            "check_key": "dbs_enhanced",
            "member_id": str(who.id),
            "requested_on": ["5", "3", "2026"],
            "received_on": ["1", "3", "2026"],
            "outcome": "clear",
            "notes": "Certificate seen",
        },
        token_from=url,
    )
    page = response.get_data(as_text=True)
    assert "Date received must be on or after the date it was requested" in page
    assert "Certificate seen" in page
    assert count(session, m.HouseholdCheck) == 0


def test_only_managers_see_the_assessor_change(client_for, org, household, session):
    page = client_for(org.officer_north).get(f"/households/{household.id}").get_data(as_text=True)
    assert 'Change<span class="govuk-visually-hidden"> the assessing' not in page
    c = client_for(org.officer_north)
    url = f"/households/{household.id}/assessor"
    response = c.post(url, {"assessor_id": str(org.assessor_north.id)}, token_from=url)
    assert response.status_code == 403
    session.refresh(household)
    assert household.assessor_id is None


def test_the_assessors_home_page_lists_their_caseload(client_for, org, household, session):
    household.assessor_id = org.assessor_north.id
    session.add(household)
    session.commit()
    page = client_for(org.assessor_north).get("/home").get_data(as_text=True)
    assert "My assessments" in page and "Sam Patel" in page


def test_session_notes_are_written_after_the_session(client_for, org, household, session, settings):
    visit = book_appointment(
        session, SYSTEM, settings, staff_id=org.assessor_north.id,
        kind=m.AppointmentKind.ASSESSMENT_SESSION,
        starts_at=clock.now() + timedelta(hours=1), household_id=household.id,
        check_availability=False,
    )  # fmt: skip
    clock.advance(timedelta(hours=3))
    c = client_for(org.assessor_north)
    url = f"/assessment-sessions/{visit.id}/notes"
    response = c.post(url, {"outcome": "held", "notes": "Family tree"}, token_from=url)
    assert response.status_code == 302
    note = session.exec(select(m.AssessmentSessionNote)).one()
    assert note.notes == "Family tree"
    page = c.get(f"/households/{household.id}").get_data(as_text=True)
    assert "Family tree" in page and "Household member" not in page


def test_documents_upload_view_and_download(settings, engine, org, household, tmp_path, session):
    from crm.web import create_app
    from tests.crm.web.conftest import SECRET, Client

    documents = settings.documents.model_copy(
        update={"folder": str(tmp_path / "docs"), "max_megabytes": 0.01}
    )
    app = create_app(
        settings.model_copy(update={"documents": documents}), engine=engine, secret_key=SECRET
    )
    app.config["TESTING"] = True
    c = Client(app.test_client())
    assert c.sign_in(org.officer_north).status_code == 302
    url = f"/households/{household.id}/documents/new"
    big = io.BytesIO(b"%PDF-" + b"x" * 20_000)
    response = c.post(
        url, {"kind": "report", "file": (big, "report.pdf")}, token_from=url,
        content_type="multipart/form-data",
    )  # fmt: skip
    page = response.get_data(as_text=True)
    assert "The file must be smaller than 0.01 MB" in page
    assert 'value="report" checked' in page
    assert count(session, m.HouseholdDocument) == 0
    pdf = b"%PDF-1.7 a reference"
    response = c.post(
        url, {"kind": "reference", "file": (io.BytesIO(pdf), "Ref.pdf")}, token_from=url,
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 302
    doc = session.exec(select(m.HouseholdDocument)).one()
    assert "Ref.pdf" in c.get(f"/households/{household.id}").get_data(as_text=True)
    download = c.get(f"/documents/{doc.id}?download=1")
    assert download.data == pdf
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert c.get(f"/documents/{doc.id}").headers["Content-Disposition"].startswith("inline;")
    supervisor = Client(app.test_client())
    supervisor.sign_in(org.supervisor_north)
    assert supervisor.get(f"/documents/{doc.id}").status_code == 403
