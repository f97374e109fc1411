"""Read the history the funnel analytics need into pandas, read-only, in a few queries.

The frames come out in the shapes funnel.frames documents, as they stood at one moment
("as at"), so a report for the end of a past week comes out the same whenever it is run.
Nothing here writes to the database.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pandas.api.types import union_categoricals
from sqlmodel import Session

from crm import clock
from crm.models import (
    Activity,
    ActivityKind,
    Applicant,
    Appointment,
    AppointmentKind,
    Area,
    AuditAction,
    AuditEvent,
    Campaign,
    Carer,
    CarerLeaving,
    CheckIn,
    Household,
    HouseholdCheck,
    PanelListing,
    PanelMeeting,
    Placement,
    Reason,
    Source,
    StaffUser,
    StageEvent,
    Task,
)
from funnel.frames import (
    DEFAULT_TZ,
    NAT_NS,
    STAGE_DTYPE,
    UTC_DTYPE,
    FunnelData,
    as_ns,
    make_funnel_data,
    parse_datetimes,
)

# -- reading the database -----------------------------------------------------------------
#
# Each query comes back as ONE row of whole columns: the database joins every value of a column
# into one string (SQLite's group_concat, PostgreSQL's string_agg) and numpy parses it at C
# speed. Fetching the same rows as tuples made ~6 Python objects per value (and kept the
# garbage collector busy): at 100,000 households that was most of the report page's time.
# Aggregates in one SELECT see the rows in the same order, so the columns stay aligned.

# Stands for NULL in whole-number columns (ids are positive, scores small).
_NULL_INT = -(2**62)
# Between the values of a text column (the unit separator: cleaned text never holds it).
_SEP = "\x1f"
_NULL_TIME = "0001-01-01 00:00:00.000000"
_NULL_DATE = "0001-01-01"


def _aggregate(dialect: str, column: sa.ColumnElement, kind: str) -> sa.ColumnElement:
    if dialect == "sqlite":
        if kind in ("int", "bool"):
            return sa.func.group_concat(sa.func.coalesce(column, _NULL_INT), ",")
        if kind == "time":
            return sa.func.group_concat(sa.func.coalesce(column, _NULL_TIME), ",")
        if kind == "date":
            return sa.func.group_concat(sa.func.coalesce(column, _NULL_DATE), ",")
        return sa.func.group_concat(sa.func.coalesce(column, ""), _SEP)
    if kind == "bool":
        value = sa.cast(column, sa.Integer)
    elif kind == "int":
        value = sa.cast(column, sa.BigInteger)
    elif kind in ("time", "date"):
        # Microseconds since 1970 (a time without a zone is UTC, as everywhere in the CRM).
        value = sa.cast(sa.extract("epoch", column) * 1_000_000, sa.BigInteger)
    else:
        return sa.func.string_agg(sa.func.coalesce(sa.cast(column, sa.Text), ""), _SEP)
    return sa.func.string_agg(sa.cast(sa.func.coalesce(value, _NULL_INT), sa.Text), ",")


def _scan(dialect: str, column: sa.ColumnElement) -> sa.ColumnElement:
    """`column` for a filter that keeps (nearly) every row: on SQLite `+column`, the same value,
    so the planner reads the table through instead of looking each row up from an index on the
    column (twice as slow for the stage events). PostgreSQL's planner chooses well by itself."""
    if dialect != "sqlite":
        return column
    return sa.sql.expression.UnaryExpression(
        column, operator=sa.sql.operators.custom_op("+"), type_=column.type
    )


def _ints(text: str | None, n: int) -> np.ndarray:
    if not n:
        return np.empty(0, dtype=np.int64)
    values = np.array(text.split(","), dtype=np.int64) if n < 64 else _parse_ints(text)
    if len(values) != n:
        raise ValueError(f"expected {n} values, read {len(values)}")
    return values


def _parse_ints(text: str) -> np.ndarray:
    # One C pass over the digits (no Python int per value).
    return np.fromstring(text, dtype=np.int64, sep=",")


def _times(text: str | None, n: int, kind: str, dialect: str) -> pd.Series:
    """UTC datetimes (kind "time") or naive midnights ("date") from a joined column."""
    dtype = UTC_DTYPE if kind == "time" else "datetime64[ns]"
    if not n:
        return pd.Series(pd.array([], dtype=dtype))
    if text is None:
        raise ValueError("a date column came back empty")
    if dialect != "sqlite":
        # PostgreSQL: microseconds since 1970.
        micros = _ints(text, n)
        values = pd.Series(
            np.where(micros == _NULL_INT, np.iinfo(np.int64).min, micros * 1000).view("M8[ns]")
        )
    else:
        # SQLite keeps text: 'YYYY-MM-DD HH:MM:SS.ffffff' as SQLAlchemy writes it (26
        # characters) or 'YYYY-MM-DD'; numpy reads fixed-width ISO text in C.
        width = 26 if kind == "time" else 10
        raw = (text + ",").encode("ascii", errors="replace")
        parsed = None
        if len(raw) == (width + 1) * n:
            fields = np.frombuffer(raw, dtype=[("value", f"S{width}"), ("comma", "S1")])
            if (fields["comma"] == b",").all():
                try:
                    parsed = fields["value"].astype("M8[us]" if kind == "time" else "M8[D]")
                except ValueError:
                    parsed = None
        if parsed is None:
            # Written some other way (no fraction of a second, an offset): pandas reads it.
            values = pd.Series(text.split(","))
            values = values.where(~values.isin([_NULL_TIME, _NULL_DATE]))
            return parse_datetimes(values, utc=kind == "time").astype(dtype)
        parsed[parsed < np.datetime64("1000-01-01", "D")] = np.datetime64("NaT")  # NULL marker
        values = pd.Series(parsed.astype("M8[ns]"))
    return values.dt.tz_localize("UTC") if kind == "time" else values


def _names_of(ids: pd.Series, names: dict[int, str]) -> pd.Series:
    """The names of these ids as a categorical (as a "code" column reads: the categories only
    of the names there, sorted), missing where the id is; all missing: None. By position in an
    array indexed by id (mapping 100,000 ids through a dict, then factorizing the strings, took
    a tenth of a second)."""
    everyone = sorted({name for name in names.values() if name})
    if not len(ids) or not everyone:
        return pd.Series(np.full(len(ids), None, dtype=object))
    position = {name: i for i, name in enumerate(everyone)}
    known = np.fromiter(names, dtype=np.int64, count=len(names))
    code_of = np.full(int(known.max(initial=0)) + 2, -1, dtype=np.int64)
    for row_id, name in names.items():
        if name and row_id >= 0:
            code_of[row_id] = position[name]
    values = ids.to_numpy(dtype=np.float64, na_value=np.nan)
    usable = ~np.isnan(values) & (values >= 0) & (values < len(code_of))
    codes = np.full(len(values), -1, dtype=np.int64)
    codes[usable] = code_of[values[usable].astype(np.int64)]
    if not (codes >= 0).any():
        return pd.Series(np.full(len(ids), None, dtype=object))
    categorical = pd.Categorical.from_codes(codes, categories=pd.Index(everyone).astype("str"))
    return pd.Series(categorical.remove_unused_categories())


