"""The pipeline board: columns, counts, days against target, filters and moves."""

import re
from datetime import timedelta

from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services.actors import Actor
from crm.services.pipeline import move_stage


def column(page: str, stage: str) -> str:
    match = re.search(rf'aria-labelledby="col-{stage}">(.*?)</section>', page, re.S)
    assert match, stage
    return match.group(1)


def test_columns_counts_and_over_target(client_for, org, make_household, session, settings):
    old = make_household(first="Olde", last="Timer")
    clock.advance(timedelta(days=settings.stage_target_days.enquiry + 2))
    make_household(first="Newe", last="Comer")
    moved = make_household(first="Vee", last="Visit")
    move_stage(session, Actor.system("test"), moved.id, m.Stage.INITIAL_VISIT)
    page = client_for(org.manager).get("/pipeline").get_data(as_text=True)
    enquiry = column(page, "enquiry")
    assert '<span class="govuk-tag govuk-tag--grey">2</span>' in enquiry
    assert "1 over" in enquiry
    # The older card comes first and is marked over target.
    assert enquiry.index("Olde Timer") < enquiry.index("Newe Comer")
    card = enquiry[: enquiry.index("Newe Comer")]
    assert "Over target" in card and "app-board__card--over" in card
    assert f"{settings.stage_target_days.enquiry + 2} days of" in card
    visit = column(page, "initial_visit")
    assert "Vee Visit" in visit and "Over target" not in visit
    assert old.id


def test_filters(client_for, org, make_household, session):
    make_household(first="Web", last="Person", source_key="web_search")
    make_household(first="Radio", last="Listener", source_key="radio_tv")
    c = client_for(org.manager)
    page = c.get("/pipeline?source=radio_tv").get_data(as_text=True)
    assert "Radio Listener" in page and "Web Person" not in page
    page = c.get(f"/pipeline?area={org.south.id}").get_data(as_text=True)
    assert "Radio Listener" not in page
    page = c.get(f"/pipeline?officer={org.officer_north.id}").get_data(as_text=True)
    assert "Radio Listener" in page and "Web Person" in page


def test_move_forward_from_the_board(client_for, org, make_household, session):
    household = make_household()
    c = client_for(org.officer_north)
    response = c.post(
        "/pipeline/move",
        {"household_id": household.id, "to_stage": "initial_visit"},
        token_from="/pipeline",
    )
    assert response.status_code == 302
    session.refresh(household)
    assert household.stage == m.Stage.INITIAL_VISIT
    event = session.exec(
        select(m.StageEvent).where(m.StageEvent.to_stage == m.Stage.INITIAL_VISIT)
    ).one()
    assert event.actor_id == org.officer_north.id


def test_move_needing_a_reason_goes_to_the_move_page(client_for, org, make_household, session):
    household = make_household()
    c = client_for(org.officer_north)
    response = c.post(
        "/pipeline/move",
        {"household_id": household.id, "to_stage": "withdrawn"},
        token_from="/pipeline",
    )
    assert response.status_code == 302
    move_url = response.headers["Location"]
    assert f"/households/{household.id}/move?to=withdrawn" in move_url
    session.refresh(household)
    assert household.stage == m.Stage.ENQUIRY
    page = c.get(move_url).get_data(as_text=True)
    # The withdrawn reasons show under Withdrawn, which is chosen.
    assert re.search(r'value="withdrawn" checked', page)
    assert "Not the right time" in page
    # Without a reason the service refuses and nothing changes.
    refused = c.post(move_url, {"to_stage": "withdrawn"}, token_from=move_url)
    assert "Choose a reason for moving to withdrawn" in refused.get_data(as_text=True)
    session.refresh(household)
    assert household.stage == m.Stage.ENQUIRY
    done = c.post(
        move_url,
        {"to_stage": "withdrawn", "reason_withdrawn": "timing", "reason_text": "Maybe next year"},
        token_from=move_url,
    )
    assert done.status_code == 302
    assert done.headers["Location"].startswith("/pipeline")
    session.refresh(household)
    assert household.stage == m.Stage.WITHDRAWN


def test_only_allowed_moves_are_offered(client_for, org, make_household, session):
    household = make_household()
    move_stage(session, Actor.system("test"), household.id, m.Stage.STAGE_ONE)
    page = client_for(org.manager).get("/pipeline").get_data(as_text=True)
    card = column(page, "stage_one")
    options = re.findall(r'<option value="([a-z_]+)">', card)
    assert "stage_two" in options and "withdrawn" in options
    # Going back is a reopen (move page only); deregistration is for approved carers.
    assert "enquiry" not in options and "deregistered" not in options


def test_connected_persons_are_marked_counted_apart_and_filtered(
    client_for, org, make_household, session, settings
):
    make_household(first="Main", last="Stream")
    kin = make_household(first="Kin", last="Ship")
    kin.is_kinship = True
    session.add(kin)
    session.commit()
    c = client_for(org.manager)
    enquiry = column(c.get("/pipeline").get_data(as_text=True), "enquiry")
    # Both in the column, the connected person marked and counted apart.
    assert '<span class="govuk-tag govuk-tag--grey">2</span>' in enquiry
    assert "Of these, 1 connected person" in enquiry
    card = enquiry[enquiry.index("Kin Ship") :]
    assert "Connected person</strong>" in card
    assert "Connected person</strong>" not in enquiry[: enquiry.index("Kin Ship")]
    only_kin = column(c.get("/pipeline?pathway=kinship").get_data(as_text=True), "enquiry")
    assert "Kin Ship" in only_kin and "Main Stream" not in only_kin
    assert '<span class="govuk-tag govuk-tag--grey">1</span>' in only_kin
    mainstream = column(c.get("/pipeline?pathway=mainstream").get_data(as_text=True), "enquiry")
    assert "Main Stream" in mainstream and "Kin Ship" not in mainstream
    assert "connected person" not in mainstream
    # A made-up pathway is no filter.
    assert "Kin Ship" in column(c.get("/pipeline?pathway=x").get_data(as_text=True), "enquiry")
    listing = c.get("/households?pathway=kinship").get_data(as_text=True)
    assert "Kin Ship" in listing and "Main Stream" not in listing


def test_the_board_service_counts_connected_persons_per_column(
    session, org, make_household, settings
):
    from crm.services import households

    for first in ("Ada", "Bob", "Cy"):
        make_household(first=first, last="Kinson")
    for household in session.exec(select(m.Household)).all()[:2]:
        household.is_kinship = True
        session.add(household)
    session.commit()
    actor = Actor.for_staff(session, org.manager)
    by_stage = {col.stage: col for col in households.board(session, actor, settings)}
    assert (by_stage[m.Stage.ENQUIRY].count, by_stage[m.Stage.ENQUIRY].kinship) == (3, 2)
    kin = {col.stage: col for col in households.board(session, actor, settings, pathway="kinship")}
    assert (kin[m.Stage.ENQUIRY].count, kin[m.Stage.ENQUIRY].kinship) == (2, 2)
    main = households.board(session, actor, settings, pathway="mainstream")
    assert sum(col.count for col in main) == 1 and sum(col.kinship for col in main) == 0
