"""What lies behind "Other" in the weekly report: the words given for sources, campaigns and
reasons (an import keeps a tracker's own wording), counted by hand, on the page and in the CSV.

The week is W10 of 2026 (Mon 2 to Sun 8 March), figures as at Mon 9 March 00:00 UTC. The
mature cohort is the enquiries of 9 Jun 2024 to 8 Jun 2025; deregistrations count over the 12
months to 8 March 2026 (9 Mar 2025 to 8 Mar 2026).

  H1  Jul 2024, source other, "Facebook"
  H2  Aug 2024, source other, "Facebook"
  H3  Sep 2024, source other, no words
  H4  Oct 2024, source web search, campaign "Spring 2026" (not ours); withdrew for "other",
      "Financial reasons"
  H5  Nov 2024, withdrew for "other", "Financial reasons"
  H6  Dec 2024, not progressed for "other", "Not enough space at home"
  H7  Jan 2025, withdrew for "space" (words kept, but not an "other": not listed)
  H8  Jan 2023 (too old for the cohort), source other, "Google": not listed
  Carer C1 deregistered 1 Dec 2025 for "other", "Moved abroad"; carer C2 deregistered
  1 Jan 2024 (before the 12 months) for "other", "Too old": not listed.

So: Source: Facebook 2, No words recorded 1. Campaign not on our list: Spring 2026 1. Reason
for withdrawing: Financial reasons 2. Reason not progressed: Not enough space at home 1.
Reason for deregistering: Moved abroad 1.
"""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

import crm.models as m
from funnel.frames import make_funnel_data
from funnel.load import load_funnel_data
from funnel.periods import IsoWeek
from funnel.report import build_weekly_report, render_html, report_csv
from tests.funnel.helpers import at, journey_frames, make_history

W10 = IsoWeek(2026, 10)
AS_OF = at("2026-03-09", 0)
EXPECTED = [
    ["Source", "Facebook", 2],
    ["Source", "No words recorded", 1],
    ["Campaign not on our list", "Spring 2026", 1],
    ["Reason for withdrawing", "Financial reasons", 2],
    ["Reason not progressed", "Not enough space at home", 1],
    ["Reason for deregistering", "Moved abroad", 1],
]


def data():
    households, events = journey_frames(
        [
            dict(id=1, enquired=at("2024-07-01"), source_key="other", source_text="Facebook"),
            dict(id=2, enquired=at("2024-08-01"), source_key="other", source_text="Facebook"),
            dict(id=3, enquired=at("2024-09-01"), source_key="other"),
            dict(id=4, enquired=at("2024-10-01"), source_key="web_search",
                 campaign_text="Spring 2026", moves=[(30, "withdrawn", "other")]),
            dict(id=5, enquired=at("2024-11-01"), moves=[(10, "withdrawn", "other")]),
            dict(id=6, enquired=at("2024-12-01"), moves=[(20, "not_progressed", "other")]),
            dict(id=7, enquired=at("2025-01-01"), moves=[(20, "withdrawn", "space")]),
            dict(id=8, enquired=at("2023-01-01"), source_key="other", source_text="Google"),
        ]
    )  # fmt: skip
    words = {4: "Financial reasons", 5: "Financial reasons", 6: "Not enough space at home",
             7: "No room"}  # fmt: skip
    leaving = events["to_stage"].isin(["withdrawn", "not_progressed"])
    events["reason_text"] = events["household_id"].map(words).where(leaving)
    carers = pd.DataFrame(
        {
            "carer_id": [1, 2],
            "household_id": [101, 102],
            "reference": ["C1", "C2"],
            "approved_on": [date(2020, 1, 1), date(2019, 1, 1)],
            "places": [1, 1],
            "status": ["deregistered", "deregistered"],
            "deregistered_on": [date(2025, 12, 1), date(2024, 1, 1)],
            "deregistration_reason_code": ["other", "other"],
            "deregistration_reason_text": ["Moved abroad", "Too old"],
        }
    )
    sources = pd.DataFrame({"key": ["other", "web_search"], "label": ["Other", "Web search"]})
    return make_funnel_data(
        AS_OF, households=households, events=events, carers=carers, sources=sources
    )


def rows(report) -> list[list]:
    table = report.table("other_words")
    return [[r["list_label"], r["words"], int(r["households"])] for _, r in table.frame.iterrows()]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_words_behind_other_counted_by_hand(settings):
    report = build_weekly_report(data(), W10, settings, with_charts=False)
    assert rows(report) == EXPECTED
    # Nothing from outside the cohort or the 12 months, and no reason that is not "other".
    html = render_html(report, lambda chart: "")
    listed = {words for _, words, _ in rows(report)}
    assert not listed & {"Google", "Too old", "No room"}
    section = html[html.index('id="table-other_words"') :]
    section = section[: section.index("</table>")]
    assert '<th scope="row">Reason for withdrawing</th><td class="">Financial reasons</td>' in (
        section
    )
    assert "No room" not in section and "Google" not in section
    # The CSV: its title line, the header, the rows in the same order.
    lines = report_csv(report).splitlines()
    start = lines.index('"What \u201cOther\u201d means, in the words given"')
    assert lines[start + 1] == "Filed as other,The words given,Households"
    assert lines[start + 2 : start + 2 + len(EXPECTED)] == [
        ",".join(str(cell) for cell in row) for row in EXPECTED
    ]
    assert lines[start + 2 + len(EXPECTED)] == ""


def test_nothing_filed_as_other_says_so(settings):
    households, events = journey_frames([dict(id=1, enquired=at("2024-07-01"))])
    report = build_weekly_report(
        make_funnel_data(AS_OF, households=households, events=events),
        W10,
        settings,
        with_charts=False,
    )
    assert rows(report) == []
    assert "Nothing was filed under \u201cOther\u201d." in render_html(report, lambda chart: "")


def test_the_words_are_read_from_the_database(session, settings, org):
    """Both databases: the import's words (source, campaign, reason) come through the load."""
    facebook = make_history(
        session, settings, first_name="Fay", enquired_at=at("2024-07-01"), source_key="other"
    )
    finances = make_history(session, settings, first_name="Fin", enquired_at=at("2024-08-01"))
    session.exec(
        sa.update(m.Household)
        .where(m.Household.id == facebook.id)
        .values(source_text="Facebook", campaign_text="Spring 2026")
    )
    session.commit()
    from crm.services.actors import Actor
    from crm.services.pipeline import move_stage

    move_stage(
        session, Actor.system("test"), finances.id, "withdrawn", reason_code="other",
        reason_text="Financial reasons", occurred_at=at("2024-09-01"),
    )  # fmt: skip
    data = load_funnel_data(session, as_of=AS_OF)
    assert data.households.loc[facebook.id, ["source_text", "campaign_text"]].tolist() == [
        "Facebook", "Spring 2026",
    ]  # fmt: skip
    assert pd.isna(data.households.loc[finances.id, "source_text"])
    left = data.events[data.events["household_id"] == finances.id]
    assert left["reason_text"].tolist() == [None, "Financial reasons"]
    report = build_weekly_report(data, W10, settings, with_charts=False)
    assert rows(report) == [
        ["Source", "Facebook", 1],
        ["Campaign not on our list", "Spring 2026", 1],
        ["Reason for withdrawing", "Financial reasons", 1],
    ]
    assert "Reason for withdrawing,Financial reasons,1" in io.StringIO(report_csv(report)).read()