class _Misaligned(ValueError):
    """A text value held the separator (text that never went through crm.text)."""


def _texts(text: str | None, n: int, kind: str) -> pd.Series:
    """Text values ('' and NULL alike are missing); codes as a categorical."""
    split = text.split(_SEP) if n and text is not None else []
    if len(split) != n:
        raise _Misaligned(f"expected {n} values, read {len(split)}")
    values = np.array(split, dtype=object)
    if kind == "code":
        codes = _categorical(values)
        if codes is not None:
            return pd.Series(codes)
    values[values == ""] = None
    return pd.Series(values)


def _categorical(values: np.ndarray) -> pd.Categorical | None:
    """`pd.Categorical(values)` without the empty string (missing), None when nothing else is
    there: the same categories (sorted) and codes, in half the time (pandas infers the string
    dtype of every value; here only of the few distinct ones)."""
    codes, uniques = pd.factorize(values)
    uniques = np.asarray(uniques, dtype=object)
    keep = sorted(u for u in uniques if u != "")
    if not keep:
        return None
    position = {u: i for i, u in enumerate(keep)}
    remap = np.array([position.get(u, -1) for u in uniques], dtype=np.int64)
    return pd.Categorical.from_codes(remap[codes], categories=pd.Index(keep).astype("str"))


def _frame(session: Session, statement: sa.Select, kinds: dict[str, str]) -> pd.DataFrame:
    """The rows of `statement` as a frame, column by column. `kinds` names each column's kind:
    int (nullable Int64 when a NULL is among them), bool, time (UTC), date, code (a short code
    or name: categorical) or text."""
    connection = session.connection()
    dialect = connection.dialect.name
    rows = statement.subquery()
    names = list(kinds)
    read = sa.select(
        sa.func.count(), *(_aggregate(dialect, rows.c[name], kinds[name]) for name in names)
    ).select_from(rows)
    n, *texts = connection.execute(read).one()
    try:
        return _columns(dialect, names, kinds, n, texts)
    except _Misaligned:
        return _frame_by_rows(connection, statement, kinds)


def _columns(
    dialect: str, names: list[str], kinds: dict[str, str], n: int, texts: list[str | None]
) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for name, text in zip(names, texts, strict=True):
        kind = kinds[name]
        if kind in ("int", "bool"):
            values = _ints(text, n)
            missing = values == _NULL_INT
            if kind == "bool":
                columns[name] = pd.Series(np.where(missing, 0, values).astype(bool))
            elif missing.any():
                columns[name] = pd.Series(pd.arrays.IntegerArray(values, missing))
            else:
                columns[name] = pd.Series(values)
        elif kind in ("time", "date"):
            columns[name] = _times(text, n, kind, dialect)
        else:
            columns[name] = _texts(text, n, kind)
    return pd.DataFrame(columns, index=pd.RangeIndex(n)) if columns else pd.DataFrame()


def _frame_by_rows(
    connection: sa.Connection, statement: sa.Select, kinds: dict[str, str]
) -> pd.DataFrame:
    """The slow way, a tuple per row: only when a text held the separator."""
    result = connection.execute(statement)
    names = list(result.keys())
    rows = result.fetchall()
    values = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    columns: dict[str, Any] = {}
    for name, column in zip(names, values, strict=True):
        kind, series = kinds[name], pd.Series(list(column), dtype=object)
        if kind == "int":
            series = pd.Series(pd.array(list(column), dtype="Int64"))
            columns[name] = series.astype(np.int64) if not series.isna().any() else series
        elif kind == "bool":
            columns[name] = series.fillna(False).astype(bool)
        elif kind in ("time", "date"):
            dtype = UTC_DTYPE if kind == "time" else "datetime64[ns]"
            columns[name] = parse_datetimes(series, utc=kind == "time").astype(dtype)
        else:
            columns[name] = series.where(series.notna() & (series != ""), None)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))


AUDITED_CHANGES = (AuditAction.CREATE, AuditAction.UPDATE, AuditAction.ERASE)
# The tables the report reads that only grow (an insert gives a higher id).
_GROWING = (Household, StageEvent, Activity, Appointment, Task, Carer, Placement, CheckIn, Campaign)


def data_version(session: Session) -> tuple[int, ...]:
    """Changes whenever the figures could: the newest row of every table the report reads, and
    the newest change in the audit trail (a household moved to another area, a task done, a
    check-in answered: edits in place are audited). One cheap query (primary key ends)."""
    newest = [
        sa.select(sa.func.coalesce(sa.func.max(model.__table__.c.id), 0)).scalar_subquery()
        for model in _GROWING
    ]
    audit = AuditEvent.__table__.c
    newest.append(
        sa.func.coalesce(
            sa.select(audit.id)
            .where(audit.action.in_([a.value for a in AUDITED_CHANGES]))
            .order_by(audit.id.desc())
            .limit(1)
            .scalar_subquery(),
            0,
        )
    )
    return tuple(int(v) for v in session.connection().execute(sa.select(*newest)).one())


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
    visible: sa.ColumnElement[bool] | None = None,
) -> FunnelData:
    """Read everything the metrics need, as it stood at `as_of` (default: now).

    `area_ids` limits households and carers to those areas (None: the whole hub; households
    still in the hub's triage queue are only in the whole-hub view). `visible` is the reader's
    WHERE clause on Household (crm.services.access.household_visibility, passed in by the
    caller: the funnel imports no rules): households outside it are marked ``hidden``, and the
    lists that name households leave them out (the counts keep them). Runs one query per
    table, never one per household, and writes nothing.
    """
    as_of, as_of_date, area_ids = _moment_and_areas(as_of, tz, area_ids)
    with _no_collection():
        frames = _load(session, as_of, as_of_date, area_ids, visible)
    return make_funnel_data(as_of, tz=tz, **frames)


