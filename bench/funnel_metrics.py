"""Benchmark: the full set of funnel metrics on about 1,000,000 generated stage events.

    python bench/funnel_metrics.py [--events 1000000] [--seed 7] [--repeat 3]

Generates, in memory, frames in the shape `funnel.frames` documents (households, stage events with
skipped stages, pauses and withdrawals, carers, placements, check-ins, activity), then times:

1. the full set of metrics behind the weekly report (`funnel.weekly.compute_weekly_tables`,
   everything but drawing the charts) and the `report funnel --json` summary;
2. a straightforward per-household Python loop computing just the cohort funnel;

and prints seconds, peak memory (tracemalloc, for the metrics alone) and the ratio. The loop's
answer is checked against the vectorised one, so the comparison is of equal work.
Aim: the full set under 2 s and 500 MB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from funnel import metrics  # noqa: E402
from funnel.frames import FUNNEL, FunnelData, make_funnel_data  # noqa: E402
from funnel.periods import IsoWeek, Period  # noqa: E402

AS_OF = pd.Timestamp("2026-03-09 08:00", tz="UTC")
DAY = np.int64(86_400 * 10**9)
# Chance of going on from each funnel stage to the next, and mean days spent there.
GO_ON = [0.35, 0.55, 0.9, 0.85, 0.85, 0.95]
MEAN_DAYS = [8, 25, 20, 60, 110, 14]
SOURCES = ["web_search", "social_media", "council_website", "event", "refer_a_friend", "other"]
AREAS = ["Northshire", "Southshire", "Eastshire", "Westshire"]
WITHDRAWN_REASONS = ["timing", "finances", "space", "changed_mind", "other_service", "other"]
NOT_PROGRESSED_REASONS = ["checks", "suitability", "capacity", "eligibility", "other"]
DEREG_REASONS = ["retirement", "personal_circumstances", "unhappy_with_support", "health"]


def generate(n_households: int, seed: int) -> FunnelData:
    """Households and their histories, vectorised (generating a million events takes seconds)."""
    rng = np.random.default_rng(seed)
    n = n_households
    ids = np.arange(1, n + 1, dtype=np.int64)
    span = 3 * 365 * DAY
    enquired = AS_OF.value - rng.integers(0, span, n)
    # How far each household gets: a run of successes along the funnel.
    furthest = np.zeros(n, dtype=np.int64)
    going = np.ones(n, dtype=bool)
    for step, p in enumerate(GO_ON, start=1):
        going &= rng.random(n) < p
        furthest[going] = step
    # Time spent in each stage, capped so nothing happens after as_of.
    gaps = rng.exponential(MEAN_DAYS, size=(n, len(MEAN_DAYS))) * DAY
    stage_times = enquired[:, None] + np.c_[np.zeros(n), np.cumsum(gaps, axis=1)].astype(np.int64)
    reached_by_now = stage_times <= AS_OF.value
    furthest = np.minimum(furthest, reached_by_now.sum(axis=1) - 1)
    # Connected persons (5% of applicants) skip the initial visit.
    skip_visit = (furthest >= 2) & (rng.random(n) < 0.05)
    stopped = furthest < 6
    leave_time = np.minimum(
        stage_times[ids - 1, furthest] + (rng.exponential(20, n) * DAY).astype(np.int64),
        AS_OF.value,
    )
    leaves = stopped & (leave_time < AS_OF.value - 30 * DAY) & (rng.random(n) < 0.85)
    withdraws = leaves & (rng.random(n) < 0.75)
    pauses = (furthest >= 2) & (rng.random(n) < 0.06)

    rows_h, rows_s, rows_t, rows_from, rows_reason = [], [], [], [], []
    previous = np.full(n, -1, dtype=np.int64)
    for stage in range(7):
        mask = furthest >= stage
        if stage == 1:
            mask &= ~skip_visit
        rows_h.append(ids[mask])
        rows_s.append(np.full(mask.sum(), stage))
        rows_t.append(stage_times[mask, stage])
        rows_from.append(previous[mask])
        rows_reason.append(np.full(mask.sum(), None, dtype=object))
        previous[mask] = stage
        if stage == 2:
            # A pause at application, resumed a few weeks later, before stage one.
            p = pauses & (furthest >= 2)
            t = stage_times[p, 2] + DAY
            rows_h += [ids[p], ids[p]]
            rows_s += [np.full(p.sum(), 7), np.full(p.sum(), 2)]
            rows_t += [t, t + DAY]
            rows_from += [np.full(p.sum(), 2), np.full(p.sum(), 7)]
            rows_reason += [np.full(p.sum(), "work", dtype=object), np.full(p.sum(), None)]
    for code, who, reasons in (
        (8, withdraws, WITHDRAWN_REASONS),
        (9, leaves & ~withdraws, NOT_PROGRESSED_REASONS),
    ):
        rows_h.append(ids[who])
        rows_s.append(np.full(who.sum(), code))
        rows_t.append(leave_time[who])
        rows_from.append(furthest[who])
        rows_reason.append(
            np.asarray(reasons, dtype=object)[rng.integers(0, len(reasons), who.sum())]
        )

    stages = np.asarray([*FUNNEL, "on_hold", "withdrawn", "not_progressed"], dtype=object)
    from_codes = np.concatenate(rows_from)
    events = pd.DataFrame(
        {
            "household_id": np.concatenate(rows_h),
            "from_stage": np.where(from_codes >= 0, stages[np.maximum(from_codes, 0)], None),
            "to_stage": stages[np.concatenate(rows_s)],
            "occurred_at": pd.to_datetime(np.concatenate(rows_t), utc=True),
            "reason_code": np.concatenate(rows_reason),
        }
    )
    contacted = rng.random(n) < 0.9
    contact_at = enquired + (rng.exponential(1.2, n) * DAY).astype(np.int64)
    contact_at = np.where(
        contacted & (contact_at < AS_OF.value), contact_at, np.iinfo(np.int64).min
    )
    households = pd.DataFrame(
        {
            "household_id": ids,
            "reference": pd.Series(ids).map("FC-{:08d}".format),
            "area_id": rng.integers(1, len(AREAS) + 1, n),
            "area": np.asarray(AREAS, dtype=object)[rng.integers(0, len(AREAS), n)],
            "source_key": np.asarray(SOURCES, dtype=object)[rng.integers(0, len(SOURCES), n)],
            "campaign_id": np.where(rng.random(n) < 0.1, rng.integers(1, 4, n), None),
            "enquiry_channel": np.where(rng.random(n) < 0.7, "web_form", "staff"),
            "enquired_at": pd.to_datetime(enquired, utc=True),
            "first_contact_at": pd.to_datetime(contact_at, utc=True),
        }
    )
    approved = ids[furthest == 6]
    k = len(approved)
    approved_on = (
        pd.to_datetime(stage_times[approved - 1, 6], utc=True).tz_convert(None).normalize()
    )
    dereg_days = rng.exponential(900, k).astype(int)
    dereg_on = approved_on + pd.to_timedelta(dereg_days, unit="D")
    dereg_on = dereg_on.where(dereg_on < AS_OF.tz_convert(None).normalize())
    carers = pd.DataFrame(
        {
            "carer_id": np.arange(1, k + 1),
            "household_id": approved,
            "reference": pd.Series(approved).map("FC-{:08d}".format),
            "area": np.asarray(AREAS, dtype=object)[rng.integers(0, len(AREAS), k)],
            "approved_on": approved_on,
            "places": rng.integers(1, 4, k),
            "status": np.where(dereg_on.isna(), "active", "deregistered"),
            "deregistered_on": dereg_on,
            "deregistration_reason_code": np.where(
                dereg_on.isna(), None, np.asarray(DEREG_REASONS)[rng.integers(0, 4, k)]
            ),
            "at_risk": rng.random(k) < 0.03,
        }
    )
    n_place = k * 2
    place_carer = rng.integers(1, k + 1, n_place)
    start = (
        approved_on.to_numpy()[place_carer - 1]
        + pd.to_timedelta(rng.integers(0, 400, n_place), unit="D").to_numpy()
    )
    ends = start + pd.to_timedelta(rng.integers(10, 700, n_place), unit="D").to_numpy()
    today = np.datetime64(AS_OF.tz_convert(None).normalize())
    keep = start <= today
    placements = pd.DataFrame(
        {
            "carer_id": place_carer[keep],
            "started_on": start[keep],
            "ended_on": np.where(ends[keep] <= today, ends[keep], np.datetime64("NaT")),
        }
    )
    per_carer = 12
    ci_carer = np.repeat(np.arange(1, k + 1), per_carer)
    sent = (
        approved_on.to_numpy().astype("M8[ns]").view(np.int64)[ci_carer - 1]
        + np.tile(np.arange(1, per_carer + 1), k) * 42 * DAY
    )
    keep = sent < AS_OF.value
    answered = rng.random(keep.sum()) < 0.6
    sent = sent[keep]
    check_ins = pd.DataFrame(
        {
            "carer_id": ci_carer[keep],
            "sent_at": pd.to_datetime(sent, utc=True),
            "answered_at": pd.to_datetime(
                np.where(answered, sent + DAY, np.iinfo(np.int64).min), utc=True
            ),
            "score": pd.Series(rng.integers(1, 6, len(sent)), dtype="Int64").where(answered),
            "wants_call": answered & (rng.random(len(sent)) < 0.05),
        }
    )
    active = rng.random(n) < 0.5
    last_activity = pd.DataFrame(
        {
            "household_id": ids[active],
            "last_activity_at": pd.to_datetime(
                np.minimum(
                    enquired[active] + rng.integers(0, 200, active.sum()) * DAY, AS_OF.value
                ),
                utc=True,
            ),
        }
    )
    campaigns = pd.DataFrame(
        {
            "campaign_id": [1, 2, 3],
            "name": ["Spring radio", "Bus sides", "Open evening"],
            "cost_pence": [500_000, 1_200_000, None],
        }
    )
    return make_funnel_data(
        AS_OF,
        households=households,
        events=events,
        last_activity=last_activity,
        carers=carers,
        placements=placements,
        check_ins=check_ins,
        campaigns=campaigns,
    )


def loop_cohort_funnel(events: pd.DataFrame, households: pd.DataFrame, period: Period, tz: str):
    """The straightforward way: walk every household's events in Python."""
    start, end = period.bounds(tz)
    history: dict[int, list[str]] = {}
    for household_id, stage in zip(events["household_id"], events["to_stage"], strict=True):
        history.setdefault(household_id, []).append(stage)
    order = {stage: i for i, stage in enumerate(FUNNEL)}
    reached = dict.fromkeys(FUNNEL, 0)
    for household_id, enquired_at in zip(households.index, households["enquired_at"], strict=True):
        if not (start <= enquired_at < end):
            continue
        furthest = 0
        for stage in history.get(household_id, []):
            if stage in order and order[stage] > furthest:
                furthest = order[stage]
        for stage in FUNNEL[: furthest + 1]:
            reached[stage] += 1
    return reached


