"""The retention comparison inside and outside Mockingbird constellations, worked by hand.

Period 1 January to 31 December 2025 (365 days).
  C1  approved 2020, all year, a satellite from June 2024 on        -> 365 days inside
  C2  approved 2020, all year, never in a constellation              -> 365 days outside
  C3  approved 2020, deregistered 1 July (active 1 Jan-30 Jun, 181 days); a satellite from 1 April
      until the day it left (1 July)                                  -> 91 inside, 90 outside;
      a leaver inside
  C4  approved 1 October, deregistered 1 December (61 days), never in one -> a leaver outside
  C5  the hub home of a constellation started 1 July 2025          -> 184 days inside, 181 outside
Inside 365 + 91 + 184 = 640 days = 1.75 household-years; 1 leaver: 57.1 per 100 a year.
Outside 365 + 90 + 61 + 181 = 697 days = 1.91 household-years; 1 leaver: 52.4 per 100 a year.
Check-ins: C1 5 (March, inside), C2 3 (outside), C3 2 in February (outside, before joining) and
4 in May (inside), C5 1 in 2024 (outside the period): inside 4.5 of 2, outside 2.5 of 2.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from funnel.mockingbird import INSIDE, OUTSIDE, RetentionFrames, retention_comparison


def frames() -> RetentionFrames:
    carers = pd.DataFrame(
        [
            (1, 1, date(2020, 1, 1), None),
            (2, 1, date(2020, 1, 1), None),
            (3, 1, date(2020, 1, 1), date(2025, 7, 1)),
            (4, 1, date(2025, 10, 1), date(2025, 12, 1)),
            (5, 1, date(2020, 1, 1), None),
        ],
        columns=["carer_id", "area_id", "approved_on", "deregistered_on"],
    )
    memberships = pd.DataFrame(
        [
            (1, date(2024, 6, 1), None),
            (3, date(2025, 4, 1), date(2025, 7, 1)),
            (5, date(2025, 7, 1), None),
        ],
        columns=["carer_id", "joined_on", "left_on"],
    )
    check_ins = pd.DataFrame(
        [
            (1, 5, date(2025, 3, 1)),
            (2, 3, date(2025, 3, 1)),
            (3, 2, date(2025, 2, 1)),
            (3, 4, date(2025, 5, 1)),
            (5, 1, date(2024, 12, 1)),
        ],
        columns=["carer_id", "score", "answered_on"],
    )
    return RetentionFrames(carers, memberships, check_ins)


def test_leavers_and_scores_inside_and_outside_by_hand():
    table = retention_comparison(frames(), date(2025, 1, 1), date(2025, 12, 31))
    rows = {r["group"]: r for r in table.to_dict("records")}
    assert rows[INSIDE] == {
        "group": INSIDE, "household_years": 1.75, "leavers": 1, "leavers_per_100": 57.1,
        "answers": 2, "mean_score": 4.5,
    }  # fmt: skip
    assert rows[OUTSIDE] == {
        "group": OUTSIDE, "household_years": 1.91, "leavers": 1, "leavers_per_100": 52.4,
        "answers": 2, "mean_score": 2.5,
    }  # fmt: skip


def test_no_constellations_counts_everyone_outside():
    empty = frames()
    empty.memberships = empty.memberships.iloc[0:0]
    table = retention_comparison(empty, date(2025, 1, 1), date(2025, 12, 31))
    inside, outside = table.to_dict("records")
    assert inside["household_years"] == 0 and inside["leavers_per_100"] is None
    assert outside["leavers"] == 2 and outside["answers"] == 4