def _moment_and_areas(
    as_of: datetime | None, tz: str, area_ids: Iterable[int] | None
) -> tuple[datetime, date, list[int] | None]:
    """A load's arguments made plain: the moment (default now), its local day, the areas."""
    as_of = as_of or clock.now()
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    as_of_date = pd.Timestamp(as_of).tz_convert(tz).date()
    return as_of, as_of_date, None if area_ids is None else sorted(set(area_ids))


@contextmanager
def _no_collection() -> Iterator[None]:
    """The load makes a few large arrays and many short-lived strings; a full collection in
    the middle of it would walk every object the process holds for nothing."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


_HOUSEHOLD_KINDS = {
    "household_id": "int",
    "reference": "text",
    "area_id": "int",
    "source_key": "code",
    "source_text": "text",
    "campaign_id": "int",
    "campaign_text": "text",
    "enquiry_channel": "code",
    "enquired_at": "time",
    "first_contact_at": "time",
    "is_kinship": "bool",
    "officer_id": "int",
    "referrer_household_id": "int",
    "hidden": "bool",
}


def _households(
    session: Session, where: list[sa.ColumnElement], hidden: sa.ColumnElement[bool]
) -> pd.DataFrame:
    """The households' own columns (no names yet), in id order."""
    hh = Household.__table__.c
    households = _frame(
        session,
        sa.select(
            hh.id.label("household_id"),
            hh.reference,
            hh.area_id,
            hh.source_key,
            hh.source_text,
            hh.campaign_id,
            hh.campaign_text,
            hh.enquiry_channel,
            hh.enquired_at,
            hh.first_contact_at,
            hh.is_kinship,
            hh.assigned_officer_id.label("officer_id"),
            hh.referrer_household_id,
            hidden.label("hidden"),
        ).where(*where),
        _HOUSEHOLD_KINDS,
    )
    ids = households["household_id"].to_numpy()
    if len(ids) > 1 and not (ids[1:] > ids[:-1]).all():
        # PostgreSQL (or an index on SQLite) may give them in another order: by id always.
        households = households.iloc[np.argsort(ids, kind="stable")].reset_index(drop=True)
    return households


def _names(session: Session) -> dict[str, dict[int, str]]:
    """The areas' and the staff's names by id, in one query (mapped onto the ids rather than
    joined onto every household: that made SQLite's part of the read a third longer)."""
    ar, st = Area.__table__.c, StaffUser.__table__.c
    rows = session.connection().execute(
        sa.union_all(
            sa.select(sa.literal_column("0").label("staff"), ar.id, ar.name),
            sa.select(sa.literal_column("1").label("staff"), st.id, st.name),
        )
    )
    named: dict[str, dict[int, str]] = {"area": {}, "staff": {}}
    for staff, row_id, name in rows:
        named["staff" if staff else "area"][int(row_id)] = name
    return named


def _name_ids(households: pd.DataFrame, named: dict[str, dict[int, str]]) -> None:
    """The area and officer names beside their ids (in place)."""
    for column, ids, table in (("area", "area_id", "area"), ("officer", "officer_id", "staff")):
        households.insert(
            households.columns.get_loc(ids) + 1, column, _names_of(households[ids], named[table])
        )


def _areas_frame(named: dict[str, dict[int, str]]) -> pd.DataFrame:
    area_rows = sorted(named["area"].items())
    return pd.DataFrame(
        {
            "area_id": np.array([i for i, _ in area_rows], dtype=np.int64),
            "name": pd.Series(np.array([n or None for _, n in area_rows], dtype=object)),
        },
        index=pd.RangeIndex(len(area_rows)),
    )


def _by_household(ids: pd.Series, keys: pd.Series, values: pd.Series) -> pd.Series:
    """`ids.map(dict(zip(keys, values)))` for unique keys and UTC datetimes, by position (the
    map went through a Python object per value: 0.1 s at 100,000 households)."""
    position = pd.Index(keys.to_numpy()).get_indexer(ids.to_numpy())
    times = as_ns(values)
    picked = times[position] if len(times) else np.zeros(len(position), dtype=np.int64)
    taken = np.where(position >= 0, picked, NAT_NS)
    return pd.Series(pd.DatetimeIndex(taken.view("M8[ns]")).tz_localize("UTC"), index=ids.index)


def _load(
    session: Session,
    as_of: datetime,
    as_of_date: date,
    area_ids: list[int] | None,
    visible: sa.ColumnElement[bool] | None = None,
) -> dict[str, Any]:
    def in_areas(column: sa.ColumnElement) -> list[sa.ColumnElement]:
        return [] if area_ids is None else [column.in_(area_ids)]

    dialect = session.connection().dialect.name

    hh = Household.__table__.c
    households = _households(
        session,
        [_scan(dialect, hh.enquired_at) <= as_of, *in_areas(hh.area_id)],
        sa.false() if visible is None else sa.not_(visible),
    )
    # The area's and the officer's names from their ids, not joined onto every household (that
    # made SQLite's part of this read a third longer): the areas and the staff in one query.
    named = _names(session)
    _name_ids(households, named)
    areas = _areas_frame(named)
    # first contact after as_of had not happened yet, as at as_of.
    if len(households):
        contact = households["first_contact_at"]
        households["first_contact_at"] = contact.where(contact <= pd.Timestamp(as_of))

    act = Activity.__table__.c
    ap = Appointment.__table__.c
    in_households = [] if area_ids is None else [sa.select(hh.id).where(hh.area_id.in_(area_ids))]
    # One pass over the activities: the team's first try, answered or not (a call or an email by
    # a member of staff: the system's own messages are not somebody responding), and the latest
    # note, call or message of any kind (for stalled cases).
    by_activity = _frame(
        session,
        sa.select(
            act.household_id,
            sa.func.min(
                sa.case(
                    (
                        sa.and_(
                            act.kind.in_([ActivityKind.CALL.value, ActivityKind.EMAIL.value]),
                            act.actor_id.is_not(None),
                        ),
                        act.occurred_at,
                    )
                )
            ).label("first_attempt_at"),
            sa.func.max(act.occurred_at).label("last_activity_at"),
        )
        .where(act.occurred_at <= as_of, *(act.household_id.in_(q) for q in in_households))
        .group_by(act.household_id),
        {"household_id": "int", "first_attempt_at": "time", "last_activity_at": "time"},
    )
    attempts = by_activity.loc[
        by_activity["first_attempt_at"].notna().to_numpy(), ["household_id", "first_attempt_at"]
    ]
    # Any booking counts as an offer, even one later moved, cancelled or not attended.
    offers = _frame(
        session,
        sa.select(ap.household_id, sa.func.min(ap.created_at).label("visit_offered_at"))
        .where(
            ap.kind == AppointmentKind.INITIAL_VISIT.value,
            ap.household_id.is_not(None),
            ap.created_at <= as_of,
            *(ap.household_id.in_(q) for q in in_households),
        )
        .group_by(ap.household_id),
        {"household_id": "int", "visit_offered_at": "time"},
    )
    for extra, column in ((attempts, "first_attempt_at"), (offers, "visit_offered_at")):
        if len(households) and len(extra):
            households[column] = _by_household(
                households["household_id"], extra["household_id"], extra[column]
            )

    ev = StageEvent.__table__.c
    household_filter = (
        []
        if area_ids is None
        else [ev.household_id.in_(sa.select(hh.id).where(hh.area_id.in_(area_ids)))]
    )
    events = _events(session, [_scan(dialect, ev.occurred_at) <= as_of, *household_filter])
    # In each household's order: by time, then as recorded.
    order = np.lexsort(
        (
            events["id"].to_numpy(),
            as_ns(events["occurred_at"]),
            events["household_id"].to_numpy(),
        )
    )
    events = events.iloc[order].drop(columns="id").reset_index(drop=True)

    task = Task.__table__.c
    activity_filter = [] if area_ids is None else [sa.select(hh.id).where(hh.area_id.in_(area_ids))]
    last_notes = by_activity[["household_id", "last_activity_at"]]
    last_tasks = _frame(
        session,
        sa.select(task.household_id, sa.func.max(task.done_at).label("last_activity_at"))
        .where(
            task.household_id.is_not(None),
            _scan(dialect, task.done_at).is_not(None),
            # Done by a member of staff: a task closed by the system (an import tidying up
            # call-backs) is not somebody working on the case.
            task.done_by_id.is_not(None),
            _scan(dialect, task.done_at) <= as_of,
            *(task.household_id.in_(q) for q in activity_filter),
        )
        .group_by(task.household_id),
        {"household_id": "int", "last_activity_at": "time"},
    )
    last_activity = pd.concat([last_notes, last_tasks], ignore_index=True)
    if len(last_activity):
        last_activity = last_activity.groupby("household_id", as_index=False)[
            "last_activity_at"
        ].max()

    small = _small_frames(session, dialect, as_of, as_of_date, area_ids)
    return _frames_of(households, events, last_activity, areas, area_ids, small)


