"""Mockingbird pages: a manager starts a constellation, a supervising social worker adds a
satellite and records a sleepover; bad input keeps what was typed; other roles are refused."""

from __future__ import annotations

import re
from datetime import date

from sqlmodel import select

import crm.models as m
from crm.services.actors import Actor
from crm.services.pipeline import move_stage


def approved(session, make_household, first: str) -> m.Carer:
    household = make_household(first=first, last="Home")
    move_stage(session, Actor.system("test"), household.id, m.Stage.APPROVED)
    carer = session.exec(select(m.Carer).where(m.Carer.household_id == household.id)).one()
    carer.approved_on = date(2024, 1, 15)
    session.add(carer)
    session.commit()
    return carer


def day(prefix: str, d: date) -> dict[str, list[str]]:
    """A GOV.UK date input's three boxes, as a browser posts them."""
    return {prefix: [str(d.day), str(d.month), str(d.year)]}


def test_start_add_and_record_through_the_pages(client_for, org, session, make_household):
    hub = approved(session, make_household, "Hubert")
    satellite = approved(session, make_household, "Sally")
    manager = client_for(org.manager)
    started = manager.post(
        "/mockingbird/new",
        {
            "name": "Northshire <One>",
            "hub_carer_id": str(hub.id),
            **day("started_on", date(2025, 1, 6)),
        },
        token_from="/mockingbird/new",
    )
    assert started.status_code == 302, started.get_data(as_text=True)[:300]
    url = started.headers["Location"]
    supervisor = client_for(org.supervisor_north)
    page = supervisor.get(url).get_data(as_text=True)
    assert "Northshire &lt;One&gt;" in page and "<One>" not in page
    added = supervisor.post(
        f"{url}/satellites",
        {"carer_id": str(satellite.id), **day("joined_on", date(2025, 2, 1))},
        token_from=f"{url}/satellites",
    )
    assert added.status_code == 302
    # A sleepover with no nights: the form comes back with the message and what was typed.
    bad = supervisor.post(
        f"{url}/activities",
        {"kind": "sleepover", "carer_id": str(satellite.id), "nights": "",
         "notes": "Tea and <b>films</b>", **day("occurred_on", date(2025, 3, 1))},
        token_from=f"{url}/activities",
    )  # fmt: skip
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "A sleepover or short break is at least one night" in text
    assert "Tea and &lt;b&gt;films&lt;/b&gt;" in text
    good = supervisor.post(
        f"{url}/activities",
        {"kind": "sleepover", "carer_id": str(satellite.id), "nights": "2",
         "notes": "Tea and <b>films</b>", **day("occurred_on", date(2025, 3, 1))},
        token_from=f"{url}/activities",
    )  # fmt: skip
    assert good.status_code == 302
    page = supervisor.get(url).get_data(as_text=True)
    assert "Sleepovers: 1 (2 nights)" in page
    assert "Tea and &lt;b&gt;films&lt;/b&gt;" in page
    index = manager.get("/mockingbird").get_data(as_text=True)
    assert re.search(r"Northshire &lt;One&gt;</a>", index)
    assert "In a constellation" in index and "Not in a constellation" in index


def test_other_roles_are_refused(client_for, org, session, make_household):
    for user in (org.officer_north, org.assessor_north):
        assert client_for(user).get("/mockingbird").status_code == 403
    # Supervising social workers support constellations but do not start them.
    assert client_for(org.supervisor_north).get("/mockingbird/new").status_code == 403
    assert client_for(org.supervisor_north).get("/mockingbird").status_code == 200
