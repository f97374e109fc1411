"""The weekly report in the web CRM: who may see it, what the page carries, and in a real
browser, that it loads under the CRM's Content Security Policy, prints and passes axe."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

import crm.models as m
from crm.services.actors import Actor
from crm.services.staff import create_staff_user
from crm.testing.fixtures import TEST_PASSWORD
from crm.web import create_app
from tests.funnel.helpers import at, make_history

SECRET = "funnel-view-test-secret-0123456789"
_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
PNG = b"\x89PNG\r\n\x1a\n"
AXE = Path(__file__).resolve().parents[2] / "browser" / "vendor" / "axe.min.js"


def make_app(settings, engine):
    app = create_app(settings, engine=engine, secret_key=SECRET)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(settings, engine, org, session):
    make_history(
        session, settings, first_name="Pat", enquired_at=at("2026-03-03"),
        moves=[(at("2026-03-05"), "withdrawn", "space")],
    )  # fmt: skip
    make_history(
        session, settings, first_name="Sam", enquired_at=at("2026-03-04"), postcode="NG1 1AA",
        source_key="event",
    )  # fmt: skip
    return make_app(settings, engine)


def signed_in(app, user: m.StaffUser, password: str = TEST_PASSWORD):
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = _TOKEN.search(page).group(1)
    response = client.post(
        "/sign-in", data={"email": user.email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def test_manager_sees_the_last_full_week(app, org):
    client = signed_in(app, org.manager)
    response = client.get("/reports")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/reports/weekly/2026-W10")
    # Stray query arguments are dropped, not forwarded into url_for.
    odd = client.get("/reports?week=x&_external=1&area=Northshire")
    assert odd.status_code == 302
    assert odd.headers["Location"].endswith("/reports/weekly/2026-W10?area=Northshire")
    page = client.get("/reports/weekly/2026-W10")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Fostering recruitment and retention: weekly report" in html
    assert "2 enquiries this week" in html
    assert 'href="/reports/assets/weekly_report.css"' in html
    assert ">Reports<" in html  # the CRM's navigation now shows the reports
    charts = re.findall(r'<img src="(/reports/weekly/2026-W10/[a-z_]+\.png)" alt="([^"]+)"', html)
    assert len(charts) == 7
    for src, alt in charts:
        image = client.get(src)
        assert image.status_code == 200 and image.mimetype == "image/png"
        assert image.data.startswith(PNG) and alt
    table = client.get("/reports/weekly/2026-W10.csv")
    assert table.mimetype == "text/csv"
    assert table.headers["Content-Disposition"] == (
        'attachment; filename="weekly-report-2026-W10.csv"'
    )
    assert "Headline numbers" in table.get_data(as_text=True)
    css = client.get("/reports/assets/weekly_report.css")
    assert css.status_code == 200 and b"@media print" in css.data
    assert "no-store" in page.headers["Cache-Control"]


def test_only_managers_and_admins(app, org):
    anonymous = app.test_client().get("/reports/weekly/2026-W10")
    assert anonymous.status_code == 302 and "/sign-in" in anonymous.headers["Location"]
    for user in (org.officer_north, org.assessor_north, org.supervisor_north):
        client = signed_in(app, user)
        assert client.get("/reports/weekly/2026-W10").status_code == 403
        assert client.get("/reports/weekly/2026-W10/funnel.png").status_code == 403
        assert client.get("/reports/weekly/2026-W10.csv").status_code == 403
    assert signed_in(app, org.admin).get("/reports/weekly/2026-W10").status_code == 200


def test_unknown_weeks_and_charts_are_not_found(app, org):
    client = signed_in(app, org.manager)
    assert client.get("/reports/weekly/2026-W99").status_code == 404
    assert client.get("/reports/weekly/last-week").status_code == 404
    assert client.get("/reports/weekly/2026-W12").status_code == 404  # not started yet
    assert client.get("/reports/weekly/2026-W10/secrets.png").status_code == 404
    page = client.get("/reports/weekly/2026-W09").get_data(as_text=True)
    assert 'href="/reports/weekly/2026-W10"' in page  # next week link
    assert "2026-W11" not in page  # two weeks on: only the next week is linked
    assert "not over yet" not in page


def test_a_week_still_going_says_so_before_and_after_the_link(app, org):
    client = signed_in(app, org.manager)
    last_full = client.get("/reports/weekly/2026-W10").get_data(as_text=True)
    assert "Next week (2026-W11, not over yet: figures so far)" in last_full
    assert "This week is not over yet" not in last_full
    going = client.get("/reports/weekly/2026-W11").get_data(as_text=True)
    assert "This week is not over yet." in going and "figures so far, as at" in going


def test_case_references_link_to_the_household_and_the_area_is_a_form(app, org, session, settings):
    stalled = make_history(
        session, settings, first_name="Uma", enquired_at=at("2025-06-02"),
        moves=[(at("2025-06-20"), "initial_visit", None), (at("2025-07-01"), "application", None),
               (at("2025-08-01"), "stage_one", None)],
    )  # fmt: skip
    client = signed_in(app, org.manager)
    html = client.get("/reports/weekly/2026-W10").get_data(as_text=True)
    link = f'<a href="/households/{stalled.id}">{stalled.reference}</a>'
    assert link in html  # in the stalled cases, the panel deadlines and the top actions
    assert html.count(link) >= 3
    assert client.get(f"/households/{stalled.id}").status_code == 200
    # The area filter is a real form: a labelled select sending ?area=NAME to the same week.
    assert (
        '<form class="fr-no-print fr-area-filter" method="get" action="/reports/weekly/2026-W10">'
        in html
    )
    assert '<label class="govuk-label govuk-label--s" for="filter-area">Area</label>' in html
    assert '<option value="Northshire" >Northshire</option>' in html
    narrowed = client.get("/reports/weekly/2026-W10?area=Southshire").get_data(as_text=True)
    assert '<option value="Southshire" selected>Southshire</option>' in narrowed
    assert stalled.reference not in narrowed  # Uma lives in Northshire


def test_a_manager_of_one_area_sees_only_that_area(app, org, session):
    south_manager = create_staff_user(
        session, Actor.system("test"), email="south.manager@test.example", name="South Manager",
        role="manager", password=TEST_PASSWORD, area_names=["Southshire"],
    )  # fmt: skip
    client = signed_in(app, south_manager)
    html = client.get("/reports/weekly/2026-W10").get_data(as_text=True)
    assert "Southshire" in html and "1 enquiry this week" in html
    assert client.get("/reports/weekly/2026-W10?area=Northshire").status_code == 404
    hub = signed_in(app, org.manager)
    narrowed = hub.get("/reports/weekly/2026-W10?area=Northshire").get_data(as_text=True)
    assert "1 enquiry this week" in narrowed
    assert "/reports/weekly/2026-W10/funnel.png?area=Northshire" in narrowed


# -- in a real browser --------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_in_chromium_under_the_csp_printable_and_accessible(app, org, chromium, tmp_path):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        csp_errors = []
        page.on(
            "console",
            lambda msg: (
                csp_errors.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        page.goto(f"{base}/sign-in")
        page.get_by_label("Email address").fill(org.manager.email)
        page.get_by_label("Password", exact=True).fill(TEST_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/home")
        page.goto(f"{base}/reports")
        page.wait_for_url(f"{base}/reports/weekly/2026-W10")
        page.wait_for_load_state("networkidle")
        loaded = page.eval_on_selector_all(
            "figure img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
        )
        assert loaded == [True] * 7
        # Our stylesheet applied (the summary box has its left border).
        border = page.eval_on_selector(".fr-summary", "e => getComputedStyle(e).borderLeftStyle")
        assert border == "solid"
        assert csp_errors == []
        page.emulate_media(media="print")
        assert page.eval_on_selector("nav[aria-label='Report weeks']",
                                     "e => getComputedStyle(e).display") == "none"  # fmt: skip
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 3
        if AXE.exists():
            axe_context = chromium.new_context(
                bypass_csp=True, storage_state=context.storage_state()
            )
            axe_page = axe_context.new_page()
            axe_page.goto(f"{base}/reports/weekly/2026-W10")
            axe_page.add_script_tag(path=str(AXE))
            result = axe_page.evaluate("async () => await axe.run(document)")
            serious = [
                (v["id"], [n["target"] for n in v["nodes"]][:3])
                for v in result["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            axe_context.close()
            assert serious == []
    finally:
        context.close()
        server.shutdown()
        thread.join()


def test_annual_figures_page_and_excel(app, org):
    from openpyxl import load_workbook

    client = signed_in(app, org.manager)
    # "Now" is 10 March 2026: the year 2025-26 is still going, the last full one is 2024-25.
    index = client.get("/reports/annual")
    assert index.status_code == 302 and index.headers["Location"].endswith("/reports/annual/2024")
    chosen = client.get("/reports/annual?year=2025")
    assert chosen.headers["Location"].endswith("/reports/annual/2025")
    html = client.get("/reports/annual/2025").get_data(as_text=True)
    assert "Annual figures 2025-26" in html and "This year is not over yet." in html
    assert '<label class="govuk-label govuk-label--s" for="filter-year">Year</label>' in html
    # Pat and Sam enquired in March 2026; Pat withdrew at enquiry.
    assert '<th scope="row">Enquiries</th><td class="fr-num">2</td>' in html
    assert client.get("/reports/annual/2027").status_code == 404  # not begun
    assert client.get("/reports/annual/next").status_code == 404
    download = client.get("/reports/annual/2025.xlsx")
    assert download.headers["Content-Disposition"] == (
        'attachment; filename="annual-figures-2025-26.xlsx"'
    )
    rows = list(
        load_workbook(io.BytesIO(download.data))["Recruitment and households"].iter_rows(
            values_only=True
        )
    )
    assert ("Enquiries", 2) in rows and ("Withdrawn (all stages)", 1) in rows
    for user in (org.officer_north, org.supervisor_north):
        refused = signed_in(app, user)
        assert refused.get("/reports/annual/2025").status_code == 403
        assert refused.get("/reports/annual/2025.xlsx").status_code == 403