def _frames_of(
    households: pd.DataFrame,
    events: pd.DataFrame,
    last_activity: pd.DataFrame,
    areas: pd.DataFrame,
    area_ids: list[int] | None,
    small: dict[str, pd.DataFrame],
) -> dict:
    """make_funnel_data's frames, read whole (_load) or made from the kept tables alike."""
    area_names = (
        None
        if area_ids is None
        else sorted(areas.loc[areas["area_id"].isin(area_ids), "name"].tolist())
    )
    return {
        "households": households,
        "events": events,
        "last_activity": last_activity,
        "areas": areas,
        "area_names": area_names,
        **small,
    }


def _small_frames(
    session: Session, dialect: str, as_of: datetime, as_of_date: date, area_ids: list[int] | None
) -> dict[str, pd.DataFrame]:
    """The carers and what hangs from them, the lists, the checks and the panel listings (a
    few thousand rows each): read for every report as at its moment."""

    def in_areas(column: sa.ColumnElement) -> list[sa.ColumnElement]:
        return [] if area_ids is None else [column.in_(area_ids)]

    hh = Household.__table__.c
    in_households = [] if area_ids is None else [sa.select(hh.id).where(hh.area_id.in_(area_ids))]
    ca = Carer.__table__.c
    # In the same query (one row per carer: one first applicant, one notice at most): the first
    # applicant's date of birth and the written notice running as at as_of (funnel.leavers).
    first = Applicant.__table__.c
    notice = CarerLeaving.__table__.c
    carers = _frame(
        session,
        sa.select(
            ca.id.label("carer_id"),
            ca.household_id,
            hh.reference,
            hh.area_id,
            Area.__table__.c.name.label("area"),
            ca.approved_on,
            ca.places,
            ca.status,
            ca.deregistered_on,
            ca.deregistration_reason_code,
            ca.deregistration_reason_text,
            ca.at_risk,
            ca.at_risk_reason,
            first.date_of_birth.label("first_applicant_born_on"),
            notice.notice_given_on,
            notice.approval_ends_on,
            notice.reason_code.label("notice_reason_code"),
            notice.reason_text.label("notice_reason_text"),
        )
        .select_from(
            Carer.__table__.join(Household.__table__, hh.id == ca.household_id)
            .outerjoin(Area.__table__, Area.id == hh.area_id)
            .outerjoin(
                Applicant.__table__,
                sa.and_(first.household_id == ca.household_id, first.position == 1),
            )
            .outerjoin(
                CarerLeaving.__table__,
                # The notice running as at as_of: at most one (a carer gives another only
                # once the last was withdrawn or their approval ended).
                sa.and_(
                    notice.carer_id == ca.id,
                    notice.created_at <= as_of,
                    notice.notice_given_on <= as_of_date,
                    sa.or_(notice.withdrawn_on.is_(None), notice.withdrawn_on > as_of_date),
                    sa.or_(
                        notice.approval_ended_on.is_(None),
                        notice.approval_ended_on > as_of_date,
                    ),
                ),
            )
        )
        .where(ca.approved_on <= as_of_date, *in_areas(hh.area_id)),
        {
            "carer_id": "int",
            "household_id": "int",
            "reference": "text",
            "area_id": "int",
            "area": "code",
            "approved_on": "date",
            "places": "int",
            "status": "text",
            "deregistered_on": "date",
            "deregistration_reason_code": "text",
            "deregistration_reason_text": "text",
            "at_risk": "bool",
            "at_risk_reason": "text",
            "first_applicant_born_on": "date",
            "notice_given_on": "date",
            "approval_ends_on": "date",
            "notice_reason_code": "text",
            "notice_reason_text": "text",
        },
    )
    if len(carers):
        # As at as_of: a deregistration still to come had not happened.
        later = carers["deregistered_on"] > pd.Timestamp(as_of_date)
        carers.loc[
            later,
            ["deregistered_on", "deregistration_reason_code", "deregistration_reason_text"],
        ] = None
        carers.loc[later, "status"] = "active"
        # Nor had a notice dated later (a clock moved back in a test, a date typed ahead).
        unseen = carers["notice_given_on"] > pd.Timestamp(as_of_date)
        carers.loc[
            unseen,
            ["notice_given_on", "approval_ends_on", "notice_reason_code", "notice_reason_text"],
        ] = None

    carer_ids = sa.select(ca.id).select_from(
        Carer.__table__.join(Household.__table__, hh.id == ca.household_id)
    )
    if area_ids is not None:
        carer_ids = carer_ids.where(hh.area_id.in_(area_ids))
    pl = Placement.__table__.c
    placements = _frame(
        session,
        sa.select(pl.carer_id, pl.started_on, pl.ended_on).where(
            pl.started_on <= as_of_date, pl.carer_id.in_(carer_ids)
        ),
        {"carer_id": "int", "started_on": "date", "ended_on": "date"},
    )
    if len(placements):
        ended = placements["ended_on"]
        placements["ended_on"] = ended.where(ended <= pd.Timestamp(as_of_date))

    ci = CheckIn.__table__.c
    check_ins = _frame(
        session,
        sa.select(ci.carer_id, ci.sent_at, ci.answered_at, ci.score, ci.wants_call).where(
            ci.sent_at <= as_of, ci.carer_id.in_(carer_ids)
        ),
        {
            "carer_id": "int",
            "sent_at": "time",
            "answered_at": "time",
            "score": "int",
            "wants_call": "bool",
        },
    )
    if len(check_ins):
        later = check_ins["answered_at"] > pd.Timestamp(as_of)
        check_ins.loc[later, ["answered_at", "score"]] = None
        check_ins.loc[later, "wants_call"] = False

    cp = Campaign.__table__.c
    campaigns = _frame(
        session,
        sa.select(cp.id.label("campaign_id"), cp.name, cp.source_key, cp.cost_pence),
        {"campaign_id": "int", "name": "text", "source_key": "text", "cost_pence": "int"},
    )
    sources = _frame(
        session,
        sa.select(Source.__table__.c.key, Source.__table__.c.label),
        {"key": "text", "label": "text"},
    )
    reasons = _frame(
        session,
        sa.select(Reason.__table__.c.kind, Reason.__table__.c.code, Reason.__table__.c.label),
        {"kind": "text", "code": "text", "label": "text"},
    )
    ck = HouseholdCheck.__table__.c
    checks = _frame(
        session,
        sa.select(ck.household_id, ck.check_key, ck.requested_on, ck.received_on).where(
            ck.requested_on <= as_of_date, *(ck.household_id.in_(q) for q in in_households)
        ),
        {"household_id": "int", "check_key": "code", "requested_on": "date", "received_on": "date"},
    )
    if len(checks):
        received = checks["received_on"]
        checks["received_on"] = received.where(received <= pd.Timestamp(as_of_date))

    li, mt = PanelListing.__table__.c, PanelMeeting.__table__.c
    panel_listings = _frame(
        session,
        sa.select(
            li.household_id,
            mt.meets_on,
            li.recommendation,
            li.recommended_at,
            li.decision,
            li.decided_at,
        )
        .select_from(PanelListing.__table__.join(PanelMeeting.__table__, mt.id == li.meeting_id))
        .where(li.listed_at <= as_of, *(li.household_id.in_(q) for q in in_households)),
        {
            "household_id": "int",
            "meets_on": "date",
            "recommendation": "code",
            "recommended_at": "time",
            "decision": "code",
            "decided_at": "time",
        },
    )
    if len(panel_listings):
        # As at as_of: a recommendation or a decision made later had not been made.
        for what, when in (("recommendation", "recommended_at"), ("decision", "decided_at")):
            later = (panel_listings[when] > pd.Timestamp(as_of)).to_numpy()
            if later.any():
                panel_listings[when] = panel_listings[when].where(~later)
                panel_listings[what] = panel_listings[what].astype(object).where(~later, None)

    return {
        "carers": carers,
        "placements": placements,
        "check_ins": check_ins,
        "campaigns": campaigns,
        "sources": sources,
        "reasons": reasons,
        "checks": checks,
        "panel_listings": panel_listings,
    }


