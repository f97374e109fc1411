"""The annual figures (1 April 2025 to 31 March 2026) on data worked out by hand, and their
Excel workbook. As at 1 April 2026 00:00 London time (31 March 23:00 UTC).

  A1  enquired 31 Mar 2025 (the year before); application 10 Apr 2025; approved 1 Dec 2025
  A2  enquired 1 May 2025; withdrew 21 May at enquiry
  A3  enquired 1 Jun 2025; visit 6 Jun, application 1 Jul, not progressed 9 Oct (application)
  A4  enquired 1 Jul 2025; visit 11 Jul, on hold 21 Jul, withdrew 10 Aug (from the visit stage)
  A6  enquired 31 Mar 2026 12:00 UTC (13:00 London): inside the year

  C1  A1's approval, 1 Dec 2025, 2 places               -> at year end, less than 1 year
  C2  approved 10 Jan 2015, 3 places                     -> at year end, 10 years or more
  C3  approved 1 May 2022, deregistered 30 Sep 2025 (health) -> in the year, 2 to 5 years
  C4  approved 1 Jun 2024, 2 places                      -> at year end, 1 to 2 years
  C5  approved 1 Feb 2019, deregistered 31 Dec 2024      -> before the year: not counted

Enquiries 4 (A2, A3, A4, A6); applications 2 (A1, A3); approved 1 (A1); withdrew 2 (A2 at
enquiry, A4 at initial visit); not progressed 1 (A3 at application); 3 households and 7 places
at the year end; 1 deregistration (health).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pandas as pd
from openpyxl import load_workbook

from funnel.annual import annual_figures, annual_workbook, current_year, year_period
from funnel.frames import make_funnel_data
from tests.funnel.helpers import at, journey_frames

AS_OF = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)


def data():
    households, events = journey_frames(
        [
            dict(id=1, enquired=at("2025-03-31"), moves=[(10, "application"), (245, "approved")]),
            dict(id=2, enquired=at("2025-05-01"), moves=[(20, "withdrawn", "timing")]),
            dict(id=3, enquired=at("2025-06-01"),
                 moves=[(5, "initial_visit"), (30, "application"),
                        (130, "not_progressed", "checks")]),
            dict(id=4, enquired=at("2025-07-01"),
                 moves=[(10, "initial_visit"), (20, "on_hold"), (40, "withdrawn", "space")]),
            dict(id=6, enquired=at("2026-03-31")),
        ]
    )  # fmt: skip
    carers = pd.DataFrame(
        [
            (1, 1, "2025-12-01", 2, "active", None, None),
            (2, 90, "2015-01-10", 3, "active", None, None),
            (3, 91, "2022-05-01", 1, "deregistered", "2025-09-30", "health"),
            (4, 92, "2024-06-01", 2, "active", None, None),
            (5, 93, "2019-02-01", 1, "deregistered", "2024-12-31", "retired"),
        ],
        columns=[
            "carer_id", "household_id", "approved_on", "places", "status", "deregistered_on",
            "deregistration_reason_code",
        ],
    )  # fmt: skip
    carers["reference"] = "C" + carers["carer_id"].astype(str)
    reasons = pd.DataFrame([{"kind": "deregistered", "code": "health", "label": "Health"}])
    return make_funnel_data(
        AS_OF, households=households, events=events, carers=carers, reasons=reasons
    )


def test_the_year_runs_from_april_to_march():
    assert year_period(2025).start == date(2025, 4, 1)
    assert year_period(2025).end == date(2026, 3, 31)
    assert current_year(date(2026, 3, 31)) == 2025 and current_year(date(2026, 4, 1)) == 2026


def test_annual_counts_by_hand():
    figures = annual_figures(data(), 2025)
    counts = dict(zip(figures.counts["measure"], figures.counts["value"], strict=True))
    assert counts == {
        "Enquiries": 4,
        "Applications": 2,
        "Households approved": 1,
        "Withdrawn (all stages)": 2,
        "Not progressed (all stages)": 1,
        "Approved fostering households at the year end": 3,
        "Approved places at the year end": 7,
        "Households deregistered": 1,
    }
    by_stage = figures.leaving_by_stage.set_index("stage")
    assert by_stage.loc["enquiry", "withdrawn"] == 1
    assert by_stage.loc["initial_visit", "withdrawn"] == 1  # left while on hold after the visit
    assert by_stage.loc["application", "not_progressed"] == 1
    assert int(by_stage[["withdrawn", "not_progressed"]].to_numpy().sum()) == 3
    assert figures.deregistrations[["reason", "carers"]].to_dict("records") == [
        {"reason": "Health", "carers": 1}
    ]
    bands = figures.service_length.set_index("band")
    assert bands["at_year_end"].tolist() == [1, 1, 0, 0, 1]
    assert bands["deregistered"].tolist() == [0, 0, 1, 0, 0]
    assert figures.label == "2025-26" and not figures.year_unfinished


def test_the_workbook_has_a_sheet_per_table():
    workbook = load_workbook(io.BytesIO(annual_workbook(annual_figures(data(), 2025))))
    assert workbook.sheetnames == [
        "Recruitment and households",
        "Withdrawn and not progressed, b",
        "Deregistrations by reason",
        "Carers' length of service",
    ]
    rows = list(workbook["Recruitment and households"].iter_rows(values_only=True))
    assert rows[1] == ("Measure", "Number")
    assert ("Enquiries", 4) in rows and ("Approved places at the year end", 7) in rows
