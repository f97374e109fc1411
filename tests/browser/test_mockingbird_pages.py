"""The Mockingbird pages in a real browser: no serious accessibility problem, on the list, the
form and the form showing its errors."""

from __future__ import annotations

from crm.demo.organisation import DEMO_PASSWORD


def test_mockingbird_pages_have_no_serious_accessibility_problems(
    axe_page, live_server, sign_in, serious_violations
):
    sign_in(axe_page, live_server, "manager@example.org", DEMO_PASSWORD)
    axe_page.goto(f"{live_server}/carers")
    axe_page.get_by_role("link", name="Mockingbird constellations").click()
    axe_page.get_by_role("heading", name="Do carers in a constellation stay?").wait_for()
    assert serious_violations(axe_page) == []
    axe_page.get_by_role("link", name="Start a constellation").click()
    assert serious_violations(axe_page) == []
    axe_page.get_by_role("button", name="Start the constellation").click()
    axe_page.get_by_text("Enter a name for the constellation").first.wait_for()
    assert axe_page.title().startswith("Error:")
    assert serious_violations(axe_page) == []
