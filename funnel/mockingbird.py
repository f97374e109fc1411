"""Do carers inside a Mockingbird constellation stay longer? Leavers per 100 fostering
households a year, and check-in scores, for carers while inside a constellation (as its hub
home or a satellite) against the same carers' and everyone else's time outside one.

Time is counted in household-years: a carer approved all year and in a constellation for three
months gives 0.25 inside and 0.75 outside. A carer who deregisters counts as a leaver on the
side they were on that day; a check-in answer counts on the side the carer was on when they
answered. Reads the database only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session

from crm.clock import ENGLAND
from crm.models import Carer, CheckIn, Constellation, ConstellationMember, Household

INSIDE, OUTSIDE = "In a constellation", "Not in a constellation"
DAYS_A_YEAR = 365.25


@dataclass
class RetentionFrames:
    # carer_id, area_id, approved_on, deregistered_on
    carers: pd.DataFrame
    # carer_id, joined_on, left_on (NaT while still in); the hub home for the constellation's life
    memberships: pd.DataFrame
    # carer_id, answered_on, score
    check_ins: pd.DataFrame


def load_retention_frames(
    session: Session, *, area_ids: list[int] | None = None
) -> RetentionFrames:
    carers_q = sa.select(
        Carer.id.label("carer_id"),
        Household.area_id,
        Carer.approved_on,
        Carer.deregistered_on,
    ).join(Household, Household.id == Carer.household_id)
    if area_ids is not None:
        carers_q = carers_q.where(Household.area_id.in_(area_ids))
    carers = pd.DataFrame(
        session.execute(carers_q).all(),
        columns=["carer_id", "area_id", "approved_on", "deregistered_on"],
    )
    satellites = sa.select(
        ConstellationMember.carer_id, ConstellationMember.joined_on, ConstellationMember.left_on
    )
    hubs = sa.select(
        Constellation.hub_carer_id.label("carer_id"),
        Constellation.started_on.label("joined_on"),
        Constellation.ended_on.label("left_on"),
    )
    memberships = pd.DataFrame(
        session.execute(sa.union_all(satellites, hubs)).all(),
        columns=["carer_id", "joined_on", "left_on"],
    )
    answers = pd.DataFrame(
        session.execute(
            sa.select(CheckIn.carer_id, CheckIn.answered_at, CheckIn.score).where(
                CheckIn.score.is_not(None)
            )
        ).all(),
        columns=["carer_id", "answered_at", "score"],
    )
    session.rollback()
    if len(answers):
        answers["answered_on"] = (
            pd.to_datetime(answers.pop("answered_at"), utc=True).dt.tz_convert(ENGLAND).dt.date
        )
    else:
        answers = pd.DataFrame(columns=["carer_id", "score", "answered_on"])
    return RetentionFrames(carers, memberships, answers)


def _days(frame: pd.DataFrame, *columns: str) -> None:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column])


def retention_comparison(frames: RetentionFrames, start: date, end: date) -> pd.DataFrame:
    """One row inside and one outside a constellation for the period start..end (both days
    counted): household_years, leavers, leavers_per_100 (a year), answers, mean_score."""
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    after_last = last + pd.Timedelta(days=1)
    carers = frames.carers.copy()
    _days(carers, "approved_on", "deregistered_on")
    # Each carer's time as an approved carer inside the period, as [from, to).
    carers["from"] = carers["approved_on"].clip(lower=first)
    carers["to"] = (carers["deregistered_on"].fillna(after_last)).clip(upper=after_last)
    carers = carers[carers["to"] > carers["from"]]
    active_days = (carers["to"] - carers["from"]).dt.days

    memberships = frames.memberships.copy()
    _days(memberships, "joined_on", "left_on")
    spans = memberships.merge(carers[["carer_id", "from", "to"]], on="carer_id")
    # A membership's last day counts: it ends the day after it was left.
    span_to = (spans["left_on"] + pd.Timedelta(days=1)).fillna(after_last)
    overlap_from = spans[["joined_on", "from"]].max(axis=1)
    overlap_to = pd.concat([span_to, spans["to"]], axis=1).min(axis=1)
    spans["inside_days"] = (overlap_to - overlap_from).dt.days.clip(lower=0)
    inside_days = spans.groupby("carer_id")["inside_days"].sum()
    inside_total = float(inside_days.sum())
    outside_total = float(active_days.sum()) - inside_total

    def inside_on(rows: pd.DataFrame, day_column: str) -> pd.Series:
        """Whether each row's carer was in a constellation on the row's day."""
        if rows.empty:
            return pd.Series([], dtype=bool)
        joined = rows.reset_index().merge(memberships, on="carer_id", how="left")
        day = joined[day_column]
        hit = (joined["joined_on"] <= day) & (joined["left_on"].isna() | (day <= joined["left_on"]))
        return hit.groupby(joined["index"]).any().reindex(rows.index, fill_value=False)

    leavers = carers[carers["deregistered_on"].between(first, last)]
    leavers_inside = int(inside_on(leavers, "deregistered_on").sum())
    leavers_outside = len(leavers) - leavers_inside

    answers = frames.check_ins.copy()
    answers["answered_on"] = pd.to_datetime(answers["answered_on"])
    answers = answers[answers["answered_on"].between(first, last)]
    answers = answers[answers["carer_id"].isin(carers["carer_id"])]
    answered_inside = inside_on(answers, "answered_on")

    def row(label: str, days: float, left: int, scores: pd.Series) -> dict:
        years = days / DAYS_A_YEAR
        return {
            "group": label,
            "household_years": round(years, 2),
            "leavers": left,
            "leavers_per_100": round(100 * left / years, 1) if years > 0 else None,
            "answers": int(len(scores)),
            "mean_score": round(float(scores.mean()), 2) if len(scores) else None,
        }

    return pd.DataFrame(
        [
            row(INSIDE, inside_total, leavers_inside, answers.loc[answered_inside, "score"]),
            row(OUTSIDE, outside_total, leavers_outside, answers.loc[~answered_inside, "score"]),
        ],
        dtype=object,  # a rate with no time to count stays None, not NaN
    )
