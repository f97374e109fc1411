"""The assessment in a real browser: an assessing social worker finds the household on their
home page, records a member (a future date of birth first: refused, what was typed kept) and
a check (received before requested first: refused), books an assessment session and writes
it up. Axe finds no serious or critical problem on the new pages."""

import re
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

import crm.models as m
from crm import clock
from crm.db import make_engine
from crm.demo.organisation import DEMO_PASSWORD
from crm.services import assessment
from crm.services.actors import Actor
from crm.services.pipeline import move_stage

ASSESSOR = "assessor@example.org"


def _in_stage_one(sqlite_url: str) -> int:
    """The enquiry typed on the public form, moved to stage one and given to the assessor."""
    engine = make_engine(sqlite_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            household = session.exec(
                select(m.Household)
                .join(m.Applicant)
                .where(m.Applicant.first_name == "Rowan", m.Applicant.last_name == "Achebe")
            ).one()
            system = Actor.system("browser test")
            clock.advance(timedelta(minutes=1))
            move_stage(session, system, household.id, m.Stage.STAGE_ONE)
            assessor = session.exec(
                select(m.StaffUser).where(sa.func.lower(m.StaffUser.email) == ASSESSOR)
            ).one()
            assessment.assign_assessor(session, system, household.id, assessor.id)
            return household.id
    finally:
        engine.dispose()


def success(page):
    return page.get_by_role("alert", name="Success")


def _date(page, name: str, day: str, month: str, year: str) -> None:
    page.locator(f"#{name}-day").fill(day)
    page.locator(f"#{name}-month").fill(month)
    page.locator(f"#{name}-year").fill(year)


def test_an_assessor_records_members_checks_and_a_session(
    chromium, live_server, sqlite_url, sign_in, serious_violations
):
    from tests.browser.test_journeys import submit_enquiry

    context = chromium.new_context(bypass_csp=True)  # axe is injected on each page below
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: dict[str, list] = {}

    def check_axe(name: str) -> None:
        found = serious_violations(page)
        if found:
            problems[name] = found

    submit_enquiry(page, live_server, "Rowan", "Achebe")
    household_id = _in_stage_one(sqlite_url)

    sign_in(page, live_server, ASSESSOR, DEMO_PASSWORD)
    caseload = page.get_by_role("table", name="Households I am assessing")
    check_axe("home")
    caseload.get_by_role("link", name="Rowan Achebe").click()
    page.get_by_role("heading", name="Assessment", exact=True).wait_for()
    page.get_by_text("Stage one cannot be completed until").wait_for()
    check_axe("household page")

    page.get_by_role("button", name="Add the applicants (Rowan Achebe)").click()
    (
        page.get_by_role("alert", name="Success")
        .get_by_text("1 applicant added to the household")
        .wait_for()
    )

    # A birth child, first with a date of birth in the future.
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Birth child").check()
    page.get_by_label("First name").fill("Tobi")
    page.get_by_label("Last name").fill("Achebe")
    _date(page, "date_of_birth", "4", "5", "2099")
    page.get_by_label("Relationship to the applicants (optional)").fill("son")
    page.get_by_role("button", name="Save").click()
    (page.get_by_role("alert").get_by_text("Date of birth must be today or in the past").wait_for())
    assert page.get_by_label("First name").input_value() == "Tobi"
    assert page.locator("#date_of_birth-year").input_value() == "2099"
    check_axe("member form with errors")
    page.locator("#date_of_birth-year").fill("2015")
    page.get_by_role("button", name="Save").click()
    (
        page.get_by_role("alert", name="Success")
        .get_by_text("Person added to the household")
        .wait_for()
    )
    people = page.get_by_role("table", name="People in the household")
    people.get_by_role("cell", name="Tobi Achebe son").wait_for()

    # A check received before it was requested, then put right.
    page.get_by_role("link", name="Record a check").first.click()
    page.get_by_label("Check", exact=True).select_option(
        label="Local authority check (current area)"
    )
    page.get_by_label("Who it is for").select_option(label="Rowan Achebe")
    _date(page, "requested_on", "9", "3", "2026")
    _date(page, "received_on", "2", "3", "2026")
    page.get_by_label("Clear").check()
    page.get_by_label("Notes (optional)").fill("No concerns known")
    page.get_by_role("button", name="Save check").click()
    (
        page.get_by_role("alert")
        .get_by_text("Date received must be on or after the date it was requested")
        .wait_for()
    )
    assert page.get_by_label("Notes (optional)").input_value() == "No concerns known"
    check_axe("check form with errors")
    _date(page, "received_on", "", "", "")
    page.get_by_label("Not received yet").check()
    page.get_by_role("button", name="Save check").click()
    success(page).get_by_text("Check recorded").wait_for()
    outstanding = page.get_by_role("table", name="Checks requested and not yet received")
    la_check = outstanding.get_by_role("link", name="Local authority check (current area)")
    la_check.wait_for()

    # An assessment session, booked in a free slot, then written up once it has happened.
    page.get_by_role("link", name="Book an assessment session").click()
    first_slot = page.locator("input[name='slot']").first
    first_slot.check()
    page.get_by_role("button", name="Book visit").click()
    (page.get_by_role("alert", name="Success").get_by_text("Assessment session booked").wait_for())
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        visit = session.exec(
            select(m.Appointment).where(
                m.Appointment.household_id == household_id,
                m.Appointment.kind == m.AppointmentKind.ASSESSMENT_SESSION,
            )
        ).one()
        starts_at = visit.starts_at
    engine.dispose()
    clock.set_now(starts_at + timedelta(hours=2))
    # Days later: the sign-in has long expired.
    sign_in(page, live_server, ASSESSOR, DEMO_PASSWORD)
    page.goto(f"{live_server}/households/{household_id}")
    page.get_by_role("link", name=re.compile("^Write up the session")).click()
    check_axe("session notes form")
    page.get_by_label("Held as planned").check()
    page.get_by_label("What the session covered").fill("Rowan's childhood and support network")
    page.get_by_role("button", name="Save notes").click()
    success(page).get_by_text("Session notes saved").wait_for()
    page.get_by_text("Rowan's childhood and support network").wait_for()
    page.get_by_text(re.compile("Assessment session notes added by")).wait_for()
    check_axe("household page after the session")
    context.close()
    assert problems == {}
