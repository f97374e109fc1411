"""The keeping-carers pages: placements, supervision visits, reviews, training, matching, the
overdue list and utilisation (the rules are tested in tests/crm/keeping)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

import crm.models as m
from tests.crm.keeping.helpers import approved_carer, place


@pytest.fixture
def carer(session, settings, org):
    return approved_carer(session, settings, org, name="Cara", places=1, ages=(0, 12))


def test_placement_beyond_capacity_keeps_what_was_typed(client_for, session, org, carer):
    place(session, carer, "CH-1")
    c = client_for(org.supervisor_north)
    url = f"/carers/{carer.id}/placements/new"
    data = {
        "child_reference": "CH-2", "placing_authority": "Southshire",
        "fostering_type": "long_term", "emergency": "emergency", "child_age": "7",
        "started_on": ["2", "3", "2026"],
    }  # fmt: skip
    refused = c.post(url, data, token_from=url)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "outside the approval terms" in html and "govuk-error-summary" in html
    assert 'value="CH-2"' in html and 'value="Southshire"' in html
    saved = select(m.Placement).where(m.Placement.child_reference == "CH-2")
    assert session.exec(saved).first() is None
    # The manager agrees the exemption.
    manager = client_for(org.manager)
    done = manager.post(url, {**data, "exemption_reason": "Brothers together"}, token_from=url)
    assert done.status_code == 302
    page = manager.get(f"/carers/{carer.id}").get_data(as_text=True)
    assert "CH-2" in page and "Brothers together" in page and "(emergency)" in page


def test_end_and_move_a_placement(client_for, session, settings, org, carer):
    placement = place(session, carer, "CH-1", on=date(2026, 2, 1))
    other = approved_carer(session, settings, org, name="Other", places=2)
    c = client_for(org.supervisor_north)
    move = f"/carers/placements/{placement.id}/move"
    assert "Other Household" in c.get(move).get_data(as_text=True)
    early = c.post(
        move, {"to_carer_id": str(other.id), "moved_on": ["1", "1", "2026"], "ending": "planned",
               "end_reason": "Long-term match"}, token_from=move,
    )  # fmt: skip
    assert early.status_code == 400
    assert "The move cannot be before it started" in early.get_data(as_text=True)
    moved = c.post(
        move, {"to_carer_id": str(other.id), "moved_on": ["3", "3", "2026"], "ending": "planned",
               "end_reason": "Long-term match"}, token_from=move,
    )  # fmt: skip
    assert moved.status_code == 302
    new = session.exec(select(m.Placement).where(m.Placement.carer_id == other.id)).one()
    end = f"/carers/placements/{new.id}/end"
    before = c.post(
        end, {"ended_on": ["1", "3", "2026"], "ending": "unplanned", "end_reason": "x"},
        token_from=end,
    )  # fmt: skip
    assert "cannot end before it started" in before.get_data(as_text=True)
    ok = c.post(
        end, {"ended_on": ["9", "3", "2026"], "ending": "unplanned", "end_reason": "Returned home"},
        token_from=end,
    )  # fmt: skip
    assert ok.status_code == 302
    session.refresh(new)
    assert new.ended_on == date(2026, 3, 9)


def test_visit_review_and_training_pages(client_for, session, org, carer):
    c = client_for(org.supervisor_north)
    url = f"/carers/{carer.id}/supervision-visits/new"
    assert c.post(
        url, {"visited_on": ["9", "3", "2026"], "kind": "unannounced", "notes": "Calm home",
              "carer_raised": "Needs a bigger car", "actions": "Ask about a car grant\n"},
        token_from=url,
    ).status_code == 302  # fmt: skip
    task = session.exec(select(m.Task).where(m.Task.carer_id == carer.id)).one()
    assert task.title == "Ask about a car grant" and task.owner_id == org.supervisor_north.id
    url = f"/carers/{carer.id}/reviews/new"
    form = c.get(url).get_data(as_text=True)
    assert 'name="places" type="text" value="1"' in form
    early = c.post(
        url, {"reviewed_on": ["1", "1", "2020"], "outcome": "approval_continues", "places": "2",
              "age_min": "0", "age_max": "12", "fostering_types": ["short_term"]}, token_from=url,
    )  # fmt: skip
    assert "before the carer was approved" in early.get_data(as_text=True)
    assert 'name="places" type="text" value="2"' in early.get_data(as_text=True)
    done = c.post(
        url, {"reviewed_on": ["2", "3", "2026"], "outcome": "approval_continues", "places": "2",
              "age_min": "0", "age_max": "12", "fostering_types": ["short_term", "long_term"]},
        token_from=url,
    )  # fmt: skip
    assert done.status_code == 302
    session.refresh(carer)
    assert carer.places == 2
    url = f"/carers/{carer.id}/training/new"
    assert c.post(
        url, {"course": "Safer caring", "completed_on": ["5", "3", "2026"], "hours": "3",
              "completes_tsd": "y"}, token_from=url,
    ).status_code == 302  # fmt: skip
    page = c.get(f"/carers/{carer.id}").get_data(as_text=True)
    for text in ("Calm home", "Needs a bigger car", "Goes to panel", "Changed: 2 places",
                 "Safer caring", "TSD standards completed"):  # fmt: skip
        assert text in page, text


def test_matching_overdue_and_utilisation_pages(client_for, session, settings, org, carer):
    c = client_for(org.manager)
    found = c.get("/matching?ages=6%2C+9&postcode=LE1&fostering_type=").get_data(as_text=True)
    assert "Cara Household" not in found  # one place only
    found = c.get("/matching?ages=6&postcode=LE1").get_data(as_text=True)
    assert "Cara Household" in found and "Same postcode district" in found
    bad = c.get("/matching?ages=six&postcode=LE1")
    assert bad.status_code == 400 and 'value="six"' in bad.get_data(as_text=True)
    overdue = c.get("/carers/supervision-overdue").get_data(as_text=True)
    assert "Cara Household" in overdue
    assert "All areas" in c.get("/carers/utilisation").get_data(as_text=True)
    assert "Places filled today" in c.get("/carers").get_data(as_text=True)


@pytest.mark.parametrize("who", ["officer_north", "assessor_north"])
def test_recruitment_roles_are_refused(client_for, session, org, carer, who):
    placement = place(session, carer, "CH-1")
    c = client_for(getattr(org, who))
    for url in (
        f"/carers/{carer.id}/placements/new", f"/carers/placements/{placement.id}/end",
        f"/carers/placements/{placement.id}/move", f"/carers/{carer.id}/supervision-visits/new",
        f"/carers/{carer.id}/reviews/new", f"/carers/{carer.id}/training/new",
        "/carers/supervision-overdue", "/carers/utilisation", "/matching?ages=6&postcode=LE1",
    ):  # fmt: skip
        assert c.get(url).status_code == 403, url
