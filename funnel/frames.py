"""The funnel's frames: the pandas DataFrames the analytics work on, their columns and dtypes,
and each household's journey rebuilt from its stage events.

Stage events are the single history: a household's current stage, where it paused and why it
left are all rebuilt from them, so a report "as at" any moment (the end of a past week) comes
out the same whenever it is run.

Shapes (every frame is built by `make_funnel_data`, which funnel.load, the tests and the
benchmark use):

- households: index ``household_id``; reference, area_id, area (category), source_key
  (category), campaign_id, enquiry_channel (category), enquired_at, first_contact_at, is_kinship,
  first_attempt_at (first call or email by staff, answered or not), visit_offered_at (first
  initial visit booked), officer_id and officer (the assigned recruitment officer),
  referrer_household_id (refer-a-friend), source_text and campaign_text (an import's own words
  for a source or campaign filed under "other")
- events: household_id, from_stage and to_stage (ordered categoricals over every stage, funnel
  stages first), occurred_at, reason_code, reason_text; sorted by household, time, id
- last_activity: index household_id; the latest note, call, message or completed task
- carers: index carer_id; household_id, reference, area, approved_on, places, status,
  deregistered_on, deregistration_reason_code, deregistration_reason_text, at_risk,
  at_risk_reason, first_applicant_born_on, and the written notice recorded by as_of:
  notice_given_on, approval_ends_on, notice_reason_code, notice_reason_text
- placements: carer_id, started_on, ended_on; check_ins: carer_id, sent_at, answered_at,
  score, wants_call
- lists: campaigns (index id), sources (index key), reasons (kind, code, label), areas (index id)
- checks: household_id, check_key, requested_on, received_on (the stage one checks)
- panel_listings: household_id, meets_on, recommendation, recommended_at, decision, decided_at
- journeys (`FunnelData.journeys`, see `journeys`): one row per household, derived from the
  events.

Datetimes are ``datetime64[ns, UTC]``; calendar dates (approval, placements) are naive
``datetime64[ns]`` midnights. Nothing here reads the database or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from crm.models import FUNNEL_STAGES, Stage

STAGES: list[str] = [s.value for s in Stage]
FUNNEL: list[str] = [s.value for s in FUNNEL_STAGES]
STAGE_DTYPE = pd.CategoricalDtype(STAGES, ordered=True)
FUNNEL_DTYPE = pd.CategoricalDtype(FUNNEL, ordered=True)
DEFAULT_TZ = "Europe/London"
UTC_DTYPE = "datetime64[ns, UTC]"
DATE_DTYPE = "datetime64[ns]"

_COLUMNS: dict[str, dict[str, Any]] = {
    "households": {
        "household_id": "int64",
        "reference": "str",
        "area_id": "Int64",
        "area": "category",
        "source_key": "category",
        # The words an import found when the team filed the source (or campaign) under
        # "other" or found no campaign for them: the report's breakdown of "other".
        "source_text": "object",
        "campaign_id": "Int64",
        "campaign_text": "object",
        "enquiry_channel": "category",
        "enquired_at": UTC_DTYPE,
        "first_contact_at": UTC_DTYPE,
        "is_kinship": "bool",
        # The first call or email by a member of staff, whether or not anybody answered.
        "first_attempt_at": UTC_DTYPE,
        # When an initial visit was first booked (offered), whatever became of it.
        "visit_offered_at": UTC_DTYPE,
        "officer_id": "Int64",
        "officer": "category",
        # Refer-a-friend: the carer household that referred this one.
        "referrer_household_id": "Int64",
        # Outside the reader's visibility rule (crm.services.access): counted, never named.
        "hidden": "bool",
    },
    "events": {
        "household_id": "int64",
        "from_stage": STAGE_DTYPE,
        "to_stage": STAGE_DTYPE,
        "occurred_at": UTC_DTYPE,
        "reason_code": "category",
        # The reason in the words given (an import's own wording filed under "other").
        "reason_text": "object",
    },
    "last_activity": {"household_id": "int64", "last_activity_at": UTC_DTYPE},
    "carers": {
        "carer_id": "int64",
        "household_id": "int64",
        "reference": "str",
        "area_id": "Int64",
        "area": "category",
        "approved_on": DATE_DTYPE,
        "places": "int64",
        "status": "category",
        "deregistered_on": DATE_DTYPE,
        "deregistration_reason_code": "category",
        "deregistration_reason_text": "object",
        "at_risk": "bool",
        "at_risk_reason": "object",
        # The first applicant's date of birth (the carer's age group when they left).
        "first_applicant_born_on": DATE_DTYPE,
        # The written notice recorded by as_of (crm.services.leaving): the approval ends 28
        # days after it; until then (and not deregistered) the carer is under notice.
        "notice_given_on": DATE_DTYPE,
        "approval_ends_on": DATE_DTYPE,
        "notice_reason_code": "object",
        "notice_reason_text": "object",
    },
    "placements": {"carer_id": "int64", "started_on": DATE_DTYPE, "ended_on": DATE_DTYPE},
    "check_ins": {
        "carer_id": "int64",
        "sent_at": UTC_DTYPE,
        "answered_at": UTC_DTYPE,
        "score": "Int64",
        "wants_call": "bool",
    },
    "campaigns": {
        "campaign_id": "int64",
        "name": "str",
        "source_key": "object",
        "cost_pence": "Int64",
    },
    "sources": {"key": "str", "label": "str"},
    "reasons": {"kind": "str", "code": "str", "label": "str"},
    "areas": {"area_id": "int64", "name": "str"},
    # The statutory checks of stage one (household_check), as at as_of: a check received
    # after as_of was still outstanding then.
    "checks": {
        "household_id": "int64",
        "check_key": "category",
        "requested_on": DATE_DTYPE,
        "received_on": DATE_DTYPE,
    },
    # Panel listings (panel_listing) with their meeting's date; a recommendation or a decision
    # made after as_of had not been made yet.
    "panel_listings": {
        "household_id": "int64",
        "meets_on": DATE_DTYPE,
        "recommendation": "category",
        "recommended_at": UTC_DTYPE,
        "decision": "category",
        "decided_at": UTC_DTYPE,
    },
}
_INDEX = {
    "households": "household_id",
    "last_activity": "household_id",
    "carers": "carer_id",
    "campaigns": "campaign_id",
    "sources": "key",
    "areas": "area_id",
}


def parse_datetimes(values: pd.Series, utc: bool) -> pd.Series:
    """Datetimes from text (SQLite), datetime objects (PostgreSQL) or datetime64 alike."""
    sample = values.dropna().head(1).tolist()
    if sample and isinstance(sample[0], str):
        return pd.to_datetime(values, utc=utc, format="ISO8601")
    return pd.to_datetime(values, utc=utc)


def _typed(name: str, frame: pd.DataFrame | None) -> pd.DataFrame:
    """The frame with exactly the documented columns and dtypes (missing columns empty)."""
    spec = _COLUMNS[name]
    # No copy first: every column below is taken as it is or converted into a new array, and
    # pandas copies on write, so the caller's frame is never changed through this one.
    frame = pd.DataFrame(columns=list(spec)) if frame is None else frame
    index_name = _INDEX.get(name)
    if index_name and frame.index.name == index_name:
        frame = frame.reset_index()
    out = {}
    for column, dtype in spec.items():
        values = frame[column] if column in frame else pd.Series([None] * len(frame))
        values = values.reset_index(drop=True)
        if str(values.dtype) == str(dtype) and dtype not in ("object", "str", "category"):
            pass  # already typed (funnel.load reads columns in their final dtypes)
        elif dtype == UTC_DTYPE:
            values = parse_datetimes(values, utc=True).astype(UTC_DTYPE)
        elif dtype == DATE_DTYPE:
            values = parse_datetimes(values, utc=False).astype(DATE_DTYPE)
        elif dtype == "bool":
            values = values.fillna(False).astype(bool)
        elif dtype == "str":
            values = values.astype("str") if len(values) else values.astype(object)
        elif dtype == "object":
            values = values.astype(object).where(values.notna(), None)
        else:
            values = values.astype(dtype)
        out[column] = values
    result = pd.DataFrame(out, copy=False)
    if index_name:
        result = result.set_index(index_name)
    return result


NOT_RECORDED = "not_recorded"


def _not_recorded(value: Any) -> bool:
    """Missing, or the placeholder the metrics use for missing."""
    if value is None or value is pd.NA or value == NOT_RECORDED:
        return True
    return isinstance(value, float) and pd.isna(value)


@dataclass(eq=False)
class FunnelData:
    """Everything the metrics read, as at one moment. Build it with `make_funnel_data`."""

    as_of: pd.Timestamp
    households: pd.DataFrame
    events: pd.DataFrame
    last_activity: pd.DataFrame
    carers: pd.DataFrame
    placements: pd.DataFrame
    check_ins: pd.DataFrame
    campaigns: pd.DataFrame
    sources: pd.DataFrame
    reasons: pd.DataFrame
    areas: pd.DataFrame
    checks: pd.DataFrame
    panel_listings: pd.DataFrame
    tz: str = DEFAULT_TZ
    # Which areas the data was limited to (None: the whole hub), for report headings.
    area_names: list[str] | None = None

    @cached_property
    def journeys(self) -> pd.DataFrame:
        """Per-household journey (see `journeys`); computed once per data set."""
        return journeys(self)

    @cached_property
    def _source_labels(self) -> dict[Any, str]:
        return {key: str(label) for key, label in self.sources["label"].items()}

    @cached_property
    def _reason_labels(self) -> dict[tuple[str, Any], str]:
        # The first label wins when a list repeats a code, as the lookup always did.
        labels: dict[tuple[str, Any], str] = {}
        for kind, code, label in self.reasons[["kind", "code", "label"]].itertuples(index=False):
            labels.setdefault((kind, code), str(label))
        return labels

    def source_label(self, key: Any) -> str:
        if _not_recorded(key):
            return "Not recorded"
        return self._source_labels.get(key, str(key))

    def reason_label(self, kind: str, code: Any) -> str:
        if _not_recorded(code):
            return "Not recorded"
        return self._reason_labels.get((kind, code), str(code))


def _in_household_order(events: pd.DataFrame) -> bool:
    """Already by household, then time, with no time missing (as funnel.load reads them): the
    stable sort would leave them as they are."""
    if not isinstance(events.index, pd.RangeIndex) or events.index.start != 0:
        return False
    if events.index.step != 1 or events["occurred_at"].isna().any():
        return False
    household = events["household_id"].to_numpy()
    if household.dtype.kind not in "iu":
        return False
    when = as_ns(events["occurred_at"])
    same = household[1:] == household[:-1]
    return bool(((household[1:] > household[:-1]) | (same & (when[1:] >= when[:-1]))).all())


def make_funnel_data(
    as_of: datetime | pd.Timestamp,
    *,
    households: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    last_activity: pd.DataFrame | None = None,
    carers: pd.DataFrame | None = None,
    placements: pd.DataFrame | None = None,
    check_ins: pd.DataFrame | None = None,
    campaigns: pd.DataFrame | None = None,
    sources: pd.DataFrame | None = None,
    reasons: pd.DataFrame | None = None,
    areas: pd.DataFrame | None = None,
    checks: pd.DataFrame | None = None,
    panel_listings: pd.DataFrame | None = None,
    tz: str = DEFAULT_TZ,
    area_names: list[str] | None = None,
) -> FunnelData:
    """Normalise frames to the documented shapes. Missing frames are empty; missing columns
    are filled with nulls, so tests can give only what they care about."""
    as_of = pd.Timestamp(as_of)
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    events = _typed("events", events)
    if len(events) and not _in_household_order(events):
        events = events.sort_values(["household_id", "occurred_at"], kind="stable")
        events = events.reset_index(drop=True)
    return FunnelData(
        as_of=as_of.tz_convert("UTC").as_unit("ns"),
        households=_typed("households", households),
        events=events,
        last_activity=_typed("last_activity", last_activity),
        carers=_typed("carers", carers),
        placements=_typed("placements", placements),
        check_ins=_typed("check_ins", check_ins),
        campaigns=_typed("campaigns", campaigns),
        sources=_typed("sources", sources),
        reasons=_typed("reasons", reasons),
        areas=_typed("areas", areas),
        checks=_typed("checks", checks),
        panel_listings=_typed("panel_listings", panel_listings),
        tz=tz,
        area_names=area_names,
    )


# -- stage codes and time as integers ----------------------------------------------------

N_FUNNEL = len(FUNNEL)
CODE = {stage: i for i, stage in enumerate(STAGES)}
ON_HOLD, WITHDRAWN, NOT_PROGRESSED, DEREGISTERED = (
    CODE["on_hold"],
    CODE["withdrawn"],
    CODE["not_progressed"],
    CODE["deregistered"],
)
APPROVED = CODE["approved"]
OUTCOMES = ["in_progress", "on_hold", "withdrawn", "not_progressed", "approved", "deregistered"]
OUTCOME_DTYPE = pd.CategoricalDtype(OUTCOMES)
LEAVING = ("withdrawn", "not_progressed")
# The outcome of a household from the stage it is at now (codes into OUTCOMES).
_OUTCOME_OF_STAGE = np.array(
    [
        OUTCOMES.index(
            {
                "on_hold": "on_hold",
                "withdrawn": "withdrawn",
                "not_progressed": "not_progressed",
                "approved": "approved",
                "deregistered": "deregistered",
            }.get(stage, "in_progress")
        )
        for stage in STAGES
    ],
    dtype=np.int8,
)
NAT_NS = np.iinfo(np.int64).min
NEVER_NS = np.iinfo(np.int64).max
DAY_NS = 86_400 * 1_000_000_000
TRANSITIONS = [f"{a}->{b}" for a, b in zip(FUNNEL, FUNNEL[1:], strict=False)]


def as_ns(series: pd.Series) -> np.ndarray:
    """int64 nanoseconds (NaT as the minimum int64)."""
    return series.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT")).view(np.int64)


def _utc(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """int64 nanoseconds (with NEVER_NS or NAT_NS for missing) as a UTC datetime array."""
    values = np.where(values == NEVER_NS, NAT_NS, values)
    return pd.DatetimeIndex(values.view("M8[ns]")).tz_localize("UTC").array


# -- the journey of every household -------------------------------------------------------


def journeys(data: FunnelData) -> pd.DataFrame:
    """One row per household (index household_id), rebuilt from the stage events:

    - ``reach_<stage>`` for each funnel stage: when it reached that stage (first time, with
      skipped stages filled from the next stage it entered), NaT if it never did;
    - ``furthest`` (0-6) and ``furthest_stage``: how far it got;
    - ``stage``/``stage_since``: where it is now and since when (its last move);
    - ``funnel_stage``: the funnel stage it is in, paused at or left from (last funnel move);
    - ``outcome``: in_progress, on_hold, withdrawn, not_progressed, approved, deregistered;
    - ``leaving_reason`` and ``left_at`` for withdrawn and not-progressed households;
    - the household's own columns (area, source_key, enquired_at...).
    """
    hh = data.households.sort_index()
    n = len(hh)
    ev = data.events
    codes = ev["to_stage"].cat.codes.to_numpy().astype(np.int64)
    pos = hh.index.get_indexer(ev["household_id"])
    times = as_ns(ev["occurred_at"])
    keep = (pos >= 0) & (codes >= 0)
    pos, codes, times = pos[keep], codes[keep], times[keep]
    reason_codes = ev["reason_code"].cat.codes.to_numpy()[keep]

    first = np.full((n, N_FUNNEL), NEVER_NS, dtype=np.int64)
    in_funnel = codes < N_FUNNEL
    np.minimum.at(first, (pos[in_funnel], codes[in_funnel]), times[in_funnel])
    enquired = as_ns(hh["enquired_at"])
    first[:, 0] = np.minimum(first[:, 0], np.where(enquired == NAT_NS, NEVER_NS, enquired))
    # Reached a stage = reached it or any later one; the time is the earliest of those.
    reach = np.minimum.accumulate(first[:, ::-1], axis=1)[:, ::-1]
    reached = reach != NEVER_NS
    furthest = reached.sum(axis=1) - 1

    # Events are sorted by household and time: the last row of each household is its last move.
    stage = np.zeros(n, dtype=np.int64)
    since = enquired.copy()
    left_reason = np.full(n, -1, dtype=reason_codes.dtype)
    if len(pos):
        last = np.flatnonzero(np.r_[pos[1:] != pos[:-1], True])
        stage[pos[last]] = codes[last]
        since[pos[last]] = times[last]
        left_reason[pos[last]] = reason_codes[last]
    funnel_stage = np.zeros(n, dtype=np.int64)
    fpos, fcodes = pos[in_funnel], codes[in_funnel]
    if len(fpos):
        last_funnel = np.flatnonzero(np.r_[fpos[1:] != fpos[:-1], True])
        funnel_stage[fpos[last_funnel]] = fcodes[last_funnel]

    leaving = (stage == WITHDRAWN) | (stage == NOT_PROGRESSED)

    # Built in one go (column-by-column insertion would copy the frame again and again).
    columns: dict[str, Any] = {f"reach_{name}": _utc(reach[:, i]) for i, name in enumerate(FUNNEL)}
    columns.update(
        furthest=furthest.astype(np.int8),
        furthest_stage=pd.Categorical.from_codes(furthest, dtype=FUNNEL_DTYPE),
        stage=pd.Categorical.from_codes(stage, categories=STAGES, ordered=True),
        stage_since=_utc(since),
        funnel_stage=pd.Categorical.from_codes(funnel_stage, dtype=FUNNEL_DTYPE),
        outcome=pd.Categorical.from_codes(_OUTCOME_OF_STAGE[stage], dtype=OUTCOME_DTYPE),
        leaving_reason=pd.Categorical.from_codes(
            np.where(leaving, left_reason, -1), dtype=ev["reason_code"].dtype
        ),
        left_at=_utc(np.where(leaving, since, NAT_NS)),
    )
    out = pd.DataFrame(columns, index=hh.index)
    return pd.concat([out, hh], axis=1)
