"""The task page: linked from the home page, the household and the carer; closing with an
outcome and reassigning, with errors shown and what was typed kept."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services import tasks
from crm.services.actors import Actor
from tests.crm.web.test_web_visits_carers import make_carer

SYSTEM = Actor.system("test")


def test_a_carer_task_is_opened_from_home_and_the_carer_page_and_closed(
    client_for, org, make_household, session
):
    carer = make_carer(session, make_household, org, first="Cara", last="Giver")
    task = tasks.create_task(
        session, SYSTEM, kind=m.TaskKind.CHECK_IN_FOLLOW_UP,
        title="Call the carer: they asked for a call", priority=m.TaskPriority.URGENT,
        due_at=clock.now() - timedelta(minutes=5), carer_id=carer.id,
        owner_id=org.supervisor_north.id,
    )  # fmt: skip
    c = client_for(org.supervisor_north)
    link = f'href="/tasks/{task.id}"'
    assert link in c.get("/home").get_data(as_text=True)
    assert link in c.get(f"/carers/{carer.id}").get_data(as_text=True)
    page = c.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "Call the carer: they asked for a call" in page and "Cara Giver (carer)" in page
    url = f"/tasks/{task.id}"
    empty = c.post(f"{url}/close", {"outcome": "  "}, token_from=url)
    assert empty.status_code == 400
    assert "Say what came of it" in empty.get_data(as_text=True)
    session.refresh(task)
    assert task.done_at is None
    done = c.post(f"{url}/close", {"outcome": "Called; all well"}, token_from=url)
    assert done.status_code == 302
    session.refresh(task)
    assert task.done_at is not None and task.outcome == "Called; all well"
    closed = c.get(url).get_data(as_text=True)
    assert "Called; all well" in closed and "Close the task" not in closed


def test_a_household_task_is_refused_to_others_and_reassignment_keeps_the_choice(
    client_for, org, make_household, session
):
    household = make_household(first="Hal", last="Holds")
    task = tasks.create_task(
        session, SYSTEM, kind=m.TaskKind.GENERAL, title="Send the pack",
        due_at=clock.now() + timedelta(days=1), household_id=household.id,
        owner_id=org.officer_north.id,
    )  # fmt: skip
    url = f"/tasks/{task.id}"
    assert f'href="{url}"' in client_for(org.officer_north).get(
        f"/households/{household.id}"
    ).get_data(as_text=True)
    assert client_for(org.officer_south).get(url).status_code == 403
    assert client_for(org.supervisor_north).get(url).status_code == 403
    assessor = client_for(org.assessor_north)
    assert assessor.get(url).status_code == 403  # an enquiry is not theirs to open
    manager = client_for(org.manager)
    page = manager.get(url).get_data(as_text=True)
    assert "Pass it to someone else" in page
    # Someone outside the area, typed in by hand: refused with the reason, the choice kept.
    bad = manager.post(f"{url}/reassign", {"owner_id": str(org.officer_south.id)}, token_from=url)
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "Officer.South does not work in this household&#39;s area" in html
    session.refresh(task)
    assert task.owner_id == org.officer_north.id
    ok = manager.post(f"{url}/reassign", {"owner_id": str(org.manager.id)}, token_from=url)
    assert ok.status_code == 302
    session.refresh(task)
    assert task.owner_id == org.manager.id
    # The former owner now sees it without the forms.
    former = client_for(org.officer_north).get(url).get_data(as_text=True)
    assert "Close the task" not in former and "Only Manager" in former
    refused = client_for(org.officer_north).post(
        f"{url}/close", {"outcome": "Sent"}, token_from=url
    )
    assert refused.status_code == 403
    assert session.exec(select(m.Task.done_at).where(m.Task.id == task.id)).one() is None
