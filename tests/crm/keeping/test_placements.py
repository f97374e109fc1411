"""Placements: capacity and vacancies from the approval terms, the manager's exemption, ending
and moving, and utilisation by day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func
from sqlmodel import select

import crm.models as m
from crm.services import placements
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.placements import PlacementInput
from tests.crm.keeping.helpers import approved_carer, place


def child(**kw) -> PlacementInput:  # noqa: ANN003
    data = dict(
        child_reference="CH-100", placing_authority="Northshire", fostering_type="long_term",
        started_on=date(2026, 3, 2), child_age=8,
    )  # fmt: skip
    data.update(kw)
    return PlacementInput(**data)


def count_placements(session) -> int:  # noqa: ANN001
    return session.exec(select(func.count(m.Placement.id))).one()


def test_capacity_and_vacancies_follow_terms_and_live_placements(session, settings, org):
    carer = approved_carer(session, settings, org, places=2)
    ssw = Actor.for_staff(session, org.supervisor_north)
    assert placements.capacity(session, carer).vacancies == 2
    first = placements.add_placement(session, ssw, carer.id, child(child_reference="A-1"))
    assert first.placing_authority == "Northshire" and first.exemption_reason is None
    assert placements.capacity(session, carer).vacancies == 1
    placements.add_placement(session, ssw, carer.id, child(child_reference="A-2"))
    assert placements.capacity(session, carer).vacancies == 0
    # A third child is over capacity: refused, nothing saved, the reason says so.
    before = count_placements(session)
    with pytest.raises(InvalidInput) as refused:
        placements.add_placement(session, ssw, carer.id, child(child_reference="A-3"))
    assert "approved for 2 children and has 2 placed" in refused.value.errors["exemption_reason"]
    assert count_placements(session) == before
    # A supervising social worker cannot agree the exemption, even with a reason.
    with pytest.raises(InvalidInput, match="Only a fostering manager"):
        placements.add_placement(
            session, ssw, carer.id, child(child_reference="A-3", exemption_reason="Siblings")
        )
    assert count_placements(session) == before
    manager = Actor.for_staff(session, org.manager)
    third = placements.add_placement(
        session, manager, carer.id,
        child(child_reference="A-3", exemption_reason="Keeps three siblings together"),
    )  # fmt: skip
    assert third.exemption_reason == "Keeps three siblings together"
    assert third.exempted_by_id == org.manager.id
    assert placements.capacity(session, carer).vacancies == 0
    # Ending one frees a place.
    placements.end_placement(
        session, ssw, first.id, ended_on=date(2026, 3, 9), reason="Returned home",
        ending="planned",
    )  # fmt: skip
    assert placements.capacity(session, carer).filled == 2
    audit = session.exec(select(m.AuditEvent).where(m.AuditEvent.entity == "placement")).all()
    assert len(audit) == 4


def test_age_and_type_outside_the_terms_need_an_exemption(session, settings, org):
    carer = approved_carer(session, settings, org, places=3, ages=(0, 10), types=("short_term",))
    ssw = Actor.for_staff(session, org.supervisor_north)
    with pytest.raises(InvalidInput) as refused:
        placements.add_placement(
            session, ssw, carer.id, child(child_age=14, fostering_type="long_term")
        )
    message = refused.value.errors["exemption_reason"]
    assert "aged 14 is outside the approved ages 0 to 10" in message
    assert "not approved for long term fostering" in message
    within = placements.add_placement(
        session, ssw, carer.id, child(child_age=9, fostering_type="short_term",
                                      exemption_reason="Not needed")
    )  # fmt: skip
    # Within the terms an exemption would mislead, so none is kept.
    assert within.exemption_reason is None


def test_bad_placement_details_are_refused_together(session, settings, org):
    carer = approved_carer(session, settings, org)
    ssw = Actor.for_staff(session, org.supervisor_north)
    with pytest.raises(InvalidInput) as refused:
        placements.add_placement(
            session, ssw, carer.id,
            PlacementInput(child_reference=" ", fostering_type="pets", started_on=date(2020, 1, 1),
                           expected_end_on=date(2019, 1, 1), child_age=40),
        )  # fmt: skip
    assert set(refused.value.errors) == {
        "child_reference", "placing_authority", "fostering_type", "child_age", "started_on",
        "expected_end_on",
    }  # fmt: skip
    assert count_placements(session) == 0


def test_ending_before_start_or_in_the_future_is_refused(session, settings, org):
    carer = approved_carer(session, settings, org)
    placement = place(session, carer, "E-1", on=date(2026, 2, 1))
    ssw = Actor.for_staff(session, org.supervisor_north)
    for ended_on, message in (
        (date(2026, 1, 31), "cannot end before it started"),
        (date(2026, 3, 11), "cannot be in the future"),
        (None, "Enter the date"),
    ):
        with pytest.raises(InvalidInput) as refused:
            placements.end_placement(
                session, ssw, placement.id, ended_on=ended_on, reason="x", ending="planned"
            )
        assert message in refused.value.errors["ended_on"]
    with pytest.raises(InvalidInput) as refused:
        placements.end_placement(
            session, ssw, placement.id, ended_on=date(2026, 3, 1), reason="", ending="maybe"
        )
    assert set(refused.value.errors) == {"end_reason", "ending"}
    session.refresh(placement)
    assert placement.ended_on is None and placement.end_reason is None
    ended = placements.end_placement(
        session, ssw, placement.id, ended_on=date(2026, 2, 1), reason="Disruption",
        ending="unplanned",
    )  # fmt: skip
    assert ended.ending == m.PlacementEnding.UNPLANNED
    with pytest.raises(InvalidInput, match="already ended"):
        placements.end_placement(
            session, ssw, placement.id, ended_on=date(2026, 3, 1), reason="x", ending="planned"
        )


def test_move_ends_one_and_starts_the_other_or_neither(session, settings, org):
    full = approved_carer(session, settings, org, name="Full", places=1)
    target = approved_carer(session, settings, org, name="Target", places=1)
    moving = place(session, full, "M-1", on=date(2025, 5, 1))
    place(session, target, "T-1")
    ssw = Actor.for_staff(session, org.supervisor_north)
    # The target is full: neither half happens.
    with pytest.raises(InvalidInput) as refused:
        placements.move_placement(
            session, ssw, moving.id, to_carer_id=target.id, moved_on=date(2026, 3, 1),
            reason="Needs a long-term home", ending="planned",
        )  # fmt: skip
    assert "exemption_reason" in refused.value.errors
    session.refresh(moving)
    assert moving.ended_on is None
    other = approved_carer(session, settings, org, name="Other", places=2)
    moved = placements.move_placement(
        session, ssw, moving.id, to_carer_id=other.id, moved_on=date(2026, 3, 1),
        reason="Needs a long-term home", ending="planned",
    )  # fmt: skip
    session.refresh(moving)
    assert moving.ended_on == date(2026, 3, 1) and moving.end_reason == "Needs a long-term home"
    assert moved.carer_id == other.id and moved.moved_from_id == moving.id
    assert moved.child_reference == "M-1" and moved.started_on == date(2026, 3, 1)
    with pytest.raises(InvalidInput) as refused:
        placements.move_placement(
            session, ssw, moved.id, to_carer_id=other.id, moved_on=date(2026, 3, 2),
            reason="x", ending="planned",
        )  # fmt: skip
    assert "different carer" in refused.value.errors["to_carer_id"]


@pytest.mark.parametrize(
    "role",
    ["officer_north", "assessor_north", "officer_south"],
)
def test_other_roles_cannot_add_end_or_move(session, settings, org, role):
    carer = approved_carer(session, settings, org)
    placement = place(session, carer, "R-1")
    actor = Actor.for_staff(session, getattr(org, role))
    with pytest.raises(NotAllowed):
        placements.add_placement(session, actor, carer.id, child())
    with pytest.raises(NotAllowed):
        placements.end_placement(
            session, actor, placement.id, ended_on=date(2026, 3, 1), reason="x", ending="planned"
        )
    with pytest.raises(NotAllowed):
        placements.move_placement(
            session, actor, placement.id, to_carer_id=carer.id, moved_on=date(2026, 3, 1),
            reason="x", ending="planned",
        )  # fmt: skip
    with pytest.raises(NotAllowed):
        placements.utilisation(session, actor)


def test_a_supervisor_of_another_area_cannot_place_with_this_carer(session, settings, org):
    carer = approved_carer(session, settings, org)
    south = m.StaffUser(
        email="ssw.south@test.example", name="South SSW",
        role=m.Role.SUPERVISING_SOCIAL_WORKER, password_hash="x",
    )  # fmt: skip
    session.add(south)
    session.flush()
    session.add(m.StaffArea(staff_id=south.id, area_id=org.south.id))
    session.commit()
    with pytest.raises(NotAllowed):
        placements.add_placement(session, Actor.for_staff(session, south), carer.id, child())


def test_utilisation_by_area_and_hub_by_day(session, settings, org):
    north = approved_carer(session, settings, org, places=2, approved_on=date(2025, 1, 1))
    south = approved_carer(
        session, settings, org, postcode="NG1 1AA", places=3, approved_on=date(2026, 3, 5),
        supervisor=org.manager,
    )  # fmt: skip
    place(session, north, "U-1", on=date(2026, 3, 1))
    ended = place(session, north, "U-2", on=date(2026, 3, 1))
    ended.ended_on = date(2026, 3, 8)
    session.add(ended)
    session.commit()
    place(session, south, "U-3", on=date(2026, 3, 6))
    leaver = approved_carer(session, settings, org, places=1, approved_on=date(2025, 6, 1))
    leaver.deregistered_on, leaver.status = date(2026, 3, 9), m.CarerStatus.DEREGISTERED
    session.add(leaver)
    session.commit()
    rows, hub = placements.utilisation(
        session, Actor.for_staff(session, org.manager), end=date(2026, 3, 10), days=7
    )
    by_name = {row.name: row for row in rows}
    northshire = {day: (f, p) for day, f, p in by_name["Northshire"].days}
    southshire = {day: (f, p) for day, f, p in by_name["Southshire"].days}
    assert northshire[date(2026, 3, 4)] == (2, 3)
    assert northshire[date(2026, 3, 8)] == (1, 3)  # the ending day frees the place
    assert northshire[date(2026, 3, 9)] == (1, 2)  # the leaver's place goes on the day
    assert southshire[date(2026, 3, 4)] == (0, 0)  # not approved yet
    assert southshire[date(2026, 3, 6)] == (1, 3)
    assert hub.latest == (date(2026, 3, 10), 2, 5)
    assert placements.share(2, 5) == "40%"
    # A supervising social worker sees the carers they supervise only.
    rows, hub = placements.utilisation(
        session, Actor.for_staff(session, org.supervisor_north), end=date(2026, 3, 10), days=1
    )
    assert [r.name for r in rows] == ["Northshire"] and hub.latest[1:] == (1, 2)


def test_utilisation_counts_a_carer_in_no_area_for_the_hub_and_never_an_anonymised_one(
    session, settings, org
):
    homeless = approved_carer(session, settings, org, places=2, approved_on=date(2025, 1, 1))
    gone = approved_carer(session, settings, org, places=4, approved_on=date(2025, 1, 1))
    place(session, homeless, "N-1", on=date(2026, 3, 1))
    place(session, gone, "N-2", on=date(2026, 3, 1))
    for carer, change in ((homeless, "area_id"), (gone, "anonymised_at")):
        household = session.get(m.Household, carer.household_id)
        setattr(
            household, change, None if change == "area_id" else datetime(2026, 3, 2, tzinfo=UTC)
        )
        session.add(household)
    session.commit()
    rows, hub = placements.utilisation(
        session, Actor.for_staff(session, org.admin), end=date(2026, 3, 10), days=1
    )
    assert [(r.name, r.latest[1:]) for r in rows] == [("No area", (1, 2))]
    assert hub.latest[1:] == (1, 2)
    # A manager works in areas: the carer in none is not theirs.
    rows, hub = placements.utilisation(
        session, Actor.for_staff(session, org.manager), end=date(2026, 3, 10), days=1
    )
    assert rows == [] and hub.latest[1:] == (0, 0)