# -- the frames kept between reports ----------------------------------------------------------
#
# The report of another week, of another area or after one more stage event reads mostly the
# same rows again. A FrameStore keeps the large tables whole (every household, stage event,
# activity, initial-visit booking and task done by staff, with no moment or area applied) and
# makes each report's frames from them in pandas: filtered to the moment and the areas exactly
# as the queries above filter them, so the frames come out the same, value for value. The
# small tables (carers, placements, check-ins, lists, checks, panel listings) are read for each
# report as before.
#
# When the data version moves on, only what changed is read: the stage events, activities and
# bookings are only ever added to (by id; erasing a household is audited and reloads all), and
# a household is read again when it is new, audited as changed, or has a new event, activity
# or booking; a task when it is new, audited, or of such a household. Anything else in the audit
# trail since (a change to something this does not know) reloads everything, and so does age:
# edits that no audit records are seen within FULL_RELOAD_SECONDS.

FULL_RELOAD_SECONDS = 600
# PostgreSQL hands out ids as rows are inserted, not as they are committed: a row may become
# visible after one with a higher id was read. The changes are read from this many ids before
# the last version (rows already kept are skipped by id, audit entries already followed too).
# SQLite writes one transaction at a time, so its ids are in commit order.
_LATE_IDS = 1000
# More households or tasks changed than this: everything is read again.
_MOST_CHANGED = 5000
# Audited changes to these touch none of the kept tables (their rows are read per report, or
# not at all); "household" and "task" say which rows to read again.
_KEPT_ELSEWHERE = frozenset(
    {
        "appointment",  # moved or cancelled: the booking (an offer) stays
        "area",
        "campaign",
        "carer",
        "carer_break",
        "carer_leaving",
        "constellation",
        "constellation_member",
        "course_attendance",
        "form_f_section",
        "household_check",
        "household_document",
        "household_member",
        "household_pet",
        "import_mapping",
        "outbox_message",
        "panel_listing",
        "panel_meeting",
        "placement",
        "reason",
        "source",
        "staff_session",
        "staff_user",
        "supervision_visit",
        "temporary_approval",
        "training_record",
    }
)
_VERSION_PARTS = [model.__tablename__ for model in _GROWING] + ["audit"]
# The small tables (carers and what hangs from them, the lists, checks and panel listings) are
# kept per moment and areas until a change may touch them: a new carer, placement, check-in or
# campaign; an audited change to anything but these; or a change to a household that is a
# carer or has checks or panel listings (its reference or area is in those rows). Kept
# SMALL_SECONDS at most, like the web's reports, for the edits no audit records.
SMALL_SECONDS = 120
_SMALL_KEPT = 8
_SMALL_PARTS = ("carer", "placement", "check_in", "campaign")
_NOT_IN_SMALL = frozenset(
    {"household", "task", "appointment", "staff_session", "outbox_message", "import_mapping"}
)


