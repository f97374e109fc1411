"""The import wizard in a real browser: a manager uploads a team's tracker, maps two columns
and two source values, checks it, imports it, and the annual figures count what came in."""

from __future__ import annotations

from crm.demo.organisation import DEMO_PASSWORD

MANAGER = "manager@example.org"
# 2019-20 is before anything the demo data holds, so the year's figures are this file's alone:
# 3 enquiries; N-2 withdrew (at the initial visit stage); none applied.
TRACKER = (
    "Harrowdale enquiries 2019,,,,,,,,\n"
    "Ref,Date of enquiry,Name,Email,Postcode,How heard,Visited on,Gave up on,Withdrawal reason\n"
    "N-1,06/05/2019,Kim Lee,kim.lee@example.org,LE1 6ZG,Insta,20/05/2019,,\n"
    "N-2,13/05/2019,Al Ng,al.ng@example.org,LE2 1AA,Leaflet thru door,27/05/2019,10/06/2019,"
    "Moving house\n"
    "N-3,20/05/2019,Bo Day,bo.day@example.org,LE3 1AA,Insta,,,\n"
)


def _count(page, table: str, row: str) -> str:
    cells = page.locator(f"#table-{table} tr", has=page.locator(f"th:text-is('{row}')"))
    return cells.locator("td").first.inner_text().strip()


def test_upload_map_check_and_import_a_tracker(
    page, axe_page, live_server, sign_in, serious_violations, tmp_path
):
    tracker = tmp_path / "harrowdale-2019.csv"
    tracker.write_text(TRACKER, encoding="utf-8")
    sign_in(page, live_server, MANAGER, DEMO_PASSWORD)
    page.get_by_role("link", name="Import").click()
    page.get_by_label("The tracker file").set_input_files(str(tracker))
    page.get_by_role("button", name="Upload and continue").click()

    # Two columns of dates the importer does not know stop it until they are mapped.
    page.get_by_text("Not ready to import yet").wait_for()
    page.get_by_label("Read column G (Visited on) as").select_option("initial_visit_date")
    page.get_by_label("Read column H (Gave up on) as").select_option("withdrawn_date")
    page.get_by_role("button", name="Apply these choices").click()

    # Then the two sources the CRM's list does not have.
    page.get_by_label("Source Insta means").select_option("social_media")
    page.get_by_label("Source Leaflet thru door means").select_option("other")
    page.get_by_role("button", name="Check (dry run)").click()
    summary = page.locator("#summary").inner_text()
    assert "3 rows read; would create 3, update 0, leave 0 unchanged" in summary
    wizard_url = page.url

    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_role("heading", name="Tracker imported").wait_for()
    assert "3 created" in page.locator(".govuk-panel__body").inner_text()

    page.goto(f"{live_server}/reports/annual/2019")
    assert _count(page, "annual_counts", "Enquiries") == "3"
    assert _count(page, "annual_counts", "Applications") == "0"
    withdrew = page.locator("#table-leaving_by_stage tr", has=page.get_by_text("Initial visit"))
    assert withdrew.locator("td").first.inner_text().strip() == "1"

    # The wizard's pages have no serious accessibility problems.
    sign_in(axe_page, live_server, MANAGER, DEMO_PASSWORD)
    axe_page.goto(f"{live_server}/imports")
    assert serious_violations(axe_page) == []
    axe_page.get_by_label("The tracker file").set_input_files(str(tracker))
    axe_page.get_by_role("button", name="Upload and continue").click()
    # The same layout again: mapped as last time, nothing left to ask.
    axe_page.get_by_text("mapped as they were for the last file").wait_for()
    assert axe_page.get_by_text("Not ready to import yet").count() == 0
    assert serious_violations(axe_page) == []
    assert wizard_url != axe_page.url  # a new upload, a new address
    # And a layout it has not seen, with the columns still to map shown as errors.
    other = tmp_path / "other.csv"
    other.write_text(TRACKER.replace("Gave up on", "Left on"), encoding="utf-8")
    axe_page.goto(f"{live_server}/imports")
    axe_page.get_by_label("The tracker file").set_input_files(str(other))
    axe_page.get_by_role("button", name="Upload and continue").click()
    axe_page.get_by_text("Not ready to import yet").wait_for()
    assert serious_violations(axe_page) == []
