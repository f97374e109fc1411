"""funnel.load.FrameStore against real databases: the frames it makes for any moment, area
and reader are those load_funnel_data reads, value for value and dtype for dtype, whether
it read everything, only the changes since, or nothing; and it only reads."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlmodel import func, select

import crm.models as m
from crm.services import access, audit
from crm.services.actors import Actor
from crm.services.pipeline import move_stage
from crm.services.staff import create_staff_user
from crm.services.tasks import close_task, create_task
from crm.services.timeline import log_activity
from crm.testing.fixtures import TEST_PASSWORD
from funnel.load import FrameStore, data_version, load_funnel_data
from tests.funnel.helpers import at, make_history
from tests.funnel.test_load import histories  # noqa: F401 (the fixture)

FRAMES = (
    "households", "events", "last_activity", "carers", "placements", "check_ins", "campaigns",
    "sources", "reasons", "areas", "checks", "panel_listings",
)  # fmt: skip
# The end of a past week, the day before the last event, and now (the clock of the fixtures).
MOMENTS = (at("2026-02-01"), at("2026-03-04"), None)


def assert_same(kept, read, label: str) -> None:
    for name in FRAMES:
        left, right = getattr(kept, name), getattr(read, name)
        if name in ("carers", "placements", "check_ins", "checks", "panel_listings"):
            # Read by the same query both ways; PostgreSQL may give rows in any order.
            left = left.sort_index().sort_values(list(left.columns), kind="stable")
            right = right.sort_index().sort_values(list(right.columns), kind="stable")
        pd.testing.assert_frame_equal(left, right, check_exact=True, obj=f"{label}: {name}")
    assert kept.area_names == read.area_names
    assert kept.as_of == read.as_of


def assert_every_view_same(session, store: FrameStore, org, visible=None) -> str:
    """What the first load read (all, changes or nothing)."""
    read_first = ""
    for moment in MOMENTS:
        for areas in (None, [org.north.id], [org.south.id], [org.north.id, org.south.id]):
            kept = store.load(session, as_of=moment, area_ids=areas, visible=visible)
            read_first = read_first or store.last_read
            read = load_funnel_data(session, as_of=moment, area_ids=areas, visible=visible)
            assert_same(kept, read, f"as at {moment}, areas {areas}")
    return read_first


def test_every_moment_and_area_from_one_read(session, histories, org):  # noqa: F811
    store = FrameStore()
    store.load(session)
    assert store.last_read == "all"
    assert assert_every_view_same(session, store, org) == "nothing"


def test_a_readers_hidden_households(session, histories, org):  # noqa: F811
    """A one-area manager's visibility marks the other area's households hidden, as the
    direct read does."""
    manager = create_staff_user(
        session, Actor.system("test"), email="south.reader@test.example", name="South Reader",
        role="manager", password=TEST_PASSWORD, area_names=["Southshire"],
    )  # fmt: skip
    visible = access.household_visibility(Actor.for_staff(session, manager))
    store = FrameStore()
    assert_every_view_same(session, store, org, visible=visible)
    hidden = store.load(session, visible=visible).households["hidden"]
    assert hidden.any() and not hidden.all()


def test_after_changes_only_the_changes_are_read(session, settings, histories, org):  # noqa: F811
    store = FrameStore()
    store.load(session)
    staff = Actor.for_staff(session, org.officer_north)
    d = histories["d"]
    # A stage event, a call, a task done and a new household, one at a time.
    move_stage(session, Actor.system("test"), d.id, "initial_visit", settings=settings)
    session.commit()
    assert assert_every_view_same(session, store, org) == "changes"
    # A call that reaches the family: their first contact, and their call-back task done.
    log_activity(
        session, staff, d.id, "call", summary="Rang", call_outcome="spoke",
        occurred_at=at("2026-03-10", 9),
    )  # fmt: skip
    session.commit()
    task = create_task(
        session, staff, kind="general", title="Ring back", due_at=at("2026-03-12"),
        household_id=histories["c"].id,
    )  # fmt: skip
    close_task(session, staff, task.id, outcome="Rang")
    session.commit()
    make_history(
        session, settings, first_name="Eve", enquired_at=at("2026-03-09"), postcode="NG1 1AA",
        moves=[(at("2026-03-09", 15), "withdrawn", "finances")],
    )  # fmt: skip
    assert assert_every_view_same(session, store, org) == "changes"


def test_a_household_moved_to_another_area_is_read_again(session, histories, org):  # noqa: F811
    store = FrameStore()
    store.load(session)
    a = session.get(m.Household, histories["a"].id)
    a.area_id = org.south.id
    audit.record(session, Actor.system("test"), m.AuditAction.UPDATE, "household", a.id)
    session.commit()
    assert assert_every_view_same(session, store, org) == "changes"
    south = store.load(session, area_ids=[org.south.id])
    assert a.id in south.households.index


def test_what_the_audit_cannot_say_reads_everything(session, histories, org):  # noqa: F811
    store = FrameStore()
    store.load(session)
    audit.record(session, Actor.system("test"), m.AuditAction.UPDATE, "something_new", 1)
    session.commit()
    store.load(session)
    assert store.last_read == "all"
    # And an erasure, and age, the same.
    audit.record(session, Actor.system("test"), m.AuditAction.ERASE, "household_pet", 1)
    session.commit()
    store.load(session)
    assert store.last_read == "all"
    aged = FrameStore(full_reload_seconds=0)
    aged.load(session)
    log_activity(
        session, Actor.for_staff(session, org.officer_north), histories["c"].id, "note",
        summary="Later", occurred_at=at("2026-03-10", 9),
    )  # fmt: skip
    session.commit()
    aged.load(session)
    assert aged.last_read == "all"


def test_the_version_given_is_the_one_kept(session, histories):  # noqa: F811
    store = FrameStore()
    version = data_version(session)
    store.load(session, version=version)
    store.load(session, version=version)
    assert store.last_read == "nothing"


def test_it_only_reads(session, engine, histories, org):  # noqa: F811
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append(statement.strip().split()[0].upper())

    audit_before = session.exec(select(func.count()).select_from(m.AuditEvent)).one()
    store = FrameStore()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        store.load(session)
        store.load(session, area_ids=[org.south.id], as_of=at("2026-02-01"))
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert set(statements) <= {"SELECT", "BEGIN"}, statements
    assert not session.new and not session.dirty
    assert session.exec(select(func.count()).select_from(m.AuditEvent)).one() == audit_before


def test_a_new_placement_is_in_the_next_frames(session, histories, org):  # noqa: F811
    """The small tables kept for a moment and areas are read again after a change to them."""
    store = FrameStore()
    before = store.load(session)
    session.add(
        m.Placement(
            carer_id=histories["carer"].id, child_reference="CH-2",
            fostering_type=m.FosteringType.SHORT_TERM, started_on=date(2026, 3, 2),
        )
    )  # fmt: skip
    session.commit()
    after = store.load(session)
    assert len(after.placements) == len(before.placements) + 1
    assert assert_every_view_same(session, store, org) == "nothing"


@pytest.mark.parametrize("reason", [None, "finances"])
def test_a_first_reason_or_none_after_the_read(session, settings, histories, org, reason):  # noqa: F811
    """A code column whose values arrive only with the changes (or stay missing) comes out
    with the categories the direct read gives."""
    store = FrameStore()
    store.load(session, as_of=at("2026-01-08"))
    move_stage(session, Actor.system("test"), histories["d"].id, "withdrawn",
               reason_code=reason or "other", reason_text=None if reason else "Moved away",
               settings=settings)  # fmt: skip
    session.commit()
    assert_every_view_same(session, store, org)


def test_a_row_committed_after_a_later_one_is_not_missed(session, engine, settings, histories, org):  # noqa: F811
    """PostgreSQL gives ids at insert, not at commit: a stage event with a lower id may become
    visible after the store read one with a higher id. (SQLite writes one at a time.)"""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time")
    store = FrameStore()
    store.load(session)
    # Another writer's transaction, still open (its own connection: the services commit).
    other = sa.create_engine(engine.url.render_as_string(hide_password=False))
    try:
        with other.connect() as slow:
            late = slow.execute(
                sa.insert(m.StageEvent.__table__)
                .values(
                    household_id=histories["d"].id, from_stage="enquiry",
                    to_stage="initial_visit", occurred_at=at("2026-03-10", 8),
                    actor_label="Another writer", recorded_at=at("2026-03-10", 8),
                )
                .returning(m.StageEvent.__table__.c.id)
            ).scalar_one()  # fmt: skip
            sooner = move_stage(session, Actor.system("test"), histories["c"].id, "withdrawn",
                                reason_code="finances", settings=settings)  # fmt: skip
            session.commit()
            assert late < sooner.id
            store.load(session)
            assert store.last_read == "changes"
            slow.commit()
    finally:
        other.dispose()
    # The version (the newest ids) does not move for a late commit: the next change shows it.
    log_activity(
        session, Actor.for_staff(session, org.officer_north), histories["a"].id, "note",
        summary="Later", occurred_at=at("2026-03-10", 9),
    )  # fmt: skip
    session.commit()
    assert assert_every_view_same(session, store, org) == "changes"
    events = store.load(session).events
    moved = events[events["household_id"] == histories["d"].id]["to_stage"].astype(str).tolist()
    assert moved == ["enquiry", "initial_visit"]


def test_an_erased_household_is_read_again_everywhere(session, histories, org):  # noqa: F811
    """Erasure, by the data protection service itself: nothing the store kept about the
    household outlives it; the frames are read whole again and are those read afresh."""
    from crm.services.data_protection import anonymise_household

    store = FrameStore()
    store.load(session)
    anonymise_household(
        session, Actor.for_staff(session, org.manager), histories["b"].id, reason="Asked"
    )
    assert assert_every_view_same(session, store, org) == "all"
