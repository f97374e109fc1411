"""The web CRM's cache of weekly reports: one entry per week and per set of areas a reader may
see, so a one-area manager is never handed the whole hub's or another area's report; a new
entry as soon as the data changes; and the charts drawn only when their image is asked for."""

from __future__ import annotations

import re

import pytest

import crm.models as m
from crm.services.actors import Actor
from crm.services.staff import create_staff_user
from crm.testing.fixtures import TEST_PASSWORD
from crm.web import create_app
from tests.funnel.helpers import at, make_history

SECRET = "funnel-cache-test-secret-0123456789"
_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
PAGE = "/reports/weekly/2026-W10"
STALLED_MOVES = [
    (at("2025-06-20"), "initial_visit", None),
    (at("2025-07-01"), "application", None),
    (at("2025-08-01"), "stage_one", None),
]


@pytest.fixture
def cases(settings, org, session):
    north = make_history(
        session, settings, first_name="Uma", enquired_at=at("2025-06-02"), moves=STALLED_MOVES
    )
    south = make_history(
        session, settings, first_name="Vic", enquired_at=at("2025-06-03"), postcode="NG1 1AA",
        moves=STALLED_MOVES,
    )  # fmt: skip
    make_history(session, settings, first_name="Pat", enquired_at=at("2026-03-03"))
    areas = [session.get(m.Area, h.area_id) for h in (north, south)]
    assert [a.name for a in areas] == ["Northshire", "Southshire"]
    return {"north": north.reference, "south": south.reference, "south_id": areas[1].id}


@pytest.fixture
def app(settings, engine, cases):
    app = create_app(settings, engine=engine, secret_key=SECRET)
    app.config["TESTING"] = True
    return app


def signed_in(app, email: str):
    client = app.test_client()
    token = _TOKEN.search(client.get("/sign-in").get_data(as_text=True)).group(1)
    response = client.post(
        "/sign-in", data={"email": email, "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def south_manager(session):
    return create_staff_user(
        session, Actor.system("test"), email="south.manager@test.example", name="South Manager",
        role="manager", password=TEST_PASSWORD, area_names=["Southshire"],
    )  # fmt: skip


def cached_keys(app) -> list[tuple]:
    return sorted(app.extensions.get("funnel_reports", {}), key=str)


@pytest.mark.parametrize("hub_first", [True, False])
def test_a_one_area_manager_never_gets_another_areas_report(app, org, session, cases, hub_first):
    south = south_manager(session)
    hub, one_area = signed_in(app, org.manager.email), signed_in(app, south.email)
    order = [(hub, "hub"), (one_area, "south")]
    seen = {}
    for client, who in order if hub_first else order[::-1]:
        seen[who] = client.get(PAGE).get_data(as_text=True)
        seen[f"{who}.csv"] = client.get(f"{PAGE}.csv").get_data(as_text=True)
    # Again, now that both reports are in the cache.
    seen["south again"] = one_area.get(PAGE).get_data(as_text=True)
    seen["south again.csv"] = one_area.get(f"{PAGE}.csv").get_data(as_text=True)
    for name in ("south", "south.csv", "south again", "south again.csv"):
        assert cases["south"] in seen[name], name
        assert cases["north"] not in seen[name], name
        assert "Northshire" not in seen[name], name
    for name in ("hub", "hub.csv"):
        assert cases["south"] in seen[name] and cases["north"] in seen[name], name
    # Two entries: the hub's (None) and Southshire's, never shared.
    assert sorted((key[1] for key in cached_keys(app)), key=str) == [(cases["south_id"],), None]


def test_a_change_in_the_data_is_a_new_report(app, org, session, settings):
    client = signed_in(app, org.manager.email)
    assert "1 enquiry this week" in client.get(PAGE).get_data(as_text=True)
    (first,) = cached_keys(app)
    assert "1 enquiry this week" in client.get(PAGE).get_data(as_text=True)
    assert cached_keys(app) == [first]  # served from the cache
    make_history(session, settings, first_name="Quin", enquired_at=at("2026-03-05"))
    assert "2 enquiries this week" in client.get(PAGE).get_data(as_text=True)
    (second,) = cached_keys(app)  # the old entry is dropped
    assert second[:2] == first[:2] and second[2] != first[2]


def test_the_page_draws_no_chart_and_each_image_draws_its_own(app, org):
    client = signed_in(app, org.manager.email)
    assert client.get(PAGE).status_code == 200
    ((_expires, report),) = app.extensions["funnel_reports"].values()
    assert report.charts and not any(chart.drawn for chart in report.charts)
    image = client.get(f"{PAGE}/funnel.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    assert [chart.name for chart in report.charts if chart.drawn] == ["funnel"]
    assert client.get(f"{PAGE}/funnel.png").data == image.data
