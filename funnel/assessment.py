"""The assessment measures (issue 11): the stage one checks still outstanding and how long they
have waited, time in stage one and stage two against their targets, the households at risk of
missing the 8-month timescale, and the panel's recommendations and the agency decisions.

Pure functions on the frames of funnel.load, like funnel.metrics: "now" is `data.as_of`, the
same data gives the same numbers, nothing reads the database or the clock.

Definitions, in a fostering team's words:

- a check is *outstanding* at as_of when it was requested on or before that day and not yet
  received; its *age* is the calendar days since it was requested. It is *past its target*
  once its `target_working_days` (config/checks.toml) have passed since it was requested, as
  the chase reminder counts them. Only households still open (in progress or on hold) count:
  a household that left takes its checks with it;
- a *stay* in a stage runs from a move into it to the next move (a stay interrupted by on hold
  is two stays, as on hold pauses the clock); a finished stay ended in the period; a stay still
  going is measured up to as_of;
- the 8-month timescale (National Minimum Standard 14) runs from the application to the panel's
  recommendation (approve or do not approve: a deferral is not one), as crm.services.panel
  counts it; a household is *at risk* when it is still in assessment (application to panel, or
  on hold from one of those) with `at_risk_days` or fewer left, or past the deadline;
- panel outcomes count the recommendations and decisions dated in a period (local dates).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta

from crm.workdays import add_working_days_to_date
from funnel.frames import CODE, DAY_NS, FunnelData, as_ns
from funnel.periods import Period

ASSESSMENT = ("application", "stage_one", "stage_two", "panel")
DECIDED_BY_PANEL = ("approve", "do_not_approve")
RECOMMENDATIONS = ("approve", "do_not_approve", "defer")
DECISIONS = ("approved", "not_approved")
AGE_BANDS = ((0, 28, "under_4_weeks"), (28, 56, "weeks_4_to_8"), (56, None, "over_8_weeks"))


def _today(data: FunnelData) -> date:
    return data.as_of.tz_convert(data.tz).date()


def _open(data: FunnelData) -> pd.Index:
    j = data.journeys
    return j.index[j["outcome"].isin(["in_progress", "on_hold"]).to_numpy()]


def _split(data: FunnelData, index: pd.Index) -> np.ndarray:
    """True for connected persons (kinship) households among `index`."""
    return data.households["is_kinship"].reindex(index, fill_value=False).to_numpy(dtype=bool)


def checks_outstanding(
    data: FunnelData, kinds: dict[str, tuple[str, int]] | None = None
) -> pd.DataFrame:
    """Outstanding checks by type (index check_key): label, outstanding, past_target,
    median_days and oldest_days waiting, and how many have waited under 4 weeks, 4 to 8 weeks
    and over 8 weeks. `kinds` maps a check key to (label, target working days); a key not in
    it keeps its key as its label and has no target. Most outstanding first."""
    kinds = kinds or {}
    columns = [
        "label",
        "outstanding",
        "past_target",
        "median_days",
        "oldest_days",
        *(band for _, _, band in AGE_BANDS),
    ]
    checks = data.checks
    waiting = checks[
        checks["received_on"].isna().to_numpy()
        & checks["household_id"].isin(_open(data)).to_numpy()
    ]
    if waiting.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="check_key"))
    today = pd.Timestamp(_today(data))
    days = ((today - waiting["requested_on"]) / pd.Timedelta(days=1)).to_numpy()
    keys = waiting["check_key"].astype(str).to_numpy()
    requested = waiting["requested_on"].dt.date.to_numpy()
    # The chase target, as the reminder counts it (a few distinct dates: one sum per date).
    due: dict[tuple[date, int], date] = {}
    past = np.zeros(len(waiting), dtype=bool)
    for i, (key, day) in enumerate(zip(keys, requested, strict=True)):
        target = kinds.get(key, (key, None))[1]
        if target is None:
            continue
        if (day, target) not in due:
            due[(day, target)] = add_working_days_to_date(day, target)
        past[i] = due[(day, target)] < today.date()
    frame = pd.DataFrame({"check_key": keys, "days": days, "past": past})
    for low, high, band in AGE_BANDS:
        frame[band] = (days >= low) & (True if high is None else days < high)
    grouped = frame.groupby("check_key", sort=True)
    out = pd.DataFrame(
        {
            "outstanding": grouped.size(),
            "past_target": grouped["past"].sum(),
            "median_days": grouped["days"].median(),
            "oldest_days": grouped["days"].max(),
            **{band: grouped[band].sum() for _, _, band in AGE_BANDS},
        }
    )
    out.insert(0, "label", [kinds.get(k, (k, None))[0] for k in out.index])
    out = out.astype({c: "int64" for c in columns if c not in ("label", "median_days")})
    return out.sort_values(["outstanding", "label"], ascending=[False, True], kind="stable")[
        columns
    ]


def time_in_assessment(
    data: FunnelData, period: Period, target_days: dict[str, int]
) -> pd.DataFrame:
    """Stage one and stage two (index stage, then kinship False/True: mainstream and connected
    persons apart) against their target days: stays finished in `period` (finished, median_days,
    within_target and its share) and stays still going at as_of (ongoing, ongoing_over_target,
    ongoing_median_days)."""
    ev = data.events
    households = ev["household_id"].to_numpy()
    codes = ev["to_stage"].cat.codes.to_numpy().astype(np.int64)
    times = as_ns(ev["occurred_at"])
    as_of = data.as_of.value
    same_next = np.r_[households[1:] == households[:-1], False]
    ends = np.where(same_next, np.r_[times[1:], as_of], as_of)
    days = (ends - times) / DAY_NS
    start, stop = (t.value for t in period.bounds(data.tz))
    ended_in = same_next & (ends >= start) & (ends < stop)
    kinship = data.households["is_kinship"].reindex(households, fill_value=False).to_numpy(bool)
    known = np.isin(households, data.households.index.to_numpy())
    rows = []
    for stage in ("stage_one", "stage_two"):
        target = target_days.get(stage)
        for connected in (False, True):
            here = (codes == CODE[stage]) & known & (kinship == connected)
            done = days[here & ended_in]
            going = days[here & ~same_next]
            within = int((done <= target).sum()) if target is not None else None
            rows.append(
                {
                    "stage": stage,
                    "kinship": connected,
                    "target_days": target,
                    "finished": int(len(done)),
                    "median_days": float(np.median(done)) if len(done) else None,
                    "within_target": within,
                    "within_target_share": within / len(done)
                    if within is not None and len(done)
                    else None,
                    "ongoing": int(len(going)),
                    "ongoing_over_target": int((going > target).sum())
                    if target is not None
                    else None,
                    "ongoing_median_days": float(np.median(going)) if len(going) else None,
                }
            )
    return pd.DataFrame(rows).set_index(["stage", "kinship"])


def _recommended(data: FunnelData) -> np.ndarray:
    """Household ids with the panel's recommendation (approve or do not approve) as at as_of."""
    pl = data.panel_listings
    done = pl["recommendation"].astype(object).isin(DECIDED_BY_PANEL).to_numpy()
    return pl["household_id"].to_numpy()[done]


