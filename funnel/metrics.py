"""Funnel metrics: pure functions on the frames `funnel.load` returns.

Nothing here touches the database or the clock: "now" is `data.as_of`, so the same data gives
the same numbers. Everything is vectorised (numpy, groupby aggregations); no per-household
Python and no `groupby.apply`, so a million stage events take well under a second or two.

Definitions, in a fostering team's words:

- A household *reached* a funnel stage if it got to that stage or any later one; a connected
  person who went straight to assessment still reached the initial visit and the application.
  A skipped stage counts as reached when the household reached the next stage it did enter.
- The *cohort* of a period is the households whose enquiry fell in it (local dates).
  Conversion is measured on cohorts: of these enquiries, how many got how far (so far).
- A household *stopped* at the furthest funnel stage it reached. Drop-off counts withdrawn and
  not-progressed households by that stage, so for every stage
  ``reached[s] - reached[s+1] == withdrawn[s] + not_progressed[s] + on_hold[s] + open[s]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from funnel import leavers as carer_leavers
from funnel.frames import (
    CODE,
    DAY_NS,
    FUNNEL,
    LEAVING,
    N_FUNNEL,
    NAT_NS,
    NOT_PROGRESSED,
    OUTCOMES,
    WITHDRAWN,
    FunnelData,
    as_ns,
)
from funnel.officetime import OfficeClock
from funnel.periods import IsoWeek, Period, local_midnight_utc, week_starts


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if not denominator else float(numerator) / float(denominator)


def _quantiles(values: pd.Series | np.ndarray) -> tuple[float | None, float | None]:
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if not len(values):
        return None, None
    median, p75 = np.percentile(values, [50, 75])
    return float(median), float(p75)


def cohort(data: FunnelData, period: Period) -> pd.DataFrame:
    """The journeys of households whose enquiry fell in `period`."""
    j = data.journeys
    return j[period.contains(j["enquired_at"], data.tz).to_numpy()]


# -- the cohort funnel --------------------------------------------------------------------


def reached_counts(journeys_: pd.DataFrame) -> pd.Series:
    """Households that reached each funnel stage (index: stage keys in funnel order)."""
    counts = np.bincount(journeys_["furthest"].to_numpy(np.int64), minlength=N_FUNNEL)
    # Reached stage s = furthest >= s: a reversed cumulative sum.
    return pd.Series(counts[::-1].cumsum()[::-1], index=pd.Index(FUNNEL, name="stage"))


def funnel_table(journeys_: pd.DataFrame) -> pd.DataFrame:
    """Reached, step-to-step conversion and conversion from enquiry, per funnel stage."""
    reached = reached_counts(journeys_)
    previous = reached.shift(1)
    total = reached.iloc[0]
    table = pd.DataFrame({"reached": reached})
    with np.errstate(invalid="ignore", divide="ignore"):
        table["conversion_from_previous"] = (reached / previous).where(previous > 0)
        table["conversion_from_enquiry"] = (reached / total) if total else np.nan
    table.loc["enquiry", "conversion_from_previous"] = np.nan
    return table


def cohort_funnel(data: FunnelData, period: Period) -> pd.DataFrame:
    return funnel_table(cohort(data, period))


def conversions(table: pd.DataFrame) -> dict[str, float | None]:
    """{"enquiry->initial_visit": 0.5, ..., "enquiry->approved": 0.1}; None where undefined."""
    reached = table["reached"]
    out: dict[str, float | None] = {}
    for a, b in zip(FUNNEL, FUNNEL[1:], strict=False):
        out[f"{a}->{b}"] = _ratio(reached[b], reached[a])
    out["enquiry->approved"] = _ratio(reached["approved"], reached["enquiry"])
    return out


# -- time ---------------------------------------------------------------------------------


def days_to_stage(journeys_: pd.DataFrame) -> pd.DataFrame:
    """Calendar days from enquiry to reaching each stage: households, median, 75th percentile."""
    start = as_ns(journeys_["enquired_at"])
    rows = []
    for stage in FUNNEL:
        reach = as_ns(journeys_[f"reach_{stage}"])
        ok = (reach != NAT_NS) & (start != NAT_NS)
        days = np.maximum(reach[ok] - start[ok], 0) / DAY_NS
        median, p75 = _quantiles(days)
        rows.append({"stage": stage, "households": int(ok.sum()), "median": median, "p75": p75})
    return pd.DataFrame(rows).set_index("stage")


def time_in_stage(data: FunnelData, journeys_: pd.DataFrame) -> pd.DataFrame:
    """Days spent in each funnel stage (and on hold) by these households: finished stays
    (count, median, 75th percentile) and stays still going at as_of (count, median so far)."""
    ev = data.events
    mask = ev["household_id"].isin(journeys_.index).to_numpy()
    households = ev["household_id"].to_numpy()[mask]
    codes = ev["to_stage"].cat.codes.to_numpy().astype(np.int64)[mask]
    times = as_ns(ev["occurred_at"])[mask]
    as_of = data.as_of.value
    same_next = np.r_[households[1:] == households[:-1], False]
    next_times = np.r_[times[1:], as_of]
    finished = same_next
    duration = (np.where(finished, next_times, as_of) - times) / DAY_NS
    measured = CODE["approved"]
    rows = []
    for stage in [*FUNNEL[:measured], "on_hold"]:
        here = codes == CODE[stage]
        done = duration[here & finished]
        ongoing = duration[here & ~finished]
        median, p75 = _quantiles(done)
        ongoing_median, _ = _quantiles(ongoing)
        rows.append(
            {
                "stage": stage,
                "finished": int(len(done)),
                "median": median,
                "p75": p75,
                "ongoing": int(len(ongoing)),
                "ongoing_median": ongoing_median,
            }
        )
    return pd.DataFrame(rows).set_index("stage")


@dataclass(frozen=True)
class ResponseRule:
    """How fast a first contact should be: `working_days` of office time."""

    working_days: int = 1
    opens: time = time(9, 0)
    closes: time = time(17, 0)

    @classmethod
    def from_settings(cls, settings: Any) -> ResponseRule:
        return cls(
            settings.response.target_working_days,
            settings.service.office_hours_start,
            settings.service.office_hours_end,
        )


def first_contact(data: FunnelData, journeys_: pd.DataFrame, rule: ResponseRule) -> pd.DataFrame:
    """Per household: working days from enquiry to first contact, the due time of the response
    target, and a status: ``on_time``, ``late``, ``waiting_late`` (still no contact and past
    due), ``waiting`` (not yet due) or ``unknown`` (moved on or left with no contact recorded,
    as old tracker rows often have)."""
    enquired = journeys_["enquired_at"]
    contact = journeys_["first_contact_at"]
    clock = OfficeClock.for_moments(
        pd.concat([enquired, contact]), data.tz, rule.opens, rule.closes
    )
    due = clock.due(enquired, rule.working_days)
    working_days = clock.working_days_between(enquired, contact)
    contacted = contact.notna().to_numpy()
    on_time = contacted & (contact <= due).to_numpy()
    still_at_enquiry = (
        (journeys_["funnel_stage"] == "enquiry")
        & journeys_["outcome"].isin(["in_progress", "on_hold"])
    ).to_numpy()
    past_due = (due < data.as_of).to_numpy()
    status = np.select(
        [on_time, contacted, still_at_enquiry & past_due, still_at_enquiry],
        ["on_time", "late", "waiting_late", "waiting"],
        default="unknown",
    )
    return pd.DataFrame(
        {"working_days": working_days, "due_at": due, "status": status}, index=journeys_.index
    )


def first_contact_summary(contacts: pd.DataFrame) -> dict[str, Any]:
    counts = contacts["status"].value_counts()

    def n(status: str) -> int:
        return int(counts.get(status, 0))

    decided = n("on_time") + n("late") + n("waiting_late")
    median, p75 = _quantiles(contacts["working_days"])
    return {
        "enquiries": int(len(contacts)),
        "contacted": n("on_time") + n("late"),
        "contacted_within_target": n("on_time"),
        "contacted_late": n("late"),
        "waiting_past_target": n("waiting_late"),
        "waiting_within_target": n("waiting"),
        "no_contact_recorded": n("unknown"),
        "share_within_target": _ratio(n("on_time"), decided),
        "median_working_days": median,
        "p75_working_days": p75,
    }


# -- drop-off -----------------------------------------------------------------------------


def stage_outcomes(journeys_: pd.DataFrame) -> pd.DataFrame:
    """Households by the furthest stage they reached and where they are now: columns
    in_progress, on_hold, withdrawn, not_progressed, approved, deregistered. Row sums are
    reached[s] - reached[s+1]."""
    table = pd.crosstab(journeys_["furthest_stage"], journeys_["outcome"], dropna=False).reindex(
        index=FUNNEL, columns=OUTCOMES, fill_value=0
    )
    table.index.name = "stage"
    table.columns.name = None
    return table.astype(np.int64)


def drop_off(journeys_: pd.DataFrame) -> pd.DataFrame:
    """Withdrawn and not-progressed households: outcome, stage left from, reason, count."""
    left = journeys_.loc[
        journeys_["outcome"].isin(LEAVING).to_numpy(),
        ["outcome", "furthest_stage", "leaving_reason"],
    ]
    columns = ["outcome", "stage", "reason_code", "households"]
    if left.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns}).astype(
            {"households": np.int64}
        )
    counts = left.groupby(
        [
            left["outcome"].cat.remove_unused_categories(),
            left["furthest_stage"],
            left["leaving_reason"],
        ],
        observed=True,
        dropna=False,
    ).size()
    frame = counts.rename("households").reset_index()
    frame.columns = columns
    frame = frame[frame["households"] > 0]
    frame["stage_order"] = frame["stage"].cat.codes
    frame = frame.sort_values(
        ["outcome", "stage_order", "households"], ascending=[True, True, False]
    )
    return pd.DataFrame(
        {
            "outcome": frame["outcome"].astype(str).to_numpy(),
            "stage": frame["stage"].astype(str).to_numpy(),
            "reason_code": frame["reason_code"].astype(object).fillna("not_recorded").to_numpy(),
            "households": frame["households"].to_numpy(np.int64),
        }
    )


def by_reason(drops: pd.DataFrame, outcome: str) -> dict[str, int]:
    part = drops[drops["outcome"] == outcome]
    totals = part.groupby("reason_code")["households"].sum().sort_values(ascending=False)
    return {str(k): int(v) for k, v in totals.items()}


def by_left_stage(drops: pd.DataFrame, outcome: str) -> dict[str, int]:
    part = drops[drops["outcome"] == outcome]
    totals = part.groupby("stage")["households"].sum()
    return {stage: int(totals.get(stage, 0)) for stage in FUNNEL[:-1]}


def leavers(data: FunnelData, period: Period) -> pd.DataFrame:
    """Moves to withdrawn or not progressed that happened in `period` (whenever the household
    enquired): outcome, reason_code, household_id, occurred_at."""
    ev = data.events
    mask = ev["to_stage"].isin(LEAVING) & period.contains(ev["occurred_at"], data.tz)
    part = ev.loc[mask.to_numpy(), ["household_id", "to_stage", "reason_code", "occurred_at"]]
    return pd.DataFrame(
        {
            "household_id": part["household_id"].to_numpy(),
            "outcome": part["to_stage"].astype(str).to_numpy(),
            "reason_code": part["reason_code"].astype(object).fillna("not_recorded").to_numpy(),
            "occurred_at": part["occurred_at"].to_numpy(),
        }
    )


# -- channels, campaigns, areas -----------------------------------------------------------


def reached_by(journeys_: pd.DataFrame, column: str, missing: str = "not_recorded") -> pd.DataFrame:
    """Reached counts per value of `column` (source_key, area, enquiry_channel, campaign_id):
    one row per value present, one column per funnel stage; most enquiries first."""
    values = journeys_[column]
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(np.int64), list(values.cat.categories)
    else:
        codes, found = pd.factorize(values, use_na_sentinel=True)
        uniques = list(found)
    groups = len(uniques) + 1
    codes = np.where(codes < 0, groups - 1, codes)
    furthest = journeys_["furthest"].to_numpy(np.int64)
    counts = np.bincount(codes * N_FUNNEL + furthest, minlength=groups * N_FUNNEL)
    counts = counts.reshape(groups, N_FUNNEL)
    # Reached stage s = furthest >= s: a reversed cumulative sum along the stages.
    reached = counts[:, ::-1].cumsum(axis=1)[:, ::-1]
    present = reached[:, 0] > 0
    index = pd.Index([*uniques, missing], dtype=object, name=column)
    out = pd.DataFrame(reached, index=index, columns=FUNNEL).astype(np.int64)[present]
    return out.sort_values(["enquiry", "approved"], ascending=False, kind="stable")


def channel_table(journeys_: pd.DataFrame, column: str) -> pd.DataFrame:
    """Enquiries, initial visits, applications and approvals per source / channel, with
    conversion to initial visit and to approval."""
    reached = reached_by(journeys_, column)
    table = reached[["enquiry", "initial_visit", "application", "approved"]].rename(
        columns={
            "enquiry": "enquiries",
            "initial_visit": "initial_visits",
            "application": "applications",
            "approved": "approvals",
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        table["to_initial_visit"] = table["initial_visits"] / table["enquiries"]
        table["to_approval"] = table["approvals"] / table["enquiries"]
    return table


def campaign_table(data: FunnelData, journeys_: pd.DataFrame) -> pd.DataFrame:
    """Per campaign with enquiries here: the channel numbers, and the campaign's cost per
    approval (its whole cost over every approval it has brought, in any period)."""
    with_campaign = journeys_[journeys_["campaign_id"].notna().to_numpy()]
    table = channel_table(with_campaign, "campaign_id")
    if table.empty:
        table["campaign"] = pd.Series(dtype=object)
        table["cost_pence"] = pd.Series(dtype="Int64")
        table["approvals_all_time"] = pd.Series(dtype=np.int64)
        table["cost_per_approval_pence"] = pd.Series(dtype=float)
        return table
    all_journeys = data.journeys
    approvals_all = (
        all_journeys.loc[all_journeys["furthest"].to_numpy() == N_FUNNEL - 1, "campaign_id"]
        .value_counts()
        .reindex(table.index, fill_value=0)
    )
    campaigns = data.campaigns.reindex(table.index.astype(np.int64))
    table["campaign"] = campaigns["name"].to_numpy()
    table["cost_pence"] = campaigns["cost_pence"].to_numpy()
    table["approvals_all_time"] = approvals_all.to_numpy().astype(np.int64)
    cost = table["cost_pence"].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["cost_per_approval_pence"] = (cost / table["approvals_all_time"]).where(
            table["approvals_all_time"] > 0
        )
    return table


# -- weekly trend -------------------------------------------------------------------------


def weekly_activity(data: FunnelData, last_week: IsoWeek, weeks: int = 12) -> pd.DataFrame:
    """What happened in each of `weeks` ISO weeks up to `last_week` (whenever the households
    enquired): enquiries, first arrivals at initial visit, application and approval, moves to
    withdrawn and not progressed, and carer deregistrations. Index: week ("2026-W10")."""
    calendar = week_starts(last_week, weeks)
    edges = np.array(
        [local_midnight_utc(w.monday, data.tz).value for w in calendar]
        + [last_week.end_utc(data.tz).value],
        dtype=np.int64,
    )

    def per_week(values: np.ndarray) -> np.ndarray:
        values = values[values != NAT_NS]
        slot = np.searchsorted(edges, values, side="right") - 1
        slot = slot[(slot >= 0) & (slot < weeks)]
        return np.bincount(slot, minlength=weeks)

    j = data.journeys
    ev = data.events
    codes = ev["to_stage"].cat.codes.to_numpy()
    ev_times = as_ns(ev["occurred_at"])
    carers = data.carers
    dereg = carers["deregistered_on"]
    approved_on = carers["approved_on"]
    day_edges = np.array([np.datetime64(w.monday, "ns") for w in calendar], dtype="M8[ns]")
    day_edges = np.r_[day_edges, np.datetime64(last_week.sunday + timedelta(days=1), "ns")]

    def per_week_dates(values: pd.Series) -> np.ndarray:
        raw = values.dropna().to_numpy(dtype="M8[ns]")
        slot = np.searchsorted(day_edges, raw, side="right") - 1
        slot = slot[(slot >= 0) & (slot < weeks)]
        return np.bincount(slot, minlength=weeks)

    table = pd.DataFrame(
        {
            "week_start": [w.monday for w in calendar],
            "enquiries": per_week(as_ns(j["enquired_at"])),
            "initial_visits": per_week(as_ns(j["reach_initial_visit"])),
            "applications": per_week(as_ns(j["reach_application"])),
            "approvals": per_week(as_ns(j["reach_approved"])),
            "withdrawn": per_week(ev_times[codes == WITHDRAWN]),
            "not_progressed": per_week(ev_times[codes == NOT_PROGRESSED]),
            "carers_approved": per_week_dates(approved_on),
            "deregistrations": per_week_dates(dereg),
        },
        index=pd.Index([str(w) for w in calendar], name="week"),
    )
    return table


def trend(values: pd.Series) -> pd.DataFrame:
    """A weekly series with week-on-week change and the average of the 4 weeks before."""
    previous_4 = values.rolling(4, min_periods=4).mean().shift(1)
    out = pd.DataFrame(
        {
            "value": values,
            "change_on_previous_week": values.diff(),
            "average_previous_4_weeks": previous_4,
        }
    )
    out["change_on_4_week_average"] = out["value"] - previous_4
    return out


def weekly_enquiries(data: FunnelData, last_week: IsoWeek, weeks: int = 12) -> pd.DataFrame:
    """Enquiries per ISO week with week-on-week and 4-week-average comparisons."""
    activity = weekly_activity(data, last_week, weeks + 4)
    out = trend(activity["enquiries"]).iloc[4:]
    out.insert(0, "week_start", activity["week_start"].iloc[4:])
    return out.rename(columns={"value": "enquiries"})


# -- cases that need attention ------------------------------------------------------------


def stalled_cases(data: FunnelData, target_days: dict[str, int]) -> pd.DataFrame:
    """Open households with no stage move, note, call or completed task for longer than their
    stage's target days (on hold has its own target). Longest overdue first."""
    j = data.journeys
    open_ = j["outcome"].isin(["in_progress", "on_hold"]).to_numpy()
    j = j[open_]
    stage = j["stage"].astype(str)
    targets = stage.map(target_days)
    last_activity = data.last_activity["last_activity_at"].reindex(j.index)
    last_action = pd.concat([j["stage_since"], last_activity], axis=1).max(axis=1)
    days = (data.as_of - last_action).dt.total_seconds() / 86_400
    stalled = (days > targets).to_numpy()
    out = pd.DataFrame(
        {
            "reference": j["reference"],
            "area": j["area"].astype(object),
            "stage": stage,
            "funnel_stage": j["funnel_stage"].astype(str),
            "last_action_at": last_action,
            "days_since_last_action": np.floor(days),
            "target_days": targets,
        }
    )[stalled]
    out["days_over_target"] = out["days_since_last_action"] - out["target_days"]
    return out.sort_values("days_over_target", ascending=False)