def full_set(data: FunnelData, week: IsoWeek, period: Period, settings) -> None:
    from funnel.weekly import compute_weekly_tables

    # A fresh copy of the data so nothing cached from an earlier run is reused.
    data = FunnelData(**{**data.__dict__})
    data.__dict__.pop("journeys", None)
    compute_weekly_tables(data, week, settings)
    metrics.funnel_summary(data, period, metrics.ResponseRule())


def timed(func, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from crm.testing.fixtures import make_test_settings

    settings = make_test_settings()
    started = time.perf_counter()
    households = max(1000, int(args.events / 2.2))
    data = generate(households, args.seed)
    # Scale once to land near the requested number of events.
    households = int(households * args.events / len(data.events))
    data = generate(households, args.seed)
    print(
        f"generated {len(data.events):,} stage events for {len(data.households):,} households, "
        f"{len(data.carers):,} carers, {len(data.check_ins):,} check-ins "
        f"in {time.perf_counter() - started:.1f} s"
    )
    week = IsoWeek.last_complete(AS_OF.to_pydatetime(), "Europe/London")
    period = Period(date(2024, 3, 1), date(2025, 2, 28))

    full = timed(lambda: full_set(data, week, period, settings), args.repeat)
    data.__dict__.pop("journeys", None)
    gc.collect()
    tracemalloc.start()
    full_set(data, week, period, settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    def vectorised_cohort():
        fresh = FunnelData(**{**data.__dict__})
        fresh.__dict__.pop("journeys", None)
        return metrics.cohort_funnel(fresh, period)["reached"].to_dict()

    vector_time = timed(vectorised_cohort, args.repeat)
    started = time.perf_counter()
    by_loop = loop_cohort_funnel(data.events, data.households, period, data.tz)
    loop_time = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    loop_cohort_funnel(data.events, data.households, period, data.tz)
    _, loop_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    by_vector = vectorised_cohort()
    if by_loop != by_vector:
        raise SystemExit(f"the loop and the vectorised funnel disagree: {by_loop} {by_vector}")

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"full set of metrics (weekly report tables + funnel summary): {full:.3f} s (best of "
        f"{args.repeat}), peak {peak / 2**20:.0f} MB traced"
    )
    print(f"cohort funnel, vectorised:           {vector_time:.3f} s")
    print(
        f"cohort funnel, per-household loop:   {loop_time:.3f} s, "
        f"peak {loop_peak / 2**20:.0f} MB traced"
    )
    print(
        f"ratio loop / vectorised cohort funnel: {loop_time / vector_time:.1f}x; "
        f"loop / full set: {loop_time / full:.1f}x"
    )
    print(f"process peak RSS (generation included): {rss_mb:.0f} MB")
    print(f"cohort {period.label}: {by_vector}")
    ok = full < 2 and peak / 2**20 < 500
    print("aim (< 2 s, < 500 MB):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
