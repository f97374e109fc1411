"""Single sign-on through the local OpenID Connect provider (crm.testing.oidc_provider): a
verified email signs in its active member of staff; anything else signs nobody in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from sqlmodel import select

import crm.models as m
from crm.settings import SettingsError, load_settings
from crm.testing.oidc_provider import FakeOidcProvider, generate_key
from crm.web import create_app
from tests.crm.web.auth_helpers import client_at, reaches_home, sign_in
from tests.crm.web.conftest import SECRET


@pytest.fixture(scope="module")
def key():
    return generate_key()


@pytest.fixture
def idp(key):
    with FakeOidcProvider(key=key) as provider:
        yield provider


def sso_app(settings, engine, idp, *, password: bool = True):
    changed = settings.model_copy(
        update={
            "single_sign_on": settings.single_sign_on.model_copy(
                update={
                    "discovery_url": idp.discovery_url,
                    "client_id": idp.client_id,
                    "provider_name": "your Testshire account",
                }
            ),
            "single_sign_on_client_secret": idp.client_secret,
            "sign_in": settings.sign_in.model_copy(update={"password": password}),
        }
    )
    app = create_app(changed, engine=engine, secret_key=SECRET)
    app.config["TESTING"] = True
    return app


def through_provider(c, start: str = "/sign-in/single-sign-on", tamper=None):
    """The browser's part: our redirect to the provider, the provider's back to us."""
    going = c.get(start)
    assert going.status_code == 302, going.get_data(as_text=True)[:300]
    at_provider = requests.get(going.headers["Location"], allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["Location"])
    assert back.path == "/sign-in/single-sign-on/return"
    query = tamper(back.query) if tamper else back.query
    return c.get(f"{back.path}?{query}")


@pytest.fixture
def app_sso(settings, engine, org, idp):
    return sso_app(settings, engine, idp)


def test_a_verified_email_signs_in_its_member_of_staff(app_sso, idp, org, session):
    c = client_at(app_sso, "198.51.100.50")
    page = c.get("/sign-in").get_data(as_text=True)
    assert "Sign in with your Testshire account" in page
    idp.next_user(org.manager.email.upper(), email_verified=True, name="Manager")
    back = through_provider(c, "/sign-in/single-sign-on?next=/board")
    assert back.status_code == 302 and back.headers["Location"] == "/board"
    assert reaches_home(c)
    session.expire_all()
    [record] = session.exec(
        select(m.StaffSession).where(m.StaffSession.staff_id == org.manager.id)
    ).all()
    assert record.method == m.SignInMethod.SINGLE_SIGN_ON
    [authorization] = idp.authorizations()
    assert authorization.params["code_challenge_method"] == "S256"
    assert authorization.params["redirect_uri"] == (
        "http://127.0.0.1:5000/sign-in/single-sign-on/return"
    )


def test_an_unknown_email_is_refused_and_no_account_is_made(app_sso, idp, org, session):
    c = client_at(app_sso, "198.51.100.51")
    idp.next_user("stranger@council.gov.uk", email_verified=True)
    back = through_provider(c)
    assert back.status_code == 403
    assert "no active staff account here" in back.get_data(as_text=True)
    assert not reaches_home(c)
    session.expire_all()
    assert (
        session.exec(
            select(m.StaffUser).where(m.StaffUser.email == "stranger@council.gov.uk")
        ).first()
        is None
    )


def test_an_unverified_email_is_refused(app_sso, idp, org):
    c = client_at(app_sso, "198.51.100.52")
    idp.next_user(org.officer_north.email, email_verified=False)
    back = through_provider(c)
    assert back.status_code == 403
    assert "not verified" in back.get_data(as_text=True)
    assert not reaches_home(c)


def test_a_deactivated_account_is_refused(app_sso, idp, org, session):
    officer = session.get(m.StaffUser, org.officer_north.id)
    officer.active = False
    session.add(officer)
    session.commit()
    c = client_at(app_sso, "198.51.100.53")
    idp.next_user(org.officer_north.email)
    assert through_provider(c).status_code == 403
    assert not reaches_home(c)


@pytest.mark.parametrize("kind", ["wrong_audience", "wrong_issuer", "expired", "bad_signature"])
def test_a_token_that_fails_its_checks_signs_nobody_in(app_sso, idp, org, kind):
    c = client_at(app_sso, "198.51.100.54")
    idp.next_user(org.manager.email)
    idp.misbehave(kind)
    back = through_provider(c)
    assert back.status_code == 403
    assert "did not work" in back.get_data(as_text=True)
    assert not reaches_home(c)


def test_a_forged_state_or_a_refusal_signs_nobody_in(app_sso, idp, org):
    c = client_at(app_sso, "198.51.100.55")
    idp.next_user(org.manager.email)
    forged = through_provider(c, tamper=lambda q: q.replace("state=", "state=x"))
    assert forged.status_code == 403 and not reaches_home(c)
    idp.refuse_next("access_denied", "The user declined")
    going = c.get("/sign-in/single-sign-on")
    at_provider = requests.get(going.headers["Location"], allow_redirects=False, timeout=5)
    back = urlsplit(at_provider.headers["Location"])
    assert c.get(f"{back.path}?{back.query}").status_code == 403
    assert not reaches_home(c)


def test_password_sign_in_can_be_switched_off(settings, engine, org, idp):
    app = sso_app(settings, engine, idp, password=False)
    c = client_at(app, "198.51.100.56")
    page = c.get("/sign-in").get_data(as_text=True)
    assert "Sign in with your Testshire account" in page
    assert 'name="password"' not in page
    token = c.token("/enquire")
    refused = c.http.post(
        "/sign-in",
        data={"email": org.officer_north.email, "password": "correct horse battery staple",
              "csrf_token": token},
    )  # fmt: skip
    assert refused.status_code == 403
    assert not reaches_home(c)
    idp.next_user(org.officer_north.email)
    assert through_provider(c).status_code == 302
    assert reaches_home(c)


def test_with_password_sign_in_off_there_is_no_password_to_change(
    settings, engine, org, idp, session
):
    app = sso_app(settings, engine, idp, password=False)
    c = client_at(app, "198.51.100.58")
    idp.next_user(org.officer_north.email)
    assert through_provider(c).status_code == 302
    home = c.get("/home").get_data(as_text=True)
    assert "Sign out" in home
    assert "Change password" not in home and 'href="/account/password"' not in home
    assert c.get("/account/password").status_code == 404
    token = c.token("/home")
    before = session.get(m.StaffUser, org.officer_north.id).password_hash
    refused = c.http.post(
        "/account/password",
        data={"current_password": "correct horse battery staple",
              "new_password": "a brand new long password", "csrf_token": token},
    )  # fmt: skip
    assert refused.status_code == 404
    session.expire_all()
    assert session.get(m.StaffUser, org.officer_north.id).password_hash == before
    assert reaches_home(c)

    # With password sign-in on, the same person (signed in by single sign-on) has the link.
    both = sso_app(settings, engine, idp, password=True)
    other = client_at(both, "198.51.100.59")
    idp.next_user(org.officer_north.email)
    assert through_provider(other).status_code == 302
    assert 'href="/account/password"' in other.get("/home").get_data(as_text=True)
    assert other.get("/account/password").status_code == 200


def test_the_password_service_refuses_while_password_sign_in_is_off(settings, session, org):
    from crm.services import auth as auth_service
    from crm.services.actors import Actor
    from crm.services.errors import NotAllowed
    from crm.services.throttle import DatabaseThrottleStore, SignInThrottle

    off = settings.model_copy(
        update={"sign_in": settings.sign_in.model_copy(update={"password": False})}
    )
    user = session.get(m.StaffUser, org.officer_north.id)
    before = user.password_hash
    with pytest.raises(NotAllowed, match="switched off"):
        auth_service.change_own_password(
            session, off, Actor.for_staff(session, user),
            current_password="correct horse battery staple",
            new_password="a brand new long password", keep_session_id=None,
            address="198.51.100.60",
            throttle=SignInThrottle(DatabaseThrottleStore(session), SECRET),
        )  # fmt: skip
    session.expire_all()
    assert session.get(m.StaffUser, org.officer_north.id).password_hash == before


def test_without_single_sign_on_the_pages_are_not_there(app, org):
    c = client_at(app, "198.51.100.57")
    assert c.get("/sign-in/single-sign-on").status_code == 404
    assert "Sign in with" not in c.get("/sign-in").get_data(as_text=True)
    assert sign_in(c, org.officer_north.email).status_code == 302


def test_settings_refuse_half_a_set_up():
    with pytest.raises(SettingsError, match="client_id"):
        load_settings(
            environ={"FOSTERCRM_SINGLE_SIGN_ON_DISCOVERY_URL": "https://idp.example/.well-known"}
        )
    with pytest.raises(SettingsError, match="single sign-on is not set up"):
        load_settings(environ={"FOSTERCRM_SIGN_IN_PASSWORD": "false"})
