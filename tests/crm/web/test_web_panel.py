"""The panel pages: thin routes over crm.services.panel; forms keep what was typed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services import panel
from crm.services.actors import Actor
from crm.services.pipeline import move_stage
from crm.services.staff import hash_password
from crm.testing.fixtures import TEST_PASSWORD, new_household

SYSTEM = Actor.system("test")
PANEL_DAY = date(2026, 3, 24)


@pytest.fixture
def decider(session, org) -> m.StaffUser:
    user = m.StaffUser(
        email="decider@test.example", name="Dee Cider", role=m.Role.DECISION_MAKER,
        password_hash=hash_password(TEST_PASSWORD),
    )  # fmt: skip
    session.add(user)
    session.flush()
    session.add(m.StaffArea(staff_id=user.id, area_id=org.north.id))
    session.commit()
    return user


@pytest.fixture
def household(session, settings, org) -> m.Household:
    household = new_household(session, settings)
    for stage in ("initial_visit", "application", "stage_one", "stage_two"):
        clock.advance(timedelta(minutes=5))
        move_stage(session, SYSTEM, household.id, stage)
    session.refresh(household)
    return household


def test_a_meeting_form_with_mistakes_keeps_what_was_typed(client_for, org, session):
    manager = client_for(org.manager)
    response = manager.post(
        "/panel/meetings/new",
        {"meets_on": ["24", "3", "2026"], "chair": "Pat Chair", "capacity": "many"},
        token_from="/panel/meetings/new",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert "must be a whole number" in page
    assert 'value="Pat Chair"' in page and 'value="many"' in page
    assert session.exec(select(m.PanelMeeting)).first() is None
    response = manager.post(
        "/panel/meetings/new",
        {"meets_on": ["24", "3", "2026"], "chair": "Pat Chair", "capacity": "3"},
        token_from="/panel/meetings/new",
    )
    assert response.status_code == 302
    assert session.exec(select(m.PanelMeeting)).one().capacity == 3


def test_listing_from_the_household_page(client_for, org, session, settings, household):
    made = panel.create_meeting(
        session, SYSTEM, settings, meets_on=PANEL_DAY, chair="Pat Chair", capacity=2
    )
    manager = client_for(org.manager)
    page = manager.get(f"/households/{household.id}").get_data(as_text=True)
    assert "8-month timescale" in page and "List for panel" in page
    url = f"/panel/households/{household.id}/list"
    response = manager.post(url, {"meeting_id": str(made.id)}, token_from=url)
    assert response.status_code == 302
    session.refresh(household)
    assert household.stage == m.Stage.PANEL
    page = manager.get(f"/panel/meetings/{made.id}").get_data(as_text=True)
    assert household.display_name in page and "Papers sent" in page


def test_the_decision_form_re_renders_with_errors_and_approves(
    client_for, org, session, settings, household, decider
):
    made = panel.create_meeting(
        session, SYSTEM, settings, meets_on=PANEL_DAY, chair="Pat Chair", capacity=2
    )
    listing = panel.list_household(session, SYSTEM, settings, made.id, household.id)
    clock.set_now(clock.now().replace(day=24, hour=16))
    panel.record_recommendation(
        session, SYSTEM, settings, listing.id, recommendation="approve",
        terms=panel.TermsInput(places="2", age_min="0", age_max="4",
                               fostering_types=["short_term"]),
    )  # fmt: skip
    dm = client_for(decider)
    url = f"/panel/listings/{listing.id}/decision"
    page = dm.get(url).get_data(as_text=True)
    assert 'value="2"' in page  # the recommended terms, to confirm
    response = dm.post(
        url,
        {"decision": "approved", "places": "2", "age_min": "9", "age_max": "4",
         "fostering_types": ["short_term"], "supervising_social_worker_id": ""},
        token_from=url,
    )  # fmt: skip
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The oldest age must be" in page and "Choose the supervising social worker" in page
    assert 'value="9"' in page
    session.refresh(household)
    assert household.stage == m.Stage.PANEL
    response = dm.post(
        url,
        {"decision": "approved", "places": "2", "age_min": "0", "age_max": "4",
         "fostering_types": ["short_term"],
         "supervising_social_worker_id": str(org.supervisor_north.id)},
        token_from=url,
    )  # fmt: skip
    assert response.status_code == 302
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    assert (carer.places, carer.age_max, carer.supervising_social_worker_id) == (
        2, 4, org.supervisor_north.id,
    )  # fmt: skip


@pytest.mark.parametrize("who", ["officer_north", "assessor_north", "supervisor_north"])
def test_the_panel_pages_are_refused_to_other_roles(client_for, org, who):
    c = client_for(getattr(org, who))
    assert c.get("/panel").status_code == 403
    assert c.get("/panel/meetings/new").status_code == 403


def test_the_generic_move_page_never_offers_approved(client_for, org, session, household):
    move_stage(session, SYSTEM, household.id, "panel")
    manager = client_for(org.manager)
    page = manager.get(f"/households/{household.id}/move").get_data(as_text=True)
    assert 'value="approved"' not in page
    url = f"/households/{household.id}/move"
    response = manager.post(url, {"to_stage": "approved"}, token_from=url)
    assert response.status_code in (200, 403)
    session.refresh(household)
    assert household.stage == m.Stage.PANEL
    board = manager.post(
        "/pipeline/move", {"household_id": str(household.id), "to_stage": "approved"},
        token_from="/pipeline",
    )  # fmt: skip
    assert board.status_code in (302, 403)
    session.refresh(household)
    assert household.stage == m.Stage.PANEL