def _have_small_rows(session: Session, households: list[int]) -> bool:
    """Whether any of these households is in a small table's rows."""
    ca, ck, li = (t.__table__.c for t in (Carer, HouseholdCheck, PanelListing))
    found = sa.select(
        sa.or_(
            *(
                sa.exists().where(column.in_(households))
                for column in (ca.household_id, ck.household_id, li.household_id)
            )
        )
    )
    return bool(session.connection().execute(found).scalar_one())


@dataclass
class _Kept:
    version: tuple[int, ...]
    loaded_at: float
    households: pd.DataFrame  # by id, no names, "hidden" False
    events: pd.DataFrame  # with their ids, in household order
    activities: pd.DataFrame  # id, household_id, occurred_at, attempt
    offers: pd.DataFrame  # id, household_id, created_at
    tasks: pd.DataFrame  # task_id, household_id, done_at (done by staff)
    # Moves on whenever a change may touch the small tables (see _SMALL_PARTS).
    small_epoch: int = 0
    # The audit entries already followed among the last _LATE_IDS before the version.
    audit_seen: frozenset[int] = frozenset()


class FrameStore:
    """The large tables kept between reports (see above); one per database, shared by threads.
    `last_read` says what the last `load` read: "all", "changes" or "nothing"."""

    def __init__(self, full_reload_seconds: float = FULL_RELOAD_SECONDS) -> None:
        self.full_reload_seconds = full_reload_seconds
        self.last_read = ""
        self._kept: _Kept | None = None
        self._lock = threading.Lock()
        # The small tables as read for one moment and set of areas, per small_epoch.
        self._small: dict[tuple, tuple[float, dict[str, pd.DataFrame]]] = {}
        self._epochs = 0

    def clear(self) -> None:
        with self._lock:
            self._kept = None

    def load(
        self,
        session: Session,
        *,
        as_of: datetime | None = None,
        area_ids: Iterable[int] | None = None,
        tz: str = DEFAULT_TZ,
        visible: sa.ColumnElement[bool] | None = None,
        version: tuple[int, ...] | None = None,
    ) -> FunnelData:
        """The same FunnelData as `load_funnel_data` with these arguments."""
        as_of, as_of_date, area_ids = _moment_and_areas(as_of, tz, area_ids)
        with _no_collection():
            with self._lock:
                kept = self._refresh(session, version or data_version(session))
            frames = _from_kept(
                session, kept, as_of, as_of_date, area_ids, visible, small=self._small_frames
            )
        return make_funnel_data(as_of, tz=tz, **frames)

    def _small_frames(
        self,
        session: Session,
        epoch: int,
        as_of: datetime,
        as_of_date: date,
        area_ids: list[int] | None,
    ) -> dict[str, pd.DataFrame]:
        """The small tables for this moment and these areas, read again when a change may
        have touched them or after SMALL_SECONDS (for edits no audit records)."""
        key = (epoch, as_of, None if area_ids is None else tuple(area_ids))
        now = time.monotonic()
        with self._lock:
            hit = self._small.get(key)
            if hit and now - hit[0] < SMALL_SECONDS:
                return hit[1]
        dialect = session.connection().dialect.name
        frames = _small_frames(session, dialect, as_of, as_of_date, area_ids)
        with self._lock:
            for old in [
                k for k, v in self._small.items() if k[0] != epoch or now - v[0] >= SMALL_SECONDS
            ]:
                self._small.pop(old, None)
            while len(self._small) >= _SMALL_KEPT:
                self._small.pop(next(iter(self._small)))
            self._small[key] = (now, frames)
        return frames

    def _refresh(self, session: Session, version: tuple[int, ...]) -> _Kept:
        kept, now = self._kept, time.monotonic()
        if kept is not None and kept.version == version:
            self.last_read = "nothing"
            return kept
        changed = None
        if kept is not None and now - kept.loaded_at < self.full_reload_seconds:
            changed = _read_changes(session, kept, version)
        if changed is None:
            changed = _read_all(session, version)
            self.last_read = "all"
        else:
            self.last_read = "changes"
        if changed.small_epoch < 0:
            self._epochs += 1
            changed.small_epoch = self._epochs
        self._kept = changed
        return changed


def _read_all(session: Session, version: tuple[int, ...]) -> _Kept:
    parts = dict(zip(_VERSION_PARTS, version, strict=True))
    ev, act, ap = (t.__table__.c for t in (StageEvent, Activity, Appointment))
    return _Kept(
        version=version,
        loaded_at=time.monotonic(),
        households=_households(session, [], sa.false()),
        # The append-only tables up to the version's ids (rows added while reading are read
        # with the next change, once).
        events=_sorted_events(_staged(_events(session, [ev.id <= parts["stage_event"]]))),
        activities=_activities(session, [act.id <= parts["activity"]]),
        offers=_offers(session, [ap.id <= parts["appointment"]]),
        tasks=_tasks_done(session, []),
        small_epoch=-1,
        audit_seen=_audit_before(session, parts["audit"]),
    )


def _late(session: Session) -> int:
    return 0 if session.connection().dialect.name == "sqlite" else _LATE_IDS


def _audit_before(session: Session, newest: int) -> frozenset[int]:
    """The audit entries among the last _LATE_IDS up to `newest` (already seen)."""
    if not _late(session):
        return frozenset()
    audit = AuditEvent.__table__.c
    rows = session.connection().execute(
        sa.select(audit.id).where(audit.id > newest - _late(session), audit.id <= newest)
    )
    return frozenset(int(i) for i in rows.scalars())


