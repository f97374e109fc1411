"""Mockingbird constellations: the rules of starting one, its satellites, what the hub home
gives, and what a carer's leaving closes. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

import crm.models as m
from crm.services import leaving
from crm.services import mockingbird as service
from crm.services.actors import Actor
from crm.services.errors import InvalidInput, NotAllowed
from crm.services.pipeline import move_stage
from crm.testing.fixtures import new_household

TODAY = date(2026, 6, 1)
APPROVED = date(2024, 1, 15)


def carers(session, settings, org, n: int, postcode: str = "LE2 1AA") -> list[m.Carer]:
    made = []
    for i in range(n):
        household = new_household(
            session, settings, first_name=f"Carer{i}", last_name="Home",
            email=f"c{i}.{postcode[:2]}@example.com", postcode=postcode,
        )  # fmt: skip
        move_stage(session, Actor.system("test"), household.id, m.Stage.APPROVED)
        carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
        carer.approved_on = APPROVED
        session.add(carer)
        session.commit()
        made.append(carer)
    return made


def staff(session, user) -> Actor:
    return Actor.for_staff(session, user)


def start(session, org, hub, name="Northshire One"):
    return service.start_constellation(
        session, staff(session, org.manager), name=name, hub_carer_id=hub.id,
        started_on=date(2025, 1, 6), today=TODAY,
    )  # fmt: skip


def test_a_constellation_holds_at_most_ten_satellites(session, settings, org):
    hub, *others = carers(session, settings, org, 12)
    constellation = start(session, org, hub)
    supervisor = staff(session, org.supervisor_north)
    for carer in others[:10]:
        service.add_satellite(session, supervisor, constellation.id, carer_id=carer.id,
                              joined_on=date(2025, 2, 1), today=TODAY)  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        service.add_satellite(session, supervisor, constellation.id, carer_id=others[10].id,
                              joined_on=date(2025, 2, 1), today=TODAY)  # fmt: skip
    assert refused.value.errors["carer_id"].startswith(
        "Northshire One has 10 satellite households already"
    )
    assert service.live_satellite_count(session, constellation.id) == 10
    # One leaves: there is room again.
    member = session.exec(
        select(m.ConstellationMember).where(m.ConstellationMember.carer_id == others[0].id)
    ).one()
    service.remove_satellite(session, supervisor, member.id, left_on=date(2025, 9, 1),
                             reason="Moved away", today=TODAY)  # fmt: skip
    service.add_satellite(session, supervisor, constellation.id, carer_id=others[10].id,
                          joined_on=date(2025, 9, 2), today=TODAY)  # fmt: skip
    assert service.live_satellite_count(session, constellation.id) == 10


def test_bad_input_is_refused_and_nothing_is_saved(session, settings, org):
    hub, a, b = carers(session, settings, org, 3)
    manager = staff(session, org.manager)
    with pytest.raises(InvalidInput) as refused:
        service.start_constellation(session, manager, name="", hub_carer_id=hub.id,
                                    started_on=date(2027, 1, 1), today=TODAY)  # fmt: skip
    assert refused.value.errors == {
        "name": "Enter a name for the constellation",
        "started_on": "The date it started cannot be in the future",
    }
    with pytest.raises(InvalidInput, match="cannot start before its hub home was approved"):
        service.start_constellation(session, manager, name="Early", hub_carer_id=hub.id,
                                    started_on=date(2023, 1, 1), today=TODAY)  # fmt: skip
    assert session.exec(select(m.Constellation)).all() == []
    constellation = start(session, org, hub)
    # The hub home cannot be a satellite, nor a carer already in a constellation.
    with pytest.raises(InvalidInput, match="already in the Northshire One constellation"):
        service.add_satellite(session, manager, constellation.id, carer_id=hub.id,
                              joined_on=date(2025, 2, 1), today=TODAY)  # fmt: skip
    with pytest.raises(InvalidInput, match="already in the Northshire One constellation"):
        start(session, org, hub, name="Second")
    with pytest.raises(InvalidInput, match="cannot join before it was approved or before"):
        service.add_satellite(session, manager, constellation.id, carer_id=a.id,
                              joined_on=date(2024, 12, 1), today=TODAY)  # fmt: skip
    member = service.add_satellite(session, manager, constellation.id, carer_id=a.id,
                                   joined_on=date(2025, 2, 1), today=TODAY)  # fmt: skip
    with pytest.raises(InvalidInput, match="cannot leave before it joined"):
        service.remove_satellite(session, manager, member.id, left_on=date(2025, 1, 1),
                                 reason="x", today=TODAY)  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        service.record_activity(
            session, manager, constellation.id, kind="sleepover", occurred_on=date(2026, 7, 1),
            carer_id=b.id, nights="two", notes="", today=TODAY,
        )  # fmt: skip
    assert refused.value.errors == {
        "occurred_on": "The date it happened cannot be in the future",
        "nights": "Enter the number of nights as a whole number, like 2",
        "carer_id": "Choose the satellite household the stay was for",
    }
    with pytest.raises(InvalidInput, match="at least one night"):
        service.record_activity(
            session, manager, constellation.id, kind="short_break", occurred_on=date(2025, 3, 1),
            carer_id=a.id, nights="", notes="", today=TODAY,
        )  # fmt: skip
    assert session.exec(select(m.ConstellationActivity)).all() == []


def test_what_the_hub_home_gave_is_counted(session, settings, org):
    hub, a = carers(session, settings, org, 2)
    constellation = start(session, org, hub)
    supervisor = staff(session, org.supervisor_north)
    service.add_satellite(session, supervisor, constellation.id, carer_id=a.id,
                          joined_on=date(2025, 2, 1), today=TODAY)  # fmt: skip
    for kind, nights, carer_id in (("sleepover", "1", a.id), ("short_break", "3", a.id),
                                   ("meeting", "", None), ("sleepover", "2", a.id)):  # fmt: skip
        service.record_activity(
            session, supervisor, constellation.id, kind=kind, occurred_on=date(2025, 4, 1),
            carer_id=carer_id, nights=nights, notes="Went well", today=TODAY,
        )  # fmt: skip
    view = service.constellation_view(session, supervisor, constellation.id)
    assert view.totals == {
        "sleepover": 2, "sleepover_nights": 3, "short_break": 1, "short_break_nights": 3,
        "meeting": 1,
    }  # fmt: skip
    assert view.short_of_satellites  # one satellite of the six a constellation needs


def test_only_managers_and_admins_start_and_end_and_recruitment_roles_see_nothing(
    session, settings, org
):
    hub, a = carers(session, settings, org, 2)
    for user in (org.supervisor_north, org.officer_north, org.assessor_north):
        with pytest.raises(NotAllowed):
            service.start_constellation(session, staff(session, user), name="X",
                                        hub_carer_id=hub.id, started_on=date(2025, 1, 6),
                                        today=TODAY)  # fmt: skip
    constellation = start(session, org, hub)
    for user in (org.supervisor_north, org.officer_north):
        with pytest.raises(NotAllowed):
            service.end_constellation(session, staff(session, user), constellation.id,
                                      ended_on=TODAY, today=TODAY)  # fmt: skip
    for user in (org.officer_north, org.assessor_north):
        with pytest.raises(NotAllowed):
            service.list_constellations(session, staff(session, user), TODAY)
        with pytest.raises(NotAllowed):
            service.add_satellite(
                session, staff(session, user), constellation.id, carer_id=a.id,
                joined_on=date(2025, 2, 1), today=TODAY,
            )  # fmt: skip
    # A manager of another area only does not see it.
    south_manager = Actor(label="staff:x", user_id=org.manager.id, role=m.Role.MANAGER,
                          area_ids=frozenset({org.south.id}))  # fmt: skip
    assert service.list_constellations(session, south_manager, TODAY) == []
    with pytest.raises(NotAllowed):
        service.constellation_view(session, south_manager, constellation.id)
    assert [r.constellation.id for r in service.list_constellations(
        session, staff(session, org.admin), TODAY)] == [constellation.id]  # fmt: skip


def test_ending_a_constellation_ends_its_memberships(session, settings, org):
    hub, a, b = carers(session, settings, org, 3)
    constellation = start(session, org, hub)
    manager = staff(session, org.manager)
    for carer in (a, b):
        service.add_satellite(session, manager, constellation.id, carer_id=carer.id,
                              joined_on=date(2025, 2, 1), today=TODAY)  # fmt: skip
    service.end_constellation(session, manager, constellation.id, ended_on=date(2026, 5, 1),
                              today=TODAY)  # fmt: skip
    members = session.exec(select(m.ConstellationMember)).all()
    assert {(x.left_on, x.left_reason) for x in members} == {
        (date(2026, 5, 1), "The constellation ended")
    }
    # Free to join another now.
    other = start(session, org, a, name="Northshire Two")
    assert other.hub_carer_id == a.id


def test_a_deregistered_satellite_leaves_its_constellation(session, settings, org):
    hub, a = carers(session, settings, org, 2)
    constellation = start(session, org, hub)
    manager = staff(session, org.manager)
    service.add_satellite(session, manager, constellation.id, carer_id=a.id,
                          joined_on=date(2025, 2, 1), today=TODAY)  # fmt: skip
    reason = session.exec(
        select(m.Reason).where(m.Reason.kind == m.ReasonKind.DEREGISTERED)
    ).first()
    # Notice given more than 28 days ago: the approval ends as it is recorded.
    leaving.give_notice(
        session, manager, a.id, notice_given_on=date(2026, 2, 1), reason_code=reason.code,
        reason_text="Their words" if reason.code == "other" else None,
    )  # fmt: skip
    member = session.exec(select(m.ConstellationMember)).one()
    assert member.left_on is not None
    assert member.left_reason.startswith("The carer deregistered: ")
    assert service.live_satellite_count(session, constellation.id) == 0
