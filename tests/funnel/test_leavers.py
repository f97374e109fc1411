"""Carers who left, by reason, time since approval and age group (funnel.leavers), worked by
hand on SQLite and PostgreSQL, with the notices recorded through crm.services.leaving.

"Now" is Tuesday 10 March 2026 when the carers are made; the notices are given then (a notice
28 days old or more ends the approval at once). The report is read for 2026-W11 (Monday 9 to
Sunday 15 March) with the clock moved on to 20 March, so it is as at the end of 15 March; its
12 months are 16 March 2025 to 15 March 2026.

  carer area  approved    born (1st)    notice      approval ends  reason
  Ann   North 2025-06-02  1998-05-01    2026-01-05  2026-02-02     burnout
  Ben   North 2023-01-10  1986-02-02    2026-01-05  2026-02-02     other ("Moving abroad")
  Cat   North 2014-06-02  1960-07-01    2025-12-01  2025-12-29     retirement
  Dan   North 2020-03-02  not recorded  2025-11-03  2025-12-01     retirement
  Eve   South 2024-01-15  1970-03-01    2025-10-01  2025-10-29     other ("Too far to go")
  Fay   North 2016-01-04  1950-01-01    2024-11-04  2024-12-02     retirement (before the year)
  Gus   North 2019-05-01  1975-09-02    none: deregistered 2025-09-01 by the pipeline (health)
  Hal   North 2025-09-01  1990-01-01    2026-03-02  2026-03-30     unhappy_with_support (notice)
  Ivy   South 2021-04-01  1964-01-01    2026-03-05  2026-04-02     other ("Family reasons") (notice)
  Jo    North 2022-01-04  1980-01-01    still approved, no notice

Years since approval to the day the approval ended (365.25-day years): Ann 245 days (under 1),
Ben 1119 days (2 to 5), Cat 4228 days (10 or more), Dan 2100 days (5 to 10), Eve 653 days (1 to
2), Gus 2315 days (5 to 10), Hal 210 days (under 1), Ivy 1827 days (5.002: 5 to 10).
Age on that day: Ann 27 (under 30), Ben 40 on his birthday (40 to 49), Cat 65 (60 or over), Dan
not recorded, Eve 55 (50 to 59), Gus 49, the day before his 50th birthday (40 to 49), Hal 36 (30
to 39), Ivy 62 (60 or over).

Deregistered in the 12 months: Ann, Ben, Cat, Dan, Eve, Gus (6); under notice: Hal, Ivy (2).
Northshire alone: Ann, Ben, Cat, Dan, Gus (5) and Hal (1); Southshire: Eve (1) and Ivy (1).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.cli import main
from crm.services import leaving
from crm.services.actors import Actor
from crm.services.pipeline import move_stage
from crm.services.staff import create_staff_user
from crm.testing.fixtures import TEST_PASSWORD
from funnel import leavers
from funnel.load import load_funnel_data, resolve_area_ids
from funnel.periods import IsoWeek, Period
from funnel.report import _environment, build_weekly_report, report_csv
from tests.crm.web.test_web_reports import make_app, signed_in
from tests.funnel.helpers import at, make_history

W11 = IsoWeek(2026, 11)
YEAR = Period(date(2025, 3, 16), date(2026, 3, 15))
LATER = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
NORTH, SOUTH = "LE1 6ZG", "NG1 1AA"

# name, postcode, approved, born, notice (or None), reason, words
OTHER = "other"
CARERS = [
    ("Ann", NORTH, date(2025, 6, 2), date(1998, 5, 1), date(2026, 1, 5), "burnout", None),
    ("Ben", NORTH, date(2023, 1, 10), date(1986, 2, 2), date(2026, 1, 5), "other", "Moving abroad"),
    ("Cat", NORTH, date(2014, 6, 2), date(1960, 7, 1), date(2025, 12, 1), "retirement", None),
    ("Dan", NORTH, date(2020, 3, 2), None, date(2025, 11, 3), "retirement", None),
    ("Eve", SOUTH, date(2024, 1, 15), date(1970, 3, 1), date(2025, 10, 1), OTHER, "Too far to go"),
    ("Fay", NORTH, date(2016, 1, 4), date(1950, 1, 1), date(2024, 11, 4), "retirement", None),
    ("Gus", NORTH, date(2019, 5, 1), date(1975, 9, 2), None, "health", None),
    ("Hal", NORTH, date(2025, 9, 1), date(1990, 1, 1), date(2026, 3, 2), "unhappy_with_support",
     None),
    ("Ivy", SOUTH, date(2021, 4, 1), date(1964, 1, 1), date(2026, 3, 5), "other", "Family reasons"),
    ("Jo", NORTH, date(2022, 1, 4), date(1980, 1, 1), None, None, None),
]  # fmt: skip

REASONS = {
    # code: (label, deregistered, under notice, with words)
    "retirement": ("Retirement", 2, 0, None),
    "burnout": ("Burnout / need a break from fostering", 1, 0, None),
    "health": ("Health", 1, 0, None),
    "unhappy_with_support": ("Unhappy with support", 0, 1, None),
    "other": ("Other", 2, 1, 3),
}
SERVICE = {
    "Less than 1 year": (1, 1),
    "1 to 2 years": (1, 0),
    "2 to 5 years": (1, 0),
    "5 to 10 years": (2, 1),
    "10 years or more": (1, 0),
}
AGES = {
    "Under 30": (1, 0),
    "30 to 39": (0, 1),
    "40 to 49": (2, 0),
    "50 to 59": (1, 0),
    "60 or over": (1, 1),
    "Age not recorded": (1, 0),
}


@pytest.fixture
def carers(session, settings, org):
    manager = Actor.for_staff(session, org.manager)
    made = {}
    for name, postcode, approved, born, notice, reason, words in CARERS:
        household = make_history(
            session,
            settings,
            first_name=name,
            enquired_at=at(approved - timedelta(days=30)),
            postcode=postcode,
            date_of_birth=born,
            moves=[(at(approved), "approved", None)],
        )
        carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
        assert carer.approved_on == approved
        if notice is not None:
            leaving.give_notice(
                session,
                manager,
                carer.id,
                notice_given_on=notice,
                reason_code=reason,
                reason_text=words,
            )
        elif reason is not None:
            # A deregistration recorded before the leaving service: the pipeline move alone.
            move_stage(
                session, manager, household.id, "deregistered", reason_code=reason,
                occurred_at=at("2025-09-01"),
            )  # fmt: skip
        made[name] = carer.id
    session.commit()
    clock.set_now(LATER)
    return made


def _rows(table) -> dict:
    return {key: tuple(int(row[c]) for c in leavers.COUNT_COLUMNS) for key, row in table.iterrows()}


def test_each_breakdown_by_hand(session, carers):
    data = load_funnel_data(session, as_of=W11.end_utc("Europe/London").to_pydatetime())
    frame = leavers.leavers(data, YEAR)
    status = frame["status"].to_dict()
    assert {k: status.get(v) for k, v in carers.items()} == {
        "Ann": "deregistered", "Ben": "deregistered", "Cat": "deregistered",
        "Dan": "deregistered", "Eve": "deregistered", "Fay": None, "Gus": "deregistered",
        "Hal": "under_notice", "Ivy": "under_notice", "Jo": None,
    }  # fmt: skip
    assert frame.loc[carers["Ben"], "age"] == 40  # on his 40th birthday
    assert frame.loc[carers["Gus"], "age"] == 49  # the day before his 50th
    assert frame.loc[carers["Ivy"], "years_approved"] == pytest.approx(1827 / 365.25)

    reasons = leavers.by_reason(data, frame)
    assert list(reasons.index) == list(REASONS)  # most first, "other" last
    assert {
        code: (
            row["reason"],
            int(row["deregistered"]),
            int(row["under_notice"]),
            None if pd.isna(row["with_words"]) else int(row["with_words"]),
        )
        for code, row in reasons.iterrows()
    } == REASONS
    assert _rows(leavers.by_time_approved(frame)) == SERVICE
    assert _rows(leavers.by_age(frame)) == AGES
    assert _rows(leavers.by_area(data, frame)) == {"Northshire": (5, 1), "Southshire": (1, 1)}


def test_limited_to_an_area(session, carers):
    south = resolve_area_ids(session, ["Southshire"])
    data = load_funnel_data(
        session, as_of=W11.end_utc("Europe/London").to_pydatetime(), area_ids=south
    )
    figures = leavers.summary(data, YEAR)
    assert (figures["deregistered"], figures["under_notice"]) == (1, 1)
    assert figures["by_reason"] == {
        "other": {"label": "Other", "deregistered": 1, "under_notice": 1, "with_words": 2}
    }
    assert figures["by_time_since_approval"]["1 to 2 years"] == {
        "deregistered": 1, "under_notice": 0
    }  # fmt: skip
    assert figures["by_time_since_approval"]["5 to 10 years"] == {
        "deregistered": 0, "under_notice": 1
    }  # fmt: skip
    assert figures["by_age_group"]["50 to 59"]["deregistered"] == 1
    assert figures["by_age_group"]["60 or over"]["under_notice"] == 1
    assert figures["by_area"] == {"Southshire": {"deregistered": 1, "under_notice": 1}}


def test_as_at_an_earlier_moment_nobody_was_under_notice_yet(session, carers):
    """The notices were recorded on 10 March: as at the end of W10 (8 March) none was known,
    and the deregistrations they ended at once are there all the same (dated as they were)."""
    data = load_funnel_data(session, as_of=IsoWeek(2026, 10).end_utc("UTC").to_pydatetime())
    figures = leavers.summary(data, Period(date(2025, 3, 9), date(2026, 3, 8)))
    assert (figures["deregistered"], figures["under_notice"]) == (6, 0)


def test_a_withdrawn_notice_is_not_counted_and_a_second_one_is_counted_once(
    session, settings, org, carers
):
    """Jo gave notice on 2 March and withdrew it on 4 March; Hal's notice is withdrawn on 6
    March and given again on 9 March. As at the end of W11 Hal is under notice once (the second
    notice, its reason) and Jo not at all."""
    manager = Actor.for_staff(session, org.manager)
    clock.set_now(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    jo, hal = carers["Jo"], carers["Hal"]
    leaving.give_notice(
        session, manager, jo, notice_given_on=date(2026, 3, 2), reason_code="retirement"
    )
    leaving.withdraw_notice(session, manager, jo, withdrawn_on=date(2026, 3, 4), reason="Stays")
    leaving.withdraw_notice(session, manager, hal, withdrawn_on=date(2026, 3, 6), reason="Stays")
    leaving.give_notice(
        session, manager, hal, notice_given_on=date(2026, 3, 9), reason_code="health"
    )
    clock.set_now(LATER)
    data = load_funnel_data(session, as_of=W11.end_utc("Europe/London").to_pydatetime())
    assert len(data.carers) == len(CARERS)  # one row per carer, whatever their notices
    frame = leavers.leavers(data, YEAR)
    assert frame["status"].get(jo) is None
    assert frame.loc[hal, "status"] == "under_notice" and frame.loc[hal, "reason_code"] == "health"
    assert leavers.summary(data, YEAR)["under_notice"] == 2


def test_the_weekly_report_section_and_its_csv(session, settings, carers):
    data = load_funnel_data(session, as_of=W11.end_utc("Europe/London").to_pydatetime())
    report = build_weekly_report(data, W11, settings, with_charts=False)
    names = [t.name for t in report.tables]
    assert {"leavers_by_reason", "leavers_by_time_approved", "leavers_by_age"} <= set(names)
    assert "deregistration_reasons" not in names  # replaced by the three tables
    by_reason = report.table("leavers_by_reason")
    assert by_reason.rows() == [
        [label, str(d), str(n), "–" if w is None else str(w)] for label, d, n, w in REASONS.values()
    ]
    assert "6 in all" in by_reason.note and "(2)" in by_reason.note
    assert report.table("leavers_by_age").rows()[-1] == ["Age not recorded", "1", "0"]

    html = (
        _environment()
        .get_template("funnel/_weekly_body.html")
        .render(report=report, image_src=lambda c: "", case_url=None)
    )
    for name in ("leavers_by_reason", "leavers_by_time_approved", "leavers_by_age"):
        assert f'id="table-{name}"' in html
    assert '<th scope="row">10 years or more</th><td class="fr-num">1</td>' in html
    assert "Moving abroad" not in html.split('id="table-leavers_by_reason"')[1].split("</div>")[0]

    rows = list(csv.reader(io.StringIO(report_csv(report))))
    at_ = rows.index(["Carers who left, by time since approval"])
    assert rows[at_ + 1] == [
        "Time since approval",
        "Deregistered (last 12 months)",
        "Under notice now",
    ]
    assert rows[at_ + 2 : at_ + 7] == [[band, str(d), str(n)] for band, (d, n) in SERVICE.items()]
    at_ = rows.index(["Why carers left (last 12 months)"])
    assert rows[at_ + 1 + len(REASONS)] == ["Other", "2", "1", "3"]
    at_ = rows.index(["Carers who left, by age group"])
    assert rows[at_ + 2 : at_ + 8] == [[band, str(d), str(n)] for band, (d, n) in AGES.items()]


def test_the_funnel_json_carries_the_leavers(database_url, carers):
    result = CliRunner().invoke(
        main,
        ["report", "funnel", "--from", "2025-03-16", "--to", "2026-03-15", "--json"],
        env={"FOSTERCRM_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)["leavers"]
    assert (figures["deregistered"], figures["under_notice"]) == (6, 2)
    assert {
        code: (v["label"], v["deregistered"], v["under_notice"], v.get("with_words"))
        for code, v in figures["by_reason"].items()
    } == REASONS
    assert {k: tuple(v.values()) for k, v in figures["by_time_since_approval"].items()} == SERVICE
    assert {k: tuple(v.values()) for k, v in figures["by_age_group"].items()} == AGES
    north = CliRunner().invoke(
        main,
        ["report", "funnel", "--from", "2025-03-16", "--to", "2026-03-15", "--json",
         "--area", "Northshire"],
        env={"FOSTERCRM_DATABASE_URL": database_url},
    )  # fmt: skip
    assert json.loads(north.output)["leavers"]["by_area"] == {
        "Northshire": {"deregistered": 5, "under_notice": 1}
    }


def test_a_manager_of_one_area_gets_only_its_leavers_in_the_csv(
    session, settings, engine, org, carers
):
    south_manager = create_staff_user(
        session, Actor.system("test"), email="south.manager@test.example", name="South Manager",
        role="manager", password=TEST_PASSWORD, area_names=["Southshire"],
    )  # fmt: skip
    client = signed_in(make_app(settings, engine), south_manager)
    response = client.get(f"/reports/weekly/{W11}.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    at_ = rows.index(["Why carers left (last 12 months)"])
    assert rows[at_ + 2 :][:1] == [["Other", "1", "1", "2"]]
    at_ = rows.index(["Carers who left, by age group"])
    assert rows[at_ + 2 : at_ + 8] == [
        ["Under 30", "0", "0"], ["30 to 39", "0", "0"], ["40 to 49", "0", "0"],
        ["50 to 59", "1", "0"], ["60 or over", "0", "1"], ["Age not recorded", "0", "0"],
    ]  # fmt: skip
    page = client.get(f"/reports/weekly/{W11}").get_data(as_text=True)
    assert 'id="table-leavers_by_reason"' in page