# -- retention ----------------------------------------------------------------------------


def _dates(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype="M8[ns]")


def carer_households_on(data: FunnelData, day: date) -> pd.Series:
    """Which carers were approved and not yet deregistered on `day` (boolean, by carer)."""
    c = data.carers
    stamp = np.datetime64(day, "ns")
    approved = _dates(c["approved_on"]) <= stamp
    dereg = _dates(c["deregistered_on"])
    still = np.isnat(dereg) | (dereg > stamp)
    return pd.Series(approved & still, index=c.index)


def carer_movement(data: FunnelData, start: date, end: date) -> pd.DataFrame:
    """Per calendar month from `start` to `end`: approvals, deregistrations, the net change in
    carer households, and how many there were at the month's end."""
    months = pd.period_range(start, end, freq="M")
    c = data.carers

    def per_month(values: pd.Series) -> pd.Series:
        periods = values.dropna().dt.to_period("M")
        return periods.value_counts().reindex(months, fill_value=0)

    approvals = per_month(c["approved_on"])
    deregistrations = per_month(c["deregistered_on"])
    ends = [min(m.end_time.date(), end) for m in months]
    at_end = [int(carer_households_on(data, day).sum()) for day in ends]
    table = pd.DataFrame(
        {
            "approvals": approvals.to_numpy(),
            "deregistrations": deregistrations.to_numpy(),
            "carer_households_at_end": at_end,
        },
        index=pd.Index([str(m) for m in months], name="month"),
    )
    table.insert(2, "net_change", table["approvals"] - table["deregistrations"])
    return table


