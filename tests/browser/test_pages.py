"""In a real browser: banners read as words (not markup), the move page reveals only the
chosen stage's reasons (and shows them all, grouped, without JavaScript), htmx keeps no copy
of search results in the browser's storage, and the favicon loads under our CSP."""

import re

from crm.demo.organisation import DEMO_PASSWORD
from tests.browser.test_journeys import OFFICER, submit_enquiry

MANAGER = "manager@example.org"


def open_household(page, base: str, name: str) -> None:
    page.goto(f"{base}/households?q={name.split()[-1]}")
    page.get_by_role("link", name=name).click()
    page.wait_for_url(re.compile(r"/households/\d+$"))


def test_the_success_banner_reads_as_words(page, live_server, sign_in):
    submit_enquiry(page, live_server, "Bea", "Banner")
    panel = page.locator(".govuk-panel__body")
    assert re.fullmatch(r"Your reference\s+FC-[A-Z0-9-]+", panel.inner_text().strip())
    assert panel.locator("strong").count() == 1
    sign_in(page, live_server, OFFICER, DEMO_PASSWORD)
    open_household(page, live_server, "Bea Banner")
    page.get_by_role("link", name="Log a call").click()
    page.get_by_label("Spoke", exact=True).check()
    page.get_by_label("Summary").fill("Talked it through")
    page.get_by_role("button", name="Log call").click()
    content = page.locator(".govuk-notification-banner__content")
    assert content.inner_text().strip() == "Call logged"
    assert "<" not in page.locator("main").inner_text()
    assert page.csp_errors == []


def test_the_move_page_reveals_the_reasons_for_the_chosen_stage(page, live_server, sign_in):
    submit_enquiry(page, live_server, "Mo", "Mover")
    sign_in(page, live_server, OFFICER, DEMO_PASSWORD)
    open_household(page, live_server, "Mo Mover")
    page.get_by_role("link", name="Move stage").click()
    withdrawing = page.get_by_label("Why are they withdrawing?")
    holding = page.get_by_label("Why is it on hold? (optional)")
    assert not withdrawing.is_visible() and not holding.is_visible()
    page.get_by_label("Withdrawn", exact=True).check()
    assert withdrawing.is_visible() and not holding.is_visible()
    page.get_by_label("On hold", exact=True).check()
    assert holding.is_visible() and not withdrawing.is_visible()
    page.get_by_label("Withdrawn", exact=True).check()
    withdrawing.select_option(index=1)
    page.get_by_role("button", name="Move household").click()
    assert page.get_by_text("Moved to Withdrawn").is_visible()
    assert page.csp_errors == []


def test_without_javascript_every_stage_shows_its_reasons(chromium, live_server, sign_in):
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server, MANAGER, DEMO_PASSWORD)
        page.goto(f"{live_server}/households?stage=enquiry")
        page.locator("table a.govuk-link").first.click()
        page.wait_for_url(re.compile(r"/households/\d+$"))
        page.get_by_role("link", name="Move stage").click()
        for label in ("Why are they withdrawing?", "Why are we not progressing it?"):
            assert page.get_by_label(label).is_visible(), label
    finally:
        context.close()


def test_htmx_keeps_no_search_results_in_the_browser(page, live_server, sign_in):
    submit_enquiry(page, live_server, "Hester", "Historia")
    submit_enquiry(page, live_server, "Ivo", "Storageson")
    sign_in(page, live_server, MANAGER, DEMO_PASSWORD)
    page.goto(f"{live_server}/households")
    search = page.get_by_label("Search by name, email, phone, postcode or reference")
    results = page.locator("#results")
    # Two searches answered by htmx in the same page, each pushed to the history.
    search.fill("Historia")
    page.wait_for_url(re.compile(r"q=Historia"))
    results.get_by_role("link", name="Hester Historia").wait_for()
    search.fill("Storageson")
    page.wait_for_url(re.compile(r"q=Storageson"))
    results.get_by_role("link", name="Ivo Storageson").wait_for()
    stored = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    # No copy of the results (their names): only the address searched, as in the history.
    assert "Hester" not in stored and "Ivo" not in stored
    assert page.evaluate("() => sessionStorage.getItem('htmx-history-cache')") is None
    # Going back still shows the earlier search, as a whole page from the server.
    page.go_back()
    page.wait_for_url(re.compile(r"q=Historia"))
    page.locator("#results").get_by_role("link", name="Hester Historia").wait_for()
    assert page.locator("main").count() == 1 and page.locator("h1").count() == 1
    assert page.csp_errors == []


def test_the_favicon_loads_under_the_csp(page, live_server):
    page.goto(f"{live_server}/enquire")
    href = page.locator("link[rel=icon]").get_attribute("href")
    assert href == "/assets/favicon.svg"
    kind = page.evaluate(
        "async (url) => (await fetch(url)).headers.get('content-type')", f"{live_server}{href}"
    )
    assert kind.startswith("image/svg+xml")
    assert page.csp_errors == []


def test_the_changed_forms_have_no_serious_accessibility_problems(
    axe_page, live_server, sign_in, serious_violations
):
    page = axe_page
    sign_in(page, live_server, MANAGER, DEMO_PASSWORD)
    page.goto(f"{live_server}/households?stage=enquiry")
    page.locator("table a.govuk-link").first.click()
    page.wait_for_url(re.compile(r"/households/\d+$"))
    household = page.url
    checked = []

    def problems() -> list[dict]:
        # GOV.UK Frontend's conditional reveals set aria-expanded on the radio that reveals
        # (its own, assistive-technology-tested pattern), which axe's aria-allowed-attr reports
        # for role radio: only that exact case is set aside, any other finding counts.
        found = []
        for violation in serious_violations(page):
            targets = [t[0] for t in violation["nodes"]]
            known = violation["id"] == "aria-allowed-attr" and all(
                page.locator(t).evaluate(
                    "e => e.matches('.govuk-radios__input[aria-expanded][aria-controls]')"
                )
                for t in targets
            )
            if not known:
                found.append(violation)
        return found

    for path in ("/move", "/task", "/visits/book"):
        page.goto(household + path)
        page.get_by_role(
            "button", name=re.compile("^(Move household|Create task|Book visit)$")
        ).click()
        checked.append((path, problems()))  # with the error state
    page.goto(f"{live_server}/carers?status=all")
    page.locator("table a.govuk-link").first.click()
    checked.append(("carer", problems()))
    page.goto(f"{live_server}/audit?from=31&from=2&from=2026")
    checked.append(("audit", problems()))
    assert [c for c in checked if c[1]] == []
