"""Read the history the funnel analytics need into pandas, read-only, in a few queries.

Stage events are the single history: a household's current stage, where it paused and why it
left are all rebuilt from them, so a report "as at" any moment (the end of a past week) comes
out the same whenever it is run. Nothing here writes to the database.

Shapes (every frame is built by `make_funnel_data`, which the tests and the benchmark use too):

- households: index ``household_id``; reference, area_id, area (category), source_key
  (category), campaign_id, enquiry_channel (category), enquired_at, first_contact_at, is_kinship
- events: household_id, from_stage and to_stage (ordered categoricals over every stage, funnel
  stages first), occurred_at, reason_code; sorted by household, time, id
- last_activity: index household_id; the latest note, call, message or completed task
- carers: index carer_id; household_id, reference, area, approved_on, places, status,
  deregistered_on, deregistration_reason_code, at_risk, at_risk_reason
- placements: carer_id, started_on, ended_on; check_ins: carer_id, sent_at, answered_at,
  score, wants_call
- lists: campaigns (index id), sources (index key), reasons (kind, code, label), areas (index id)

Datetimes are ``datetime64[ns, UTC]``; calendar dates (approval, placements) are naive
``datetime64[ns]`` midnights.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session

from crm import clock
from crm.models import (
    FUNNEL_STAGES,
    Activity,
    Area,
    Campaign,
    Carer,
    CheckIn,
    Household,
    Placement,
    Reason,
    Source,
    Stage,
    StageEvent,
    Task,
)

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
        "campaign_id": "Int64",
        "enquiry_channel": "category",
        "enquired_at": UTC_DTYPE,
        "first_contact_at": UTC_DTYPE,
        "is_kinship": "bool",
    },
    "events": {
        "household_id": "int64",
        "from_stage": STAGE_DTYPE,
        "to_stage": STAGE_DTYPE,
        "occurred_at": UTC_DTYPE,
        "reason_code": "category",
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
        "at_risk": "bool",
        "at_risk_reason": "object",
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
}
_INDEX = {
    "households": "household_id",
    "last_activity": "household_id",
    "carers": "carer_id",
    "campaigns": "campaign_id",
    "sources": "key",
    "areas": "area_id",
}


def _parse(values: pd.Series, utc: bool) -> pd.Series:
    """Datetimes from text (SQLite), datetime objects (PostgreSQL) or datetime64 alike."""
    sample = values.dropna().head(1).tolist()
    if sample and isinstance(sample[0], str):
        return pd.to_datetime(values, utc=utc, format="ISO8601")
    return pd.to_datetime(values, utc=utc)


def _typed(name: str, frame: pd.DataFrame | None) -> pd.DataFrame:
    """The frame with exactly the documented columns and dtypes (missing columns empty)."""
    spec = _COLUMNS[name]
    frame = pd.DataFrame(columns=list(spec)) if frame is None else frame.copy()
    index_name = _INDEX.get(name)
    if index_name and frame.index.name == index_name:
        frame = frame.reset_index()
    out = {}
    for column, dtype in spec.items():
        values = frame[column] if column in frame else pd.Series([None] * len(frame))
        values = values.reset_index(drop=True)
        if dtype == UTC_DTYPE:
            values = _parse(values, utc=True).astype(UTC_DTYPE)
        elif dtype == DATE_DTYPE:
            values = _parse(values, utc=False).astype(DATE_DTYPE)
        elif dtype == "bool":
            values = values.fillna(False).astype(bool)
        elif dtype == "str":
            values = values.astype("str") if len(values) else values.astype(object)
        elif dtype == "object":
            values = values.astype(object).where(values.notna(), None)
        else:
            values = values.astype(dtype)
        out[column] = values
    result = pd.DataFrame(out)
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
    tz: str = DEFAULT_TZ
    # Which areas the data was limited to (None: the whole hub), for report headings.
    area_names: list[str] | None = None

    @cached_property
    def journeys(self) -> pd.DataFrame:
        """Per-household journey (see funnel.metrics.journeys); computed once per data set."""
        from funnel.metrics import journeys

        return journeys(self)

    def source_label(self, key: Any) -> str:
        if _not_recorded(key):
            return "Not recorded"
        return str(self.sources["label"].get(key, key))

    def reason_label(self, kind: str, code: Any) -> str:
        if _not_recorded(code):
            return "Not recorded"
        match = self.reasons[(self.reasons["kind"] == kind) & (self.reasons["code"] == code)]
        return str(match["label"].iloc[0]) if len(match) else str(code)


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
    tz: str = DEFAULT_TZ,
    area_names: list[str] | None = None,
) -> FunnelData:
    """Normalise frames to the documented shapes. Missing frames are empty; missing columns
    are filled with nulls, so tests can give only what they care about."""
    as_of = pd.Timestamp(as_of)
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    events = _typed("events", events)
    if len(events):
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
        tz=tz,
        area_names=area_names,
    )


# -- reading the database -----------------------------------------------------------------


def _frame(session: Session, statement: sa.Select) -> pd.DataFrame:
    result = session.connection().execute(statement)
    columns = list(result.keys())
    rows = result.fetchall()
    # Column by column from plain tuples: handing pandas the Row objects is ten times slower.
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    return pd.DataFrame({name: list(column) for name, column in zip(columns, values, strict=True)})


def _raw(column: sa.ColumnElement, label: str | None = None) -> sa.ColumnElement:
    """A date or time column as the driver gives it (text on SQLite, datetime on PostgreSQL),
    skipping the per-value conversion in Python; pandas parses the whole column at once.
    SQLite holds UTC times without an offset, which pandas reads as UTC."""
    return sa.type_coerce(column, sa.String).label(label or column.key)


def resolve_area_ids(session: Session, names: Iterable[str]) -> list[int]:
    """Area ids for names (case-insensitive); raises ValueError naming the unknown ones."""
    rows = session.connection().execute(sa.select(Area.id, Area.name)).all()
    by_name = {name.casefold(): area_id for area_id, name in rows}
    ids, unknown = [], []
    for name in names:
        area_id = by_name.get(name.strip().casefold())
        if area_id is None:
            unknown.append(name)
        else:
            ids.append(area_id)
    if unknown:
        known = ", ".join(sorted(name for _, name in rows)) or "none yet"
        raise ValueError(f"Unknown area {unknown[0]!r}. Areas are: {known}")
    return ids


def load_funnel_data(
    session: Session,
    *,
    as_of: datetime | None = None,
    area_ids: Iterable[int] | None = None,
    tz: str = DEFAULT_TZ,
) -> FunnelData:
    """Read everything the metrics need, as it stood at `as_of` (default: now).

    `area_ids` limits households and carers to those areas (None: the whole hub; households
    still in the hub's triage queue are only in the whole-hub view). Runs one query per table,
    never one per household, and writes nothing.
    """
    as_of = as_of or clock.now()
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    as_of_date = pd.Timestamp(as_of).tz_convert(tz).date()
    area_ids = None if area_ids is None else sorted(set(area_ids))

    def in_areas(column: sa.ColumnElement) -> list[sa.ColumnElement]:
        return [] if area_ids is None else [column.in_(area_ids)]

    hh = Household.__table__.c
    households = _frame(
        session,
        sa.select(
            hh.id.label("household_id"),
            hh.reference,
            hh.area_id,
            Area.__table__.c.name.label("area"),
            hh.source_key,
            hh.campaign_id,
            hh.enquiry_channel,
            _raw(hh.enquired_at),
            _raw(hh.first_contact_at),
            hh.is_kinship,
        )
        .select_from(Household.__table__.outerjoin(Area.__table__, Area.id == hh.area_id))
        .where(hh.enquired_at <= as_of, *in_areas(hh.area_id)),
    )
    # first contact after as_of had not happened yet, as at as_of.
    if len(households):
        contact = _parse(households["first_contact_at"], utc=True)
        households["first_contact_at"] = contact.where(contact <= pd.Timestamp(as_of))

    ev = StageEvent.__table__.c
    household_filter = (
        []
        if area_ids is None
        else [ev.household_id.in_(sa.select(hh.id).where(hh.area_id.in_(area_ids)))]
    )
    events = _frame(
        session,
        sa.select(ev.household_id, ev.from_stage, ev.to_stage, _raw(ev.occurred_at), ev.reason_code)
        .where(ev.occurred_at <= as_of, *household_filter)
        .order_by(ev.household_id, ev.occurred_at, ev.id),
    )

    act = Activity.__table__.c
    task = Task.__table__.c
    activity_filter = [] if area_ids is None else [sa.select(hh.id).where(hh.area_id.in_(area_ids))]
    last_notes = _frame(
        session,
        sa.select(act.household_id, _raw(sa.func.max(act.occurred_at), "last_activity_at"))
        .where(
            act.occurred_at <= as_of,
            *(act.household_id.in_(q) for q in activity_filter),
        )
        .group_by(act.household_id),
    )
    last_tasks = _frame(
        session,
        sa.select(task.household_id, _raw(sa.func.max(task.done_at), "last_activity_at"))
        .where(
            task.household_id.is_not(None),
            task.done_at.is_not(None),
            # Done by a member of staff: a task closed by the system (an import tidying up
            # call-backs) is not somebody working on the case.
            task.done_by_id.is_not(None),
            task.done_at <= as_of,
            *(task.household_id.in_(q) for q in activity_filter),
        )
        .group_by(task.household_id),
    )
    last_activity = pd.concat([last_notes, last_tasks], ignore_index=True)
    if len(last_activity):
        # MAX() over a UTC column comes back as text on SQLite: parse both the same way.
        last_activity["last_activity_at"] = _parse(
            last_activity["last_activity_at"], utc=True
        ).astype(UTC_DTYPE)
        last_activity = last_activity.groupby("household_id", as_index=False)[
            "last_activity_at"
        ].max()

    ca = Carer.__table__.c
    carers = _frame(
        session,
        sa.select(
            ca.id.label("carer_id"),
            ca.household_id,
            hh.reference,
            hh.area_id,
            Area.__table__.c.name.label("area"),
            _raw(ca.approved_on),
            ca.places,
            ca.status,
            _raw(ca.deregistered_on),
            ca.deregistration_reason_code,
            ca.at_risk,
            ca.at_risk_reason,
        )
        .select_from(
            Carer.__table__.join(Household.__table__, hh.id == ca.household_id).outerjoin(
                Area.__table__, Area.id == hh.area_id
            )
        )
        .where(ca.approved_on <= as_of_date, *in_areas(hh.area_id)),
    )
    if len(carers):
        # As at as_of: a deregistration still to come had not happened.
        later = _parse(carers["deregistered_on"], utc=False) > pd.Timestamp(as_of_date)
        carers.loc[later, ["deregistered_on", "deregistration_reason_code"]] = None
        carers.loc[later, "status"] = "active"

    carer_ids = sa.select(ca.id).select_from(
        Carer.__table__.join(Household.__table__, hh.id == ca.household_id)
    )
    if area_ids is not None:
        carer_ids = carer_ids.where(hh.area_id.in_(area_ids))
    pl = Placement.__table__.c
    placements = _frame(
        session,
        sa.select(pl.carer_id, _raw(pl.started_on), _raw(pl.ended_on)).where(
            pl.started_on <= as_of_date, pl.carer_id.in_(carer_ids)
        ),
    )
    if len(placements):
        ended = _parse(placements["ended_on"], utc=False)
        placements["ended_on"] = ended.where(ended <= pd.Timestamp(as_of_date))

    ci = CheckIn.__table__.c
    check_ins = _frame(
        session,
        sa.select(
            ci.carer_id, _raw(ci.sent_at), _raw(ci.answered_at), ci.score, ci.wants_call
        ).where(ci.sent_at <= as_of, ci.carer_id.in_(carer_ids)),
    )
    if len(check_ins):
        answered = _parse(check_ins["answered_at"], utc=True)
        later = answered > pd.Timestamp(as_of)
        check_ins.loc[later, ["answered_at", "score"]] = None
        check_ins.loc[later, "wants_call"] = False

    cp = Campaign.__table__.c
    campaigns = _frame(
        session,
        sa.select(cp.id.label("campaign_id"), cp.name, cp.source_key, cp.cost_pence),
    )
    sources = _frame(session, sa.select(Source.__table__.c.key, Source.__table__.c.label))
    reasons = _frame(
        session,
        sa.select(Reason.__table__.c.kind, Reason.__table__.c.code, Reason.__table__.c.label),
    )
    areas = _frame(session, sa.select(Area.__table__.c.id.label("area_id"), Area.__table__.c.name))
    area_names = (
        None
        if area_ids is None
        else sorted(areas.loc[areas["area_id"].isin(area_ids), "name"].tolist())
    )
    return make_funnel_data(
        as_of,
        households=households,
        events=events,
        last_activity=last_activity,
        carers=carers,
        placements=placements,
        check_ins=check_ins,
        campaigns=campaigns,
        sources=sources,
        reasons=reasons,
        areas=areas,
        tz=tz,
        area_names=area_names,
    )
