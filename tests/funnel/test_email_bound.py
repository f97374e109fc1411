"""The weekly email's length does not grow with the data (issue 14, item 6).

The bound (funnel/README.md, "The weekly email"): the HTML part's visible text, tags stripped
and whitespace collapsed, under EMAIL_MAX_HTML_TEXT characters, and the text part under
EMAIL_MAX_TEXT_PART, whatever the number of households, areas or stalled cases and however
long the names. Here on large data made the real way (create_enquiry, move_stage,
set_at_risk): 234 households over six areas, four of them with names of the longest allowed
(200 characters), 120 stalled cases all at risk of missing the 8-month timescale, 36 carers at
risk with a 500-character reason, and a source, a campaign and a withdrawal reason with the
longest labels allowed. The long lists are on the page and in the CSV: nothing is lost.

The week is W10 of 2026 (Monday 2 to Sunday 8 March); "now" is Tuesday 10 March, 10:00.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlmodel import select

import crm.models as m
from crm.services.carers import set_at_risk
from crm.services.reports import weekly_report_email
from crm.services.timeline import log_activity
from funnel.periods import IsoWeek
from funnel.report import (
    EMAIL_MAX_HTML_TEXT,
    EMAIL_MAX_TEXT_PART,
    load_weekly_report,
    render_html,
    report_csv,
    visible_text,
)
from tests.funnel.helpers import at, html_with_images_inline, make_history

W10_ENDING = date(2026, 3, 8)
# Seven areas: Northshire, Southshire and five with the longest names allowed. The manager
# works in six of them (not Southshire). Per area: STALLED stalled cases in stage one (all at
# risk of the 8-month timescale), WITHDREW who left, APPROVED carers at risk, and the
# enquiries of last week (W9, called and visited) and of this week (W10, called). Every
# optional clause of the verdicts shows, so the lines are as long as they get.
LONG_AREAS = [
    f"{'NESWX'[i]} {'Longshire and the Vale of Somewhere Far ' * 5}"[:200] for i in range(5)
]
MANAGER_AREAS = 6
STALLED, WITHDREW, APPROVED, WEEKLY = 20, 8, 6, 5
PER_AREA = STALLED + WITHDREW + APPROVED + 2 * WEEKLY
LONG_SOURCE = ("Heard about us from a neighbour at the village fete " * 2)[:100]
LONG_CAMPAIGN = ("Autumn fostering roadshow across every market town " * 4)[:200]
LONG_REASON = ("Moved away to look after a relative for the foreseeable future " * 4)[:200]
LONG_WHY = ("Told their supervising social worker they are thinking of stopping " * 8)[:500]


def long_name(i: int) -> str:
    """A first name of the longest allowed (100 characters), a different one each time."""
    return f"{i:04d}{'Maximilianne' * 9}"[:100]


@pytest.fixture
def large_data(session, settings, org):
    for i, name in enumerate(LONG_AREAS):
        area = m.Area(hub_id=org.hub.id, name=name)
        session.add(area)
        session.flush()
        session.add(m.AreaPostcodeDistrict(district=f"DE{i + 1}", area_id=area.id))
        session.add(m.StaffArea(staff_id=org.manager.id, area_id=area.id))
    session.delete(session.get(m.StaffArea, {"staff_id": org.manager.id, "area_id": org.south.id}))
    session.add(m.Source(key="long_source", label=LONG_SOURCE))
    session.flush()
    session.add(m.Campaign(name=LONG_CAMPAIGN, source_key="long_source", cost_pence=900_000))
    session.add(m.Reason(kind=m.ReasonKind.WITHDRAWN, code="long_reason", label=LONG_REASON))
    session.commit()
    postcodes = ["LE1 6ZG", "NG1 1AA", *(f"DE{i + 1} 1AA" for i in range(len(LONG_AREAS)))]
    n = 0

    def household(postcode: str, **kwargs) -> m.Household:
        nonlocal n
        n += 1
        return make_history(session, settings, first_name=long_name(n), postcode=postcode, **kwargs)

    carers = []
    admin = org.actor(session, org.admin)
    for postcode in postcodes:
        # 20 stalled in stage one per area, applied 6 to 8 months ago: at risk of missing the
        # 8-month timescale, some past it.
        for k in range(STALLED):
            household(
                postcode, enquired_at=at("2025-05-01"),
                moves=[(at("2025-05-20"), "initial_visit", None),
                       (at(date(2025, 7, 1 + k)), "application", None),
                       (at(date(2025, 8, 1 + k)), "stage_one", None)],
            )  # fmt: skip
        # 8 of the mature cohort who withdrew, for the longest reason.
        for k in range(WITHDREW):
            household(
                postcode, enquired_at=at(date(2025, 2, 3 + k)), source_key="long_source",
                moves=[(at(date(2025, 2, 20 + k)), "initial_visit", None),
                       (at(date(2025, 3, 10 + k)), "withdrawn", "long_reason")],
            )  # fmt: skip
        # Of the mature cohort, approved through the long campaign more than a year ago (so
        # the 12-month retention shows): carers now at risk.
        for k in range(APPROVED):
            carers.append(
                household(
                    postcode,
                    enquired_at=at(date(2024, 6, 12 + k)),
                    source_key="long_source",
                    campaign_name=LONG_CAMPAIGN,
                    moves=[
                        (at("2024-07-01"), "initial_visit", None),
                        (at("2024-08-01"), "application", None),
                        (at("2024-09-02"), "stage_one", None),
                        (at("2024-11-04"), "stage_two", None),
                        (at("2025-01-27"), "panel", None),
                        (at(date(2025, 2, 10 + k)), "approved", None),
                    ],
                )  # fmt: skip
            )
        # Last week's enquiries (Monday 23 to Friday 27 February), called within two hours and
        # visited three days later; this week's (2 to 6 March), called within two hours.
        for monday, visit in ((date(2026, 2, 23), True), (date(2026, 3, 2), False)):
            for k in range(WEEKLY):
                enquired = at(monday + timedelta(days=k), 10)
                h = household(
                    postcode, enquired_at=enquired, source_key="long_source",
                    moves=[(enquired + timedelta(days=3), "initial_visit", None)] if visit else [],
                )  # fmt: skip
                log_activity(
                    session, admin, h.id, "call", summary="Called", call_outcome="spoke",
                    occurred_at=enquired + timedelta(hours=2),
                )  # fmt: skip
    for h in carers:
        carer = session.exec(select(m.Carer).where(m.Carer.household_id == h.id)).one()
        set_at_risk(session, admin, carer.id, at_risk=True, reason=LONG_WHY)
    assert n == len(postcodes) * PER_AREA and MANAGER_AREAS * PER_AREA >= 200
    references = session.exec(
        select(m.Household.reference).where(m.Household.area_id == org.south.id)
    ).all()
    assert len(references) == PER_AREA
    return {"households": n, "southshire": references}


def _html(message) -> str:
    return message.get_body(("html",)).get_content()


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_email_stays_under_its_bound_on_large_data(session, settings, org, large_data):
    message = weekly_report_email(session, settings, W10_ENDING, [org.manager.email])
    html, text = _html(message), _text(message)
    shown = visible_text(html)
    print(f"large data: HTML {len(shown)} visible characters, text part {len(text)}")
    assert len(shown) < EMAIL_MAX_HTML_TEXT, len(shown)
    assert len(text) < EMAIL_MAX_TEXT_PART, len(text)
    # The verdict per question, in both parts, counting the manager's six areas.
    mature = MANAGER_AREAS * (STALLED + WITHDREW + APPROVED)
    for start in (
        f"On track: Enquiries: {MANAGER_AREAS * WEEKLY} this week, no weekly target set, the "
        "same as last week",
        "On track: Responding: 100% first attempted within a working day, target 90%, the same "
        "as last week; 100% spoken to within a working day; 100% of those spoken to last week "
        "were offered an initial visit within 5 working days (target 80%).",
        f"Dropping out: of {mature} enquiries made 9 June 2024 to 8 June 2025",
        "Channels: ",
        f"Carers staying: {MANAGER_AREAS * APPROVED} approved households, 0 approved and 0 "
        "deregistered this week, net +0 over 12 months; 100% still approved a year after "
        f"approval; {MANAGER_AREAS * APPROVED} carer households at risk.",
    ):
        assert start in shown and start in text, start
    # The national figures' sources once, in a footnote, not in every verdict.
    for part in (text, shown):
        assert part.count("The Fostering Network, recruitment benchmark 2024") == 1
        assert part.count("Ofsted, Fostering in England 2023-24") == 1
        assert "(national 31%)" in part and "(national 273 days)" in part
    # The top three of each list, out of how many: the stalled cases in stage one and the
    # enquiries of Monday and Tuesday, more than 5 days old at the week's end; every stage
    # one case is within 60 days of the timescale (applied 1 to 20 July 2025); the carers.
    stalled = MANAGER_AREAS * (STALLED + 2)
    assert f"1. Move on the 3 stalled cases most over target (of {stalled}): FC-" in text
    assert (
        f"2. Get a panel recommendation for the 3 households nearest the 8-month timescale "
        f"(of {MANAGER_AREAS * STALLED}): FC-"
    ) in text
    assert (
        f"3. Call the 3 carer households at risk of leaving first (of {MANAGER_AREAS * APPROVED})"
        f": FC-"
    ) in text
    for line in text.splitlines():
        if line[:2] in ("1.", "2.", "3."):
            assert line.count("FC-") == 3, line
    # Long names are clipped, never dropped: each one starts there.
    for name in (LONG_WHY, LONG_REASON, LONG_SOURCE, LONG_CAMPAIGN):
        assert name not in text and name[:24] in text and name[:24] in shown
    # Six areas: the first named in the caption and the subject, and how many more; never the
    # seventh.
    assert "and 5 more areas" in text and "and 5 more areas" in str(message["Subject"])
    assert not any(name in text for name in LONG_AREAS) and min(LONG_AREAS)[:24] in text
    assert len(str(message["Subject"])) < 250
    everything = "\n".join([text, html, *(p.get_content() for p in message.iter_attachments())])
    assert "Southshire" not in everything
    assert not any(reference in everything for reference in large_data["southshire"])
    # No assessment lines and no table in the email: they are on the page and in the CSV.
    assert "Assessment and panel" not in text and "Assessment and panel" not in shown
    assert "<table" not in html
    # This week, not over yet, says so and keeps to the bound too.
    unfinished = weekly_report_email(session, settings, date(2026, 3, 15), [org.manager.email])
    shown, text = visible_text(_html(unfinished)), _text(unfinished)
    print(f"large data, unfinished week: HTML {len(shown)}, text part {len(text)}")
    assert "This week is not over yet" in shown and "This week is not over yet" in text
    assert len(shown) < EMAIL_MAX_HTML_TEXT and len(text) < EMAIL_MAX_TEXT_PART


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_nothing_is_lost_the_long_lists_are_on_the_page_and_in_the_csv(
    session, settings, org, large_data
):
    report = load_weekly_report(session, settings, IsoWeek(2026, 10), with_charts=False)
    areas = len(LONG_AREAS) + 2
    page = render_html(report, lambda chart: "")
    # The assessment and panel lines, on the page below the actions.
    assert page.index('id="assessment-heading"') > page.index('id="actions-heading"')
    assert f"8-month timescale: {areas * STALLED} households at risk" in page
    # One list of the panel deadline: the households at risk of missing the timescale.
    assert 'id="table-timescale_at_risk"' in page and 'id="table-panel_deadlines"' not in page
    assert f"Showing 25 of {areas * STALLED}; the CSV has them all." in page
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    assert [report.assessment[0]] in rows and [report.benchmark_note] in rows

    def table(title: str) -> list[list[str]]:
        start = rows.index([title]) + 2
        end = rows.index([], start) if [] in rows[start:] else len(rows)
        return rows[start:end]

    assert len(table("Households at risk of missing the 8-month timescale")) == areas * STALLED
    assert len(table("Stalled cases")) == areas * (STALLED + 2)
    carers = table("Carers who may be at risk of leaving")
    assert len(carers) == areas * APPROVED
    assert all(row[-1] == f"flagged: {LONG_WHY}" for row in carers)  # the words in full


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_large_email_in_chromium_is_under_the_bound(
    session, settings, org, large_data, chromium
):
    message = weekly_report_email(session, settings, W10_ENDING, [org.manager.email])
    html = html_with_images_inline(message)
    context = chromium.new_context(viewport={"width": 800, "height": 900})
    try:
        page = context.new_page()
        page.set_content(html, wait_until="load")
        assert page.locator(".fr-verdict").count() == 5
        text = " ".join(page.inner_text("body").split())
        print(f"large data in Chromium: {len(text)} characters")
        assert len(text) < EMAIL_MAX_HTML_TEXT, len(text)
        assert page.locator("table").count() == 0
    finally:
        context.close()
