"""Text from outside is cleaned once, for every request, before any route or rule sees it
(crm.web.CleanRequest, crm.text): NUL and control characters never reach the database, where
PostgreSQL would refuse them with a server error."""

from __future__ import annotations

from flask import jsonify, request
from sqlmodel import func, select

import crm.models as m
from crm import clock
from crm.services.checkins import make_answer_token
from crm.web import create_app
from tests.crm.scheduler.helpers import SECRET, make_carer
from tests.crm.web.conftest import Client
from tests.crm.web.test_web_public import GOOD


def count(session, model) -> int:  # noqa: ANN001
    return session.exec(select(func.count()).select_from(model)).one()


def test_a_nul_byte_in_the_enquiry_form_is_dropped_not_a_server_error(client, session, org):
    data = {
        **GOOD,
        "first_name": "Pri\x00ya\x07",
        "last_name": "Sh\x1bah",
        "email": "priya.shah\x00@example.com",
        "more": "We have a spare\x00 room.\r\nSince June.",
    }
    response = client.post("/enquire", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    household = session.exec(select(m.Household)).one()
    applicant = household.applicants[0]
    assert (applicant.first_name, applicant.last_name) == ("Priya", "Shah")
    assert applicant.email == "priya.shah@example.com"
    assert "We have a spare room. Since June." in household.interests


def test_contact_by_a_value_we_never_offered_is_an_error_not_a_crash(client, session, org):
    for value in ([" "], ["telegram"], ["email", ""]):
        response = client.post("/enquire", {**GOOD, "contact_by": value})
        page = response.get_data(as_text=True)
        assert response.status_code == 200, value
        assert "Choose by email, by telephone, or both" in page
        assert 'value="Priya"' in page  # what was typed is kept
    assert count(session, m.Household) == 0
    # Nothing ticked is fine: contact consent is optional.
    assert client.post("/enquire", {**GOOD, "contact_by": []}).status_code == 302
    assert count(session, m.Consent) == 1


def test_query_strings_are_cleaned_too(client_for, org, make_household):
    make_household(last="Patel")
    officer = client_for(org.officer_north)
    response = officer.get("/households?q=Pat%00el")
    assert response.status_code == 200
    assert "Patel" in response.get_data(as_text=True)


def test_json_bodies_are_cleaned(app):
    app.add_url_rule("/echo", "echo", lambda: jsonify(request.get_json()), methods=["POST"])
    app.config["WTF_CSRF_ENABLED"] = False
    body = '{"na\\u0000me": ["a\\u0000b", {"k": "e\\u0301\\ud800\\r\\n"}], "n": 5}'
    response = app.test_client().post("/echo", data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.get_json() == {"name": ["ab", {"k": "\u00e9\n"}], "n": 5}


def test_web_chat_message_with_a_nul_byte_is_answered(client, session, org):
    response = client.post(
        "/chat/messages", {"message": "can I foster\x00 if I rent?"}, token_from="/chat"
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json()["replies"]
    stored = session.exec(
        select(m.ChatMessage.text).where(m.ChatMessage.from_person.is_(True))
    ).all()
    assert stored == ["can I foster if I rent?"]


def test_check_in_comment_with_a_nul_byte_is_saved(session, engine, settings, org):
    settings = settings.model_copy(update={"secret_key": SECRET})
    client = Client(create_app(settings, engine=engine, secret_key=SECRET).test_client())
    carer = make_carer(session, settings, supervisor_id=org.supervisor_north.id)
    check_in = m.CheckIn(
        carer_id=carer.id, channel=m.Channel.EMAIL, sent_at=clock.now(), unique_key="t-1"
    )
    session.add(check_in)
    session.commit()
    url = f"/check-in/{make_answer_token(settings, check_in.id)}"
    response = client.post(
        url, {"score": "4", "comment": "All\x00 good\x1b[31m"}, token_from=f"{url}/4"
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    session.expire_all()
    assert session.get(m.CheckIn, check_in.id).comment == "All good"