def timescale_at_risk(
    data: FunnelData, at_risk_days: int = 60, deadline_months: int = 8
) -> pd.DataFrame:
    """Households still in assessment with no recommendation and `at_risk_days` or fewer left
    of the timescale (or past it), index household_id: reference, area, stage, kinship,
    application_on, deadline_on, days_left, status (approaching / overdue) and panel_on (a
    panel it is listed for, still to recommend). Households the reader may not open
    (``hidden``) are left out. Fewest days left first."""
    j = data.journeys
    at = j["funnel_stage"].astype(str)
    running = (
        j["outcome"].isin(["in_progress", "on_hold"]).to_numpy()
        & at.isin(ASSESSMENT).to_numpy()
        & j["reach_application"].notna().to_numpy()
        & ~j.index.isin(_recommended(data))
        & ~j["hidden"].to_numpy(dtype=bool)
    )
    j = j[running]
    applied = j["reach_application"].dt.tz_convert(data.tz).dt.date
    deadline = [day + relativedelta(months=deadline_months) for day in applied]
    today = _today(data)
    days_left = np.array([(d - today).days for d in deadline], dtype=np.int64)
    pl = data.panel_listings
    waiting = pl[pl["recommendation"].isna().to_numpy()]
    next_panel = waiting.groupby("household_id")["meets_on"].max()
    out = pd.DataFrame(
        {
            "reference": j["reference"],
            "area": j["area"].astype(object),
            "stage": j["stage"].astype(str),
            "kinship": j["is_kinship"].to_numpy(dtype=bool),
            "application_on": applied,
            "deadline_on": deadline,
            "days_left": days_left,
            "panel_on": next_panel.reindex(j.index).dt.date,
        },
        index=j.index,
    )
    out = out[out["days_left"] <= at_risk_days]
    out["status"] = np.where(out["days_left"] < 0, "overdue", "approaching")
    return out.sort_values(["days_left", "reference"], kind="stable")


