"""Each role reaches what it should and gets the 403 page everywhere else (routes x roles)."""

import pytest
from sqlmodel import select

import crm.models as m
from crm.services.actors import Actor
from crm.services.carers import assign_supervisor
from crm.services.pipeline import move_stage

USERS = ["admin", "manager", "officer_north", "officer_south", "assessor_north", "supervisor_north"]
ALL = set(USERS)
RECRUITMENT = {"admin", "manager", "officer_north", "officer_south", "assessor_north"}
CARERS = {"admin", "manager", "supervisor_north"}
OVERSIGHT = {"admin", "manager"}
NORTH_ENQUIRY = {"admin", "manager", "officer_north"}

# (url template, who may open it). {north}/{south}/{assessing}: households; {carer}: a carer.
ROUTES = [
    ("/home", ALL),
    ("/pipeline", RECRUITMENT),
    ("/households", RECRUITMENT),
    ("/households/new", RECRUITMENT),
    ("/households/{north}", NORTH_ENQUIRY),
    ("/households/{north}/note", NORTH_ENQUIRY),
    ("/households/{north}/call", NORTH_ENQUIRY),
    ("/households/{north}/move", NORTH_ENQUIRY),
    ("/households/{north}/visits/book", NORTH_ENQUIRY),
    ("/households/{north}/task", NORTH_ENQUIRY),
    ("/households/{north}/assign", NORTH_ENQUIRY),
    ("/households/{north}/details", NORTH_ENQUIRY),
    ("/households/{north}/consent", NORTH_ENQUIRY),
    ("/households/{south}", {"admin", "manager", "officer_south"}),
    # In assessment: the assessing social worker of the area sees it too.
    ("/households/{assessing}", {"admin", "manager", "officer_north", "assessor_north"}),
    ("/households/{north}/subject-access.zip", OVERSIGHT),
    ("/households/{north}/erase", OVERSIGHT),
    ("/carers", CARERS),
    ("/carers/{carer}", CARERS),
    ("/carers/{carer}/at-risk", CARERS),
    ("/carers/{carer}/break", CARERS),
    ("/carers/{carer}/break/end", CARERS),
    ("/carers/{carer}/notice", CARERS),
    ("/carers/{carer}/exit-conversation", CARERS),
    ("/carers/{carer}/notice/withdraw", CARERS),
    ("/carers/{carer}/supervisor", OVERSIGHT),
    ("/visits", ALL),
    ("/visits/availability/{officer_north_id}", {"admin", "manager", "officer_north"}),
    ("/audit", OVERSIGHT),
    ("/admin", {"admin"}),
    ("/admin/users", {"admin"}),
    ("/admin/users/{officer_north_id}", {"admin"}),
    ("/admin/areas", {"admin"}),
    ("/admin/reasons", {"admin"}),
    ("/admin/sources", {"admin"}),
    ("/admin/campaigns", {"admin"}),
    ("/admin/messages", {"admin"}),
]


@pytest.fixture
def world(org, session, make_household):
    north = make_household("LE1 6ZG", "Nora", "North")
    south = make_household("NG1 1AA", "Sol", "South")
    assessing = make_household("LE2 1AA", "Asha", "Assess")
    system = Actor.system("test")
    move_stage(session, system, assessing.id, m.Stage.STAGE_ONE)
    approved = make_household("LE3 1AA", "Carrie", "Carer")
    move_stage(session, system, approved.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == approved.id)).one()
    assign_supervisor(session, system, carer.id, org.supervisor_north.id)
    return {
        "north": north.id,
        "south": south.id,
        "assessing": assessing.id,
        "carer": carer.id,
        "officer_north_id": org.officer_north.id,
    }


def test_every_role_reaches_only_what_it_should(world, org, client_for):
    clients = {name: client_for(getattr(org, name)) for name in USERS}
    problems = []
    for template, allowed in ROUTES:
        url = template.format(**world)
        for name, c in clients.items():
            response = c.get(url)
            expected = 200 if name in allowed else 403
            if response.status_code != expected:
                problems.append((url, name, response.status_code, expected))
            if expected == 403 and "You do not have access" not in response.get_data(as_text=True):
                problems.append((url, name, "no 403 page"))
    assert problems == []


def test_navigation_shows_only_reachable_sections(world, org, client_for):
    officer = client_for(org.officer_north).get("/home").get_data(as_text=True)
    assert 'href="/pipeline"' in officer and 'href="/audit"' not in officer
    assert 'href="/carers"' not in officer and 'href="/admin"' not in officer
    supervisor = client_for(org.supervisor_north).get("/home").get_data(as_text=True)
    assert 'href="/carers"' in supervisor and 'href="/pipeline"' not in supervisor


def test_actions_on_another_areas_household_are_refused(world, org, client_for, session):
    c = client_for(org.officer_south)
    for url, data in [
        (f"/households/{world['north']}/note", {"summary": "Sneaky note"}),
        (f"/households/{world['north']}/move", {"to_stage": "initial_visit"}),
        ("/pipeline/move", {"household_id": world["north"], "to_stage": "initial_visit"}),
    ]:
        response = c.post(url, data, token_from="/home")
        assert response.status_code == 403, url
    household = session.get(m.Household, world["north"])
    session.refresh(household)
    assert household.stage == m.Stage.ENQUIRY
    notes = session.exec(select(m.Activity).where(m.Activity.household_id == world["north"]))
    assert notes.all() == []


def test_lists_only_show_the_actors_households(world, org, client_for):
    north_page = client_for(org.officer_north).get("/households").get_data(as_text=True)
    assert "Nora North" in north_page and "Sol South" not in north_page
    assessor = client_for(org.assessor_north).get("/households").get_data(as_text=True)
    assert "Asha Assess" in assessor and "Nora North" not in assessor
    board = client_for(org.officer_south).get("/pipeline").get_data(as_text=True)
    assert "Sol South" in board and "Nora North" not in board


def test_supervisor_sees_only_their_carers(world, org, client_for, session, make_household):
    other = make_household("LE1 2AB", "Olive", "Other")
    move_stage(session, Actor.system("test"), other.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == other.id)).one()
    # Supervised by someone else (the manager), so not visible to the supervisor.
    assign_supervisor(session, Actor.system("test"), carer.id, org.manager.id)
    page = client_for(org.supervisor_north).get("/carers").get_data(as_text=True)
    assert "Carrie Carer" in page and "Olive Other" not in page
    assert client_for(org.supervisor_north).get(f"/carers/{carer.id}").status_code == 403


def test_carer_actions_are_refused_to_recruitment_roles(world, org, client_for, session):
    for user in (org.officer_north, org.assessor_north):
        c = client_for(user)
        for url, data in [
            (
                f"/carers/{world['carer']}/break",
                {
                    "started_on": ["9", "3", "2026"],
                    "reason": "x",
                    "expected_end_on": ["9", "4", "2026"],
                },
            ),  # fmt: skip
            (
                f"/carers/{world['carer']}/supervision-visits/new",
                {"visited_on": ["9", "3", "2026"], "kind": "announced", "notes": "x"},
            ),
            (f"/carers/{world['carer']}/at-risk", {"at_risk": "yes", "reason": "x"}),
        ]:
            assert c.post(url, data, token_from="/home").status_code == 403, (user.email, url)
    carer = session.get(m.Carer, world["carer"])
    session.refresh(carer)
    assert (carer.status, carer.at_risk, carer.last_supervision_at) == ("active", False, None)
