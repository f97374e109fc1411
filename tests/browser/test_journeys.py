"""End to end in a real browser: every demo role signs in; a public enquiry reaches the board,
moves to initial visit and gets a visit in a free slot, both on the timeline; refusals and
form errors; no serious accessibility problems on the main pages."""

import re

import pytest

from crm.demo.organisation import DEMO_LOGINS, DEMO_PASSWORD

OFFICER = "officer.harrowdale@example.org"


def test_every_demo_role_signs_in_and_out(page, live_server, sign_in):
    for email, _label in DEMO_LOGINS:
        sign_in(page, live_server, email, DEMO_PASSWORD)
        assert page.get_by_role("heading", level=1).inner_text().startswith("Hello")
        page.get_by_role("button", name=re.compile("^Sign out")).click()
        page.wait_for_url(re.compile(r"/sign-in$"))
        assert page.get_by_text("You have signed out.").is_visible()
    assert page.csp_errors == []


def submit_enquiry(page, base: str, first: str, last: str) -> None:
    page.goto(f"{base}/enquire")
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Email address").fill(f"{first.lower()}.{last.lower()}@example.com")
    page.get_by_label("Postcode").fill("LE1 6ZG")
    page.get_by_label("Fostering teenagers").check()
    page.get_by_label("How did you hear about us?").select_option(label="Social media")
    page.get_by_label("I have read the privacy notice").check()
    page.get_by_role("button", name="Send enquiry").click()
    page.wait_for_url(re.compile(r"/enquire/thank-you/"))


def test_enquiry_to_board_to_initial_visit(page, live_server, sign_in):
    submit_enquiry(page, live_server, "Juniper", "Okafor")
    assert page.get_by_role("heading", name="Thank you for your enquiry").is_visible()
    assert page.get_by_role("heading", name="Book an initial visit now").is_visible()

    sign_in(page, live_server, OFFICER, DEMO_PASSWORD)
    page.get_by_role("link", name="Pipeline").click()
    enquiry_column = page.locator("section[aria-labelledby='col-enquiry']")
    card = enquiry_column.locator(".app-board__card", has_text="Juniper Okafor")
    assert card.is_visible()
    card.get_by_label("Move Juniper Okafor to").select_option("initial_visit")
    card.get_by_role("button", name=re.compile("^Move")).click()
    assert page.get_by_text("Juniper Okafor moved to Initial visit").is_visible()
    visit_column = page.locator("section[aria-labelledby='col-initial_visit']")
    visit_column.get_by_role("link", name="Juniper Okafor").click()

    assert page.get_by_role("heading", name="Juniper Okafor").is_visible()
    page.get_by_role("link", name="Book a visit").click()
    first_slot = page.locator("input[name='slot']").first
    slot_label = page.locator(f"label[for='{first_slot.get_attribute('id')}']").inner_text()
    first_slot.check()
    # A visit at home: the address is asked for (filled in from the record, to confirm).
    page.get_by_label("Address of the visit").fill("1 Elm Road, Harrowdale")
    page.get_by_role("button", name="Book visit").click()
    assert page.get_by_text("Initial visit booked").first.is_visible()

    timeline = page.locator(".moj-timeline")
    assert timeline.get_by_text("Moved from Enquiry to Initial visit").is_visible()
    assert timeline.get_by_text("Initial visit booked").is_visible()
    upcoming_day = slot_label.split(" ")[1]  # "Wed 11 Mar, 9:30am to 11am with ..." -> "11"
    assert page.get_by_text(re.compile(rf"\b{upcoming_day} Mar 2026")).first.is_visible()
    assert page.csp_errors == []


def test_recruitment_officer_is_refused_the_audit_log(page, live_server, sign_in):
    sign_in(page, live_server, OFFICER, DEMO_PASSWORD)
    assert page.get_by_role("link", name="Audit log").count() == 0
    response = page.goto(f"{live_server}/audit")
    assert response.status == 403
    assert page.get_by_role("heading", name="You do not have access to this page").is_visible()


def test_bad_input_shows_errors_and_keeps_the_input(page, live_server):
    page.goto(f"{live_server}/enquire")
    page.get_by_label("First name").fill("Rowan")
    page.get_by_label("Email address").fill("rowan-at-example")
    page.get_by_label("Postcode").fill("LE1 6ZG")
    page.get_by_label("Anything else").fill("We foster dogs already")
    page.get_by_role("button", name="Send enquiry").click()
    summary = page.locator(".govuk-error-summary")
    assert summary.is_visible()
    assert summary.get_by_text("Enter your last name").is_visible()
    assert summary.get_by_text("Tick the box to agree").is_visible()
    # GOV.UK Frontend moves focus to the error summary so screen readers announce it.
    assert page.evaluate("document.activeElement.classList.contains('govuk-error-summary')")
    assert page.get_by_label("First name").input_value() == "Rowan"
    assert page.get_by_label("Email address").input_value() == "rowan-at-example"
    assert page.get_by_label("Anything else").input_value() == "We foster dogs already"
    # Clicking an error takes you to the field.
    summary.get_by_role("link", name="Enter your last name").click()
    assert page.evaluate("document.activeElement.id") == "last_name"


@pytest.mark.parametrize("where", ["enquiry form", "board", "household page", "carers list"])
def test_no_serious_accessibility_problems(
    axe_page, live_server, where, sign_in, serious_violations
):
    page = axe_page
    if where == "enquiry form":
        page.goto(f"{live_server}/enquire")
        page.get_by_role("button", name="Send enquiry").click()  # with its error state too
    else:
        email = "manager@example.org"
        sign_in(page, live_server, email, DEMO_PASSWORD)
        if where == "board":
            page.goto(f"{live_server}/pipeline")
        elif where == "household page":
            page.goto(f"{live_server}/households?sort=updated_desc")
            page.locator("table a.govuk-link").first.click()
            page.wait_for_url(re.compile(r"/households/\d+$"))
        else:
            page.goto(f"{live_server}/carers?status=all")
            assert page.locator("table").count() == 2  # places filled today, the carers
    assert serious_violations(page) == []


def test_the_accessibility_check_can_fail(axe_page, live_server, serious_violations):
    # A control: break the page on purpose and the same check must report it.
    axe_page.goto(f"{live_server}/privacy")
    axe_page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend',"
        ' \'<img src="/assets/images/icon-search-black.svg"><input type="text">\')'
    )
    found = {v["id"] for v in serious_violations(axe_page)}
    assert {"image-alt", "label"} <= found
