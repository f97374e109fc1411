"""The report's new figures on small data worked out by hand (no database): the mature
cohort, the team's first attempt, the areas side by side, campaign costs and refer-a-friend.

As at Mon 9 Mar 2026 00:00 UTC (the end of W10). Response target 1 working day (office 09:00
to 17:00); an initial visit offered within 5 working days.

Recent enquiries (W10, Mon 2 to Fri 6 March, 12:00):

  R1  North, officer Ann. Called Mon 14:00, no answer; spoke Tue 10:00. Visit booked Wed.
      -> attempted in time (due Tue 12:00), spoken to in time, offered in time (due Mon 9 12:00)
  R2  North, officer Ann. Called twice with no answer (Tue 3 Mar 11:00, Thu 5 Mar), withdrawn
      "could not be contacted". -> attempted in time, never spoken to, no offer counted (nobody
      to offer it to)
  R3  South, officer Bo. Nothing at all. Enquired Mon 2 Mar. -> due, not attempted in time
  R4  South, officer Bo. Spoke Thu 5 Mar 15:00 (enquired Tue 3 Mar: due Wed 12:00) -> late
      both ways; offered nothing; 5 days not passed (due Tue 10 Mar 12:00) -> not counted
  R5  North, no officer. Enquired Fri 6 Mar 16:00: due Mon 9 Mar 16:00, after as_of -> not due

So: due 4 (R1-R4); attempted in time 2 (R1, R2) = 50%; spoken to in time 1 (R1) = 25%.
Offers counted: R1 only (spoken to, offered) -> 1 of 1.

Mature cohort (9 to 21 months before Sun 8 Mar 2026: 9 Jun 2024 to 8 Jun 2025):

  M1  North, enquired 1 Jul 2024, visit +10, application +40, approved +250, campaign C1
  M2  North, enquired 1 Aug 2024, visit +20, withdrew +30
  M3  South, enquired 1 Sep 2024, visit +5, application +35, approved +205, referred by M1
  M4  South, enquired 1 Oct 2024, nothing since
  Y1  North, enquired 1 Jan 2026 (too young), visit +5, campaign C2; referred by M1
  O1  North, enquired 1 Jan 2024 (too old for the window), campaign C1, visit +3
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from funnel import metrics
from funnel.frames import make_funnel_data
from funnel.periods import Period
from tests.funnel.helpers import at, journey_frames

AS_OF = at("2026-03-09", 0)
RULE = metrics.ResponseRule(1)


def data():
    households, events = journey_frames(
        [
            dict(id=1, enquired=at("2026-03-02"), area="North", officer="Ann",
                 first_attempt_at=at("2026-03-02", 14), first_contact_at=at("2026-03-03", 10),
                 visit_offered_at=at("2026-03-04", 9)),
            dict(id=2, enquired=at("2026-03-02"), area="North", officer="Ann",
                 first_attempt_at=at("2026-03-03", 11),
                 moves=[(4, "withdrawn", "could_not_contact")]),
            dict(id=3, enquired=at("2026-03-02"), area="South", officer="Bo"),
            dict(id=4, enquired=at("2026-03-03"), area="South", officer="Bo",
                 first_attempt_at=at("2026-03-05", 15), first_contact_at=at("2026-03-05", 15)),
            dict(id=5, enquired=at("2026-03-06", 16), area="North"),
            dict(id=11, enquired=at("2024-07-01"), area="North", campaign_id=1,
                 moves=[(10, "initial_visit"), (40, "application"), (250, "approved")]),
            dict(id=12, enquired=at("2024-08-01"), area="North",
                 moves=[(20, "initial_visit"), (30, "withdrawn", "space")]),
            dict(id=13, enquired=at("2024-09-01"), area="South", referrer_household_id=11,
                 moves=[(5, "initial_visit"), (35, "application"), (205, "approved")]),
            dict(id=14, enquired=at("2024-10-01"), area="South"),
            dict(id=21, enquired=at("2026-01-01"), area="North", campaign_id=2,
                 referrer_household_id=11, moves=[(5, "initial_visit")]),
            dict(id=31, enquired=at("2024-01-01"), area="North", campaign_id=1,
                 moves=[(3, "initial_visit")]),
        ]
    )  # fmt: skip
    campaigns = pd.DataFrame(
        {"campaign_id": [1, 2], "name": ["Radio", "Buses"], "cost_pence": [600_00, 300_00]}
    )
    return make_funnel_data(AS_OF, households=households, events=events, campaigns=campaigns)


def test_the_mature_window_is_9_to_21_months_back():
    assert metrics.mature_period(date(2026, 3, 8)) == Period(date(2024, 6, 9), date(2025, 6, 8))
    assert metrics.mature_period(date(2026, 3, 8), 12, 24) == Period(
        date(2024, 3, 9), date(2025, 3, 8)
    )
    d = data()
    mature = metrics.cohort(d, metrics.mature_period(date(2026, 3, 8)))
    assert sorted(mature.index) == [11, 12, 13, 14]
    table = metrics.funnel_table(mature)
    assert table.loc["approved", "reached"] == 2
    assert table.loc["approved", "conversion_from_enquiry"] == 0.5
    # Days to approval: 250 and 205, median 227.5.
    assert metrics.days_to_stage(mature).loc["approved", "median"] == 227.5


def test_first_attempt_counts_every_enquiry_including_the_unreachable():
    d = data()
    recent = metrics.cohort(d, Period(date(2026, 3, 2), date(2026, 3, 8)))
    times = metrics.response_times(d, recent, RULE, 5)
    assert times["attempt_due"].to_dict() == {1: True, 2: True, 3: True, 4: True, 5: False}
    summary = metrics.response_summary(times)
    assert summary["due"] == 4
    assert summary["attempted_in_time"] == 2 and summary["attempted_share"] == 0.5
    assert summary["contacted_in_time"] == 1 and summary["contacted_share"] == 0.25
    assert (summary["offer_due"], summary["offered_in_time"]) == (1, 1)
    # Working days to the first attempt: R1 0, R2 1, R4 2 -> median 1.
    assert summary["median_working_days"] == 1.0

    by_officer = metrics.response_by(times, recent["officer"], "No officer")
    assert by_officer.loc["Ann", ["due", "attempted_in_time", "contacted_in_time"]].tolist() == [
        2, 2, 1,
    ]  # fmt: skip
    assert by_officer.loc["Bo", "attempted_share"] == 0.0
    assert by_officer.loc["No officer", "due"] == 0
    assert pd.isna(by_officer.loc["No officer", "attempted_share"])


def test_areas_side_by_side_with_the_hub_total():
    d = data()
    recent = metrics.cohort(d, Period(date(2026, 3, 2), date(2026, 3, 8)))
    times = metrics.response_times(d, recent, RULE, 5)
    mature = metrics.cohort(d, metrics.mature_period(date(2026, 3, 8)))
    stalled = pd.DataFrame({"area": ["South", "South", "North"]})
    table = metrics.area_comparison(recent, times, mature, stalled)
    assert list(table.index) == ["North", "South", "All areas"]
    assert table["enquiries"].tolist() == [3, 2, 5]
    # North: R1, R2 due and both attempted in time; South: R3, R4 due, neither.
    assert table["attempted_share"].tolist() == [1.0, 0.0, 0.5]
    assert table["mature_enquiries"].tolist() == [2, 2, 4]
    assert table["enquiry_initial_visit"].tolist() == [1.0, 0.5, 0.75]
    assert table["application_approved"].tolist() == [1.0, 1.0, 1.0]
    assert table["enquiry_approved"].tolist() == [0.5, 0.5, 0.5]
    # Days from enquiry to initial visit: North 10 and 20 (median 15), South 5; all 10.
    assert table["days_enquiry_initial_visit"].tolist() == [15.0, 5.0, 10.0]
    assert table["days_enquiry_approved"].tolist() == [250.0, 205.0, 227.5]
    assert table["stalled"].tolist() == [1, 2, 3]


def test_campaign_cost_per_step_waits_for_the_cohort_to_mature():
    d = data()
    costs = metrics.campaign_costs(d, date(2025, 6, 8)).set_index("campaign")
    # Radio: M1 (approved) and O1 (visit): 2 enquiries, 2 visits, 1 approval; £600.
    radio = costs.loc["Radio"]
    assert (radio["enquiries"], radio["initial_visits"], radio["approvals"]) == (2, 2, 1)
    assert radio["cost_per_enquiry_pence"] == 300_00
    assert radio["cost_per_initial_visit_pence"] == 300_00
    assert radio["cost_per_approval_pence"] == 600_00 and not radio["approval_too_early"]
    # Buses: Y1 enquired in January 2026, too young to count approvals.
    buses = costs.loc["Buses"]
    assert buses["cost_per_enquiry_pence"] == 300_00
    assert buses["approval_too_early"] and pd.isna(buses["cost_per_approval_pence"])


def test_referrals_per_referring_carer():
    table = metrics.referrals(data())
    assert table.to_dict("records") == [
        {"referrer": "H11", "referrals": 2, "initial_visits": 2, "applications": 1,
         "approvals": 1},
    ]  # fmt: skip