def deregistration_reasons(data: FunnelData, period: Period) -> pd.Series:
    c = data.carers
    mask = period.contains_dates(c["deregistered_on"]).to_numpy()
    reasons = c.loc[mask, "deregistration_reason_code"].astype(object).fillna("not_recorded")
    return reasons.value_counts().rename("carers")


def retention_12_months(data: FunnelData, approved: Period | None = None) -> dict[str, Any]:
    """Of the carers approved in `approved` (default: the 12 months that ended a year before
    as_of, so every one has had a full year), how many were still approved 12 months later."""
    today = data.as_of.tz_convert(data.tz).date()
    if approved is None:
        end = (pd.Timestamp(today) - pd.DateOffset(years=1)).date()
        start = (pd.Timestamp(end) - pd.DateOffset(years=1)).date() + timedelta(days=1)
        approved = Period(start, end)
    c = data.carers
    group = c[approved.contains_dates(c["approved_on"]).to_numpy()]
    anniversary = group["approved_on"] + pd.DateOffset(years=1)
    left = group["deregistered_on"].notna() & (group["deregistered_on"] < anniversary)
    # Carers whose first year is not over yet (a custom window) cannot be counted either way.
    complete = (anniversary <= pd.Timestamp(today)) | left
    counted = int(complete.sum())
    retained = int((complete & ~left).sum())
    return {
        "approved_from": approved.start.isoformat(),
        "approved_to": approved.end.isoformat(),
        "approved": counted,
        "retained": retained,
        "left_within_12_months": int((complete & left).sum()),
        "retention_rate": _ratio(retained, counted),
    }


