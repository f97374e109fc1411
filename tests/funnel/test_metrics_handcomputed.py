"""Metrics on a small data set whose every number was worked out by hand (no database).

The January 2026 cohort (12 households, enquiries at 12:00 GMT on the days below):

  H1  Mon 5 Jan   visit +7, application +21, stage one +35, stage two +56 (still there)
  H2  Tue 6 Jan   withdrew +2 (finances)                          -> left at enquiry
  H3  Wed 7 Jan   application +14 (skipped the visit), not progressed +50 (checks)
  H4  Thu 8 Jan   visit +10, withdrew +17 (space)                 -> left at initial visit
  H5  Fri 9 Jan   nothing since the enquiry, never contacted
  H6  Mon 12 Jan  visit +3, application +10, one +20, two +30, panel +40, approved +45
  H7  Tue 13 Jan  visit +8, on hold +15
  H8  Wed 14 Jan  visit +6, application +20, one +30, withdrew +40 (timing)
  H9  Thu 15 Jan  visit +5, application +15, one +25, two +35, withdrew +44 (changed_mind)
  H10 Fri 16 Jan  visit +4, application +12, one +22, two +32, panel +42, not progressed +46
  H11 Mon 19 Jan  visit +9, application +19, withdrew +25 (finances)
  H14 Tue 20 Jan  visit +2, application +11, one +21, two +31, panel +41, withdrew +43

Outside the cohort: H12 (December, approved), H13 (2 Feb, open, contacted lately), H15-H17
(applications from summer 2025, for the panel deadline). As at Tue 10 Mar 2026 10:00 UTC.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from funnel import metrics
from funnel.frames import FUNNEL, make_funnel_data
from funnel.periods import IsoWeek, Period
from tests.funnel.helpers import at, journey_frames

AS_OF = at("2026-03-10", 10)
JANUARY = Period(date(2026, 1, 1), date(2026, 1, 31))
TARGETS = {
    "enquiry": 5,
    "initial_visit": 14,
    "application": 14,
    "stage_one": 60,
    "stage_two": 120,
    "panel": 14,
    "on_hold": 90,
}
RULE = metrics.ResponseRule(1)  # 1 working day, office 09:00-17:00


def journeys() -> list[dict]:
    web, social, event = "web_search", "social_media", "event"
    return [
        dict(id=1, enquired=at("2026-01-05"), source_key=web,
             first_contact_at=at("2026-01-05", 15),
             moves=[(7, "initial_visit"), (21, "application"), (35, "stage_one"),
                    (56, "stage_two")]),
        dict(id=2, enquired=at("2026-01-06"), source_key=web,
             first_contact_at=at("2026-01-07", 11), moves=[(2, "withdrawn", "finances")]),
        dict(id=3, enquired=at("2026-01-07"), source_key=web,
             first_contact_at=at("2026-01-08", 13),
             moves=[(14, "application"), (50, "not_progressed", "checks")]),
        dict(id=4, enquired=at("2026-01-08"), source_key=web,
             first_contact_at=at("2026-01-12", 10),
             moves=[(10, "initial_visit"), (17, "withdrawn", "space")]),
        dict(id=5, enquired=at("2026-01-09"), source_key=social),
        dict(id=6, enquired=at("2026-01-12"), source_key=social,
             first_contact_at=at("2026-01-12", 16),
             moves=[(3, "initial_visit"), (10, "application"), (20, "stage_one"),
                    (30, "stage_two"), (40, "panel"), (45, "approved")]),
        dict(id=7, enquired=at("2026-01-13"), source_key=social,
             first_contact_at=at("2026-01-13", 14),
             moves=[(8, "initial_visit"), (15, "on_hold", "family_event")]),
        dict(id=8, enquired=at("2026-01-14"), source_key=event,
             moves=[(6, "initial_visit"), (20, "application"), (30, "stage_one"),
                    (40, "withdrawn", "timing")]),
        dict(id=9, enquired=at("2026-01-15"), source_key=event,
             first_contact_at=at("2026-01-16", 12),
             moves=[(5, "initial_visit"), (15, "application"), (25, "stage_one"),
                    (35, "stage_two"), (44, "withdrawn", "changed_mind")]),
        dict(id=10, enquired=at("2026-01-16"), source_key=event,
             first_contact_at=at("2026-01-19", 11, 59),
             moves=[(4, "initial_visit"), (12, "application"), (22, "stage_one"),
                    (32, "stage_two"), (42, "panel"), (46, "not_progressed", "suitability")]),
        dict(id=11, enquired=at("2026-01-19"), source_key=event,
             first_contact_at=at("2026-01-21", 9),
             moves=[(9, "initial_visit"), (19, "application"), (25, "withdrawn", "finances")]),
        dict(id=14, enquired=at("2026-01-20"), source_key=event,
             first_contact_at=at("2026-01-20", 12, 30),
             moves=[(2, "initial_visit"), (11, "application"), (21, "stage_one"),
                    (31, "stage_two"), (41, "panel"), (43, "withdrawn", "other_service")]),
        # Outside January.
        dict(id=12, enquired=at("2025-12-10"), source_key=web,
             moves=[(5, "initial_visit"), (20, "application"), (40, "stage_one"),
                    (60, "stage_two"), (70, "panel"), (75, "approved")]),
        dict(id=13, enquired=at("2026-02-02"), source_key=social),
        dict(id=15, enquired=at("2025-06-02"), source_key=web,
             moves=[(18, "initial_visit"), (29, "application"), (60, "stage_one")]),
        dict(id=16, enquired=at("2025-06-20"), source_key=web,
             moves=[(10, "initial_visit"), (30, "application")]),
        dict(id=17, enquired=at("2025-07-20"), source_key=web,
             moves=[(10, "initial_visit"), (26, "application")]),
    ]  # fmt: skip


def carers() -> pd.DataFrame:
    return pd.DataFrame(
        [
            dict(carer_id=1, household_id=101, reference="C1", approved_on="2024-04-01",
                 places=1, status="deregistered", deregistered_on="2024-12-01",
                 deregistration_reason_code="unhappy_with_support"),
            dict(carer_id=2, household_id=102, reference="C2", approved_on="2024-06-15",
                 places=2, status="active"),
            dict(carer_id=3, household_id=103, reference="C3", approved_on="2024-09-01",
                 places=1, status="deregistered", deregistered_on="2025-10-01",
                 deregistration_reason_code="retirement"),
            dict(carer_id=4, household_id=104, reference="C4", approved_on="2025-05-01",
                 places=1, status="active", at_risk=True, at_risk_reason="Partner unwell"),
            dict(carer_id=5, household_id=6, reference="H6", approved_on="2026-02-26",
                 places=1, status="active"),
        ]
    )  # fmt: skip


@pytest.fixture(scope="module")
def data():
    households, events = journey_frames(journeys())
    last_activity = pd.DataFrame(
        {
            "household_id": [13, 16, 17],
            "last_activity_at": [at("2026-03-08"), at("2026-03-01"), at("2026-03-01")],
        }
    )
    placements = pd.DataFrame(
        {
            "carer_id": [2, 2, 4, 3],
            "started_on": ["2025-01-01", "2024-07-01", "2026-01-10", "2024-10-01"],
            "ended_on": [None, "2025-06-01", None, "2025-09-01"],
        }
    )
    check_ins = pd.DataFrame(
        {
            "carer_id": [2, 2, 4],
            "sent_at": [at("2026-01-05"), at("2026-02-16"), at("2026-02-10")],
            "answered_at": [at("2026-01-06"), at("2026-02-17"), None],
            "score": [4, 2, None],
            "wants_call": [False, False, False],
        }
    )
    return make_funnel_data(
        AS_OF,
        households=households,
        events=events,
        last_activity=last_activity,
        carers=carers(),
        placements=placements,
        check_ins=check_ins,
    )


def test_cohort_funnel_counts_skipped_stages_as_reached(data):
    table = metrics.cohort_funnel(data, JANUARY)
    assert table["reached"].to_dict() == {
        "enquiry": 12,
        "initial_visit": 10,  # includes H3, who went straight to application
        "application": 8,
        "stage_one": 6,
        "stage_two": 5,
        "panel": 3,
        "approved": 1,
    }
    assert metrics.conversions(table) == pytest.approx(
        {
            "enquiry->initial_visit": 10 / 12,
            "initial_visit->application": 8 / 10,
            "application->stage_one": 6 / 8,
            "stage_one->stage_two": 5 / 6,
            "stage_two->panel": 3 / 5,
            "panel->approved": 1 / 3,
            "enquiry->approved": 1 / 12,
        }
    )
    assert table["conversion_from_enquiry"].tolist() == pytest.approx(
        [1, 10 / 12, 8 / 12, 6 / 12, 5 / 12, 3 / 12, 1 / 12]
    )


def test_days_from_enquiry_median_and_75th_percentile(data):
    days = metrics.days_to_stage(metrics.cohort(data, JANUARY))
    # Initial visit: 2,3,4,5,6,7,8,9,10,14 (H3 reached it when it applied, day 14).
    assert days.loc["initial_visit"].to_dict() == {"households": 10, "median": 6.5, "p75": 8.75}
    # Application: 10,11,12,14,15,19,20,21.
    assert days.loc["application"].to_dict() == {"households": 8, "median": 14.5, "p75": 19.25}
    assert days.loc["stage_one"].to_dict() == {"households": 6, "median": 23.5, "p75": 28.75}
    assert days.loc["stage_two"].to_dict() == {"households": 5, "median": 32.0, "p75": 35.0}
    assert days.loc["panel"].to_dict() == {"households": 3, "median": 41.0, "p75": 41.5}
    assert days.loc["approved"].to_dict() == {"households": 1, "median": 45.0, "p75": 45.0}


def test_time_in_stage_finished_and_ongoing(data):
    table = metrics.time_in_stage(data, metrics.cohort(data, JANUARY))
    # Enquiry stays: 2,2,3,4,5,6,7,8,9,10,14 finished; H5 still there after 59 days 22 hours.
    enquiry = table.loc["enquiry"]
    assert (enquiry["finished"], enquiry["median"], enquiry["ongoing"]) == (11, 6.0, 1)
    assert enquiry["ongoing_median"] == pytest.approx(59 + 22 / 24)
    # H7 on hold since 28 January.
    assert table.loc["on_hold", "ongoing"] == 1
    assert table.loc["on_hold", "ongoing_median"] == pytest.approx(40 + 22 / 24)
    assert table.loc["on_hold", "finished"] == 0
    # Panel stays: H6 5 days, H10 4, H14 2.
    assert table.loc["panel"][["finished", "median"]].tolist() == [3, 4.0]


def test_first_contact_against_one_working_day(data):
    contacts = metrics.first_contact(data, metrics.cohort(data, JANUARY), RULE)
    assert contacts["status"].to_dict() == {
        1: "on_time",  # same afternoon
        2: "on_time",  # next day before noon
        3: "late",  # next day 13:00, due 12:00
        4: "late",  # Thursday to Monday
        5: "waiting_late",  # never contacted, still at enquiry
        6: "on_time",
        7: "on_time",
        8: "unknown",  # moved on with no contact recorded
        9: "on_time",  # exactly at the due time
        10: "on_time",  # Friday noon to Monday 11:59
        11: "late",
        14: "on_time",
    }
    summary = metrics.first_contact_summary(contacts)
    assert summary["contacted"] == 10
    assert summary["contacted_within_target"] == 7
    assert summary["waiting_past_target"] == 1
    assert summary["share_within_target"] == pytest.approx(7 / 11)
    assert summary["median_working_days"] == 1.0
    assert contacts.loc[4, "working_days"] == 2  # Friday and Monday


def test_drop_off_by_stage_and_reason(data):
    group = metrics.cohort(data, JANUARY)
    drops = metrics.drop_off(group)
    assert metrics.by_left_stage(drops, "withdrawn") == {
        "enquiry": 1,
        "initial_visit": 1,
        "application": 1,
        "stage_one": 1,
        "stage_two": 1,
        "panel": 1,
    }
    assert metrics.by_left_stage(drops, "not_progressed") == {
        "enquiry": 0,
        "initial_visit": 0,
        "application": 1,
        "stage_one": 0,
        "stage_two": 0,
        "panel": 1,
    }
    assert metrics.by_reason(drops, "withdrawn") == {
        "finances": 2,
        "space": 1,
        "timing": 1,
        "changed_mind": 1,
        "other_service": 1,
    }
    assert metrics.by_reason(drops, "not_progressed") == {"checks": 1, "suitability": 1}
    outcomes = metrics.stage_outcomes(group)
    assert outcomes.loc["enquiry"].to_dict() == {
        "in_progress": 1,  # H5
        "on_hold": 0,
        "withdrawn": 1,  # H2
        "not_progressed": 0,
        "approved": 0,
        "deregistered": 0,
    }
    assert outcomes.loc["initial_visit", "on_hold"] == 1  # H7
    assert outcomes.loc["stage_two", "in_progress"] == 1  # H1
    assert outcomes.loc["approved", "approved"] == 1  # H6


def test_by_source_reached_counts(data):
    table = metrics.reached_by(metrics.cohort(data, JANUARY), "source_key")
    assert table.loc["web_search"].tolist() == [4, 3, 2, 1, 1, 0, 0]
    assert table.loc["social_media"].tolist() == [3, 2, 1, 1, 1, 1, 1]
    assert table.loc["event"].tolist() == [5, 5, 5, 4, 3, 2, 0]
    channels = metrics.channel_table(metrics.cohort(data, JANUARY), "source_key")
    assert channels.loc["social_media", "to_approval"] == pytest.approx(1 / 3)
    assert channels.loc["event", "to_initial_visit"] == 1.0


def test_empty_period(data):
    empty = Period(date(2026, 2, 3), date(2026, 2, 28))
    summary = metrics.funnel_summary(data, empty, RULE)
    assert summary["cohort_size"] == 0
    assert summary["reached"] == dict.fromkeys(FUNNEL, 0)
    assert set(summary["conversion"].values()) == {None}
    assert set(summary["median_days_from_enquiry"].values()) == {None}
    assert summary["withdrawn_by_reason"] == {}
    assert summary["by_source"] == {}
    assert summary["first_contact"]["share_within_target"] is None


def test_period_with_one_household(data):
    one = Period(date(2026, 2, 2), date(2026, 2, 2))
    summary = metrics.funnel_summary(data, one, RULE)
    assert summary["cohort_size"] == 1
    assert summary["reached"] == {"enquiry": 1, **dict.fromkeys(FUNNEL[1:], 0)}
    assert summary["conversion"]["enquiry->initial_visit"] == 0.0
    assert summary["conversion"]["initial_visit->application"] is None
    assert summary["conversion"]["enquiry->approved"] == 0.0
    assert summary["median_days_from_enquiry"]["enquiry"] == 0.0
    assert summary["median_days_from_enquiry"]["initial_visit"] is None
    assert summary["by_source"] == {"social_media": {"enquiry": 1, **dict.fromkeys(FUNNEL[1:], 0)}}


def test_stalled_cases_use_the_last_move_or_activity(data):
    stalled = metrics.stalled_cases(data, TARGETS)
    # H13 had a call on 8 March; H16 and H17 on 1 March; H1, H7 and H6 are within target.
    assert stalled["reference"].tolist() == ["H15", "H5"]
    assert stalled["days_since_last_action"].tolist() == [220, 59]
    assert stalled["days_over_target"].tolist() == [160, 54]
    assert stalled["stage"].tolist() == ["stage_one", "enquiry"]


def test_weekly_enquiries_trend(data):
    trend = metrics.weekly_enquiries(data, IsoWeek(2026, 6), weeks=6)
    # ISO week 1 of 2026 starts on Monday 29 December: W02 holds H1-H5, W03 H6-H10,
    # W04 H11 and H14, W06 H13 (2 February).
    assert trend.index.tolist() == ["2026-W01", "2026-W02", "2026-W03", "2026-W04",
                                    "2026-W05", "2026-W06"]  # fmt: skip
    assert trend["week_start"].tolist()[:2] == [date(2025, 12, 29), date(2026, 1, 5)]
    assert trend["enquiries"].tolist() == [0, 5, 5, 2, 0, 1]
    assert trend["change_on_previous_week"].tolist()[1:] == [5, 0, -3, -2, 1]
    # The 4 weeks before W05 are W01-W04: (0+5+5+2)/4; before W06, W02-W05: (5+5+2+0)/4.
    assert trend.loc["2026-W05", "average_previous_4_weeks"] == 3.0
    assert trend.loc["2026-W06", "average_previous_4_weeks"] == 3.0
    assert trend.loc["2026-W06", "change_on_4_week_average"] == -2.0
    # W01 needs the 4 weeks of December before it: one enquiry (H12, 10 December).
    assert trend.loc["2026-W01", "average_previous_4_weeks"] == 0.25
    activity = metrics.weekly_activity(data, IsoWeek(2026, 10), weeks=1)
    # Week of 2-8 March: H1 reached stage two (not counted here), H10 not progressed
    # (3 Mar), H14 withdrew (5 Mar).
    assert activity.loc["2026-W10", ["withdrawn", "not_progressed"]].tolist() == [1, 1]


def test_retention_numbers(data):
    assert metrics.retention_12_months(data) == {
        "approved_from": "2024-03-11",
        "approved_to": "2025-03-10",
        "approved": 3,
        "retained": 2,
        "left_within_12_months": 1,
        "retention_rate": pytest.approx(2 / 3),
    }
    assert metrics.place_utilisation(data) == {
        "on": "2026-03-10",
        "carer_households": 3,
        "approved_places": 4,
        "filled_places": 2,
        "utilisation": 0.5,
    }
    movement = metrics.carer_movement(data, date(2025, 4, 1), date(2026, 3, 10))
    assert movement["approvals"].sum() == 2
    assert movement.loc["2025-05", "approvals"] == 1
    assert movement.loc["2025-10", "deregistrations"] == 1
    assert movement.loc["2025-10", "net_change"] == -1
    assert movement.loc["2026-03", "carer_households_at_end"] == 3
    reasons = metrics.deregistration_reasons(data, Period(date(2024, 1, 1), date(2026, 3, 10)))
    assert reasons.to_dict() == {"unhappy_with_support": 1, "retirement": 1}


def test_check_ins_and_carers_at_risk(data):
    trend = metrics.check_in_trend(data, date(2026, 1, 1), date(2026, 3, 10))
    assert trend.loc["2026-01", ["sent", "answered", "average_score"]].tolist() == [1, 1, 4.0]
    assert trend.loc["2026-02", ["sent", "answered", "low_scores"]].tolist() == [2, 1, 1]
    assert trend.loc["2026-02", "response_rate"] == 0.5
    assert trend.loc["2026-03", "sent"] == 0
    risk = metrics.carers_at_risk(data, low_score=2)
    assert risk["reference"].tolist() == ["C2", "C4"]
    assert risk["why"].tolist() == ["last check-in scored 2 of 5", "flagged: Partner unwell"]


def test_labels_for_missing_values(data):
    assert data.source_label("not_recorded") == "Not recorded"
    assert data.source_label(None) == "Not recorded"
    assert data.reason_label("withdrawn", "not_recorded") == "Not recorded"
    # No lists in this data set: a code stands for itself.
    assert data.source_label("web_search") == "web_search"
