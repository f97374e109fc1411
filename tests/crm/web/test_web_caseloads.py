"""Caseload pages: the team view for managers, one's own, and deactivating someone once their
work has moved (errors shown with the choices kept)."""

from __future__ import annotations

from datetime import timedelta

import crm.models as m
from crm import clock
from crm.services import tasks
from crm.services.actors import Actor
from tests.crm.web.test_web_visits_carers import make_carer


def _south_worker(session, org):
    person = m.StaffUser(
        email="ssw.south@test.example", name="Sam South",
        role=m.Role.SUPERVISING_SOCIAL_WORKER, password_hash="x",
    )  # fmt: skip
    session.add(person)
    session.flush()
    session.add(m.StaffArea(staff_id=person.id, area_id=org.south.id))
    session.commit()
    return person


def test_team_view_and_own_caseload_by_role(client_for, org, make_household, session):
    carer = make_carer(session, make_household, org, first="Cara", last="Giver")
    tasks.create_task(
        session, Actor.system("test"), kind=m.TaskKind.GENERAL, title="Send the training list",
        due_at=clock.now() + timedelta(days=2), carer_id=carer.id,
        owner_id=org.supervisor_north.id,
    )  # fmt: skip
    team = client_for(org.manager).get("/caseloads")
    assert team.status_code == 200
    html = team.get_data(as_text=True)
    assert "Supervisor.North" in html and f'href="/caseloads/{org.supervisor_north.id}"' in html
    worker = client_for(org.supervisor_north)
    own = worker.get("/caseloads")
    assert own.status_code == 302 and own.location.endswith(f"/caseloads/{org.supervisor_north.id}")
    page = worker.get(f"/caseloads/{org.supervisor_north.id}").get_data(as_text=True)
    assert "Cara Giver" in page and "Send the training list" in page
    assert "Deactivate" not in page
    assert worker.get(f"/caseloads/{org.officer_north.id}").status_code == 403
    assert worker.get(f"/caseloads/{org.officer_north.id}/deactivate").status_code == 403
    assert (
        client_for(org.officer_south).get(f"/caseloads/{org.supervisor_north.id}").status_code
        == 403
    )


def test_deactivating_moves_the_work_or_says_why_not(client_for, org, make_household, session):
    carer = make_carer(session, make_household, org, first="Cara", last="Giver")
    south = _south_worker(session, org)
    manager = client_for(org.manager)
    url = f"/caseloads/{org.supervisor_north.id}/deactivate"
    page = manager.get(url).get_data(as_text=True)
    assert "Their 1 carer" in page
    bad = manager.post(url, {"to_all": str(south.id)}, token_from=url)
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "Sam South does not work in Northshire" in html
    # Someone in the area whose role does not do it: refused, and the choice stays chosen.
    wrong = manager.post(url, {"to_all": str(org.officer_north.id)}, token_from=url)
    assert wrong.status_code == 400
    html = wrong.get_data(as_text=True)
    assert "Officer.North does not supervise carers" in html
    assert f'<option value="{org.officer_north.id}" selected>' in html
    session.refresh(carer)
    assert carer.supervising_social_worker_id == org.supervisor_north.id
    ok = manager.post(url, {"to_carers": str(org.manager.id)}, token_from=url)
    assert ok.status_code == 302
    session.expire_all()
    assert session.get(m.Carer, carer.id).supervising_social_worker_id == org.manager.id
    assert not session.get(m.StaffUser, org.supervisor_north.id).active


def test_moving_work_keeps_them_working(client_for, org, make_household, session):
    carer = make_carer(session, make_household, org, first="Cara", last="Giver")
    manager = client_for(org.manager)
    show = manager.get(f"/caseloads/{org.supervisor_north.id}").get_data(as_text=True)
    url = f"/caseloads/{org.supervisor_north.id}/move"
    assert f'href="{url}"' in show
    page = manager.get(url).get_data(as_text=True)
    assert "Move the work of" in page and "stays with them" in page
    wrong = manager.post(url, {"to_carers": str(org.officer_north.id)}, token_from=url)
    assert wrong.status_code == 400
    assert "Officer.North does not supervise carers" in wrong.get_data(as_text=True)
    ok = manager.post(url, {"to_carers": str(org.manager.id)}, token_from=url)
    assert ok.status_code == 302
    session.expire_all()
    assert session.get(m.Carer, carer.id).supervising_social_worker_id == org.manager.id
    assert session.get(m.StaffUser, org.supervisor_north.id).active
