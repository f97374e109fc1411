"""Sign-in, sign-out, CSRF and the security headers (sessions and the sign-in delays have
their own files: test_web_sessions.py, test_web_sign_in_delays.py)."""

from sqlmodel import select

import crm.models as m


def test_sign_in_and_out(client, org):
    response = client.sign_in(org.officer_north)
    assert response.status_code == 302
    assert response.headers["Location"] == "/home"
    home = client.get("/home")
    assert home.status_code == 200
    assert "Hello, Officer.North" in home.get_data(as_text=True)
    signed_out = client.post("/sign-out", token_from="/home")
    assert signed_out.status_code == 302
    again = client.get("/home")
    assert again.status_code == 302
    assert again.headers["Location"].startswith("/sign-in")


def test_wrong_password_is_refused_with_a_generic_message(client, org):
    response = client.sign_in(org.manager, password="not the password")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Enter a correct email address and password" in page
    # The email typed is kept; the password is never sent back.
    assert 'value="manager@test.example"' in page
    assert "not the password" not in page
    unknown = client.post(
        "/sign-in", {"email": "nobody@test.example", "password": "x" * 20}, token_from="/sign-in"
    )
    assert "Enter a correct email address and password" in unknown.get_data(as_text=True)


def test_next_only_goes_to_a_path_on_this_site(client, org):
    token = client.token("/sign-in")
    data = {"email": org.manager.email, "password": "correct horse battery staple"}
    evil = client.http.post(
        "/sign-in?next=https://evil.example/x", data={**data, "csrf_token": token}
    )
    assert evil.headers["Location"] == "/home"
    client.post("/sign-out", token_from="/home")
    token = client.token("/sign-in")
    ok = client.http.post("/sign-in?next=/pipeline", data={**data, "csrf_token": token})
    assert ok.headers["Location"] == "/pipeline"


def test_pages_need_sign_in(client, org):
    for url in ["/home", "/pipeline", "/households", "/carers", "/visits", "/audit", "/admin"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/sign-in?next="), url


def test_missing_csrf_token_is_refused_and_changes_nothing(
    client_for, org, make_household, session
):
    household = make_household()
    c = client_for(org.manager)
    response = c.http.post(
        f"/households/{household.id}/note", data={"summary": "Forged", "body": "x"}
    )
    assert response.status_code == 400
    assert "problem with this form" in response.get_data(as_text=True)
    notes = session.exec(select(m.Activity).where(m.Activity.household_id == household.id))
    assert notes.all() == []
    # The public form is protected too.
    anonymous = c.http.__class__(c.http.application)
    refused = anonymous.post("/enquire", data={"first_name": "A", "last_name": "B"})
    assert refused.status_code == 400


def test_security_headers_on_every_page(client, org):
    for url in ["/sign-in", "/enquire", "/privacy", "/no-such-page"]:
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"


def test_no_inline_script_in_pages(client_for, org, make_household):
    household = make_household()
    c = client_for(org.admin)
    for url in ["/home", "/pipeline", f"/households/{household.id}", "/enquire", "/admin/users"]:
        page = c.get(url).get_data(as_text=True)
        for tag in page.split("<script")[1:]:
            assert "src=" in tag.split(">")[0], (url, tag[:80])
        assert "style=" not in page, url


def test_session_cookie_settings(client, org):
    response = client.sign_in(org.manager)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_404_page(client, org):
    response = client.get("/households/not-a-number")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_password_reset_signs_the_person_out(client_for, org, session):
    officer = client_for(org.officer_north)
    admin = client_for(org.admin)
    response = admin.post(
        f"/admin/users/{org.officer_north.id}",
        {"action": "password", "password": "a brand new password"},
        token_from="/admin/users",
    )
    assert response.status_code == 302
    assert officer.get("/home").status_code == 302


def test_static_assets_are_served_with_licences(client, org):
    for path in [
        "/assets/govuk-frontend/govuk-frontend.min.css",
        "/assets/govuk-frontend/govuk-frontend.min.js",
        "/assets/moj-frontend/moj-frontend.min.css",
        "/assets/htmx/htmx.min.js",
        "/assets/govuk-frontend/LICENCE.txt",
        "/assets/moj-frontend/LICENCE.txt",
        "/assets/images/icon-arrow-black-down.svg",
    ]:
        assert client.get(path).status_code == 200, path