def _read_changes(session: Session, kept: _Kept, version: tuple[int, ...]) -> _Kept | None:
    """`kept` brought up to `version` by reading what changed, or None when that cannot be
    told from the ids and the audit trail."""
    old = dict(zip(_VERSION_PARTS, kept.version, strict=True))
    new = dict(zip(_VERSION_PARTS, version, strict=True))
    if any(new[part] < old[part] for part in _VERSION_PARTS):
        return None  # rows gone (or another database)
    late = _late(session)
    audit = AuditEvent.__table__.c
    changes = session.connection().execute(
        sa.select(audit.id, audit.action, audit.entity, audit.entity_id).where(
            audit.id > old["audit"] - late, audit.id <= new["audit"]
        )
    )
    audited = [(int(i), a, e, eid) for i, a, e, eid in changes if int(i) not in kept.audit_seen]
    audit_seen = frozenset(i for i, *_ in audited if i > new["audit"] - late) | frozenset(
        i for i in kept.audit_seen if i > new["audit"] - late
    )
    followed = {a.value for a in AUDITED_CHANGES}
    households: set[int] = set()
    tasks: set[int] = set()
    small_touched = any(new[part] != old[part] for part in _SMALL_PARTS)
    for _, action, entity, entity_id in audited:
        if action not in followed:
            continue
        if action == AuditAction.ERASE.value or entity_id is None:
            return None
        if entity == "household":
            households.add(int(entity_id))
        elif entity == "task":
            tasks.add(int(entity_id))
        elif entity not in _KEPT_ELSEWHERE:
            return None
        if entity not in _NOT_IN_SMALL:
            small_touched = True
    ev, act, ap, task = (t.__table__.c for t in (StageEvent, Activity, Appointment, Task))
    events = _unseen(
        kept.events,
        _events(session, [ev.id > old["stage_event"] - late, ev.id <= new["stage_event"]]),
        old["stage_event"] - late,
    )
    activities = _unseen(
        kept.activities,
        _activities(session, [act.id > old["activity"] - late, act.id <= new["activity"]]),
        old["activity"] - late,
    )
    offers = _unseen(
        kept.offers,
        _offers(session, [ap.id > old["appointment"] - late, ap.id <= new["appointment"]]),
        old["appointment"] - late,
    )
    for frame in (events, activities, offers):
        households.update(int(h) for h in pd.unique(frame["household_id"].dropna()))
    if len(households) > _MOST_CHANGED or len(tasks) > _MOST_CHANGED:
        return None  # an import, say: reading everything is as quick
    # Tasks done in place: new ones, those audited, and those of a household changed (a call
    # that reached the family closes its call-back tasks under the household's audit entry).
    task_where = [task.id > old["task"] - late]
    if tasks:
        task_where.append(task.id.in_(sorted(tasks)))
    if households:
        task_where.append(task.household_id.in_(sorted(households)))
    new_tasks = _tasks_done(session, [sa.or_(*task_where)])
    stale_tasks = (
        kept.tasks["task_id"].isin(sorted(tasks)).to_numpy()
        | kept.tasks["household_id"].isin(sorted(households)).to_numpy()
    )
    hh = Household.__table__.c
    if households:
        where = [sa.or_(hh.id > old["household"] - late, hh.id.in_(sorted(households)))]
    else:
        where = [hh.id > old["household"] - late]
    changed_households = _households(session, where, sa.false())
    if not small_touched and households:
        small_touched = _have_small_rows(session, sorted(households))
    return _Kept(
        version=version,
        loaded_at=kept.loaded_at,
        households=_replace_rows(kept.households, changed_households, "household_id"),
        events=_sorted_events(_appended(kept.events, _staged(events))),
        activities=_appended(kept.activities, activities),
        offers=_appended(kept.offers, offers),
        tasks=_replace_rows(kept.tasks[~stale_tasks], new_tasks, "task_id"),
        small_epoch=-1 if small_touched else kept.small_epoch,
        audit_seen=audit_seen,
    )


_EVENT_KINDS = {
    "id": "int",
    "household_id": "int",
    "from_stage": "code",
    "to_stage": "code",
    "occurred_at": "time",
    "reason_code": "code",
    "reason_text": "text",
}


def _events(session: Session, where: list[sa.ColumnElement]) -> pd.DataFrame:
    ev = StageEvent.__table__.c
    return _frame(
        session,
        sa.select(
            ev.id,
            ev.household_id,
            ev.from_stage,
            ev.to_stage,
            ev.occurred_at,
            ev.reason_code,
            ev.reason_text,
        ).where(*where),
        _EVENT_KINDS,
    )


def _sorted_events(events: pd.DataFrame) -> pd.DataFrame:
    """In each household's order: by time, then as recorded (the ids kept)."""
    order = np.lexsort(
        (
            events["id"].to_numpy(),
            as_ns(events["occurred_at"]),
            events["household_id"].to_numpy(),
        )
    )
    return events.iloc[order].reset_index(drop=True)


def _staged(events: pd.DataFrame) -> pd.DataFrame:
    """Kept events: stages in their fixed dtype (as make_funnel_data gives them)."""
    for column in ("from_stage", "to_stage"):
        if events[column].dtype != STAGE_DTYPE:
            events[column] = events[column].astype(object).astype(STAGE_DTYPE)
    return events


def _activities(session: Session, where: list[sa.ColumnElement]) -> pd.DataFrame:
    act = Activity.__table__.c
    attempt = sa.case(
        (
            sa.and_(
                act.kind.in_([ActivityKind.CALL.value, ActivityKind.EMAIL.value]),
                act.actor_id.is_not(None),
            ),
            1,
        ),
        else_=0,
    )
    return _frame(
        session,
        sa.select(act.id, act.household_id, act.occurred_at, attempt.label("attempt")).where(
            act.occurred_at.is_not(None), *where
        ),
        {"id": "int", "household_id": "int", "occurred_at": "time", "attempt": "bool"},
    )


def _offers(session: Session, where: list[sa.ColumnElement]) -> pd.DataFrame:
    ap = Appointment.__table__.c
    return _frame(
        session,
        sa.select(ap.id, ap.household_id, ap.created_at).where(
            ap.kind == AppointmentKind.INITIAL_VISIT.value,
            ap.household_id.is_not(None),
            ap.created_at.is_not(None),
            *where,
        ),
        {"id": "int", "household_id": "int", "created_at": "time"},
    )


def _tasks_done(session: Session, where: list[sa.ColumnElement]) -> pd.DataFrame:
    task = Task.__table__.c
    return _frame(
        session,
        sa.select(task.id.label("task_id"), task.household_id, task.done_at).where(
            task.household_id.is_not(None),
            task.done_at.is_not(None),
            # Done by a member of staff (see _load).
            task.done_by_id.is_not(None),
            *where,
        ),
        {"task_id": "int", "household_id": "int", "done_at": "time"},
    )


def _empty_categorical(values: pd.Series, like: pd.CategoricalDtype) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(np.full(len(values), -1), dtype=like))


def _concat(first: pd.DataFrame, then: pd.DataFrame) -> pd.DataFrame:
    """The rows of both, code columns (categoricals) over the union of their categories,
    sorted (as funnel.load makes them)."""
    if not len(then):
        return first
    if not len(first):
        return then.reset_index(drop=True)
    columns: dict[str, Any] = {}
    for name in first.columns:
        a, b = first[name].reset_index(drop=True), then[name].reset_index(drop=True)
        a_cat = isinstance(a.dtype, pd.CategoricalDtype)
        b_cat = isinstance(b.dtype, pd.CategoricalDtype)
        if a_cat or b_cat:
            if not b_cat:
                b = _empty_categorical(b, a.dtype) if b.isna().all() else b.astype("category")
            if not a_cat:
                a = _empty_categorical(a, b.dtype) if a.isna().all() else a.astype("category")
            if a.dtype == b.dtype:
                columns[name] = pd.concat([a, b], ignore_index=True)
            else:
                columns[name] = pd.Series(
                    union_categoricals([a.array, b.array], sort_categories=True)
                )
        else:
            columns[name] = pd.concat([a, b], ignore_index=True)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(first) + len(then)))


