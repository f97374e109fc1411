"""Server-side sessions: what the cookie holds, and everything that ends a session for good."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlmodel import select

import crm.models as m
from crm import clock
from crm.services import sessions as sessions_service
from crm.services.errors import NotAllowed
from crm.services.sessions import ABSOLUTE_LIFETIME, IDLE_LIFETIME
from tests.crm.web.auth_helpers import (
    client_at,
    cookie_of,
    reaches_home,
    sign_in,
    signed_in,
    with_cookie,
)


def sessions_of(session, user: m.StaffUser) -> list[m.StaffSession]:
    session.expire_all()
    return list(
        session.exec(
            select(m.StaffSession)
            .where(m.StaffSession.staff_id == user.id)
            .order_by(m.StaffSession.id)
        ).all()
    )


def test_a_copied_cookie_is_refused_after_signing_out(app, org, session):
    browser = client_at(app, "198.51.100.1")
    assert signed_in(sign_in(browser, org.officer_north.email))
    copied = cookie_of(browser)
    thief = with_cookie(app, copied)
    # The copy works while the session is live (it is a bearer token) ...
    assert reaches_home(thief)
    assert browser.post("/sign-out").status_code == 302
    # ... and stops working the moment its owner signs out, from any browser.
    assert not reaches_home(thief)
    assert not reaches_home(with_cookie(app, copied, "203.0.113.5"))
    record = sessions_of(session, org.officer_north)[-1]
    assert record.ended_at == clock.now()
    assert record.end_reason == m.SessionEndReason.SIGNED_OUT


def test_the_cookie_holds_only_a_random_token(app, org, session):
    browser = client_at(app, "198.51.100.1")
    assert signed_in(sign_in(browser, org.manager.email))
    raw = cookie_of(browser)
    serializer = app.session_interface.get_signing_serializer(app)
    content = serializer.loads(raw)
    assert set(content) - {"_permanent", "csrf_token", "_flashes"} == {"sid"}
    token = content["sid"]
    user = session.get(m.StaffUser, org.manager.id)
    # Nothing of the password hash, not even a short piece of it, nor the person's id or email.
    hash_value = user.password_hash
    pieces = {hash_value[i : i + 8] for i in range(len(hash_value) - 7)}
    payload = raw + json.dumps(content)
    assert not any(piece in payload for piece in pieces)
    assert user.email not in payload and '"uid"' not in payload
    # The database keeps only the token's hash.
    record = sessions_of(session, org.manager)[-1]
    assert record.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {record.token_hash, str(record.id)}
    # A token the server never issued is refused, however well it is signed.
    forged = serializer.dumps({**content, "sid": token[:-2] + "xx"})
    assert not reaches_home(with_cookie(app, forged))


def test_an_old_style_cookie_is_refused(app, org):
    # Cookies signed before server-side sessions held the person's id and part of the hash.
    serializer = app.session_interface.get_signing_serializer(app)
    old = serializer.dumps({"uid": org.admin.id, "tok": org.admin.password_hash[-16:]})
    assert not reaches_home(with_cookie(app, old))


def test_an_admin_password_reset_ends_every_session_of_that_person(app, org, client_for, session):
    desk, phone = client_at(app, "198.51.100.1"), client_at(app, "198.51.100.2")
    for browser in (desk, phone):
        assert signed_in(sign_in(browser, org.officer_north.email))
    admin = client_for(org.admin)
    bystander = client_for(org.officer_south)
    response = admin.post(
        f"/admin/users/{org.officer_north.id}",
        {"action": "password", "password": "a brand new password"},
        token_from="/admin/users",
    )
    assert response.status_code == 302
    assert not reaches_home(desk) and not reaches_home(phone)
    assert reaches_home(admin) and reaches_home(bystander)
    reasons = {r.end_reason for r in sessions_of(session, org.officer_north)}
    assert reasons == {m.SessionEndReason.PASSWORD_RESET}
    # The new password signs in; the old one does not.
    assert signed_in(
        sign_in(client_at(app, "198.51.100.3"), org.officer_north.email, "a brand new password")
    )
    assert not signed_in(sign_in(client_at(app, "198.51.100.4"), org.officer_north.email))


def test_changing_your_own_password_ends_your_other_sessions(app, org, session):
    here, elsewhere = client_at(app, "198.51.100.1"), client_at(app, "198.51.100.2")
    for browser in (here, elsewhere):
        assert signed_in(sign_in(browser, org.assessor_north.email))
    response = here.post(
        "/account/password",
        {"current_password": "correct horse battery staple", "new_password": "an even better one"},
        token_from="/account/password",
    )
    assert response.status_code == 302
    assert reaches_home(here)
    assert not reaches_home(elsewhere)
    ended = [r for r in sessions_of(session, org.assessor_north) if r.ended_at is not None]
    assert [r.end_reason for r in ended] == [m.SessionEndReason.PASSWORD_CHANGED]
    assert signed_in(
        sign_in(client_at(app, "198.51.100.3"), org.assessor_north.email, "an even better one")
    )


def test_a_wrong_current_password_changes_nothing(app, org, session):
    here, elsewhere = client_at(app, "198.51.100.1"), client_at(app, "198.51.100.2")
    for browser in (here, elsewhere):
        assert signed_in(sign_in(browser, org.assessor_north.email))
    before = session.get(m.StaffUser, org.assessor_north.id).password_hash
    response = here.post(
        "/account/password",
        {"current_password": "not my password", "new_password": "short"},
        token_from="/account/password",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter your current password correctly" in page
    assert "Use a password of at least 12 characters" in page
    session.expire_all()
    assert session.get(m.StaffUser, org.assessor_north.id).password_hash == before
    assert reaches_home(here) and reaches_home(elsewhere)


def test_deactivation_ends_every_session_even_if_reactivated(app, org, client_for, session):
    officer = client_for(org.officer_south)
    admin = client_for(org.admin)
    form = {"action": "save", "name": org.officer_south.name, "role": "recruitment_officer"}
    form["areas"] = str(org.south.id)
    assert (
        admin.post(f"/admin/users/{org.officer_south.id}", form, token_from="/admin").status_code
        == 302
    )
    assert not reaches_home(officer)
    # Switched back on straight away: the old session stays ended (not merely refused while
    # the account is inactive).
    reactivate = {**form, "active": "1"}
    assert (
        admin.post(
            f"/admin/users/{org.officer_south.id}", reactivate, token_from="/admin"
        ).status_code
        == 302
    )
    assert not reaches_home(officer)
    assert {r.end_reason for r in sessions_of(session, org.officer_south)} == {
        m.SessionEndReason.DEACTIVATED
    }


def test_a_new_role_ends_sessions_but_new_areas_do_not(app, org, client_for, session):
    officer = client_for(org.officer_south)
    admin = client_for(org.admin)
    url = f"/admin/users/{org.officer_south.id}"
    form = {"action": "save", "name": org.officer_south.name, "role": "recruitment_officer"}
    both = {**form, "active": "1", "areas": [str(org.north.id), str(org.south.id)]}
    assert admin.post(url, both, token_from="/admin").status_code == 302
    assert reaches_home(officer)  # areas are read afresh on every request
    promoted = {**both, "role": "manager"}
    assert admin.post(url, promoted, token_from="/admin").status_code == 302
    assert not reaches_home(officer)
    assert sessions_of(session, org.officer_south)[-1].end_reason == m.SessionEndReason.ROLE_CHANGED


def test_idle_and_absolute_expiry(app, org, session):
    idle = client_at(app, "198.51.100.1")
    assert signed_in(sign_in(idle, org.manager.email))
    busy = client_at(app, "198.51.100.2")
    assert signed_in(sign_in(busy, org.manager.email))
    clock.advance(IDLE_LIFETIME - timedelta(minutes=5))
    assert reaches_home(busy)
    clock.advance(timedelta(minutes=6))
    # The one left alone for longer than the idle limit is refused; the busy one goes on ...
    assert not reaches_home(idle)
    assert reaches_home(busy)
    # ... but no longer than the absolute limit, however busy.
    record = sessions_of(session, org.manager)[-1]
    assert record.expires_at - record.created_at == ABSOLUTE_LIFETIME
    while clock.now() + timedelta(minutes=50) < record.expires_at:
        clock.advance(timedelta(minutes=50))
        assert reaches_home(busy)
    clock.set_now(record.expires_at)
    assert not reaches_home(busy)


def test_last_seen_is_written_at_most_once_a_minute(app, org, session):
    browser = client_at(app, "198.51.100.1")
    assert signed_in(sign_in(browser, org.manager.email))
    start = sessions_of(session, org.manager)[-1]
    assert start.last_seen_at == clock.now()
    clock.advance(timedelta(seconds=30))
    assert reaches_home(browser)
    assert sessions_of(session, org.manager)[-1].last_seen_at == start.last_seen_at
    clock.advance(timedelta(seconds=31))
    assert reaches_home(browser)
    touched = sessions_of(session, org.manager)[-1]
    assert touched.last_seen_at == clock.now()
    assert touched.idle_expires_at == clock.now() + IDLE_LIFETIME


def test_an_admin_sees_and_ends_a_persons_sessions(app, org, client_for, session):
    first, second, third = (client_at(app, f"198.51.100.{n}") for n in (1, 2, 3))
    for browser in (first, second, third):
        assert signed_in(sign_in(browser, org.supervisor_north.email))
    admin = client_for(org.admin)
    url = f"/admin/users/{org.supervisor_north.id}"
    page = admin.get(url).get_data(as_text=True)
    assert "Where they are signed in" in page
    assert page.count('value="end-session"') == 3
    records = sessions_of(session, org.supervisor_north)
    response = admin.post(
        url, {"action": "end-session", "session_id": str(records[0].id)}, token_from=url
    )
    assert response.status_code == 302
    assert not reaches_home(first)
    assert reaches_home(second) and reaches_home(third)
    # A session of someone else cannot be ended through this person's page.
    other = client_for(org.manager)
    manager_session = sessions_of(session, org.manager)[-1]
    wrong = admin.post(
        url, {"action": "end-session", "session_id": str(manager_session.id)}, token_from=url
    )
    assert wrong.status_code == 404
    assert reaches_home(other)
    assert admin.post(url, {"action": "end-sessions"}, token_from=url).status_code == 302
    assert not reaches_home(second) and not reaches_home(third)
    assert "Not signed in anywhere" in admin.get(url).get_data(as_text=True)
    assert {r.end_reason for r in sessions_of(session, org.supervisor_north)} == {
        m.SessionEndReason.ENDED_BY_ADMIN
    }


@pytest.mark.parametrize(
    "role", ["manager", "officer_north", "officer_south", "assessor_north", "supervisor_north"]
)
def test_only_admins_see_or_end_other_peoples_sessions(org, session, role):
    target = org.officer_north
    started = sessions_service.start_session(session, target)
    actor = org.actor(session, getattr(org, role))
    for attempt in (
        lambda: sessions_service.live_sessions(session, actor, target.id),
        lambda: sessions_service.end_session_by_admin(session, actor, target.id, started.record.id),
        lambda: sessions_service.end_all_by_admin(session, actor, target.id),
    ):
        with pytest.raises(NotAllowed):
            attempt()
    assert sessions_service.session_for_token(session, started.token) is not None
    admin = org.actor(session, org.admin)
    assert [r.id for r in sessions_service.live_sessions(session, admin, target.id)] == [
        started.record.id
    ]


def test_sign_in_sign_out_and_ends_are_audited_without_values(app, org, client_for, session):
    browser = client_at(app, "198.51.100.1")
    assert signed_in(sign_in(browser, org.officer_north.email))
    browser.post("/sign-out")
    other = client_at(app, "198.51.100.2")
    assert signed_in(sign_in(other, org.officer_north.email))
    admin = client_for(org.admin)
    url = f"/admin/users/{org.officer_north.id}"
    admin.post(url, {"action": "end-sessions"}, token_from=url)
    events = session.exec(
        select(m.AuditEvent).where(m.AuditEvent.entity == "staff_session").order_by(m.AuditEvent.id)
    ).all()
    mine = [e for e in events if e.actor_id == org.officer_north.id]
    assert [e.detail for e in mine] == [
        {"signed_in": True, "method": "password"},
        {"ended": "signed_out", "staff_id": org.officer_north.id},
        {"signed_in": True, "method": "password"},
    ]
    by_admin = [e for e in events if e.actor_id == org.admin.id and "ended" in e.detail]
    assert [e.detail["ended"] for e in by_admin] == ["ended_by_admin"]
    text = json.dumps([e.detail for e in events])
    assert org.officer_north.email not in text and "127.0.0.1" not in text
    assert "198.51.100" not in text


def test_every_role_changes_their_password_from_the_header(org, client_for):
    for name in ["admin", "manager", "officer_north", "assessor_north", "supervisor_north"]:
        c = client_for(getattr(org, name))
        assert 'href="/account/password"' in c.get("/home").get_data(as_text=True), name
        assert c.get("/account/password").status_code == 200, name


def test_changing_a_password_needs_a_session(client):
    response = client.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