def place_utilisation(data: FunnelData, day: date | None = None) -> dict[str, Any]:
    """Filled places (children placed) over approved places of the carers approved on `day`."""
    day = day or data.as_of.tz_convert(data.tz).date()
    current = carer_households_on(data, day)
    carers = data.carers[current.to_numpy()]
    p = data.placements
    stamp = np.datetime64(day, "ns")
    ended = _dates(p["ended_on"])
    open_ = (_dates(p["started_on"]) <= stamp) & (np.isnat(ended) | (ended > stamp))
    filled = int((open_ & p["carer_id"].isin(carers.index).to_numpy()).sum())
    approved_places = int(carers["places"].sum())
    return {
        "on": day.isoformat(),
        "carer_households": int(len(carers)),
        "approved_places": approved_places,
        "filled_places": filled,
        "utilisation": _ratio(filled, approved_places),
    }


def check_in_trend(data: FunnelData, start: date, end: date) -> pd.DataFrame:
    """Per calendar month of sending: check-ins sent, answered, response rate, average score
    (1-5), answers scoring 2 or less, and answers asking for a call."""
    months = pd.period_range(start, end, freq="M")
    ci = data.check_ins
    local = ci["sent_at"].dt.tz_convert(data.tz).dt.tz_localize(None)
    month = local.dt.to_period("M")
    answered = ci["answered_at"].notna()
    score = ci["score"].astype(float)
    frame = pd.DataFrame(
        {
            "month": month,
            "sent": 1,
            "answered": answered.astype(int),
            "score": score,
            "low_scores": (score <= 2).astype(int),
            "wants_call": (ci["wants_call"] & answered).astype(int),
        }
    )
    grouped = frame.groupby("month").agg(
        sent=("sent", "sum"),
        answered=("answered", "sum"),
        average_score=("score", "mean"),
        low_scores=("low_scores", "sum"),
        wants_call=("wants_call", "sum"),
    )
    grouped = grouped.reindex(months)
    for column in ("sent", "answered", "low_scores", "wants_call"):
        grouped[column] = grouped[column].fillna(0).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        grouped["response_rate"] = (grouped["answered"] / grouped["sent"]).where(
            grouped["sent"] > 0
        )
    grouped.index = pd.Index([str(m) for m in months], name="month")
    return grouped[
        ["sent", "answered", "response_rate", "average_score", "low_scores", "wants_call"]
    ]


