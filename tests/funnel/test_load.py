"""funnel.load against real databases (SQLite and PostgreSQL): shapes, "as at", areas, and
that it only reads, in a handful of queries."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlmodel import func, select

import crm.models as m
from crm.services.actors import Actor
from crm.services.tasks import close_task, create_task
from crm.services.timeline import log_activity
from funnel import metrics
from funnel.frames import FUNNEL, STAGE_DTYPE, UTC_DTYPE
from funnel.load import load_funnel_data, resolve_area_ids
from funnel.periods import Period
from tests.funnel.helpers import at, make_history


@pytest.fixture
def histories(session, settings, org):
    a = make_history(
        session,
        settings,
        first_name="Alex",
        enquired_at=at("2026-01-05"),
        first_contact_at=at("2026-01-05", 15),
        source_key="event",
        campaign_name="Spring radio 2026",
        moves=[
            (at("2026-01-12"), "initial_visit", None),
            (at("2026-01-26"), "application", None),
            # A connected person: straight from application to approval.
            (at("2026-02-20"), "approved", None),
            (at("2026-03-05"), "deregistered", "retirement"),
        ],
    )
    b = make_history(
        session,
        settings,
        first_name="Bea",
        enquired_at=at("2026-01-06"),
        postcode="NG1 1AA",
        moves=[(at("2026-01-10"), "withdrawn", "finances")],
    )
    c = make_history(
        session,
        settings,
        first_name="Cal",
        enquired_at=at("2026-02-01"),
        source_key=None,
        moves=[(at("2026-02-10"), "on_hold", "work")],
    )
    d = make_history(session, settings, first_name="Dee", enquired_at=at("2026-03-09"))
    staff = Actor.for_staff(session, org.officer_north)
    log_activity(
        session, staff, c.id, "note", summary="Asked to pause", occurred_at=at("2026-03-02")
    )
    task = create_task(
        session, staff, kind="general", title="Send the pack", due_at=at("2026-03-11"),
        household_id=d.id,
    )  # fmt: skip
    close_task(session, staff, task.id, outcome="Sent")  # done now, 10 March
    # A task the system closes (as the tracker import does) is not work on the case.
    tidy = create_task(
        session,
        Actor.system("test"),
        kind="general",
        title="Old call-back",
        due_at=at("2026-02-11"),
        household_id=b.id,
    )
    close_task(session, Actor.system("import"), tidy.id, outcome="Imported as done")
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == a.id)).one()
    session.add(
        m.Placement(
            carer_id=carer.id,
            child_reference="CH-1",
            fostering_type=m.FosteringType.SHORT_TERM,
            started_on=date(2026, 2, 25),
        )
    )
    session.add(
        m.CheckIn(
            carer_id=carer.id,
            channel=m.Channel.EMAIL,
            sent_at=at("2026-02-27"),
            answered_at=at("2026-03-03"),
            score=2,
            wants_call=True,
            unique_key="ci-1",
        )
    )
    session.commit()
    return {"a": a, "b": b, "c": c, "d": d, "carer": carer}


def test_shapes_and_types(session, histories, org):
    data = load_funnel_data(session)
    hh = data.households
    assert sorted(hh["reference"]) == sorted(h.reference for h in list(histories.values())[:4])
    assert str(hh["enquired_at"].dtype) == UTC_DTYPE
    assert str(hh["first_contact_at"].dtype) == UTC_DTYPE
    assert hh.loc[histories["a"].id, "first_contact_at"] == pd.Timestamp(at("2026-01-05", 15))
    assert pd.isna(hh.loc[histories["c"].id, "source_key"])
    assert hh.loc[histories["b"].id, "area"] == "Southshire"
    assert hh.loc[histories["a"].id, "campaign_id"] == 1

    ev = data.events
    assert ev["to_stage"].dtype == STAGE_DTYPE
    assert list(ev["to_stage"].cat.categories[:7]) == FUNNEL
    assert ev["to_stage"].cat.ordered
    assert str(ev["occurred_at"].dtype) == UTC_DTYPE
    a_events = ev[ev["household_id"] == histories["a"].id]
    assert a_events["to_stage"].astype(str).tolist() == [
        "enquiry", "initial_visit", "application", "approved", "deregistered",
    ]  # fmt: skip
    assert a_events["reason_code"].astype(object).tolist()[-1] == "retirement"

    j = data.journeys
    assert j.loc[histories["a"].id, "outcome"] == "deregistered"
    assert j.loc[histories["a"].id, "furthest_stage"] == "approved"
    assert j.loc[histories["b"].id, ["outcome", "leaving_reason"]].tolist() == [
        "withdrawn", "finances",
    ]  # fmt: skip
    assert j.loc[histories["c"].id, ["stage", "funnel_stage"]].tolist() == ["on_hold", "enquiry"]

    carers = data.carers
    assert len(carers) == 1
    row = carers.iloc[0]
    assert row["approved_on"] == pd.Timestamp("2026-02-20")
    assert (row["status"], row["deregistration_reason_code"]) == ("deregistered", "retirement")
    assert row["deregistered_on"] == pd.Timestamp("2026-03-05")
    assert data.placements["started_on"].tolist() == [pd.Timestamp("2026-02-25")]
    assert data.check_ins[["score", "wants_call"]].iloc[0].tolist() == [2, True]
    activity = data.last_activity["last_activity_at"]
    assert activity[histories["c"].id] == pd.Timestamp(at("2026-03-02"))
    assert activity[histories["d"].id] == pd.Timestamp(at("2026-03-10", 10))
    assert histories["b"].id not in activity.index
    assert set(data.sources.index) >= {"event", "web_search"}
    assert data.campaigns.loc[1, "cost_pence"] == 500_000


def test_as_at_an_earlier_moment(session, histories):
    data = load_funnel_data(session, as_of=at("2026-03-01"))
    assert histories["d"].id not in data.households.index
    j = data.journeys
    # The deregistration (5 March) and the later notes had not happened yet.
    assert j.loc[histories["a"].id, "outcome"] == "approved"
    row = data.carers.iloc[0]
    assert row["status"] == "active" and pd.isna(row["deregistered_on"])
    # Sent on 27 February, answered on 3 March: as at 1 March, still unanswered.
    check_in = data.check_ins.iloc[0]
    assert pd.isna(check_in["answered_at"]) and pd.isna(check_in["score"])
    assert not check_in["wants_call"]
    assert histories["c"].id not in data.last_activity.index
    assert metrics.carers_at_risk(data).empty


def test_limited_to_an_area(session, histories, org):
    south = resolve_area_ids(session, ["southshire"])
    assert south == [org.south.id]
    data = load_funnel_data(session, area_ids=south)
    assert data.households.index.tolist() == [histories["b"].id]
    assert set(data.events["household_id"]) == {histories["b"].id}
    assert data.carers.empty and data.placements.empty and data.check_ins.empty
    assert data.area_names == ["Southshire"]
    with pytest.raises(ValueError, match="Unknown area 'Westshire'. Areas are: Northshire"):
        resolve_area_ids(session, ["Westshire"])


def test_the_summary_from_loaded_data(session, histories, settings):
    data = load_funnel_data(session)
    summary = metrics.funnel_summary(
        data, Period(date(2026, 1, 1), date(2026, 1, 31)), metrics.ResponseRule(1)
    )
    assert summary["cohort_size"] == 2
    assert summary["reached"] == {
        "enquiry": 2,
        "initial_visit": 1,
        "application": 1,
        "stage_one": 1,
        "stage_two": 1,
        "panel": 1,
        "approved": 1,
    }
    assert summary["median_days_from_enquiry"]["approved"] == 46.0
    assert summary["median_days_from_enquiry"]["stage_one"] == 46.0  # skipped: reached at approval
    assert summary["withdrawn_by_reason"] == {"finances": 1}
    assert summary["by_area"] == {
        "Northshire": {stage: 1 for stage in FUNNEL},
        "Southshire": {"enquiry": 1, **dict.fromkeys(FUNNEL[1:], 0)},
    }
    assert summary["by_campaign"]["Spring radio 2026"]["cost_per_approval_pence"] == 500_000


def test_only_reads_in_a_few_queries(session, engine, histories):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append(statement.strip().split()[0].upper())

    audit_before = session.exec(select(func.count()).select_from(m.AuditEvent)).one()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        load_funnel_data(session)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert set(statements) <= {"SELECT", "BEGIN"}, statements
    # One per table, plus the first attempts (activities) and first visit offers (appointments).
    assert statements.count("SELECT") <= 14
    assert not session.new and not session.dirty
    assert session.exec(select(func.count()).select_from(m.AuditEvent)).one() == audit_before


def test_a_text_holding_the_column_separator_is_read_all_the_same(session, histories, org):
    """Text that never went through crm.text (written by hand in the database) may hold the
    separator the load joins text columns with: that query is read row by row instead."""
    before = load_funnel_data(session)
    household = histories["a"]
    session.exec(
        sa.update(m.StaffUser)
        .where(m.StaffUser.id == org.officer_north.id)
        .values(name="Ann\x1fSmith")
    )
    session.exec(
        sa.update(m.Household)
        .where(m.Household.id == household.id)
        .values(assigned_officer_id=org.officer_north.id)
    )
    session.commit()
    after = load_funnel_data(session)
    assert after.households.loc[household.id, "officer"] == "Ann\x1fSmith"
    assert after.households.loc[household.id, "officer_id"] == org.officer_north.id
    for column in ("reference", "enquired_at", "first_contact_at", "source_key", "area"):
        pd.testing.assert_series_equal(
            after.households[column].sort_index(), before.households[column].sort_index()
        )
    pd.testing.assert_frame_equal(after.events, before.events)
