"""Keeping carers in the browser: a supervising social worker adds a placement, records a
supervision visit with notes and an action and an annual review that changes the terms; a
manager searches for a carer for two siblings aged 6 and 9 and finds the right household
first; a supervising social worker takes a break for a carer and records a notice, then
withdraws it; a manager deactivates a supervising social worker and their caseload moves.
Axe-core finds nothing serious on any of the pages."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

import crm.models as m
from crm import clock
from crm.db import make_engine
from crm.demo.organisation import DEMO_PASSWORD

SUPERVISOR = "supervisor@example.org"
MANAGER = "manager@example.org"


def _carer(session: Session, area: m.Area, postcode: str, name: str, supervisor_id: int, **terms):  # noqa: ANN003
    now = clock.now()
    household = m.Household(
        reference=f"KC-{name}", area_id=area.id, postcode=postcode, enquiry_channel="web_form",
        stage=m.Stage.APPROVED, enquired_at=now,
    )  # fmt: skip
    session.add(household)
    session.flush()
    session.add(m.Applicant(household_id=household.id, first_name=name, last_name="Keeping"))
    carer = m.Carer(
        household_id=household.id, approved_on=now.date().replace(year=now.year - 2),
        supervising_social_worker_id=supervisor_id, **terms,
    )  # fmt: skip
    session.add(carer)
    session.flush()
    return carer


@pytest.fixture
def keeping(live_server, sqlite_url):
    """Hand-built carers in a Harrowdale district no demo carer lives in."""
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        area = session.exec(select(m.Area).where(m.Area.name == "Harrowdale")).one()
        supervisor = session.exec(select(m.StaffUser).where(m.StaffUser.email == SUPERVISOR)).one()
        used = {
            (p or "").split(" ")[0]
            for p in session.exec(
                select(m.Household.postcode).join(m.Carer, m.Carer.household_id == m.Household.id)
            ).all()
        }
        districts = session.exec(
            select(m.AreaPostcodeDistrict.district).where(m.AreaPostcodeDistrict.area_id == area.id)
        ).all()
        district = next(d for d in sorted(districts) if d not in used)
        journey = _carer(
            session, area, f"{district} 1AB", "Jordan", supervisor.id, places=2, age_min=0,
            age_max=10, fostering_types=["short_term"],
        )  # fmt: skip
        right = _carer(
            session, area, f"{district} 2AB", "Riley", supervisor.id, places=2, age_min=4,
            age_max=12, fostering_types=["short_term", "long_term"],
            specialisms=["sibling_groups"],
        )  # fmt: skip
        session.commit()
        ids = {"journey": journey.id, "right": right.id, "district": district}
    engine.dispose()
    return ids


def _date(page, name: str, day) -> None:  # noqa: ANN001
    page.fill(f"#{name}-day", str(day.day))
    page.fill(f"#{name}-month", str(day.month))
    page.fill(f"#{name}-year", str(day.year))


def test_supervising_social_worker_and_manager_journey(
    axe_page, live_server, keeping, sign_in, serious_violations
):
    page = axe_page
    today = clock.now().date()
    sign_in(page, live_server, SUPERVISOR, DEMO_PASSWORD)
    carer_url = f"{live_server}/carers/{keeping['journey']}"
    page.goto(carer_url)
    assert serious_violations(page) == []

    # A placement, first refused (ending before it started is the end form's; here: no age).
    page.get_by_role("link", name="Add a placement").click()
    page.get_by_label("Child's reference").fill("LA-77120")
    page.get_by_label("Placing local authority").fill("Kingsmere")
    page.get_by_label("Type of fostering").select_option("short_term")
    page.get_by_label("Emergency").check()
    _date(page, "started_on", today)
    page.get_by_role("button", name="Add placement").click()
    summary = page.locator(".govuk-error-summary")
    assert "Enter the child's age in years" in summary.inner_text()
    assert page.get_by_label("Child's reference").input_value() == "LA-77120"
    assert serious_violations(page) == []
    page.get_by_label("Child's age in years").fill("7")
    page.get_by_role("button", name="Add placement").click()
    page.wait_for_url(carer_url)
    assert "Placement added" in page.content() and "LA-77120" in page.content()

    # A supervision visit with notes, what the carer raised and an action.
    page.get_by_role("link", name="Record a supervision visit").click()
    _date(page, "visited_on", today)
    page.get_by_label("Unannounced").check()
    page.get_by_label("What the visit found").fill("The new arrival is settling in well.")
    page.get_by_label("What the carer raised (optional)").fill("Needs a second car seat")
    page.get_by_label("Actions (optional)").fill("Order a car seat")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Record visit").click()
    page.wait_for_url(carer_url)
    body = page.content()
    assert "The new arrival is settling in well." in body and "Needs a second car seat" in body

    # An annual review that changes the terms: three places from now on.
    page.get_by_role("link", name="Record an annual review").click()
    _date(page, "reviewed_on", today)
    page.get_by_label("Approval continues", exact=True).check()
    page.get_by_label("Approved places").fill("3")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Record review").click()
    page.wait_for_url(carer_url)
    assert "approval terms changed" in page.content()
    assert re.search(r"3 children, aged 0 to 10", page.content())
    page.get_by_role("button", name=re.compile("^Sign out")).click()
    page.wait_for_url(re.compile(r"/sign-in"))

    # The manager finds the right household for two siblings aged 6 and 9 first.
    sign_in(page, live_server, MANAGER, DEMO_PASSWORD)
    page.goto(f"{live_server}/carers")
    page.get_by_role("link", name="Find a carer for a child").click()
    page.get_by_label("Age of each child").fill("6, 9")
    page.get_by_label("Where the child lives").fill(keeping["district"])
    page.get_by_role("button", name="Search").click()
    first = page.locator("ol.app-matches > li").first
    assert "Riley Keeping" in first.inner_text()
    assert "Same postcode district" in first.inner_text()
    assert "Offers sibling groups" in first.inner_text()
    assert serious_violations(page) == []


def test_a_break_then_a_notice_withdrawn_in_the_browser(
    axe_page, live_server, keeping, sign_in, serious_violations
):
    page = axe_page
    today = clock.now().date()
    sign_in(page, live_server, SUPERVISOR, DEMO_PASSWORD)
    carer_url = f"{live_server}/carers/{keeping['right']}"
    page.goto(carer_url)

    # A break: refused without a reason (what was typed stays), then started and ended.
    page.get_by_role("link", name="Start a break from fostering").click()
    _date(page, "started_on", today)
    _date(page, "expected_end_on", today.replace(year=today.year + 1))
    page.get_by_role("button", name="Start the break").click()
    assert (
        "Say why the carer is taking a break" in page.locator(".govuk-error-summary").inner_text()
    )
    assert page.locator("#started_on-day").input_value() == str(today.day)
    assert serious_violations(page) == []
    page.get_by_label("Why are they taking a break?").fill("A family wedding abroad")
    page.get_by_role("button", name="Start the break").click()
    page.wait_for_url(carer_url)
    assert "On a break since" in page.content() and "A family wedding abroad" in page.content()
    assert serious_violations(page) == []
    page.get_by_role("link", name="Record that they resumed fostering").click()
    _date(page, "ended_on", today)
    page.get_by_role("button", name="Record that they resumed").click()
    page.wait_for_url(carer_url)
    assert "Past breaks" in page.content()

    # Notice with the exit conversation, then withdrawn.
    page.get_by_role("link", name="Record the carer's notice").click()
    _date(page, "notice_given_on", today)
    page.get_by_label("Why are they leaving?").select_option("other")
    page.get_by_role("button", name="Record the notice").click()
    assert "in the carer's words" in page.locator(".govuk-error-summary").inner_text()
    assert serious_violations(page) == []
    page.get_by_label("In the carer's words (needed for 'Other')").fill("Moving to the coast")
    _date(page, "exit_on", today)
    page.get_by_label("What was said").fill("Would stay if the hub were nearer")
    page.get_by_role("button", name="Record the notice").click()
    page.wait_for_url(carer_url)
    assert "Notice recorded: the approval ends on" in page.content()
    assert "Would stay if the hub were nearer" in page.content()
    page.get_by_role("link", name="Withdraw the notice").click()
    _date(page, "withdrawn_on", today)
    page.get_by_label("Why are they staying?").fill("A house move fell through")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Withdraw the notice").click()
    page.wait_for_url(carer_url)
    assert "Notice withdrawn: the carer stays approved" in page.content()
    assert "A house move fell through" in page.content()


def test_deactivating_a_supervising_social_worker_moves_their_caseload(
    axe_page, live_server, keeping, sign_in, serious_violations, sqlite_url
):
    from crm.services.actors import Actor
    from crm.services.staff import create_staff_user

    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        leaver = create_staff_user(
            session, Actor.system("test"), email="sasha.leaving@example.org",
            name="Sasha Leaving", role=m.Role.SUPERVISING_SOCIAL_WORKER, password=DEMO_PASSWORD,
            area_names=["Harrowdale"],
        )  # fmt: skip
        carer = session.get(m.Carer, keeping["journey"])
        carer.supervising_social_worker_id = leaver.id
        session.add(carer)
        session.commit()
        leaver_id = leaver.id
        taker = session.exec(select(m.StaffUser).where(m.StaffUser.email == SUPERVISOR)).one()
        taker_id, taker_name = taker.id, taker.name
    engine.dispose()

    page = axe_page
    sign_in(page, live_server, MANAGER, DEMO_PASSWORD)
    page.goto(f"{live_server}/caseloads/{leaver_id}/deactivate")
    assert "Sasha Leaving still holds 1 carer" in page.content()
    assert serious_violations(page) == []
    page.get_by_label("One colleague for everything").select_option(str(taker_id))
    page.get_by_role("button", name="Move their work and deactivate").click()
    page.wait_for_url(re.compile(r"/caseloads$"))
    assert "Sasha Leaving is deactivated and their work has moved" in page.content()
    page.goto(f"{live_server}/carers/{keeping['journey']}")
    assert taker_name in page.locator(".govuk-summary-list").first.inner_text()
