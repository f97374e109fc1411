"""The pages go through the one visibility rule: a member of staff given, by old data, a task
on a family in another area finds no trace of that family anywhere they look; the task form
offers only people who may have the task and refuses any other."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlmodel import select

import crm.models as m
from crm import clock


def _trace_free(html: str, household: m.Household) -> None:
    first = household.applicants[0]
    for text in (household.reference, first.last_name, first.email):
        assert text not in html, text


def test_a_family_in_another_area_leaves_no_trace(client_for, org, make_household, session):
    north = make_household(first="Nell", last="Northwood", email="nell@example.com")
    assert north.area_id == org.north.id
    # Old data: a task and a visit given to a Southshire officer on a Northshire family.
    session.add(
        m.Task(
            kind=m.TaskKind.GENERAL, title="Call back about the spare room",
            household_id=north.id, owner_id=org.officer_south.id, area_id=north.area_id,
            due_at=clock.now() - timedelta(hours=2),
        )
    )  # fmt: skip
    starts = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
    session.add(
        m.Appointment(
            kind=m.AppointmentKind.INITIAL_VISIT, staff_id=org.officer_south.id,
            household_id=north.id, starts_at=starts, ends_at=starts + timedelta(minutes=90),
            booked_by_label="test",
        )
    )  # fmt: skip
    session.commit()
    session.refresh(north)

    c = client_for(org.officer_south)
    pages = {
        "home": c.get("/home"),
        "week": c.get("/visits"),
        "team week": c.get("/visits?staff=team"),
        "households": c.get("/households"),
        "search": c.get("/households?q=Northwood"),
        "search by reference": c.get(f"/households?q={north.reference}"),
        "board": c.get("/pipeline"),
        "export": c.get("/households?format=csv"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        html = response.get_data(as_text=True)
        # The search box shows back what they typed; nothing else may name the family.
        for typed in ("Northwood", north.reference):
            html = html.replace(f'value="{typed}"', "")
        _trace_free(html, north)
    assert "Call back about the spare room" not in pages["home"].get_data(as_text=True)
    # The visit is theirs to go to, so the slot is there, without the family.
    assert re.search(r"10am</strong> Initial visit\s*</span>", pages["week"].get_data(as_text=True))
    assert c.get(f"/households/{north.id}").status_code == 403

    # Someone who may open the record sees it named.
    home = client_for(org.officer_north).get("/visits?staff=team").get_data(as_text=True)
    assert "Nell Northwood" not in home  # not in the north officer's team: Southshire's diary
    manager = client_for(org.manager).get("/visits?staff=team").get_data(as_text=True)
    assert "Nell Northwood" in manager


def test_task_form_offers_and_accepts_only_allowed_owners(client_for, org, make_household, session):
    household = make_household()
    url = f"/households/{household.id}"
    c = client_for(org.officer_north)
    form = c.get(f"{url}/task").get_data(as_text=True)
    offered = set(re.findall(r'<option value="(\d+)"', form))
    assert offered == {str(org.manager.id), str(org.officer_north.id)}
    due = {"due_on": ["20", "3", "2026"]}
    for outsider in (org.officer_south, org.assessor_north, org.supervisor_north):
        refused = c.post(
            f"{url}/task",
            {"title": "Send the forms", "owner_id": str(outsider.id), "priority": "normal", **due},
            token_from=url,
        )
        html = refused.get_data(as_text=True)
        assert refused.status_code == 200, outsider.name
        assert "Choose who will do it from the list" in html
        assert 'value="Send the forms"' in html  # what they typed is kept
    assert session.exec(select(m.Task).where(m.Task.title == "Send the forms")).all() == []
    made = c.post(
        f"{url}/task",
        {"title": "Send the forms", "owner_id": str(org.manager.id), "priority": "normal", **due},
        token_from=url,
    )
    assert made.status_code == 302
    task = session.exec(select(m.Task).where(m.Task.title == "Send the forms")).one()
    assert task.owner_id == org.manager.id


def test_assign_form_offers_only_people_who_may_hold_the_household(client_for, org, make_household):
    household = make_household()
    page = client_for(org.officer_north).get(f"/households/{household.id}/assign")
    offered = set(re.findall(r'<option value="(\d+)"', page.get_data(as_text=True)))
    assert offered == {str(org.manager.id), str(org.officer_north.id), str(org.assessor_north.id)}