def panel_outcomes(data: FunnelData, periods: dict[str, Period]) -> pd.DataFrame:
    """Recommendations (approve, do not approve, defer) and agency decisions (approved, not
    approved) dated in each period (index kind, outcome; a column per period name, and the
    same for connected persons as `<name>_kinship`)."""
    pl = data.panel_listings
    kinship = data.households["is_kinship"].reindex(pl["household_id"], fill_value=False)
    kinship = kinship.to_numpy(dtype=bool)
    rows: list[dict] = []
    for kind, column, when, values in (
        ("recommendation", "recommendation", "recommended_at", RECOMMENDATIONS),
        ("decision", "decision", "decided_at", DECISIONS),
    ):
        outcome = pl[column].astype(object).to_numpy()
        for value in values:
            row: dict = {"kind": kind, "outcome": value}
            for name, period in periods.items():
                inside = period.contains(pl[when], data.tz).to_numpy() & (outcome == value)
                row[name] = int((inside & ~kinship).sum())
                row[f"{name}_kinship"] = int((inside & kinship).sum())
            rows.append(row)
    return pd.DataFrame(rows).set_index(["kind", "outcome"])


def summary(
    data: FunnelData,
    period: Period,
    target_days: dict[str, int],
    *,
    at_risk_days: int = 60,
    deadline_months: int = 8,
    kinds: dict[str, tuple[str, int]] | None = None,
) -> dict:
    """The assessment measures as one JSON-ready object (`fostercrm report funnel --json`,
    key "assessment"): checks outstanding as at the data's moment, stays in stage one and two
    finished in `period` and still going, the households at risk (counts), panel outcomes in
    `period`. Mainstream and connected persons (kinship) apart where the tables have them."""

    def number(value: object) -> float | int | None:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        return round(float(value), 4) if isinstance(value, float) else int(value)

    checks = checks_outstanding(data, kinds)
    stays = time_in_assessment(data, period, target_days)
    risk = timescale_at_risk(data, at_risk_days, deadline_months)
    outcomes = panel_outcomes(data, {"period": period})
    return {
        "checks_outstanding": {
            str(key): {
                column: number(row[column])
                for column in ("outstanding", "past_target", "median_days", "oldest_days")
            }
            for key, row in checks.iterrows()
        },
        "time_in_stage": {
            f"{stage}{'_kinship' if kinship else ''}": {
                column: number(value) for column, value in row.items()
            }
            for (stage, kinship), row in stays.iterrows()
        },
        "timescale_at_risk": int(len(risk)),
        "timescale_overdue": int((risk["status"] == "overdue").sum()) if len(risk) else 0,
        "panel": {
            f"{kind}:{outcome}": {
                "mainstream": int(row["period"]),
                "kinship": int(row["period_kinship"]),
            }
            for (kind, outcome), row in outcomes.iterrows()
        },
    }
