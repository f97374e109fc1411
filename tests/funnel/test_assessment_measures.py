"""The assessment measures (issue 11 item 7) and connected persons apart, from hand-built rows
on SQLite and PostgreSQL: checks outstanding and their ages, time in stage one and two
against target, the 8-month timescale list (only households the reader may open), panel
outcomes, and the kinship rows of the weekly report. Every expected number is worked out by
hand in the comments.

The report's week is 2 to 8 March 2026; figures as at Sunday 8 March, 18:00 (UTC, which is
London time in winter). The 12 months to its end: 9 March 2025 to 8 March 2026. The mature
cohort (9 to 21 months before 8 March 2026): enquiries of 9 June 2024 to 8 June 2025.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pandas as pd
import pytest

import crm.models as m
from crm.services import access
from crm.services.actors import Actor
from crm.services.staff import create_staff_user
from crm.testing.fixtures import TEST_PASSWORD
from funnel import assessment
from funnel.config import load_check_kinds
from funnel.load import load_funnel_data
from funnel.periods import IsoWeek, Period
from funnel.report import (
    build_weekly_report,
    render_email_html,
    render_html,
    render_text,
    report_csv,
)
from funnel.weekly import compute_weekly_tables
from tests.funnel.helpers import at, make_history

AS_OF = at("2026-03-08", 18)
WEEK = IsoWeek.containing(date(2026, 3, 8))
YEAR = Period(date(2025, 3, 9), date(2026, 3, 8))


def _meeting(session, meets_on: date) -> m.PanelMeeting:
    meeting = m.PanelMeeting(
        meets_on=meets_on, chair="Pat Chair", capacity=6, papers_due_on=meets_on
    )
    session.add(meeting)
    session.flush()
    return meeting


def _check(session, household, key: str, requested: str, received: str | None = None) -> None:
    session.add(
        m.HouseholdCheck(
            household_id=household.id,
            check_key=key,
            requested_on=date.fromisoformat(requested),
            received_on=date.fromisoformat(received) if received else None,
            outcome=m.CheckOutcome.CLEAR if received else None,
        )
    )


@pytest.fixture
def built(session, settings, org):
    def history(name, enquired, moves, **kwargs):
        return make_history(
            session,
            settings,
            first_name=name,
            enquired_at=at(enquired),
            moves=[(at(day), stage, reason) for day, stage, reason in moves],
            **kwargs,
        )

    ann = history(
        "Ann",
        "2025-06-02",
        [
            ("2025-07-10", "application", None),
            ("2025-08-01", "stage_one", None),  # 61 days in stage one
            ("2025-10-01", "stage_two", None),  # still there: 158.25 days by 8 March 18:00
        ],
    )
    ben = history(  # connected person (kinship)
        "Ben",
        "2025-05-20",
        [
            ("2025-09-01", "application", None),
            ("2025-09-08", "stage_one", None),  # 30 days
            ("2025-10-08", "stage_two", None),  # 144 days
            ("2026-03-01", "panel", None),
        ],
    )
    ben.is_kinship = True
    session.add(ben)
    cat = history(
        "Cat",
        "2025-04-01",
        [
            ("2025-05-01", "application", None),
            ("2025-05-10", "stage_one", None),  # 61 days
            ("2025-07-10", "stage_two", None),  # 144 days
            ("2025-12-01", "panel", None),
            ("2025-12-05", "approved", None),
        ],
    )
    dan = history(
        "Dan",
        "2025-05-01",
        [
            ("2025-06-01", "application", None),
            ("2025-06-10", "stage_one", None),  # 52 days
            ("2025-08-01", "stage_two", None),  # 213 days
            ("2026-03-02", "panel", None),
        ],
    )
    eve = history(
        "Eve",
        "2025-05-10",
        [("2025-06-01", "application", None), ("2026-01-10", "withdrawn", "finances")],
    )
    fay = history(
        "Fay",
        "2026-01-05",
        [("2026-01-20", "application", None), ("2026-02-01", "stage_one", None)],  # 35.25 so far
    )
    gus = history(  # in the other area (Southshire)
        "Gus",
        "2025-07-01",
        [("2025-07-20", "application", None), ("2025-07-25", "stage_one", None)],  # 226.25
        postcode="NG1 1AA",
    )
    hal = history(
        "Hal",
        "2025-03-01",
        [
            ("2025-04-01", "application", None),
            ("2025-04-10", "stage_one", None),  # 61 days
            ("2025-06-10", "stage_two", None),  # 144 days
            ("2025-11-01", "panel", None),
            ("2025-11-10", "not_progressed", "suitability"),
        ],
    )
    # Panel: Cat approved (recommended 1 December, decided 5 December); Hal not approved
    # (3 and 10 November); Dan deferred this week (4 March: no recommendation for the
    # timescale); Ben listed for 20 March, not yet considered.
    december, november = _meeting(session, date(2025, 12, 1)), _meeting(session, date(2025, 11, 3))
    march, later = _meeting(session, date(2026, 3, 4)), _meeting(session, date(2026, 3, 20))
    for meeting, household, rec, rec_day, decision, decided_day in (
        (december, cat, "approve", "2025-12-01", "approved", "2025-12-05"),
        (november, hal, "do_not_approve", "2025-11-03", "not_approved", "2025-11-10"),
        (march, dan, "defer", "2026-03-04", None, None),
        (later, ben, None, None, None, None),
    ):
        session.add(
            m.PanelListing(
                meeting_id=meeting.id,
                household_id=household.id,
                listed_at=at("2025-10-01"),
                recommendation=rec,
                recommended_at=at(rec_day) if rec_day else None,
                decision=decision,
                decided_at=at(decided_day) if decided_day else None,
            )
        )
    # Checks: Ann's DBS waits 62 days (requested 5 January: 20 working days ran out on
    # 2 February, past target); Ann's current-area check was received on 9 March, after the
    # report's moment, so it was outstanding then (13 days; 15 working days run to 16 March);
    # Ben's DBS waits 27 days (20 working days run to 9 March: not past). Not counted: Ann's
    # GP report (received), Eve's DBS (she withdrew), Fay's check requested on 9 March.
    _check(session, ann, "dbs_enhanced", "2026-01-05")
    _check(session, ann, "la_current", "2026-02-23", "2026-03-09")
    _check(session, ann, "medical_gp", "2026-01-05", "2026-02-01")
    _check(session, ben, "dbs_enhanced", "2026-02-09")
    _check(session, eve, "dbs_enhanced", "2025-12-01")
    _check(session, fay, "la_current", "2026-03-09")
    session.commit()
    return {
        "ann": ann, "ben": ben, "cat": cat, "dan": dan, "eve": eve, "fay": fay, "gus": gus,
        "hal": hal,
    }  # fmt: skip


def test_checks_outstanding_by_type_with_their_ages(session, built):
    data = load_funnel_data(session, as_of=AS_OF)
    table = assessment.checks_outstanding(data, load_check_kinds())
    assert list(table.index) == ["dbs_enhanced", "la_current"]
    dbs, la = table.loc["dbs_enhanced"], table.loc["la_current"]
    assert dbs["label"] == "Enhanced DBS with the children's barred list"
    # Ann's 62 days and Ben's 27: median 44.5, one past target, one under 4 weeks, one over 8.
    assert (dbs["outstanding"], dbs["past_target"], dbs["median_days"], dbs["oldest_days"]) == (
        2, 1, 44.5, 62,
    )  # fmt: skip
    assert (dbs["under_4_weeks"], dbs["weeks_4_to_8"], dbs["over_8_weeks"]) == (1, 0, 1)
    assert (la["outstanding"], la["past_target"], la["median_days"], la["oldest_days"]) == (
        1, 0, 13, 13,
    )  # fmt: skip


def test_time_in_stage_one_and_two_against_target(session, built, settings):
    assert settings.stage_target_days.stage_one == 60
    assert settings.stage_target_days.stage_two == 120
    data = load_funnel_data(session, as_of=AS_OF)
    stays = assessment.time_in_assessment(data, YEAR, settings.stage_target_days.model_dump())
    one, two = stays.loc[("stage_one", False)], stays.loc[("stage_two", False)]
    # Stage one finished: Ann 61, Cat 61, Dan 52, Hal 61; only Dan within 60 days.
    assert (one["finished"], one["median_days"], one["within_target"]) == (4, 61.0, 1)
    assert one["within_target_share"] == 0.25
    # Still in stage one: Fay 35.25 days and Gus 226.25 (over).
    assert (one["ongoing"], one["ongoing_over_target"], one["ongoing_median_days"]) == (
        2, 1, 130.75,
    )  # fmt: skip
    # Stage two finished: Cat 144, Dan 213, Hal 144, none within 120; Ann still in it, over.
    assert (two["finished"], two["median_days"], two["within_target"]) == (3, 144.0, 0)
    assert (two["ongoing"], two["ongoing_over_target"], two["ongoing_median_days"]) == (
        1, 1, 158.25,
    )  # fmt: skip
    # Ben, a connected person, has his own rows: 30 days in stage one, 144 in stage two.
    kin_one, kin_two = stays.loc[("stage_one", True)], stays.loc[("stage_two", True)]
    assert (kin_one["finished"], kin_one["median_days"], kin_one["within_target"]) == (1, 30, 1)
    assert (kin_two["finished"], kin_two["median_days"], kin_two["ongoing"]) == (1, 144, 0)


def test_households_at_risk_of_the_8_month_timescale(session, built, settings):
    assert settings.panel.at_risk_days == 60
    data = load_funnel_data(session, as_of=AS_OF)
    risk = assessment.timescale_at_risk(data, 60, 8)
    # Dan: applied 1 June 2025, due 1 February, 35 days past (a deferral is no recommendation);
    # Ann: due 10 March, 2 days left; Gus: due 20 March, 12; Ben: due 1 May, 54, listed for
    # 20 March. Not: Cat (recommended), Hal (recommended, left), Eve (left), Fay (due
    # 20 September).
    assert list(risk["reference"]) == [built[n].reference for n in ("dan", "ann", "gus", "ben")]
    assert list(risk["days_left"]) == [-35, 2, 12, 54]
    assert list(risk["status"]) == ["overdue", "approaching", "approaching", "approaching"]
    assert risk.loc[built["ben"].id, "panel_on"] == date(2026, 3, 20)
    assert bool(risk.loc[built["ben"].id, "kinship"]) is True
    assert risk.loc[built["dan"].id, "deadline_on"] == date(2026, 2, 1)


def test_the_list_names_only_households_the_reader_may_open(session, built, org):
    north_manager = create_staff_user(
        session, Actor.system("test"), email="north.manager@test.example", name="North Manager",
        role="manager", password=TEST_PASSWORD, area_names=["Northshire"],
    )  # fmt: skip
    reader = Actor.for_staff(session, north_manager)
    data = load_funnel_data(session, as_of=AS_OF, visible=access.household_visibility(reader))
    risk = assessment.timescale_at_risk(data, 60, 8)
    # Gus is in Southshire: left out of the list, still counted in the figures.
    assert list(risk["reference"]) == [built[n].reference for n in ("dan", "ann", "ben")]
    stays = assessment.time_in_assessment(data, YEAR, {"stage_one": 60, "stage_two": 120})
    assert stays.loc[("stage_one", False), "ongoing"] == 2


def test_panel_outcomes_in_the_week_and_the_year(session, built):
    data = load_funnel_data(session, as_of=AS_OF)
    outcomes = assessment.panel_outcomes(data, {"week": WEEK.period, "year": YEAR})
    assert outcomes["week"].to_dict() == {
        ("recommendation", "approve"): 0,
        ("recommendation", "do_not_approve"): 0,
        ("recommendation", "defer"): 1,
        ("decision", "approved"): 0,
        ("decision", "not_approved"): 0,
    }
    assert outcomes["year"].to_dict() == {
        ("recommendation", "approve"): 1,
        ("recommendation", "do_not_approve"): 1,
        ("recommendation", "defer"): 1,
        ("decision", "approved"): 1,
        ("decision", "not_approved"): 1,
    }
    assert outcomes["year_kinship"].sum() == 0


def test_as_at_an_earlier_moment_later_outcomes_had_not_happened(session, built):
    # As at 2 December 2025: Cat recommended but not yet decided; Dan not yet deferred.
    data = load_funnel_data(session, as_of=at("2025-12-02"))
    outcomes = assessment.panel_outcomes(
        data, {"year": Period(date(2025, 1, 1), date(2025, 12, 31))}
    )
    assert outcomes.loc[("recommendation", "approve"), "year"] == 1
    assert outcomes.loc[("decision", "approved"), "year"] == 0
    assert outcomes.loc[("recommendation", "defer"), "year"] == 0


def test_the_weekly_report_keeps_connected_persons_apart(session, built, settings):
    data = load_funnel_data(session, as_of=AS_OF)
    t = compute_weekly_tables(data, WEEK, settings)
    # Mature cohort (enquiries 9 June 2024 to 8 June 2025): Ann, Cat, Dan, Eve, Hal mainstream;
    # Ben (kinship) on his own rows. Eve left at the application; only Cat was approved.
    assert t.funnel["reached"].to_dict() == {
        "enquiry": 5, "initial_visit": 5, "application": 5, "stage_one": 4, "stage_two": 4,
        "panel": 3, "approved": 1,
    }  # fmt: skip
    assert t.kinship_funnel["reached"].to_dict() == {
        "enquiry": 1, "initial_visit": 1, "application": 1, "stage_one": 1, "stage_two": 1,
        "panel": 1, "approved": 0,
    }  # fmt: skip
    assert t.funnel.loc["approved", "conversion_from_enquiry"] == pytest.approx(0.2)
    # The report: the tables, and the short lines the page carries below the verdicts.
    report = build_weekly_report(data, WEEK, settings, with_charts=False)
    assert report.table("checks_outstanding").rows()[0][:3] == [
        "Enhanced DBS with the children's barred list", "2", "1",
    ]  # fmt: skip
    assert [row[0] for row in report.table("timescale_at_risk").rows()] == [
        built[n].reference for n in ("dan", "ann", "gus", "ben")
    ]
    kinship = report.table("kinship_funnel").rows()
    assert kinship[0][:2] == ["Enquiry", "1"] and kinship[-1][:2] == ["Approved", "0"]
    lines = report.assessment
    assert lines[0] == (
        "Checks: 3 outstanding, 1 past the chase target; longest wait 62 days "
        "(Enhanced DBS with the children's barred list)."
    )
    assert lines[1].startswith("Stage one: median 61 days (target 60, 25% within), 1 of 2 now over")
    assert lines[2] == "8-month timescale: 4 households at risk, 1 past it."
    assert lines[3] == (
        "Panel this week: 1 recommendation (1 deferred), 0 decisions; 12 months: "
        "3 recommendations (1 approve, 1 do not approve, 1 deferred), 2 decisions (1 approved)."
    )
    # The email leaves them out (it keeps to its bound, funnel/README.md); the page has them
    # below the verdicts and the actions, naming no household, and the lists behind them.
    assert "Assessment and panel" not in render_text(report)
    assert "assessment-heading" not in render_email_html(report, lambda chart: "")
    page = render_html(report, lambda chart: "")
    assert page.index("assessment-heading") > page.index("actions-heading")
    section = page[page.index("assessment-heading") :]
    assert lines[2] in section[: section.index("</section>")]
    assert not any(h.reference in section[: section.index("</section>")] for h in built.values())
    assert [lines[0]] in list(csv.reader(io.StringIO(report_csv(report))))
    assert 'id="section-assessment"' in page and 'id="section-kinship"' in page
    assert built["gus"].reference in page[page.index('id="table-timescale_at_risk"') :]


def test_frames_without_assessment_rows_give_empty_measures():
    from funnel.frames import make_funnel_data

    data = make_funnel_data(pd.Timestamp(AS_OF))
    assert assessment.checks_outstanding(data).empty
    assert assessment.timescale_at_risk(data).empty
    assert assessment.panel_outcomes(data, {"week": WEEK.period})["week"].sum() == 0
    stays = assessment.time_in_assessment(data, YEAR, {"stage_one": 60, "stage_two": 120})
    assert stays["finished"].sum() == 0


def test_the_json_summary_carries_the_assessment_measures(session, built, settings):
    data = load_funnel_data(session, as_of=AS_OF)
    out = assessment.summary(
        data, YEAR, {"stage_one": 60, "stage_two": 120}, kinds=load_check_kinds()
    )
    assert out["checks_outstanding"]["dbs_enhanced"] == {
        "outstanding": 2, "past_target": 1, "median_days": 44.5, "oldest_days": 62,
    }  # fmt: skip
    assert out["time_in_stage"]["stage_one"]["finished"] == 4
    assert out["time_in_stage"]["stage_one"]["within_target_share"] == 0.25
    assert out["time_in_stage"]["stage_two_kinship"]["median_days"] == 144
    assert (out["timescale_at_risk"], out["timescale_overdue"]) == (4, 1)
    assert out["panel"]["recommendation:approve"] == {"mainstream": 1, "kinship": 0}
    assert out["panel"]["decision:not_approved"] == {"mainstream": 1, "kinship": 0}
    json.dumps(out)  # JSON-ready