def carers_at_risk(data: FunnelData, low_score: int = 2) -> pd.DataFrame:
    """Approved carers who may leave: flagged by their supervising social worker, or whose
    latest check-in answer scored `low_score` or less or asked for a call."""
    c = data.carers
    current = c[c["deregistered_on"].isna().to_numpy()]
    ci = data.check_ins
    answered = ci[ci["answered_at"].notna().to_numpy()].sort_values("answered_at", kind="stable")
    latest = answered.drop_duplicates("carer_id", keep="last").set_index("carer_id")
    latest = latest.reindex(current.index)
    low = (latest["score"].astype(float) <= low_score).fillna(False).to_numpy()
    call = latest["wants_call"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    flagged = current["at_risk"].to_numpy(dtype=bool)
    risky = flagged | low | call
    reasons = []
    for is_flagged, note, is_low, score, is_call in zip(
        flagged[risky],
        current["at_risk_reason"].to_numpy()[risky],
        low[risky],
        latest["score"].to_numpy()[risky],
        call[risky],
        strict=True,
    ):
        # Only the (few) carers at risk get a sentence, so this loop stays short.
        parts = []
        if is_flagged:
            parts.append(f"flagged: {note}" if note else "flagged by their social worker")
        if is_low:
            parts.append(f"last check-in scored {int(score)} of 5")
        if is_call:
            parts.append("asked for a call")
        reasons.append("; ".join(parts))
    out = pd.DataFrame(
        {
            "reference": current["reference"].to_numpy()[risky],
            "area": current["area"].astype(object).to_numpy()[risky],
            "approved_on": current["approved_on"].dt.date.to_numpy()[risky],
            "status": current["status"].astype(str).to_numpy()[risky],
            "last_check_in_at": latest["answered_at"].to_numpy()[risky],
            "why": reasons,
        },
        index=current.index[risky],
    )
    return out.sort_values("reference")


# -- the summary the CLI prints -----------------------------------------------------------


def _round(value: float | None, places: int = 4) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return round(float(value), places)


def funnel_summary(data: FunnelData, period: Period, rule: ResponseRule) -> dict[str, Any]:
    """The cohort funnel of `period` as one JSON-ready object (`fostercrm report funnel`)."""
    group = cohort(data, period)
    table = funnel_table(group)
    days = days_to_stage(group)
    drops = drop_off(group)
    by_source = reached_by(group, "source_key")
    by_area = reached_by(group, "area")
    by_channel = reached_by(group, "enquiry_channel")
    campaigns = campaign_table(data, group)
    contacts = first_contact_summary(first_contact(data, group, rule))
    contacts = {k: _round(v) if isinstance(v, float) else v for k, v in contacts.items()}
    outcomes = stage_outcomes(group)

    def counts(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
        return {
            str(key): {stage: int(row[stage]) for stage in FUNNEL} for key, row in frame.iterrows()
        }

    return {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "area": None if data.area_names is None else ", ".join(data.area_names),
        "as_of": data.as_of.isoformat(),
        "cohort_size": int(len(group)),
        "reached": {stage: int(table.loc[stage, "reached"]) for stage in FUNNEL},
        "conversion": {k: _round(v) for k, v in conversions(table).items()},
        "median_days_from_enquiry": {s: _round(days.loc[s, "median"], 1) for s in FUNNEL},
        "p75_days_from_enquiry": {s: _round(days.loc[s, "p75"], 1) for s in FUNNEL},
        "first_contact": contacts,
        "withdrawn_by_reason": by_reason(drops, "withdrawn"),
        "not_progressed_by_reason": by_reason(drops, "not_progressed"),
        "withdrawn_by_stage": by_left_stage(drops, "withdrawn"),
        "not_progressed_by_stage": by_left_stage(drops, "not_progressed"),
        "still_open_by_stage": {
            stage: int(outcomes.loc[stage, "in_progress"] + outcomes.loc[stage, "on_hold"])
            for stage in FUNNEL
        },
        "by_source": counts(by_source),
        "by_channel": counts(by_channel),
        "by_area": counts(by_area),
        "by_campaign": {
            str(row["campaign"]): {
                "enquiries": int(row["enquiries"]),
                "approvals": int(row["approvals"]),
                "cost_pence": None if pd.isna(row["cost_pence"]) else int(row["cost_pence"]),
                "approvals_all_time": int(row["approvals_all_time"]),
                "cost_per_approval_pence": _round(row["cost_per_approval_pence"], 0),
            }
            for _, row in campaigns.iterrows()
        },
        # Carers whose approval ended between the same dates, and those under notice now.
        "leavers": carer_leavers.summary(data, period),
    }


# -- honest cohorts -----------------------------------------------------------------------


def mature_period(today: date, from_months: int = 9, to_months: int = 21) -> Period:
    """The enquiries old enough to read conversion and time to approval from: made between
    `to_months` and `from_months` months before `today` (both ends included). Younger ones
    have not had time to get through assessment."""
    day = pd.Timestamp(today)
    end = (day - pd.DateOffset(months=from_months)).date()
    start = (day - pd.DateOffset(months=to_months)).date() + timedelta(days=1)
    return Period(start, end)


# -- response: how fast the team tries, and who it reaches ----------------------------------


def response_times(
    data: FunnelData, journeys_: pd.DataFrame, rule: ResponseRule, offer_working_days: int
) -> pd.DataFrame:
    """Per household, the team's speed:

    - ``attempt_due``: whether the response target has passed or a first attempt was made
      (every such enquiry counts, reachable or not);
    - ``attempted_in_time``: a first call or email by staff (answered or not, or a recorded
      first contact) within the target;
    - ``contacted_in_time``: a successful first contact within the target;
    - ``attempt_working_days``: working days to the first attempt;
    - ``offer_due``: spoken to, and `offer_working_days` have passed or a visit was offered;
    - ``offered_in_time``: an initial visit booked (or reached) within `offer_working_days`
      of the enquiry.
    """
    enquired = journeys_["enquired_at"]
    contact = journeys_["first_contact_at"]
    attempt = pd.concat([journeys_["first_attempt_at"], contact], axis=1).min(axis=1)
    attempt = attempt.astype(enquired.dtype)
    offered = pd.concat([journeys_["visit_offered_at"], journeys_["reach_initial_visit"]], axis=1)
    offered = offered.min(axis=1).astype(enquired.dtype)
    clock = OfficeClock.for_moments(
        pd.concat([enquired, attempt]), data.tz, rule.opens, rule.closes
    )
    due = clock.due(enquired, rule.working_days)
    offer_by = clock.due(enquired, offer_working_days)
    as_of = data.as_of
    attempted_in_time = (attempt <= due).to_numpy()
    contacted_in_time = (contact <= due).to_numpy()
    offered_in_time = (offered <= offer_by).to_numpy()
    past_due = (due < as_of).to_numpy()
    return pd.DataFrame(
        {
            "attempt_due": past_due | attempt.notna().to_numpy(),
            "attempted_in_time": attempted_in_time,
            "contacted_in_time": contacted_in_time,
            "attempt_working_days": clock.working_days_between(enquired, attempt),
            "offer_due": contact.notna().to_numpy()
            & ((offer_by < as_of).to_numpy() | offered.notna().to_numpy()),
            "offered_in_time": offered_in_time,
        },
        index=journeys_.index,
    )


_RESPONSE_COLUMNS = [
    "enquiries",
    "due",
    "attempted_in_time",
    "attempted_share",
    "contacted_in_time",
    "contacted_share",
    "median_working_days",
    "offer_due",
    "offered_in_time",
    "offered_share",
]


def response_summary(times: pd.DataFrame) -> dict[str, Any]:
    """Counts and shares over these households. Shares are over every enquiry whose target
    has passed (or that was attempted already), so unreachable households count."""
    due = times["attempt_due"].to_numpy(bool)
    offer_due = times["offer_due"].to_numpy(bool)
    attempted = int((due & times["attempted_in_time"].to_numpy(bool)).sum())
    contacted = int((due & times["contacted_in_time"].to_numpy(bool)).sum())
    offered = int((offer_due & times["offered_in_time"].to_numpy(bool)).sum())
    median, _ = _quantiles(times["attempt_working_days"])
    return {
        "enquiries": int(len(times)),
        "due": int(due.sum()),
        "attempted_in_time": attempted,
        "attempted_share": _ratio(attempted, due.sum()),
        "contacted_in_time": contacted,
        "contacted_share": _ratio(contacted, due.sum()),
        "median_working_days": median,
        "offer_due": int(offer_due.sum()),
        "offered_in_time": offered,
        "offered_share": _ratio(offered, offer_due.sum()),
    }


def response_by(times: pd.DataFrame, keys: pd.Series, missing: str) -> pd.DataFrame:
    """`response_summary` per value of `keys` (area, officer), one row each, most enquiries
    first; households with no value under `missing`."""
    key = keys.astype(object).where(keys.notna(), missing)
    due = times["attempt_due"].to_numpy(bool)
    offer_due = times["offer_due"].to_numpy(bool)
    frame = pd.DataFrame(
        {
            "key": key.to_numpy(),
            "enquiries": 1,
            "due": due.astype(int),
            "attempted_in_time": (due & times["attempted_in_time"].to_numpy(bool)).astype(int),
            "contacted_in_time": (due & times["contacted_in_time"].to_numpy(bool)).astype(int),
            "offer_due": offer_due.astype(int),
            "offered_in_time": (offer_due & times["offered_in_time"].to_numpy(bool)).astype(int),
            "days": times["attempt_working_days"].to_numpy(float),
        }
    )
    grouped = frame.groupby("key", sort=False).agg(
        enquiries=("enquiries", "sum"),
        due=("due", "sum"),
        attempted_in_time=("attempted_in_time", "sum"),
        contacted_in_time=("contacted_in_time", "sum"),
        median_working_days=("days", "median"),
        offer_due=("offer_due", "sum"),
        offered_in_time=("offered_in_time", "sum"),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        grouped["attempted_share"] = (grouped["attempted_in_time"] / grouped["due"]).where(
            grouped["due"] > 0
        )
        grouped["contacted_share"] = (grouped["contacted_in_time"] / grouped["due"]).where(
            grouped["due"] > 0
        )
        grouped["offered_share"] = (grouped["offered_in_time"] / grouped["offer_due"]).where(
            grouped["offer_due"] > 0
        )
    grouped.index.name = None
    return grouped[_RESPONSE_COLUMNS].sort_values("enquiries", ascending=False, kind="stable")


# -- areas side by side -----------------------------------------------------------------

# The steps the area table shows: (from stage, to stage).
AREA_STEPS = [
    ("enquiry", "initial_visit"),
    ("initial_visit", "application"),
    ("application", "approved"),
    ("enquiry", "approved"),
]


def _step_days(journeys_: pd.DataFrame, start: str, end: str) -> np.ndarray:
    a, b = as_ns(journeys_[f"reach_{start}"]), as_ns(journeys_[f"reach_{end}"])
    ok = (a != NAT_NS) & (b != NAT_NS)
    return np.where(ok, np.maximum(b - a, 0) / DAY_NS, np.nan)


def area_comparison(
    recent: pd.DataFrame,
    recent_times: pd.DataFrame,
    mature: pd.DataFrame,
    stalled: pd.DataFrame,
    total_label: str = "All areas",
) -> pd.DataFrame:
    """One row per area and one for all of them together: response over the recent
    enquiries (`recent`, with their `response_times`), conversion and median days per step
    over the mature cohort (`mature`), and the stalled cases now. The total row is computed
    over every household, not from the rows above it."""
    missing = "Not yet in an area"

    def area_of(frame: pd.DataFrame) -> pd.Series:
        values = frame["area"].astype(object)
        return values.where(values.notna(), missing)

    response = response_by(recent_times, area_of(recent), missing)
    overall = pd.DataFrame([response_summary(recent_times)], index=[total_label])
    response = pd.concat([response, overall])[["enquiries", "attempted_share", "offered_share"]]

    furthest = mature["furthest"].to_numpy(np.int64)
    columns: dict[str, Any] = {
        "mature_enquiries": np.ones(len(mature), dtype=np.int64),
        **{f"reached_{s}": (furthest >= FUNNEL.index(s)).astype(np.int64) for s in FUNNEL},
    }
    for start, end in AREA_STEPS:
        columns[f"days_{start}_{end}"] = _step_days(mature, start, end)
    steps = pd.DataFrame(columns, index=mature.index)
    keys = area_of(mature).to_numpy()
    sums = steps.filter(regex="^(mature|reached)").groupby(keys).sum()
    medians = steps.filter(regex="^days_").groupby(keys).median()
    sums.loc[total_label] = steps.filter(regex="^(mature|reached)").sum()
    medians.loc[total_label] = steps.filter(regex="^days_").median()
    out = response.join(sums, how="outer").join(medians, how="outer")
    for start, end in AREA_STEPS:
        before, after = out[f"reached_{start}"], out[f"reached_{end}"]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"{start}_{end}"] = (after / before).where(before > 0)
    stalled_area = stalled["area"].astype(object)
    stalled_counts = stalled_area.where(stalled_area.notna(), missing).value_counts()
    stalled_counts.loc[total_label] = len(stalled)
    out["stalled"] = stalled_counts.reindex(out.index).fillna(0).astype(np.int64)
    for column in ("enquiries", "mature_enquiries"):
        out[column] = out[column].fillna(0).astype(np.int64)
    order = [i for i in out.index if i != total_label] + [total_label]
    # Areas by name, the total last.
    order = sorted(order[:-1], key=lambda name: (name == missing, str(name))) + [total_label]
    out = out.loc[order]
    out.index.name = "area"
    return out


# -- campaigns' cost and refer-a-friend -------------------------------------------------------


def campaign_costs(data: FunnelData, mature_end: date) -> pd.DataFrame:
    """Per campaign with any enquiry: its enquiries, initial visits, applications and
    approvals so far (every enquiry it brought), its cost, and the cost per enquiry, per
    initial visit and per approval. Cost per approval is only given once the campaign's
    enquiries are all in or before the mature cohort (made on or before `mature_end`):
    before that its approvals are still to come and ``approval_too_early`` is True."""
    j = data.journeys
    with_campaign = j[j["campaign_id"].notna().to_numpy()]
    table = channel_table(with_campaign, "campaign_id").drop(
        columns=["to_initial_visit", "to_approval"]
    )
    columns = ["campaign", "cost_pence", "cost_per_enquiry_pence", "cost_per_initial_visit_pence"]
    columns += ["cost_per_approval_pence", "approval_too_early", "last_enquiry_on"]
    if table.empty:
        for column in columns:
            table[column] = pd.Series(dtype=object)
        return table
    ids = table.index.astype(np.int64)
    campaigns = data.campaigns.reindex(ids)
    local = with_campaign["enquired_at"].dt.tz_convert(data.tz).dt.date
    last = local.groupby(with_campaign["campaign_id"].astype(np.int64)).max().reindex(ids)
    cost = campaigns["cost_pence"].astype(float).to_numpy()
    table["campaign"] = campaigns["name"].to_numpy()
    table["cost_pence"] = campaigns["cost_pence"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        for count, name in (
            ("enquiries", "enquiry"),
            ("initial_visits", "initial_visit"),
            ("approvals", "approval"),
        ):
            n = table[count].to_numpy(float)
            table[f"cost_per_{name}_pence"] = np.where(n > 0, cost / n, np.nan)
    too_early = (last > mature_end).to_numpy()
    table["approval_too_early"] = too_early
    table.loc[too_early, "cost_per_approval_pence"] = np.nan
    table["last_enquiry_on"] = last.to_numpy()
    return table


def referrals(data: FunnelData) -> pd.DataFrame:
    """Refer-a-friend: per referring carer household, how many households it referred and
    how far they got (initial visit, application, approval). A referrer outside the data
    (another area) is not named."""
    j = data.journeys
    referred = j[j["referrer_household_id"].notna().to_numpy()]
    columns = ["referrer", "referrals", "initial_visits", "applications", "approvals"]
    if referred.empty:
        return pd.DataFrame(columns=columns)
    referrer = referred["referrer_household_id"].astype(np.int64)
    furthest = referred["furthest"].to_numpy(np.int64)
    frame = pd.DataFrame(
        {
            "referrer_household_id": referrer.to_numpy(),
            "referrals": 1,
            "initial_visits": (furthest >= FUNNEL.index("initial_visit")).astype(int),
            "applications": (furthest >= FUNNEL.index("application")).astype(int),
            "approvals": (furthest >= FUNNEL.index("approved")).astype(int),
        }
    )
    out = frame.groupby("referrer_household_id").sum()
    names = data.households["reference"].reindex(out.index)
    out.insert(0, "referrer", names.where(names.notna(), "A carer in another area").to_numpy())
    return out.sort_values(["referrals", "approvals"], ascending=False, kind="stable")


# -- "other", in the words given --------------------------------------------------------------

OTHER = "other"
NO_WORDS = "No words recorded"
OTHER_LISTS = {
    "source": "Source",
    "campaign": "Campaign not on our list",
    "withdrawn": "Reason for withdrawing",
    "not_progressed": "Reason not progressed",
    "deregistered": "Reason for deregistering",
}


def other_words(data: FunnelData, journeys_: pd.DataFrame, deregistered: Period) -> pd.DataFrame:
    """What lies behind each "Other": for the households of `journeys_` (the report's mature
    cohort) whose source is "other", who named a campaign we do not run (an import keeps the
    name it found), or who left for the reason "other", and for the carers deregistered in
    `deregistered` for "other", the words given (an import keeps the tracker's own wording),
    counted. Columns: list (the key of OTHER_LISTS), words, households; each list in its
    order, most households first."""
    parts = []

    def counted(kind: str, words: pd.Series) -> None:
        if len(words):
            texts = words.astype(object).where(words.notna(), NO_WORDS)
            counts = texts.value_counts()
            parts.append(
                pd.DataFrame(
                    {"list": kind, "words": counts.index.astype(object), "households": counts}
                )
            )

    source = journeys_["source_key"].astype(object)
    counted("source", journeys_.loc[(source == OTHER).to_numpy(), "source_text"])
    counted("campaign", journeys_["campaign_text"].dropna())
    left = (
        journeys_["outcome"].isin(LEAVING).to_numpy()
        & (journeys_["leaving_reason"].astype(object) == OTHER).to_numpy()
    )
    if left.any():
        # The words of the move that took them out: their last stage event.
        last = data.events.drop_duplicates("household_id", keep="last").set_index("household_id")
        leavers = journeys_.loc[left]
        words = last["reason_text"].reindex(leavers.index)
        for outcome in LEAVING:
            counted(outcome, words[(leavers["outcome"] == outcome).to_numpy()])
    carers = data.carers
    gone = (
        deregistered.contains_dates(carers["deregistered_on"]).to_numpy()
        & (carers["deregistration_reason_code"].astype(object) == OTHER).to_numpy()
    )
    counted("deregistered", carers.loc[gone, "deregistration_reason_text"])
    columns = ["list", "words", "households"]
    if not parts:
        return pd.DataFrame({"list": [], "words": [], "households": []}, columns=columns).astype(
            {"list": object, "words": object, "households": np.int64}
        )
    frame = pd.concat(parts, ignore_index=True)
    order = {kind: i for i, kind in enumerate(OTHER_LISTS)}
    frame["_order"] = frame["list"].map(order)
    frame = frame.sort_values(
        ["_order", "households", "words"], ascending=[True, False, True], kind="stable"
    )
    return (
        frame.drop(columns="_order")
        .reset_index(drop=True)[columns]
        .astype({"households": np.int64})
    )
