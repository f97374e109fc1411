"""Property-based tests (hypothesis): whatever the histories, the funnel adds up.

Journeys are generated the way households really move: forward through the funnel with skips,
pauses on hold, a withdrawal or a not-progressed decision at any stage before approval,
deregistration after approval, and the odd reopen back to an earlier stage.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.workdays import add_office_days, working_days_between
from funnel import metrics
from funnel.frames import FUNNEL, make_funnel_data
from funnel.officetime import OfficeClock
from funnel.periods import Period

START = datetime(2025, 1, 1, tzinfo=UTC)
AS_OF = datetime(2026, 3, 10, 10, tzinfo=UTC)
PERIOD = Period(date(2025, 3, 1), date(2025, 10, 31))
SOURCES = ["web_search", "event", "refer_a_friend", None]


@st.composite
def journey(draw, household_id: int) -> tuple[dict, list[tuple]]:
    enquired = START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 400)))
    moves: list[tuple[str, str | None]] = []
    position = 0
    for _ in range(draw(st.integers(0, 7))):
        choice = draw(st.sampled_from(["forward", "forward", "forward", "hold", "reopen"]))
        if choice == "forward" and position < 6:
            position = draw(st.integers(position + 1, 6))
            moves.append((FUNNEL[position], None))
        elif choice == "hold" and 0 < position < 6 and moves and moves[-1][0] != "on_hold":
            moves.append(("on_hold", "work"))
            moves.append((FUNNEL[position], None))
        elif choice == "reopen" and position > 1:
            position = draw(st.integers(0, position - 1))
            moves.append((FUNNEL[position], None))
    ending = draw(st.sampled_from(["open", "withdrawn", "not_progressed", "deregistered"]))
    if ending in ("withdrawn", "not_progressed") and position < 6:
        moves.append((ending, draw(st.sampled_from(["finances", "space", "checks"]))))
    elif ending == "deregistered" and position == 6:
        moves.append(("deregistered", "retirement"))
    household = {
        "household_id": household_id,
        "reference": f"H{household_id}",
        "enquired_at": enquired,
        "source_key": draw(st.sampled_from(SOURCES)),
    }
    events = [(household_id, None, "enquiry", enquired, None)]
    when, current = enquired, "enquiry"
    for stage, reason in moves:
        when = when + timedelta(hours=draw(st.integers(0, 24 * 60)))
        events.append((household_id, current, stage, when, reason))
        current = stage
    return household, events


@st.composite
def histories(draw):
    count = draw(st.integers(0, 25))
    households, events = [], []
    for household_id in range(1, count + 1):
        household, household_events = draw(journey(household_id))
        households.append(household)
        events.extend(household_events)
    return make_funnel_data(
        AS_OF,
        households=pd.DataFrame(households),
        events=pd.DataFrame(
            events, columns=["household_id", "from_stage", "to_stage", "occurred_at", "reason_code"]
        ),
    )


def loop_funnel(data, period: Period) -> dict[str, int]:
    """The straightforward per-household way, to check the vectorised one against."""
    start, end = period.bounds(data.tz)
    order = {stage: i for i, stage in enumerate(FUNNEL)}
    reached = dict.fromkeys(FUNNEL, 0)
    for household_id, row in data.households.iterrows():
        if not start <= row["enquired_at"] < end:
            continue
        stages = data.events.loc[data.events["household_id"] == household_id, "to_stage"]
        furthest = max([order.get(str(s), 0) for s in stages] + [0])
        for stage in FUNNEL[: furthest + 1]:
            reached[stage] += 1
    return reached


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(histories())
def test_reached_never_increases_and_conversions_are_fractions(data):
    table = metrics.cohort_funnel(data, PERIOD)
    reached = table["reached"].tolist()
    assert all(a >= b for a, b in zip(reached, reached[1:], strict=False))
    for value in metrics.conversions(table).values():
        assert value is None or 0 <= value <= 1
    for column in ("conversion_from_previous", "conversion_from_enquiry"):
        values = table[column].dropna()
        assert ((values >= 0) & (values <= 1)).all()


@PROPERTY
@given(histories())
def test_drop_off_and_reached_counts_add_up(data):
    group = metrics.cohort(data, PERIOD)
    reached = metrics.reached_counts(group)
    outcomes = metrics.stage_outcomes(group)
    drops = metrics.drop_off(group)
    # Everyone who stopped at a stage is open, on hold, withdrawn or not progressed there.
    for i, stage in enumerate(FUNNEL[:-1]):
        stopped_here = reached[stage] - reached[FUNNEL[i + 1]]
        assert stopped_here == outcomes.loc[stage].sum()
        assert outcomes.loc[stage, ["approved", "deregistered"]].sum() == 0
        for outcome in ("withdrawn", "not_progressed"):
            assert metrics.by_left_stage(drops, outcome)[stage] == outcomes.loc[stage, outcome]
    assert reached["approved"] == outcomes.loc["approved"].sum()
    assert outcomes.to_numpy().sum() == len(group) == reached["enquiry"]
    assert drops["households"].sum() == outcomes[["withdrawn", "not_progressed"]].to_numpy().sum()
    # By source, the counts add up to the whole.
    by_source = metrics.reached_by(group, "source_key")
    assert by_source.sum().tolist() == reached.tolist()


@PROPERTY
@given(histories())
def test_vectorised_funnel_matches_the_loop(data):
    assert metrics.cohort_funnel(data, PERIOD)["reached"].to_dict() == loop_funnel(data, PERIOD)


@PROPERTY
@given(histories())
def test_times_to_stage_are_ordered_and_only_for_reached_stages(data):
    group = metrics.cohort(data, PERIOD)
    days = metrics.days_to_stage(group)
    reached = metrics.reached_counts(group)
    assert days["households"].tolist() == reached.tolist()
    # A household reaches a later stage no earlier than an earlier one.
    reach = group[[f"reach_{s}" for s in FUNNEL]].apply(lambda c: c.astype("int64"))
    values = reach.to_numpy()
    present = values != np.iinfo(np.int64).min
    for a, b in zip(range(6), range(1, 7), strict=True):
        both = present[:, a] & present[:, b]
        assert (values[both, a] <= values[both, b]).all()
        assert not (present[:, b] & ~present[:, a]).any()


# hypothesis takes naive bounds and adds the time zone itself.
moments = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001
    max_value=datetime(2027, 6, 30),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(moments, min_size=1, max_size=20), st.integers(1, 5))
def test_vectorised_response_due_matches_crm_workdays(when, days):
    series = pd.Series(pd.to_datetime(when, utc=True)).astype("datetime64[ns, UTC]")
    clock = OfficeClock.for_moments(series, "Europe/London", time(9), time(17))
    due = clock.due(series, days)
    tz = ZoneInfo("Europe/London")
    expected = [add_office_days(w, days, tz, time(9), time(17)) for w in when]
    assert [d.to_pydatetime() for d in due] == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(moments, st.integers(0, 40 * 24 * 60)), min_size=1, max_size=20))
def test_vectorised_working_days_match_crm_workdays(pairs):
    starts = [start for start, _ in pairs]
    ends = [start + timedelta(minutes=minutes) for start, minutes in pairs]
    a = pd.Series(pd.to_datetime(starts, utc=True)).astype("datetime64[ns, UTC]")
    b = pd.Series(pd.to_datetime(ends, utc=True)).astype("datetime64[ns, UTC]")
    clock = OfficeClock.for_moments(pd.concat([a, b]), "Europe/London", time(9), time(17))
    tz = ZoneInfo("Europe/London")
    expected = [
        working_days_between(s.astimezone(tz).date(), e.astimezone(tz).date())
        for s, e in zip(starts, ends, strict=True)
    ]
    assert clock.working_days_between(a, b).tolist() == expected