def _unseen(kept: pd.DataFrame, read: pd.DataFrame, after: int) -> pd.DataFrame:
    """The rows of `read` not kept already (by id; only ids above `after` can be)."""
    if not len(read) or not len(kept):
        return read
    ids = kept["id"].to_numpy()
    recent = ids[ids > after]
    if not len(recent):
        return read
    return read[~np.isin(read["id"].to_numpy(), recent)].reset_index(drop=True)


def _appended(kept: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    return _concat(kept, new)


def _replace_rows(kept: pd.DataFrame, new: pd.DataFrame, key: str) -> pd.DataFrame:
    """`kept` with the rows of `new` in place of those with the same key, by key."""
    if not len(new):
        return kept
    rest = kept[~kept[key].isin(new[key].to_numpy()).to_numpy()]
    both = _concat(rest, new)
    order = np.argsort(both[key].to_numpy(), kind="stable")
    return both.iloc[order].reset_index(drop=True)


def _used_codes(values: pd.Series) -> pd.Series:
    """A code column after filtering, as the load reads it: categories only of the values
    there (sorted), or no categorical at all when none is there."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values
    if values.dtype == STAGE_DTYPE:
        return values
    values = values.cat.remove_unused_categories()
    if len(values.cat.categories):
        return values
    return pd.Series(np.full(len(values), None, dtype=object))


def _latest(
    households: np.ndarray, times: np.ndarray, keep: np.ndarray, how: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per household (sorted ids), the min or max of `times` over the rows kept."""
    if not keep.any():
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    grouped = pd.Series(times[keep]).groupby(households[keep], sort=True)
    result = grouped.min() if how == "min" else grouped.max()
    return result.index.to_numpy(dtype=np.int64), result.to_numpy(dtype=np.int64)


def _from_kept(
    session: Session,
    kept: _Kept,
    as_of: datetime,
    as_of_date: date,
    area_ids: list[int] | None,
    visible: sa.ColumnElement[bool] | None,
    small: Any = None,
) -> dict[str, Any]:
    """What `_load` returns, made from the kept tables for this moment and these areas;
    `small(session, epoch, as_of, as_of_date, area_ids)` gives the small tables."""
    dialect = session.connection().dialect.name
    moment = pd.Timestamp(as_of)
    moment_ns = moment.as_unit("ns").value
    everyone = kept.households
    if area_ids is None:
        in_area = np.ones(len(everyone), dtype=bool)
    else:
        in_area = everyone["area_id"].isin(area_ids).to_numpy(dtype=bool)
    area_households = everyone["household_id"].to_numpy()[in_area]

    def of_area(ids: np.ndarray) -> np.ndarray:
        if area_ids is None:
            return np.ones(len(ids), dtype=bool)
        return np.isin(ids, area_households)

    enquired = as_ns(everyone["enquired_at"])
    chosen = in_area & (enquired != NAT_NS) & (enquired <= moment_ns)
    households = everyone[chosen].reset_index(drop=True)
    for column in ("source_key", "enquiry_channel"):
        households[column] = _used_codes(households[column])
    if visible is not None and not isinstance(visible, sa.sql.elements.True_):
        hh = Household.__table__.c
        where = [sa.not_(visible), hh.enquired_at <= as_of]
        if area_ids is not None:
            where.append(hh.area_id.in_(area_ids))
        hidden = session.connection().execute(sa.select(hh.id).where(*where)).scalars().all()
        households["hidden"] = households["household_id"].isin(hidden).to_numpy(dtype=bool)
    named = _names(session)
    _name_ids(households, named)
    areas = _areas_frame(named)
    if len(households):
        contact = households["first_contact_at"]
        households["first_contact_at"] = contact.where(contact <= moment)

    def _times_of(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
        ids = frame["household_id"].to_numpy(dtype=np.int64)
        times = as_ns(frame[column])
        return ids, times

    act_ids, act_times = _times_of(kept.activities, "occurred_at")
    act_keep = (act_times != NAT_NS) & (act_times <= moment_ns) & of_area(act_ids)
    attempted = act_keep & kept.activities["attempt"].to_numpy(dtype=bool)
    offer_ids, offer_times = _times_of(kept.offers, "created_at")
    offer_keep = (offer_times != NAT_NS) & (offer_times <= moment_ns) & of_area(offer_ids)
    for (ids, times), column in (
        (_latest(act_ids, act_times, attempted, "min"), "first_attempt_at"),
        (_latest(offer_ids, offer_times, offer_keep, "min"), "visit_offered_at"),
    ):
        if len(households) and len(ids):
            households[column] = _by_household(
                households["household_id"],
                pd.Series(ids),
                pd.Series(pd.DatetimeIndex(times.view("M8[ns]")).tz_localize("UTC")),
            )
    task_ids, task_times = _times_of(kept.tasks, "done_at")
    task_keep = (task_times != NAT_NS) & (task_times <= moment_ns) & of_area(task_ids)
    note_ids, note_last = _latest(act_ids, act_times, act_keep, "max")
    done_ids, done_last = _latest(task_ids, task_times, task_keep, "max")
    ids, last = _latest(
        np.concatenate([note_ids, done_ids]),
        np.concatenate([note_last, done_last]),
        np.ones(len(note_ids) + len(done_ids), dtype=bool),
        "max",
    )
    last_activity = pd.DataFrame(
        {
            "household_id": ids,
            "last_activity_at": pd.DatetimeIndex(last.view("M8[ns]")).tz_localize("UTC"),
        },
        index=pd.RangeIndex(len(ids)),
    )

    ev_ids, ev_times = _times_of(kept.events, "occurred_at")
    ev_keep = (ev_times != NAT_NS) & (ev_times <= moment_ns) & of_area(ev_ids)
    events = kept.events[ev_keep].drop(columns="id").reset_index(drop=True)
    events["reason_code"] = _used_codes(events["reason_code"])

    if small is None:
        small_frames = _small_frames(session, dialect, as_of, as_of_date, area_ids)
    else:
        small_frames = small(session, kept.small_epoch, as_of, as_of_date, area_ids)
    return _frames_of(households, events, last_activity, areas, area_ids, small_frames)
