"""The report: `report funnel` (table and JSON), `report weekly` (summary, files, --send), the
weekly email through a real SMTP server, and the same report handed to the outbox dispatcher.

The week is W10 of 2026 (Monday 2 to Sunday 8 March); "now" is Tuesday 10 March, 10:00.

  P1  enquired Mon 2 Mar 10:00, called back 14:00 (on time), a note on Thu 5 Mar
  P2  enquired Tue 3 Mar 12:00, called back Thu 5 Mar 10:00 (late)
  P3  enquired Fri 6 Mar 16:00, not called yet (not due until Monday)
  P4  enquired Wed 25 Feb, called back within the hour; initial visit Wed 4 Mar
  P5  enquired Tue 17 Feb; initial visit 20 Feb; withdrew Tue 3 Mar (finances)
  P6  applied 1 Jul 2025, stage one since 1 Aug 2025: stalled, and past the 8-month deadline
  P7  applied 1 Oct 2025 ... approved Wed 4 Mar; last check-in scored 1
  P8  approved 15 Jan 2025, deregistered Thu 5 Mar (health)
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from sqlmodel import select

import crm.models as m
from crm.cli import main
from crm.messaging.channels.email import EmailSender
from crm.services.actors import Actor
from crm.services.reports import weekly_report_email
from crm.services.timeline import log_activity
from crm.testing.smtp import SmtpCapture
from funnel.frames import FUNNEL
from funnel.load import load_funnel_data
from funnel.periods import IsoWeek
from funnel.report import (
    EMAIL_CHARTS,
    EMAIL_MAX_HTML_TEXT,
    EMAIL_MAX_TEXT_PART,
    build_weekly_report,
    load_weekly_report,
    visible_text,
)
from tests.funnel.helpers import at, html_with_images_inline, make_history

W10 = IsoWeek(2026, 10)
PNG = b"\x89PNG\r\n\x1a\n"
CHARTS = {
    "funnel",
    "enquiries_trend",
    "time_to_stage",
    "drop_off",
    "channels",
    "retention",
    "check_ins",
}


@pytest.fixture
def week_data(session, settings, org):
    officer = Actor.for_staff(session, org.officer_north)

    def call(household, when):
        log_activity(
            session, officer, household.id, "call", summary="Called", call_outcome="spoke",
            occurred_at=when,
        )  # fmt: skip

    p1 = make_history(session, settings, first_name="Pat", enquired_at=at("2026-03-02", 10))
    call(p1, at("2026-03-02", 14))
    log_activity(session, officer, p1.id, "note", summary="Sent pack", occurred_at=at("2026-03-05"))
    p2 = make_history(session, settings, first_name="Quin", enquired_at=at("2026-03-03"))
    call(p2, at("2026-03-05", 10))
    make_history(
        session, settings, first_name="Ray", enquired_at=at("2026-03-06", 16), source_key="event"
    )
    p4 = make_history(
        session, settings, first_name="Sol", enquired_at=at("2026-02-25"),
        moves=[(at("2026-03-04"), "initial_visit", None)],
    )  # fmt: skip
    call(p4, at("2026-02-25", 13))
    make_history(
        session, settings, first_name="Tam", enquired_at=at("2026-02-17"), source_key="event",
        moves=[(at("2026-02-20"), "initial_visit", None),
               (at("2026-03-03"), "withdrawn", "finances")],
    )  # fmt: skip
    p6 = make_history(
        session, settings, first_name="Uma", enquired_at=at("2025-06-02"),
        moves=[(at("2025-06-20"), "initial_visit", None), (at("2025-07-01"), "application", None),
               (at("2025-08-01"), "stage_one", None)],
    )  # fmt: skip
    p7 = make_history(
        session, settings, first_name="Vic", enquired_at=at("2025-09-01"),
        campaign_name="Spring radio 2026", source_key="radio_tv",
        moves=[(at("2025-09-10"), "initial_visit", None), (at("2025-10-01"), "application", None),
               (at("2025-10-20"), "stage_one", None), (at("2025-12-01"), "stage_two", None),
               (at("2026-02-20"), "panel", None), (at("2026-03-04"), "approved", None)],
    )  # fmt: skip
    make_history(
        session, settings, first_name="Wyn", enquired_at=at("2024-06-03"),
        moves=[(at("2024-06-10"), "initial_visit", None), (at("2024-07-01"), "application", None),
               (at("2025-01-15"), "approved", None), (at("2026-03-05"), "deregistered", "health")],
    )  # fmt: skip
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == p7.id)).one()
    session.add(
        m.CheckIn(
            carer_id=carer.id, channel=m.Channel.EMAIL, sent_at=at("2026-03-05"),
            answered_at=at("2026-03-06"), score=1, unique_key="ci-p7",
        )
    )  # fmt: skip
    session.commit()
    return {"p6": p6, "p7": p7}


def run_cli(url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"FOSTERCRM_DATABASE_URL": url})


def test_weekly_summary_in_plain_english(session, settings, week_data):
    report = load_weekly_report(session, settings, W10, with_charts=False)
    assert report.as_of.isoformat() == "2026-03-09T00:00:00+00:00"  # the end of the week
    assert report.changes == [
        "3 enquiries this week: 2 more than last week, 500% above the 4-week average of 0.5.",
        "1 household reached an initial visit, 0 an application and 1 was approved "
        "(last week 0, 0 and 0).",
        "1 household withdrew and 0 did not progress; the most common reason was "
        "\u201cFinances / allowances\u201d (1).",
        "1 carer household approved and 1 deregistered (no net change); 1 approved carer "
        "household now.",
    ]
    assert report.attention == [
        "1 enquiry had no first call or email within a working day.",
        f"1 case had no move or contact for longer than the target for their stage; the "
        f"most over target is {week_data['p6'].reference} (stage one, 219 days without a move "
        "or contact, 159 over its 60-day target).",
        "1 household is past the 8-month panel timescale with no panel recommendation.",
        "1 carer household may be at risk of leaving.",
    ]
    headlines = {h.label: h.cells()[1:] for h in report.headlines}
    assert headlines["Enquiries"] == ["3", "1", "+2", "0.5"]
    assert headlines["Approvals"] == ["1", "0", "+1", "0.0"]
    assert headlines["Withdrew"] == ["1", "0", "+1", "0.0"]
    assert headlines["Carer households deregistered"] == ["1", "0", "+1", "0.0"]
    # P1 on time, P2 late, P3 not yet due: 1 of 2; last week P4 on time. The 4 weeks before:
    # P4 on time and P5, never called at all (it withdrew), which counts against the team.
    assert headlines["Enquiries first attempted within the response target"] == [
        "50%", "100%", "-50 points", "50%",
    ]  # fmt: skip
    stalled = report.table("stalled").rows()
    assert [row[0] for row in stalled] == [week_data["p6"].reference]


def test_one_verdict_per_question_with_target_trend_and_benchmark(session, settings, week_data):
    report = load_weekly_report(session, settings, W10, with_charts=False)
    verdicts = {v.key: (v.status, v.text) for v in report.verdicts}
    assert list(verdicts) == ["enquiries", "response", "drop_out", "channels", "retention"]
    # W10 3 enquiries, W9 1 (P4); W6-W9: 0, 0, 1 (P5), 1 (P4).
    assert verdicts["enquiries"] == (
        "good",
        "Enquiries: 3 this week, no weekly target set, up from 1 last week (4-week average 0.5).",
    )
    # P1 on time, P2 called late, P3 not due: 1 of 2 (target 90% in config/funnel.toml); W9: P4
    # on time. P4, spoken to, reached its initial visit exactly 5 working days after enquiring.
    assert verdicts["response"] == (
        "concern",
        "Responding: 50% first attempted within a working day, target 90%, down from 100% "
        "last week; 50% spoken to within a working day; 100% of those spoken to last week "
        "were offered an initial visit within 5 working days (target 80%).",
    )
    # The mature cohort (9 Jun 2024 to 8 Jun 2025) is P6 alone, at stage one; a quarter
    # earlier (9 Mar 2024 to 8 Mar 2025) it was P8, approved. The national figures' sources
    # are cited once, below the verdicts, not in the line.
    status, text = verdicts["drop_out"]
    assert status == "concern"
    assert text.startswith(
        "Dropping out: of 1 enquiry made 9 June 2024 to 8 June 2025, 100% reached an initial "
        "visit (national 31%), 100% applied (national 6%) and 0% were approved (national "
        "11%), down from 100% a quarter earlier. Nobody in it has left."
    )
    assert report.benchmark_note == (
        "National figures: The Fostering Network, recruitment benchmark 2024; Ofsted, "
        "Fostering in England 2023-24."
    )
    assert verdicts["channels"][0] == "unknown" and "too early to tell" in verdicts["channels"][1]
    # P8 approved 15 Jan 2025 and deregistered after its first year: still approved then.
    assert verdicts["retention"] == (
        "good",
        "Carers staying: 1 approved household, 1 approved and 1 deregistered this week, net +0 "
        "over 12 months; 100% still approved a year after approval; 1 carer household at risk.",
    )
    actions = [a.text for a in report.actions]
    p6 = week_data["p6"].reference
    assert actions[0] == (
        f"Move on the 1 stalled case most over target: {p6} (stage one, 159 days over)."
    )
    # P6 applied 1 July 2025: the 8-month timescale ended on 1 March, 8 days before the
    # week's end. One list of the panel deadline: the households at risk of the timescale.
    assert actions[1] == (
        f"Get a panel recommendation for the 1 household nearest the 8-month timescale: "
        f"{p6} (8 days overdue)."
    )
    assert actions[2].startswith("Call the 1 carer household at risk of leaving first: ")
    assert report.table("timescale_at_risk").rows()[0][-3:] == ["-8", "\u2013", "Past the deadline"]
    assert "panel_deadlines" not in {t.name for t in report.tables}


def test_an_empty_week_still_reads_well(sqlite_url, session):
    from crm.db import make_engine
    from crm.testing.fixtures import make_test_settings

    engine = make_engine(sqlite_url)
    try:
        from sqlmodel import Session

        with Session(engine) as empty:
            settings = make_test_settings(sqlite_url)
            report = load_weekly_report(empty, settings, W10)
    finally:
        engine.dispose()
    assert report.changes[0] == (
        "0 enquiries this week: the same as last week, there were none in the 4 weeks before."
    )
    assert report.attention == ["Nothing needs attention this week."]
    assert {c.name for c in report.charts} == CHARTS
    assert "No enquiries in this period" in report.chart("funnel").alt


def test_report_funnel_json_has_the_agreed_shape(database_url, session, week_data):
    result = run_cli(database_url, "report", "funnel", "--from", "2026-02-01", "--to",
                     "2026-03-08", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cohort_size"] == 5
    assert list(data["reached"]) == FUNNEL
    assert data["reached"] == {
        "enquiry": 5, "initial_visit": 2, "application": 0, "stage_one": 0, "stage_two": 0,
        "panel": 0, "approved": 0,
    }  # fmt: skip
    assert list(data["conversion"]) == [
        "enquiry->initial_visit",
        "initial_visit->application",
        "application->stage_one",
        "stage_one->stage_two",
        "stage_two->panel",
        "panel->approved",
        "enquiry->approved",
    ]
    assert data["conversion"]["enquiry->initial_visit"] == 0.4
    assert data["conversion"]["initial_visit->application"] == 0.0
    assert data["conversion"]["application->stage_one"] is None
    assert data["conversion"]["enquiry->approved"] == 0.0
    assert list(data["median_days_from_enquiry"]) == FUNNEL
    # P4 after 7 days, P5 after 3.
    assert data["median_days_from_enquiry"]["initial_visit"] == 5.0
    assert data["median_days_from_enquiry"]["application"] is None
    assert data["withdrawn_by_reason"] == {"finances": 1}
    assert data["by_source"] == {
        "web_search": {"enquiry": 3, "initial_visit": 1, **dict.fromkeys(FUNNEL[2:], 0)},
        "event": {"enquiry": 2, "initial_visit": 1, **dict.fromkeys(FUNNEL[2:], 0)},
    }
    for value in data["conversion"].values():
        assert value is None or round(value, 4) == value


def test_report_funnel_table_and_errors(database_url, session, week_data):
    table = run_cli(database_url, "report", "funnel", "--from", "2025-09-01", "--to",
                    "2025-09-30", "--area", "northshire")  # fmt: skip
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].startswith("Enquiries from 2025-09-01 to 2025-09-30 (Northshire): 1 households")
    approved = next(line for line in lines if line.startswith("Approved"))
    assert approved.split()[:4] == ["Approved", "1", "100%", "100%"]
    assert any(line.startswith("Radio or TV") for line in lines)

    backwards = run_cli(database_url, "report", "funnel", "--from", "2026-03-01", "--to",
                        "2026-02-01")  # fmt: skip
    assert (backwards.exit_code, backwards.output) == (1, "Error: --to is before --from\n")
    unknown = run_cli(database_url, "report", "funnel", "--from", "2026-01-01", "--to",
                      "2026-02-01", "--area", "Westshire")  # fmt: skip
    assert unknown.exit_code == 1
    assert unknown.output == "Error: Unknown area 'Westshire'. Areas are: Northshire, Southshire\n"
    bad_week = run_cli(database_url, "report", "weekly", "--week", "2026-10")
    assert bad_week.exit_code == 1 and "expected a week like 2026-W10" in bad_week.output
    future = run_cli(database_url, "report", "weekly", "--week", "2026-W30")
    assert future.output == "Error: --week: 2026-W30 has not started yet\n"


def test_report_weekly_writes_html_charts_and_csv(database_url, session, week_data, tmp_path):
    out = tmp_path / "report"
    result = run_cli(database_url, "report", "weekly", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Enquiries: 3 this week" in result.output  # the default is the last full week: W10
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["weekly-report-2026-W10.html", "weekly-report-2026-W10.csv"]
        + [f"2026-W10-{name}.png" for name in CHARTS]
    )
    for name in CHARTS:
        assert (out / f"2026-W10-{name}.png").read_bytes().startswith(PNG)
    html = (out / "weekly-report-2026-W10.html").read_text(encoding="utf-8")
    images = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', html)
    assert {src for src, _ in images} == {f"2026-W10-{name}.png" for name in CHARTS}
    assert all(len(alt) > 40 for _, alt in images)  # a real description, not "chart"
    assert "Finances / allowances" in html and week_data["p6"].reference in html
    rows = list(csv.reader(io.StringIO((out / "weekly-report-2026-W10.csv").read_text(
        encoding="utf-8-sig"))))  # fmt: skip
    assert ["Enquiries", "3", "1", "0.5"] in rows
    assert ["Enquiries first attempted within the response target", "0.5", "1.0", "0.5"] in rows
    funnel_at = rows.index(["How far enquiries got"])
    assert rows[funnel_at + 1][:3] == ["Stage", "Reached", "From the stage before"]


def test_weekly_email_arrives_with_charts_and_csv(session, settings, week_data):
    message = weekly_report_email(session, settings, date(2026, 3, 8), ["manager@test.example"])
    with SmtpCapture() as server:
        sender = EmailSender(server.settings_for(settings))
        sender.send(message)
        sender.close()
    [delivered] = server.messages()
    recipients, received = delivered.recipients, delivered.message
    assert recipients == ["manager@test.example"]
    assert received["Subject"] == ("Weekly fostering report: week 10 of 2026 (2 Mar to 8 Mar 2026)")
    assert "Enquiries: 3 this week" in received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    cids = set(re.findall(r'src="cid:([^"]+)"', html))
    assert len(cids) == len(EMAIL_CHARTS)
    images = {
        part["Content-ID"].strip().strip("<>"): part
        for part in received.walk()
        if part.get_content_type() == "image/png"
    }
    assert set(images) == cids  # every chart the HTML shows travels with it
    for part in images.values():
        assert part.get_content().startswith(PNG)
        assert part.get_content_disposition() == "inline"
    [attachment] = [p for p in received.iter_attachments() if p.get_content_type() == "text/csv"]
    assert attachment.get_filename() == "weekly-report-2026-W10.csv"
    table = attachment.get_content()
    assert "Headline numbers" in table and "Stalled cases" in table


def test_send_queues_for_managers_and_the_dispatcher_delivers(
    database_url, session, settings, org, week_data
):
    dispatcher_module = pytest.importorskip("crm.messaging.dispatcher")
    first = run_cli(database_url, "report", "weekly", "--week", "2026-W10", "--send")
    assert first.exit_code == 0, first.output
    assert "Queued for 1 recipient(s); the outbox dispatcher sends it." in first.output
    messages = session.exec(select(m.OutboxMessage)).all()
    assert [(x.template, x.recipient, x.unique_key, x.payload) for x in messages] == [
        (
            "weekly_funnel_report",
            "manager@test.example",
            "weekly_report:2026-03-08:manager@test.example",
            {"week_ending": "2026-03-08"},
        )
    ]
    again = run_cli(database_url, "report", "weekly", "--week", "2026-W10", "--send")
    assert "Queued for 0 recipient(s)" in again.output and "1 already had" in again.output

    with SmtpCapture() as server:
        from crm.db import make_engine

        engine = make_engine(database_url)
        dispatcher = dispatcher_module.Dispatcher(server.settings_for(settings), engine)
        try:
            result = dispatcher.run_until_idle()
        finally:
            dispatcher.close()
            engine.dispose()
    assert result.claimed == 1, result
    [delivered] = server.messages()
    recipients, received = delivered.recipients, delivered.message
    assert recipients == ["manager@test.example"]
    assert received["Subject"].startswith("Weekly fostering report: week 10 of 2026")
    assert sum(1 for p in received.walk() if p.get_content_type() == "image/png") == len(
        EMAIL_CHARTS
    )


def test_report_for_one_area(session, settings, week_data, org):
    data = load_funnel_data(
        session, as_of=datetime(2026, 3, 9, tzinfo=UTC), area_ids=[org.south.id]
    )
    report = build_weekly_report(data, W10, settings, with_charts=False)
    assert report.area_label == "Southshire"
    assert report.subject.startswith("Weekly fostering report (Southshire)")
    assert report.changes[0].startswith("0 enquiries this week")


# The email's bound (funnel/README.md, "The weekly email"): its visible text under
# EMAIL_MAX_HTML_TEXT (2,500) characters, its text part under EMAIL_MAX_TEXT_PART (2,800),
# whatever the data (tests/funnel/test_email_bound.py proves it on large data), and the whole
# of it under 3,000 CSS pixels tall at 800 pixels wide (about three screens, four charts
# included), against ten screens and 19 tables before.
EMAIL_MAX_HEIGHT = 3_000


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_email_in_chromium_is_short_and_starts_with_the_verdicts(
    session, settings, week_data, chromium
):
    message = weekly_report_email(session, settings, date(2026, 3, 8), ["manager@test.example"])
    html = html_with_images_inline(message)
    context = chromium.new_context(viewport={"width": 800, "height": 900})
    try:
        page = context.new_page()
        page.set_content(html, wait_until="load")
        verdicts = page.locator(".fr-verdict").all_inner_texts()
        assert [v.split(":")[0] for v in verdicts] == [
            "On track", "Needs action", "Needs action", "Too early to tell", "On track",
        ]  # fmt: skip
        assert "Enquiries: 3 this week" in verdicts[0]
        assert "Responding: 50% first attempted within a working day" in verdicts[1]
        # The verdicts come first: above the actions, the link and the charts.
        top = page.eval_on_selector("#verdicts-heading", "e => e.getBoundingClientRect().top")
        charts_top = page.eval_on_selector("figure", "e => e.getBoundingClientRect().top")
        assert top < 300 < charts_top
        loaded = page.eval_on_selector_all(
            "figure img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
        )
        assert loaded == [True] * 4
        assert (
            page.get_by_role("link", name="Open the full report in the CRM").get_attribute("href")
            == f"{settings.service.public_base_url.rstrip('/')}/reports/weekly/2026-W10"
        )
        text = " ".join(page.inner_text("body").split())
        height = page.evaluate("document.documentElement.scrollHeight")
        assert len(text) < EMAIL_MAX_HTML_TEXT, len(text)
        assert len(visible_text(message.get_body(("html",)).get_content())) == len(text)
        assert len(message.get_body(("plain",)).get_content()) < EMAIL_MAX_TEXT_PART
        assert height < EMAIL_MAX_HEIGHT, height
        # The benchmarks' sources once, below the verdicts; no assessment lines in the email.
        assert page.locator("#benchmark-sources").count() == 1
        assert page.locator("#assessment-heading").count() == 0
        assert page.locator("table").count() == 0  # the tables are on the page and in the CSV
        print(f"email: {len(text)} characters, {height} px tall at 800 px")
    finally:
        context.close()
