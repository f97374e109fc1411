"""Read the history the funnel analytics need into pandas, read-only, in a few queries.

The frames come out in the shapes funnel.frames documents, as they stood at one moment
("as at"), so a report for the end of a past week comes out the same whenever it is run.
Nothing here writes to the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session

from crm import clock
from crm.models import (
    Activity,
    ActivityKind,
    Appointment,
    AppointmentKind,
    Area,
    Campaign,
    Carer,
    CheckIn,
    Household,
    Placement,
    Reason,
    Source,
    StaffUser,
    StageEvent,
    Task,
)
from funnel.frames import DEFAULT_TZ, UTC_DTYPE, FunnelData, make_funnel_data, parse_datetimes

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
            hh.assigned_officer_id.label("officer_id"),
            StaffUser.__table__.c.name.label("officer"),
            hh.referrer_household_id,
        )
        .select_from(
            Household.__table__.outerjoin(Area.__table__, Area.id == hh.area_id).outerjoin(
                StaffUser.__table__, StaffUser.__table__.c.id == hh.assigned_officer_id
            )
        )
        .where(hh.enquired_at <= as_of, *in_areas(hh.area_id)),
    )
    # first contact after as_of had not happened yet, as at as_of.
    if len(households):
        contact = parse_datetimes(households["first_contact_at"], utc=True)
        households["first_contact_at"] = contact.where(contact <= pd.Timestamp(as_of))

    act = Activity.__table__.c
    ap = Appointment.__table__.c
    in_households = [] if area_ids is None else [sa.select(hh.id).where(hh.area_id.in_(area_ids))]
    # The team's first try, answered or not: a call or an email by a member of staff (the
    # system's own messages are not somebody responding).
    attempts = _frame(
        session,
        sa.select(act.household_id, _raw(sa.func.min(act.occurred_at), "first_attempt_at"))
        .where(
            act.kind.in_([ActivityKind.CALL.value, ActivityKind.EMAIL.value]),
            act.actor_id.is_not(None),
            act.occurred_at <= as_of,
            *(act.household_id.in_(q) for q in in_households),
        )
        .group_by(act.household_id),
    )
    # Any booking counts as an offer, even one later moved, cancelled or not attended.
    offers = _frame(
        session,
        sa.select(ap.household_id, _raw(sa.func.min(ap.created_at), "visit_offered_at"))
        .where(
            ap.kind == AppointmentKind.INITIAL_VISIT.value,
            ap.household_id.is_not(None),
            ap.created_at <= as_of,
            *(ap.household_id.in_(q) for q in in_households),
        )
        .group_by(ap.household_id),
    )
    for extra, column in ((attempts, "first_attempt_at"), (offers, "visit_offered_at")):
        if len(households) and len(extra):
            # MIN() over a UTC column comes back as text on SQLite: parse it the same way.
            moments = parse_datetimes(extra[column], utc=True)
            by_household = pd.Series(moments.to_numpy(), index=extra["household_id"].to_numpy())
            households[column] = households["household_id"].map(by_household)

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
        last_activity["last_activity_at"] = parse_datetimes(
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
        later = parse_datetimes(carers["deregistered_on"], utc=False) > pd.Timestamp(as_of_date)
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
        ended = parse_datetimes(placements["ended_on"], utc=False)
        placements["ended_on"] = ended.where(ended <= pd.Timestamp(as_of_date))

    ci = CheckIn.__table__.c
    check_ins = _frame(
        session,
        sa.select(
            ci.carer_id, _raw(ci.sent_at), _raw(ci.answered_at), ci.score, ci.wants_call
        ).where(ci.sent_at <= as_of, ci.carer_id.in_(carer_ids)),
    )
    if len(check_ins):
        answered = parse_datetimes(check_ins["answered_at"], utc=True)
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
